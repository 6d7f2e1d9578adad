#!/usr/bin/env bash
# deskdb serve pushes its alerts into a real Alertmanager (API v2): a rule
# that holds appears there with its labels and annotations, and a rule
# whose condition clears is resolved there.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
require_dsn
am_bin=$(command -v prometheus-alertmanager || true)
[ -n "$am_bin" ] || fail "prometheus-alertmanager not installed (scripts/bootstrap installs it)"
command -v jq >/dev/null || fail "jq not installed (scripts/bootstrap installs it)"

am_port=$(free_port)
cat >"$TEST_WORK/am.yml" <<YAML
route: {receiver: sink, group_by: [alertname], group_wait: 1s, group_interval: 1s}
receivers: [{name: sink}]
YAML
"$am_bin" --config.file="$TEST_WORK/am.yml" --storage.path="$TEST_WORK/am" \
    --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
    >"$TEST_WORK/am.log" 2>&1 &
SERVE_PIDS+=("$!")
am_ready() { [ "$(http_code "http://127.0.0.1:$am_port/-/ready")" = 200 ]; }
wait_until 30 am_ready || { cat "$TEST_WORK/am.log" >&2; fail "Alertmanager did not start"; }

SERVE_PORT=$(free_port)
cat >"$TEST_WORK/deskdb.yaml" <<YAML
database: {url: "$DESKDB_TEST_DSN", application_name: deskdb-am-test}
pool: {min: 1, max: 4}
http: {listen: ["127.0.0.1:$SERVE_PORT"]}
jobs: {leader: {mode: none}, definitions: []}
alerts:
  evaluation_interval: 1s
  receivers:
    - {name: am, type: alertmanager, url: "http://127.0.0.1:$am_port"}
  rules:
    - name: DeskdbE2EDatabaseUp
      expr: pg_up == 1
      labels: {severity: info, team: e2e}
      annotations: {summary: "pg_up is {{ \$value }}"}
    - name: DeskdbE2ENotFound
      expr: sum(increase(deskdb_http_requests_total{code="404"}[3s])) > 0
      labels: {severity: warning}
YAML
chmod 600 "$TEST_WORK/deskdb.yaml"
serve_start "$TEST_WORK/deskdb.yaml" "$TEST_WORK/serve.log"

am_alerts() {
    curl -s --max-time 5 "http://127.0.0.1:$am_port/api/v2/alerts"
}
# has_alert NAME: Alertmanager holds an active alert of that name.
has_alert() {
    am_alerts | jq -e --arg n "$1" \
        'any(.[]; .labels.alertname == $n and .status.state == "active")' >/dev/null
}

wait_until 30 has_alert DeskdbE2EDatabaseUp || {
    cat "$TEST_WORK/serve.log" >&2
    am_alerts >&2
    fail "the firing rule never reached Alertmanager"
}
alert=$(am_alerts | jq -c '.[] | select(.labels.alertname == "DeskdbE2EDatabaseUp")')
[ "$(jq -r .labels.team <<<"$alert")" = e2e ] || fail "labels lost: $alert"
[ "$(jq -r .labels.severity <<<"$alert")" = info ] || fail "labels lost: $alert"
[ "$(jq -r .annotations.summary <<<"$alert")" = "pg_up is 1" ] ||
    fail "annotation not rendered: $alert"
ends=$(jq -r .endsAt <<<"$alert")
[ "$(date -d "$ends" +%s)" -gt "$(( $(date +%s) + 60 ))" ] ||
    fail "a firing alert must stay valid for minutes, endsAt is $ends"

# A condition that clears: 404s in the last 3 s.
poke() { for _ in 1 2 3; do http_code "http://127.0.0.1:$SERVE_PORT/nope" >/dev/null; done; has_alert DeskdbE2ENotFound; }
wait_until 30 poke || { am_alerts >&2; fail "DeskdbE2ENotFound never fired"; }
gone() { ! has_alert DeskdbE2ENotFound; }
wait_until 30 gone || { am_alerts >&2; fail "the resolve never reached Alertmanager"; }
has_alert DeskdbE2EDatabaseUp || fail "the other alert was resolved too"
grep -q 'level=error' "$TEST_WORK/serve.log" && { cat "$TEST_WORK/serve.log" >&2; fail "deskdb logged errors"; }
serve_stop
echo "ok: deskdb pushed firing and resolved alerts into Alertmanager"
