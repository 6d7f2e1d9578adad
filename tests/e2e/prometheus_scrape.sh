#!/usr/bin/env bash
# A real Prometheus scrapes deskdb serve: the target is up, the scrape has
# no errors, and deskdb's and PostgreSQL's series land in its TSDB with the
# OpenMetrics negotiation Prometheus uses.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
require_dsn
command -v prometheus >/dev/null || fail "prometheus not installed (scripts/bootstrap installs it)"

SERVE_PORT=$(free_port)
prom_port=$(free_port)
cat >"$TEST_WORK/deskdb.yaml" <<YAML
database: {url: "$DESKDB_TEST_DSN", application_name: deskdb-prom-test}
pool: {min: 1, max: 4}
http: {listen: ["127.0.0.1:$SERVE_PORT"]}
jobs: {leader: {mode: none}, definitions: []}
alerts: {rules: []}
YAML
chmod 600 "$TEST_WORK/deskdb.yaml"
serve_start "$TEST_WORK/deskdb.yaml" "$TEST_WORK/serve.log"

cat >"$TEST_WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: deskdb
    static_configs: [{targets: ["127.0.0.1:$SERVE_PORT"]}]
YAML
prometheus --config.file="$TEST_WORK/prometheus.yml" \
    --storage.tsdb.path="$TEST_WORK/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$TEST_WORK/prom.log" 2>&1 &
SERVE_PIDS+=("$!")

query() {
    curl -s --max-time 5 "http://127.0.0.1:$prom_port/api/v1/query" \
        --data-urlencode "query=$1"
}
# has_value QUERY: the query returns at least one sample with value 1.
has_one() {
    query "$1" | grep -q '"value":\[[0-9.]*,"1"\]'
}
wait_until 60 has_one 'up{job="deskdb"}' || {
    cat "$TEST_WORK/prom.log" >&2
    query 'up{job="deskdb"}' >&2
    fail "Prometheus does not see the deskdb target up"
}
wait_until 20 has_one 'pg_up{job="deskdb"}' || fail "pg_up not 1 in Prometheus"
has_one 'scrape_samples_scraped{job="deskdb"} > bool 100' ||
    fail "too few samples: $(query 'scrape_samples_scraped{job="deskdb"}')"
for q in 'deskdb_pool_connections_max{job="deskdb"}' \
    'pg_stat_database_xact_commit_total{job="deskdb"}' \
    'process_cpu_seconds_total{job="deskdb"}'; do
    query "$q" | grep -q '"result":\[{' || fail "no result for $q"
done
# No scrape errors of any kind in Prometheus' log.
if grep -Ei 'level=(warn|error).*(scrape|append)' "$TEST_WORK/prom.log"; then
    fail "Prometheus logged scrape problems"
fi
serve_stop
echo "ok: Prometheus scraped deskdb"
