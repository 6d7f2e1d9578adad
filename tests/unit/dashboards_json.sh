#!/usr/bin/env bash
# shellcheck disable=SC2016  # sed expressions and messages are literal PromQL
# dashboards/grafana: the committed JSON is what scripts/dashboards
# generates; every dashboard passes the checks of
# tests/support/dashboards_check.py (known metric names, job and instance
# on every selector, counters only in rate/irate/increase, $__rate_interval,
# description and unit on every panel, no hard-coded datasource, unique
# uids, the seed's thresholds); every query parses in promtool; and the
# checker rejects dashboards broken in each of those ways.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
command -v python3 >/dev/null || fail "python3 not installed (scripts/bootstrap installs it)"
command -v promtool >/dev/null || fail "promtool not installed (scripts/bootstrap installs prometheus)"

check=$DESKDB_SOURCE_DIR/tests/support/dashboards_check.py

python3 "$DESKDB_SOURCE_DIR/scripts/dashboards" --check ||
    fail "dashboards/grafana differs from scripts/dashboards' output"
python3 "$check" dashboards "$DESKDB_SOURCE_DIR" || fail "dashboard checks"
python3 "$check" exprs "$DESKDB_SOURCE_DIR" >"$TEST_WORK/queries.yml" ||
    fail "cannot list the dashboard queries"
promtool check rules "$TEST_WORK/queries.yml" >"$TEST_WORK/promtool.out" 2>&1 || {
    cat "$TEST_WORK/promtool.out" >&2
    fail "a dashboard query does not parse"
}

# broken SED_EXPR MESSAGE: a copy of the pool dashboard changed by SED_EXPR
# must fail the checks with MESSAGE.
copy=$TEST_WORK/src
mkdir -p "$copy/dashboards"
cp "$DESKDB_SOURCE_DIR/README.md" "$copy/"
cp -r "$DESKDB_SOURCE_DIR/dashboards/grafana" "$copy/dashboards/"
pool=dashboards/grafana/deskdb-pool.json
broken() {
    sed "$1" "$DESKDB_SOURCE_DIR/$pool" >"$copy/$pool"
    ! cmp -s "$DESKDB_SOURCE_DIR/$pool" "$copy/$pool" || fail "no effect: $1"
    if python3 "$check" dashboards "$copy" >"$TEST_WORK/out" 2>&1; then
        fail "checker accepts: $1"
    fi
    grep -qF -- "$2" "$TEST_WORK/out" || {
        cat "$TEST_WORK/out" >&2
        fail "checker does not say '$2' for: $1"
    }
}
broken 's/deskdb_pool_pending_requests{/deskdb_pool_pending_request{/' \
    'unknown metric deskdb_pool_pending_request'
broken 's/rate(deskdb_pool_acquire_timeouts_total\([^]]*\)\[\$__rate_interval\])/deskdb_pool_acquire_timeouts_total\1/' \
    'counter deskdb_pool_acquire_timeouts_total outside rate'
broken 's/deskdb_pool_acquire_duration_seconds_bucket/deskdb_pool_acquire_duration_seconds/' \
    'is a histogram'
broken '0,/\[\$__rate_interval\]/s//[5m]/' 'must use $__rate_interval'
broken '0,/, instance=~\\"\$instance\\"/s///' 'lacks instance=~"$instance"'
broken '0,/"unit": "short"/s//"unit": ""/' 'no unit'
broken '0,/"description": "Callers waiting/s//"descriptio": "Callers waiting/' 'no description'
broken '0,/"uid": "\${datasource}"/s//"uid": "P1809F7CD0C75ACF3"/' 'hard-coded datasource'
broken 's/"uid": "\${datasource}"/"uid": "${DS_PROMETHEUS}"/' '${DS_...} import placeholder'
broken 's/"uid": "deskdb-pool"/"uid": "deskdb-overview"/' 'uid deskdb-overview also used'
echo "ok: dashboards checked"
