#!/usr/bin/env bash
# deskdb serve applies the alerts: section on SIGHUP against the test
# database and a real HTTP receiver: a kept rule keeps firing without a new
# notification, a removed one is resolved at the receiver and leaves
# /metrics and deskdb.alert_state, a changed and an added rule start
# pending; a bad file then changes nothing and sets
# deskdb_config_last_reload_successful to 0.
# ctest-labels: concurrency
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
own_database deskdb_alerts_reload
state_rows() { # RULE [STATE]: rows of deskdb.alert_state
    psql "$dsn" -qAtX -c "SELECT count(*) FROM deskdb.alert_state
                          WHERE rule = '$1' AND state LIKE '${2:-%}'"
}

# The receiver: one line of JSON per POST in $TEST_WORK/hooks.
hooks=$TEST_WORK/hooks
hook_receiver_start "$hooks"
hook_port=$HOOK_PORT

port=$(free_port)
SERVE_PORT=$port
base=http://127.0.0.1:$port
config=$TEST_WORK/deskdb.yaml
write_config() { # RULES (YAML list items, indented by 4)
    cat >"$config" <<YAML
database:
  url: "$dsn"
  application_name: deskdb-alerts-reload-test
pool: {min: 1, max: 3, acquire_timeout: 2s}
http:
  listen: ["127.0.0.1:$port"]
collectors: {timeout: 2s, min_interval: 100ms}
jobs: {leader: {mode: none}, definitions: []}
alerts:
  evaluation_interval: 1s
  receivers:
    - name: hook
      type: webhook
      url: http://127.0.0.1:$hook_port/hook
      group_wait: 0s
      group_interval: 1s
      repeat_interval: 1h
  rules:
$1
YAML
    chmod 600 "$config"
}
steady='    - {name: ItSteady, expr: "pg_up > 0", labels: {severity: warning}}'
write_config "$steady
    - {name: ItGoes, expr: \"pg_up > 0\", labels: {severity: critical}}
    - {name: ItChanges, expr: \"pg_up > 5\", for: 1h}"
"$DESKDB_BIN" migrate up -c "$config" >/dev/null || fail "migrate up failed"
serve_start "$config" "$TEST_WORK/serve.log"

# Notifications for alertname $1 with status $2.
hooks_for() {
    jq -c --arg n "$1" --arg s "$2" \
        'select(.groupLabels.alertname == $n and .status == $s)' "$hooks" | wc -l
}
alerts() { curl -s "$base/api/alerts"; }
alert_state() { # NAME: its state in /api/alerts, or "none"
    alerts | jq -r --arg n "$1" '[.alerts[] | select(.name == $n) | .state][0] // "none"'
}
metrics() { curl -s "$base/metrics"; }
has_line() { metrics | grep -x "$1" >/dev/null; }
firing_is() { [ "$(hooks_for "$1" firing)" -ge 1 ]; }

wait_until 20 firing_is ItSteady || fail "ItSteady was not notified: $(cat "$hooks")"
wait_until 20 firing_is ItGoes || fail "ItGoes was not notified: $(cat "$hooks")"
wait_until 10 has_line 'deskdb_alert_firing{alert="ItGoes",severity="critical"} 1' ||
    fail "ItGoes is not firing in /metrics"
[ "$(alert_state ItSteady)" = firing ] || fail "ItSteady is not firing: $(alerts)"
[ "$(alert_state ItChanges)" = none ] || fail "ItChanges is active: $(alerts)"
rows_are() { [ "$(state_rows "$1" "${3:-%}")" = "$2" ]; }
wait_until 10 rows_are ItGoes 1 firing || fail "ItGoes is not in deskdb.alert_state"
steady_since=$(alerts | jq -r '.alerts[] | select(.name == "ItSteady") | .activeAt')

# ItSteady unchanged, ItGoes removed, ItChanges changed, ItAdded new.
write_config "$steady
    - {name: ItChanges, expr: \"pg_up >= 1\", for: 1h}
    - {name: ItAdded, expr: \"pg_up > 0\", for: 1h, labels: {severity: info}}"
kill -HUP "$SERVE_PID"
resolved_is() { [ "$(hooks_for "$1" resolved)" -ge 1 ]; }
wait_until 20 resolved_is ItGoes || fail "no resolve for the removed rule: $(cat "$hooks")"
grep -q 'msg="rules and receivers reloaded"' "$TEST_WORK/serve.log" ||
    fail "no reload line in the log"
has_line 'deskdb_config_last_reload_successful 1' || fail "the reload is not reported good"
pending_is() { [ "$(alert_state "$1")" = pending ]; }
wait_until 10 pending_is ItAdded || fail "ItAdded is not pending: $(alerts)"
wait_until 10 pending_is ItChanges || fail "ItChanges is not pending: $(alerts)"
[ "$(alert_state ItGoes)" = none ] || fail "ItGoes is still listed: $(alerts)"
[ "$(alert_state ItSteady)" = firing ] || fail "ItSteady stopped firing: $(alerts)"
[ "$(alerts | jq -r '.alerts[] | select(.name == "ItSteady") | .activeAt')" = "$steady_since" ] ||
    fail "ItSteady's activeAt changed across the reload"
! metrics | grep 'deskdb_alert_firing{alert="ItGoes"' >/dev/null || fail "ItGoes is still in /metrics"
has_line 'deskdb_alert_firing{alert="ItAdded",severity="info"} 0' || fail "ItAdded is not in /metrics"
has_line 'deskdb_alert_firing{alert="ItSteady",severity="warning"} 1' || fail "ItSteady is not 1"
wait_until 10 rows_are ItGoes 0 || fail "ItGoes still has rows in deskdb.alert_state"
rows_are ItSteady 1 firing || fail "ItSteady lost its row in deskdb.alert_state"
sleep 2 # two group intervals: a kept alert is not notified again
[ "$(hooks_for ItSteady firing)" -eq 1 ] || fail "ItSteady was notified again: $(cat "$hooks")"

# A bad rule: the reload is refused and everything stays as it was.
before=$(alerts | jq -c '[.alerts[] | {name, state, activeAt}], [.receivers[].name]')
cp "$config" "$TEST_WORK/good.yaml"
write_config "$steady
    - {name: ItBroken, expr: \"pg_up >\"}"
kill -HUP "$SERVE_PID"
wait_until 10 has_line 'deskdb_config_last_reload_successful 0' || fail "a bad reload was not reported"
grep 'configuration reload failed' "$TEST_WORK/serve.log" | grep -F 'alerts.rules[1].expr' >/dev/null ||
    fail "the bad rule is not reported in the log"
after=$(alerts | jq -c '[.alerts[] | {name, state, activeAt}], [.receivers[].name]')
[ "$before" = "$after" ] || fail "a bad reload changed the alerts: $before -> $after"
has_line 'deskdb_alert_firing{alert="ItAdded",severity="info"} 0' || fail "ItAdded is gone"

serve_stop
echo "ok: serve_alerts_reload"
