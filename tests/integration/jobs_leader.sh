#!/usr/bin/env bash
# Two `deskdb serve` processes with advisory-lock leadership on one
# database: one schedules and every fire time runs exactly once; kill -9 of
# the leader in the middle of a batch leaves no partial effect, the other
# takes over within seconds and records the killed run as interrupted.
# ctest-labels: concurrency
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
own_database deskdb_leader

write_config() {
    cat >"$1" <<YAML
database:
  url: "$dsn"
  application_name: deskdb-leader-test
pool: {min: 1, max: 6, acquire_timeout: 5s}
http:
  listen: ["127.0.0.1:$2"]
collectors: {enabled: [database]}
jobs:
  leader: {mode: advisory_lock, key: 909090}
  definitions:
    - name: tick
      schedule: "@every 1s"
      type: sql
      sql: >-
        INSERT INTO leader_ticks (run_id, sched)
        VALUES (\${run.id}::bigint, \${run.scheduled_for}::timestamptz)
    - name: slow-batch
      schedule: "@every 2s"
      type: batch
      steps:
        - sql: INSERT INTO leader_batch (run_id, step) VALUES (\${run.id}::bigint, 1)
        - sql: SELECT pg_sleep(3)
        - sql: INSERT INTO leader_batch (run_id, step) VALUES (\${run.id}::bigint, 2)
alerts: {rules: []}
log: {level: info}
YAML
}

port_a=$(free_port)
port_b=$(free_port)
while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done
write_config "$TEST_WORK/a.yaml" "$port_a"
write_config "$TEST_WORK/b.yaml" "$port_b"
"$DESKDB_BIN" migrate up -c "$TEST_WORK/a.yaml" >/dev/null ||
    fail "migrate up failed"
q "CREATE TABLE leader_ticks (run_id bigint, sched timestamptz);
   CREATE TABLE leader_batch (run_id bigint, step int)" >/dev/null

SERVE_PORT=$port_a
serve_start "$TEST_WORK/a.yaml" "$TEST_WORK/a.log"
pid_a=$SERVE_PID
SERVE_PORT=$port_b
serve_start "$TEST_WORK/b.yaml" "$TEST_WORK/b.log"
pid_b=$SERVE_PID
host=$(hostname)

ticks_at_least() { [ "$(q "SELECT count(*) FROM leader_ticks")" -ge "$1" ]; }
wait_until 20 ticks_at_least 6 || fail "fewer than 6 ticks in 20 s"

# Every tick so far ran on one instance, once per fire time.
[ "$(q "SELECT count(DISTINCT instance) FROM deskdb.job_runs")" = 1 ] ||
    fail "runs on several instances: $(q "SELECT instance, count(*) FROM deskdb.job_runs GROUP BY 1")"
leader=$(q "SELECT instance FROM deskdb.job_runs ORDER BY id DESC LIMIT 1")
case $leader in
"$host:$pid_a") leader_pid=$pid_a follower_pid=$pid_b follower_port=$port_b leader_port=$port_a ;;
"$host:$pid_b") leader_pid=$pid_b follower_pid=$pid_a follower_port=$port_a leader_port=$port_b ;;
*) fail "runs recorded by an unknown instance '$leader'" ;;
esac
follower=$host:$follower_pid
curl -s "http://127.0.0.1:$leader_port/api/jobs" | grep -q '"leader":true' ||
    fail "the leader's /api/jobs does not say leader"
curl -s "http://127.0.0.1:$follower_port/api/jobs" | grep -q '"leader":false' ||
    fail "the follower's /api/jobs does not say follower"

exactly_once() {
    [ "$(q "SELECT count(*) - count(DISTINCT sched) FROM leader_ticks")" = 0 ] ||
        fail "a fire time ran twice: $(q "SELECT sched, count(*) FROM leader_ticks GROUP BY 1 HAVING count(*) > 1")"
    [ "$(q "SELECT count(*) FROM leader_ticks t LEFT JOIN deskdb.job_runs r
            ON r.id = t.run_id AND r.scheduled_for = t.sched
            WHERE r.id IS NULL")" = 0 ] || fail "a tick without its run row"
    [ "$(q "SELECT count(*) FROM leader_batch b JOIN deskdb.job_runs r ON r.id = b.run_id
            WHERE r.status <> 'succeeded'")" = 0 ] ||
        fail "rows of a batch that did not succeed: $(q "SELECT * FROM leader_batch b JOIN deskdb.job_runs r ON r.id = b.run_id WHERE r.status <> 'succeeded'")"
}
exactly_once

# Kill -9 the leader while a batch is between its two inserts.
batch_mid() {
    batch_id=$(q "SELECT id FROM deskdb.job_runs WHERE job = 'slow-batch'
                  AND status = 'running' AND instance = '$leader'
                  AND started_at < now() - interval '500 milliseconds'
                  ORDER BY id DESC LIMIT 1")
    [ -n "$batch_id" ]
}
wait_until 15 batch_mid || fail "no batch in progress on the leader"
kill -9 "$leader_pid"
killed_at=$SECONDS

# The follower takes over within a few seconds.
took_over() {
    [ "$(q "SELECT count(*) FROM deskdb.job_runs WHERE job = 'tick'
            AND instance = '$follower' AND status = 'succeeded'")" -ge 2 ]
}
wait_until 15 took_over || fail "the follower did not take over within 15 s"
[ $((SECONDS - killed_at)) -le 10 ] || fail "take-over took $((SECONDS - killed_at)) s"
curl -s "http://127.0.0.1:$follower_port/api/jobs" | grep -q '"leader":true' ||
    fail "the new leader's /api/jobs does not say leader"

# The killed run is recorded as interrupted and left nothing behind.
interrupted() {
    [ "$(q "SELECT status FROM deskdb.job_runs WHERE id = $batch_id")" = interrupted ]
}
wait_until 45 interrupted ||
    fail "run $batch_id is '$(q "SELECT status FROM deskdb.job_runs WHERE id = $batch_id")', not interrupted"
[ "$(q "SELECT count(*) FROM leader_batch WHERE run_id = $batch_id")" = 0 ] ||
    fail "the killed batch left rows behind"

# The new leader runs the batch to the end, both steps.
batch_done() {
    [ "$(q "SELECT count(*) FROM deskdb.job_runs r WHERE job = 'slow-batch'
            AND status = 'succeeded' AND instance = '$follower'
            AND (SELECT count(*) FROM leader_batch b WHERE b.run_id = r.id) = 2")" -ge 1 ]
}
wait_until 20 batch_done || fail "no complete batch from the new leader"
# Before the kill the follower had run nothing (ids grow with claims).
[ "$(q "SELECT count(*) FROM deskdb.job_runs WHERE instance = '$follower'
        AND id < $batch_id")" = 0 ] || fail "the follower ran jobs while not the leader"
exactly_once

SERVE_PID=$follower_pid
serve_stop
[ "$(q "SELECT count(*) FROM deskdb.job_runs WHERE status = 'running'")" = 0 ] ||
    fail "runs left running after a clean stop"
echo "ok: leader $leader, take-over by $follower, run $batch_id interrupted"
