#!/usr/bin/env bash
# `deskdb metrics` against the test database: the pool, transaction and
# PostgreSQL families carry real values, and `promtool check metrics` finds
# nothing to report.  A missing promtool is a failure: scripts/bootstrap
# installs it (package prometheus).
set -euo pipefail

: "${DESKDB_BIN:?DESKDB_BIN must point at the deskdb binary}"
promtool=${PROMTOOL:-/usr/bin/promtool}
if [ ! -x "$promtool" ]; then
    promtool=$(command -v promtool || true)
fi
if [ -z "$promtool" ] || [ ! -x "$promtool" ]; then
    echo "FAIL: promtool not found (scripts/bootstrap installs it)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" # no ./deskdb.yaml here, and no $DESKDB_CONFIG: defaults only
unset DESKDB_CONFIG
: "${DESKDB_TEST_DSN:?run through scripts/test: DESKDB_TEST_DSN is not set}"
export DATABASE_URL=$DESKDB_TEST_DSN

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# promtool itself must still be able to complain, or a pass means nothing.
if printf '# TYPE x counter\nx 1\n' | "$promtool" check metrics >/dev/null 2>&1; then
    fail "promtool accepted a counter without _total and without HELP"
fi

"$DESKDB_BIN" metrics >text.prom 2>stderr.txt ||
    fail "deskdb metrics exited $?: $(cat stderr.txt)"
[ -s text.prom ] || fail "deskdb metrics printed nothing"
for family in process_cpu_seconds_total process_resident_memory_bytes \
    process_open_fds deskdb_build_info deskdb_exposition_dropped_series_total; do
    grep -q "^# TYPE $family " text.prom || fail "no $family in the output"
done

# The database answered, and the pool opened a connection for it.
grep -qx 'pg_up 1' text.prom || fail "pg_up is not 1: $(grep '^pg_up' text.prom)"
created=$(sed -n 's/^deskdb_pool_connections_created_total \([0-9]*\)$/\1/p' text.prom)
[ "${created:-0}" -ge 1 ] || fail "deskdb_pool_connections_created_total is '${created}'"
for family in deskdb_pool_connections deskdb_pool_pending_requests \
    deskdb_transactions_total deskdb_transaction_retries_total \
    deskdb_queries_total pg_stat_database_xact_commit_total; do
    grep -q "^# TYPE $family " text.prom || fail "no $family in the output"
done

status=0
report=$("$promtool" check metrics <text.prom 2>&1) || status=$?
if [ "$status" -ne 0 ] || [ -n "$report" ]; then
    echo "promtool check metrics (exit $status) reported:" >&2
    echo "$report" >&2
    echo "--- exposition ---" >&2
    cat text.prom >&2
    exit 1
fi

# OpenMetrics: promtool reads only the text format; check the framing.
"$DESKDB_BIN" metrics --openmetrics >om.txt 2>stderr.txt ||
    fail "deskdb metrics --openmetrics exited $?: $(cat stderr.txt)"
[ "$(tail -n 1 om.txt)" = "# EOF" ] || fail "OpenMetrics body does not end with # EOF"
grep -q '^# TYPE process_cpu_seconds counter$' om.txt ||
    fail "OpenMetrics counter TYPE still carries _total"

# Bad arguments are usage errors (exit 2), with one line on stderr.
status=0
"$DESKDB_BIN" metrics --no-such-option >/dev/null 2>stderr.txt || status=$?
[ "$status" -eq 2 ] || fail "unknown option exited $status, wanted 2"
grep -q "unknown argument '--no-such-option'" stderr.txt ||
    fail "unknown option message missing: $(cat stderr.txt)"

echo "ok: promtool check metrics reports nothing"
