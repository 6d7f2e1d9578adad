#!/usr/bin/env bash
# dashboards/prometheus: promtool accepts rules.yml and its unit tests pass,
# the tests notice a changed threshold, every alert is documented and tested
# firing and silent, and the deskdb-seed group equals the rules deskdb
# evaluates itself by default.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
command -v promtool >/dev/null || fail "promtool not installed (scripts/bootstrap installs prometheus)"
command -v python3 >/dev/null || fail "python3 not installed (scripts/bootstrap installs it)"

src=$DESKDB_SOURCE_DIR/dashboards/prometheus
check=$DESKDB_SOURCE_DIR/tests/support/dashboards_check.py

promtool check rules --lint-fatal "$src/rules.yml" || fail "promtool check rules"
promtool test rules "$src/rules_test.yml" || fail "promtool test rules"

# The unit tests have teeth: each change of a threshold or window fails them.
cp "$src/rules_test.yml" "$TEST_WORK/"
for change in 's/deskdb_pool_pending_requests > 5/deskdb_pool_pending_requests > 4/' \
    's/\[5m\]) > 100/[5m]) > 99/' \
    's/for: 10m/for: 9m/' \
    's/> 2 \* clamp_min/> 1 * clamp_min/' \
    's/unless on (job, instance) pg_up == 0//' \
    's/up{job="deskdb"} == 0/up == 0/'; do
    sed "$change" "$src/rules.yml" >"$TEST_WORK/rules.yml"
    ! cmp -s "$src/rules.yml" "$TEST_WORK/rules.yml" || fail "no effect: $change"
    if promtool test rules "$TEST_WORK/rules_test.yml" >/dev/null 2>&1; then
        fail "rules_test.yml does not notice: $change"
    fi
done

python3 "$check" rules "$DESKDB_SOURCE_DIR" || fail "rules.yml checks"

cat >"$TEST_WORK/deskdb.yaml" <<'YAML'
database: {url: "postgresql://deskdb@127.0.0.1:1/deskdb"}
jobs: {leader: {mode: none}, definitions: []}
YAML
chmod 600 "$TEST_WORK/deskdb.yaml"
"$DESKDB_BIN" check-config -c "$TEST_WORK/deskdb.yaml" >"$TEST_WORK/printed.yaml" ||
    fail "deskdb check-config failed"
grep -q 'name: DatabasePoolExhausted' "$TEST_WORK/printed.yaml" ||
    fail "check-config prints no default rules"
python3 "$check" seed "$DESKDB_SOURCE_DIR" <"$TEST_WORK/printed.yaml" ||
    fail "deskdb-seed differs from deskdb's default rules"
echo "ok: rules.yml checked and tested"
