#!/usr/bin/env bash
# A real Prometheus scrapes deskdb serve with dashboards/prometheus/rules.yml
# loaded: every rule evaluates without error, none of the alerts about a
# working setup fires, the recording rules have values, and every query of
# the Grafana dashboards is accepted and returns series when its metrics
# exist.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
require_dsn
command -v prometheus >/dev/null || fail "prometheus not installed (scripts/bootstrap installs it)"
command -v python3 >/dev/null || fail "python3 not installed (scripts/bootstrap installs it)"

SERVE_PORT=$(free_port)
prom_port=$(free_port)
cat >"$TEST_WORK/deskdb.yaml" <<YAML
database: {url: "$DESKDB_TEST_DSN", application_name: deskdb-rules-test}
pool: {min: 1, max: 4}
http: {listen: ["127.0.0.1:$SERVE_PORT"]}
jobs: {leader: {mode: none}, definitions: []}
alerts: {rules: []}
YAML
chmod 600 "$TEST_WORK/deskdb.yaml"
serve_start "$TEST_WORK/deskdb.yaml" "$TEST_WORK/serve.log"

cat >"$TEST_WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: ["$DESKDB_SOURCE_DIR/dashboards/prometheus/rules.yml"]
scrape_configs:
  - job_name: deskdb
    static_configs: [{targets: ["127.0.0.1:$SERVE_PORT"]}]
YAML
prometheus --config.file="$TEST_WORK/prometheus.yml" \
    --storage.tsdb.path="$TEST_WORK/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$TEST_WORK/prom.log" 2>&1 &
SERVE_PIDS+=("$!")
prom=http://127.0.0.1:$prom_port
helper=$DESKDB_SOURCE_DIR/tests/support/dashboards_query.py

query() {
    curl -s --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1"
}
has_one() {
    query "$1" | grep -q '"value":\[[0-9.]*,"1"\]'
}
wait_until 60 has_one 'up{job="deskdb"}' || {
    cat "$TEST_WORK/prom.log" >&2
    fail "Prometheus does not see the deskdb target up"
}
wait_until 20 has_one 'pg_up{job="deskdb"}' || fail "pg_up not 1 in Prometheus"

rules_ok() {
    python3 "$helper" rules "$prom" "$DESKDB_SOURCE_DIR" >"$TEST_WORK/rules.out" 2>&1
}
wait_until 30 rules_ok || {
    cat "$TEST_WORK/rules.out" >&2
    fail "rules.yml did not load or evaluate cleanly"
}
cat "$TEST_WORK/rules.out"
has_recording() {
    query "$1" | grep -q '"result":\[{'
}
wait_until 10 has_recording 'instance:deskdb_pool_in_use:ratio{job="deskdb"}' ||
    fail "recording rule instance:deskdb_pool_in_use:ratio has no value"

# Rates need a few scrapes; then the dashboards' queries.
sleep 5
python3 "$helper" queries "$prom" "$DESKDB_SOURCE_DIR" deskdb "127.0.0.1:$SERVE_PORT" ||
    fail "dashboard queries failed against Prometheus"

# A working deskdb with a working database fires none of these.
python3 "$helper" firing "$prom" DeskdbDown DatabaseHealthCheckFailed \
    DatabasePoolExhausted DeskdbCollectorFailing DeskdbConfigReloadFailed ||
    fail "alerts fire against a healthy deskdb"
if grep -Ei 'level=(warn|error).*(rule|scrape|append)' "$TEST_WORK/prom.log"; then
    fail "Prometheus logged rule or scrape problems"
fi
serve_stop
echo "ok: Prometheus evaluates rules.yml and the dashboards' queries against deskdb"
