#!/usr/bin/env bash
# `deskdb serve` applies the jobs: section on SIGHUP: a serve started
# without jobs gets a scheduler; a job added runs, a job removed finishes
# its run in flight (recorded) and never fires again, its series leave
# /metrics; a leader change is refused with a warning; a bad file keeps
# the jobs as they were; removing every job leaves an empty scheduler.
# ctest-labels: concurrency
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
own_database deskdb_reload

port=$(free_port)
SERVE_PORT=$port
base=http://127.0.0.1:$port
config=$TEST_WORK/deskdb.yaml

# write_config LEADER_MODE JOBS_YAML (the definitions, indented by 4).
write_config() {
    cat >"$config" <<YAML
database:
  url: "$dsn"
  application_name: deskdb-reload-test
pool: {min: 1, max: 6, acquire_timeout: 5s}
http:
  listen: ["127.0.0.1:$port"]
collectors: {enabled: [database]}
jobs:
  leader: {mode: $1}
  definitions:
$2
alerts: {rules: []}
log: {level: info}
YAML
}

# A job that records its runs and takes 1.5 s, so one is always running.
job() {
    cat <<YAML
    - name: $1
      schedule: "@every 1s"
      type: sql
      sql: >-
        WITH t AS (INSERT INTO reload_ticks (job, run_id)
        VALUES ('$1', \${run.id}::bigint)) SELECT pg_sleep(1.5)
YAML
}

runs() { q "SELECT count(*) FROM deskdb.job_runs WHERE job = '$1' $2"; }
runs_at_least() { [ "$(runs "$1" "AND status = 'succeeded'")" -ge "$2" ]; }
jobs_doc() { curl -s --max-time 10 "$base/api/jobs"; }
job_names() { jobs_doc | jq -r '[.jobs[].name] | join(",")'; }
names_are() { [ "$(job_names)" = "$1" ]; }
reload_state() { curl -s "$base/metrics" | grep -x "deskdb_config_last_reload_successful $1" >/dev/null; }
last_reload() {
    curl -s "$base/metrics" |
        awk '$1 == "deskdb_config_last_reload_success_timestamp_seconds" { print $2 }'
}
reloaded_after() { awk -v a="$(last_reload)" -v b="$1" 'BEGIN { exit !(a + 0 > b + 0) }'; }
hup_and_wait() {
    local before
    before=$(last_reload)
    kill -HUP "$SERVE_PID"
    wait_until 10 reloaded_after "$before" || fail "the reload did not happen: $(tail -n 5 "$TEST_WORK/serve.log")"
}

write_config none "    []"
"$DESKDB_BIN" migrate up -c "$config" >/dev/null || fail "migrate up failed"
q "CREATE TABLE reload_ticks (job text, run_id bigint, at timestamptz DEFAULT clock_timestamp())" >/dev/null
serve_start "$config" "$TEST_WORK/serve.log"
[ "$(http_code "$base/api/jobs")" = 404 ] || fail "/api/jobs without a scheduler is not a 404"

# 1. No scheduler yet; the file gets a job: one is created and runs it.
write_config none "$(job first)"
hup_and_wait
wait_until 10 names_are first || fail "/api/jobs after adding 'first': $(jobs_doc)"
wait_until 15 runs_at_least first 2 || fail "'first' did not run twice"
grep -q 'msg="scheduler started"' "$TEST_WORK/serve.log" || fail "no scheduler start logged"

# 2. 'first' replaced by 'second' while a run of 'first' is in progress;
#    the leader mode change is refused.
wait_until 10 bash -c "[ \"\$(psql '$dsn' -qAtX -c \"SELECT count(*) FROM deskdb.job_runs WHERE job = 'first' AND status = 'running'\")\" = 1 ]" ||
    fail "no run of 'first' in progress"
write_config advisory_lock "$(job second)"
hup_and_wait
wait_until 10 names_are second || fail "/api/jobs after the swap: $(jobs_doc)"
[ "$(jobs_doc | jq -r .leader_mode)" = none ] || fail "the leader mode changed at runtime"
grep -q 'jobs.leader changes need a restart' "$TEST_WORK/serve.log" ||
    fail "no warning about the leader change"
grep -q 'msg="job removed" job=first' "$TEST_WORK/serve.log" || fail "the removal is not logged"
no_first_running() { [ "$(runs first "AND status = 'running'")" = 0 ]; }
wait_until 10 no_first_running || fail "the run of 'first' in flight did not finish"
[ "$(runs first "AND status <> 'succeeded'")" = 0 ] ||
    fail "a run of 'first' did not succeed: $(q "SELECT id, status, error FROM deskdb.job_runs WHERE job = 'first'")"
first_runs=$(runs first "")
[ "$(q "SELECT count(*) FROM reload_ticks WHERE job = 'first'")" = "$first_runs" ] ||
    fail "the run in flight was not recorded"
wait_until 15 runs_at_least second 2 || fail "'second' did not run twice"
[ "$(runs first "")" = "$first_runs" ] || fail "'first' fired after its removal"
curl -s "$base/metrics" >"$TEST_WORK/m.prom"
grep -q '^deskdb_job_runs_total{job_name="second"} ' "$TEST_WORK/m.prom" ||
    fail "no deskdb_job_runs_total for 'second'"
! grep -q 'job_name="first"' "$TEST_WORK/m.prom" ||
    fail "series of the removed job remain: $(grep 'job_name="first"' "$TEST_WORK/m.prom")"
reload_state 1 || fail "the reload is not reported successful"

# 3. A bad file: rejected, the jobs stay as they were.
cp "$config" "$TEST_WORK/good.yaml"
write_config none "$(job second)
$(job third | sed 's/@every 1s/61 * * * */')"
kill -HUP "$SERVE_PID"
wait_until 10 reload_state 0 || fail "a bad reload was not reported"
grep -q 'configuration reload failed' "$TEST_WORK/serve.log" || fail "the bad file is not logged"
names_are second || fail "a bad file changed the jobs: $(jobs_doc)"
before=$(runs second "")
more_second() { [ "$(runs second "")" -gt "$before" ]; }
wait_until 10 more_second || fail "'second' stopped after a bad reload"

# 4. Every job removed: the scheduler stays, with none.
write_config none "    []"
hup_and_wait
reload_state 1 || fail "the good reload after a bad one is not reported"
wait_until 10 names_are "" || fail "/api/jobs after removing every job: $(jobs_doc)"
[ "$(http_code "$base/api/jobs")" = 200 ] || fail "/api/jobs is gone with the last job"
no_second_running() { [ "$(runs second "AND status = 'running'")" = 0 ]; }
wait_until 10 no_second_running || fail "the last run of 'second' did not finish"
after=$(runs second "")
sleep 2
[ "$(runs second "")" = "$after" ] || fail "'second' fired after its removal"
errors=$(grep 'level=error' "$TEST_WORK/serve.log" | grep -v 'configuration reload failed' || true)
[ -z "$errors" ] || fail "errors in the log: $errors"
serve_stop
echo "ok"
