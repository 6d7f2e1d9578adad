#!/usr/bin/env bash
# Two `deskdb serve` instances with advisory-lock leadership start without
# jobs or alert receivers, so without a scheduler (/api/jobs is 404); a
# reload brings a receiver and a rule to both: each starts a scheduler,
# exactly one leads, and the receiver hears of the alert once, not once
# per instance.
# ctest-labels: concurrency
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
own_database deskdb_leader_reload

hooks=$TEST_WORK/hooks
hook_receiver_start "$hooks"

write_config() { # FILE PORT WITH_ALERTS(yes|no)
    local alerts="alerts: {rules: []}"
    if [ "$3" = yes ]; then
        alerts="alerts:
  evaluation_interval: 1s
  receivers:
    - {name: hook, type: webhook, url: 'http://127.0.0.1:$HOOK_PORT/hook',
       group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
  rules:
    - {name: ItLeads, expr: 'pg_up > 0', labels: {severity: info}}"
    fi
    cat >"$1" <<YAML
database: {url: "$dsn", application_name: deskdb-leader-reload-test}
pool: {min: 1, max: 3, acquire_timeout: 2s}
http: {listen: ["127.0.0.1:$2"]}
collectors: {timeout: 2s, min_interval: 100ms}
jobs: {leader: {mode: advisory_lock}, definitions: []}
$alerts
YAML
    chmod 600 "$1"
}

port_a=$(free_port)
port_b=$(free_port)
[ "$port_a" != "$port_b" ] || port_b=$(free_port)
write_config "$TEST_WORK/a.yaml" "$port_a" no
write_config "$TEST_WORK/b.yaml" "$port_b" no
"$DESKDB_BIN" migrate up -c "$TEST_WORK/a.yaml" >/dev/null || fail "migrate up failed"
SERVE_PORT=$port_a
serve_start "$TEST_WORK/a.yaml" "$TEST_WORK/a.log"
pid_a=$SERVE_PID
SERVE_PORT=$port_b
serve_start "$TEST_WORK/b.yaml" "$TEST_WORK/b.log"
pid_b=$SERVE_PID
for p in "$port_a" "$port_b"; do
    [ "$(http_code "http://127.0.0.1:$p/api/jobs")" = 404 ] ||
        fail "an instance without jobs or receivers has a scheduler"
done

write_config "$TEST_WORK/a.yaml" "$port_a" yes
write_config "$TEST_WORK/b.yaml" "$port_b" yes
kill -HUP "$pid_a" "$pid_b"
leader_of() { curl -s "http://127.0.0.1:$1/api/jobs" | jq -r '.leader'; }
one_leads() {
    [ "$(http_code "http://127.0.0.1:$port_a/api/jobs")" = 200 ] &&
        [ "$(http_code "http://127.0.0.1:$port_b/api/jobs")" = 200 ] &&
        [ "$(leader_of "$port_a")$(leader_of "$port_b")" != falsefalse ]
}
wait_until 20 one_leads || fail "no scheduler leads after the reload"
[ "$(leader_of "$port_a")$(leader_of "$port_b")" != truetrue ] || fail "both instances lead"
notified() { [ -s "$hooks" ]; }
wait_until 20 notified || fail "the alert was not notified: $(tail -n 5 "$TEST_WORK"/*.log)"
sleep 4 # several evaluations and group intervals of both instances
firing=$(jq -c 'select(.status == "firing" and .groupLabels.alertname == "ItLeads")' "$hooks" | wc -l)
[ "$firing" -eq 1 ] || fail "the alert was notified $firing times, not once: $(cat "$hooks")"
for p in "$port_a" "$port_b"; do
    curl -s "http://127.0.0.1:$p/api/alerts" | jq -e '.alerts[] | select(.name == "ItLeads" and .state == "firing")' >/dev/null ||
        fail "instance on port $p does not evaluate ItLeads"
done

SERVE_PID=$pid_a
serve_stop
SERVE_PID=$pid_b
serve_stop
echo "ok: serve_leader_reload"
