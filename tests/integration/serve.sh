#!/usr/bin/env bash
# deskdb serve end to end against the test database: /metrics through
# promtool, every JSON endpoint with and without credentials, SIGHUP reload
# (bad file kept out), PostgreSQL stopped and started under it, SIGTERM.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
require_dsn

port=$(free_port)
SERVE_PORT=$port
token=s3cr3t-token-$RANDOM
printf '%s\n' "$token" >"$TEST_WORK/token"
chmod 600 "$TEST_WORK/token"
config=$TEST_WORK/deskdb.yaml
write_config() {
    cat >"$config" <<YAML
database:
  url: "$DESKDB_TEST_DSN"
  application_name: deskdb-serve-test
pool: {min: 2, max: 5, acquire_timeout: 2s}
http:
  listen: ["127.0.0.1:$port"]
  auth:
    bearer_token_file: $TEST_WORK/token
    protect_metrics: false
collectors: {timeout: 2s, min_interval: 100ms}
jobs: {leader: {mode: none}, definitions: []}
alerts: {rules: []}
log: {level: ${1:-info}}
YAML
    chmod 600 "$config"
}
write_config
serve_start "$config" "$TEST_WORK/serve.log"
base=http://127.0.0.1:$port
auth=(-H "Authorization: Bearer $token")

# /metrics: the text format by default, clean under promtool, live values.
curl -s -D "$TEST_WORK/h" "$base/metrics" >"$TEST_WORK/m.prom"
grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$TEST_WORK/h" ||
    fail "wrong content type: $(cat "$TEST_WORK/h")"
report=$(promtool check metrics <"$TEST_WORK/m.prom" 2>&1) || fail "promtool: $report"
[ -z "$report" ] || fail "promtool reported: $report"
grep -qx 'pg_up 1' "$TEST_WORK/m.prom" || fail "pg_up is not 1"
grep -q '^deskdb_pool_connections{state="idle"} ' "$TEST_WORK/m.prom" || fail "no pool gauge"
# OpenMetrics when Prometheus asks for it; gzip when accepted.
om_accept='application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.2'
curl -s -D "$TEST_WORK/h" -H "Accept: $om_accept" "$base/metrics" >"$TEST_WORK/m.om"
grep -qi '^content-type: application/openmetrics-text; version=1.0.0' "$TEST_WORK/h" ||
    fail "no OpenMetrics content type"
[ "$(tail -n 1 "$TEST_WORK/m.om")" = "# EOF" ] || fail "OpenMetrics body without # EOF"
curl -s -D "$TEST_WORK/h" -H 'Accept-Encoding: gzip' "$base/metrics" | gunzip >"$TEST_WORK/m.gz.prom" ||
    fail "gzip body does not inflate"
grep -qi '^content-encoding: gzip' "$TEST_WORK/h" || fail "no Content-Encoding: gzip"
grep -q '^pg_up 1' "$TEST_WORK/m.gz.prom" || fail "gzip body lacks pg_up"

# The JSON API needs the token; the metrics endpoint does not.
for path in health metrics query-history slow-queries transaction-stats pool-metrics; do
    code=$(http_code "$base/api/db/$path")
    [ "$code" = 401 ] || fail "/api/db/$path without a token answered $code"
    code=$(http_code "$base/api/db/$path" -H "Authorization: Bearer wrong")
    [ "$code" = 401 ] || fail "/api/db/$path with a wrong token answered $code"
    body=$(curl -s "${auth[@]}" "$base/api/db/$path")
    case $body in "{"*"}") ;; *) fail "/api/db/$path body is not a JSON object: $body" ;; esac
done
curl -s -D "$TEST_WORK/h" -o /dev/null "$base/api/db/health"
grep -qi '^www-authenticate: Bearer' "$TEST_WORK/h" || fail "401 without WWW-Authenticate"
curl -s "${auth[@]}" "$base/api/db/health" | grep -q '"status":"healthy"' || fail "not healthy"
[ "$(http_code "$base/api/db/query-history?limit=abc" "${auth[@]}")" = 400 ] ||
    fail "a bad limit is not a 400"
[ "$(http_code "$base/api/jobs" "${auth[@]}")" = 404 ] ||
    fail "/api/jobs answered although the scheduler is off"
! grep -q "$token" "$TEST_WORK/serve.log" || fail "the token appears in the log"

# SIGHUP with a broken file: rejected, the old config stays, and it says so.
cp "$config" "$TEST_WORK/good.yaml"
echo "pool: {min: 9, max: 3}" >>"$config"
kill -HUP "$SERVE_PID"
reload_state() { curl -s "$base/metrics" | grep -x "deskdb_config_last_reload_successful $1" >/dev/null; }
wait_until 10 reload_state 0 || fail "a bad reload was not reported"
[ "$(http_code "$base/-/ready")" = 200 ] || fail "not serving after a bad reload"
write_config debug
kill -HUP "$SERVE_PID"
wait_until 10 reload_state 1 || fail "a good reload was not reported"

# PostgreSQL stops under us: scrapes still answer, health says 503.
"$DESKDB_PG_SCRIPT" stop
restart_pg() { "$DESKDB_PG_SCRIPT" start >/dev/null 2>&1 || true; }
trap 'restart_pg; cleanup_lib' EXIT
pg_up_is() { curl -s --max-time 15 "$base/metrics" | grep -qx "pg_up $1"; }
wait_until 15 pg_up_is 0 || fail "pg_up did not drop to 0 with PostgreSQL stopped"
[ "$(http_code "$base/metrics")" = 200 ] || fail "/metrics is not 200 with PostgreSQL down"
[ "$(http_code "$base/api/db/health" "${auth[@]}")" = 503 ] ||
    fail "/api/db/health is not 503 with PostgreSQL down"
"$DESKDB_PG_SCRIPT" start
wait_until 20 pg_up_is 1 || fail "pg_up did not come back to 1 after PostgreSQL restarted"
[ "$(http_code "$base/api/db/health" "${auth[@]}")" = 200 ] || fail "health is not back to 200"

serve_stop
grep -q 'deskdb stopped' "$TEST_WORK/serve.log" || fail "no clean stop in the log"

# A public address without credentials is refused at start (exit 2).
cat >"$TEST_WORK/public.yaml" <<YAML
database: {url: "$DESKDB_TEST_DSN"}
http: {listen: ["0.0.0.0:$port"]}
YAML
chmod 600 "$TEST_WORK/public.yaml"
status=0
"$DESKDB_BIN" serve -c "$TEST_WORK/public.yaml" >/dev/null 2>"$TEST_WORK/err" || status=$?
[ "$status" -eq 2 ] || fail "public listen without auth exited $status, wanted 2"
[ "$(wc -l <"$TEST_WORK/err")" -eq 1 ] || fail "not one line: $(cat "$TEST_WORK/err")"
echo "ok: serve"
