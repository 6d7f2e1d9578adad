#!/usr/bin/env bash
# deskdb jobs list | next | run and check-config on job definitions: output,
# exit codes (0 ok, 1 the run failed, 2 usage or configuration), one-line
# errors with file:line:column, and list with the database down.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
own_database deskdb_jobs_cli

config=$TEST_WORK/deskdb.yaml
write_config() {
    cat >"$config" <<YAML
database:
  url: "$1"
pool: {min: 0, max: 3, connect_timeout: 2s, acquire_timeout: 3s}
jobs:
  leader: {mode: none}
  timezone: America/New_York
  definitions:
    - name: stamp
      schedule: "30 2 * * *"
      type: sql
      sql: INSERT INTO cli_out (run_id) VALUES (\${run.id}::bigint)
    - name: broken
      schedule: "@every 1h"
      timezone: UTC
      type: sql
      sql: SELECT * FROM no_such_table
    - name: lord-howe
      schedule: "15 2 * * *"
      timezone: Australia/Lord_Howe
      type: sql
      sql: SELECT 1
      enabled: false
log: {level: warn}
YAML
}
write_config "$dsn"
"$DESKDB_BIN" migrate up -c "$config" >/dev/null || fail "migrate up failed"
q "CREATE TABLE cli_out (run_id bigint)" >/dev/null

run() {
    local want=$1
    shift
    status=0
    "$DESKDB_BIN" jobs "$@" >"$TEST_WORK/out" 2>"$TEST_WORK/err" || status=$?
    [ "$status" -eq "$want" ] ||
        fail "deskdb jobs $*: exit $status, want $want: $(cat "$TEST_WORK/out" "$TEST_WORK/err")"
}
has() { grep -q -- "$2" "$TEST_WORK/$1" || fail "$1 lacks '$2': $(cat "$TEST_WORK/$1")"; }
one_line_error() {
    [ "$(wc -l <"$TEST_WORK/err")" -eq 1 ] || fail "want one line on stderr: $(cat "$TEST_WORK/err")"
}

# next: UTC and local time, no database needed; the DST rule is named.
run 0 next stamp -n 3 -c "$config"
has out '^stamp: "30 2 \* \* \*" in America/New_York (fixed time'
[ "$(grep -c 'Z  ' "$TEST_WORK/out")" -eq 3 ] || fail "want 3 times: $(cat "$TEST_WORK/out")"
grep -E 'T0[67]:30:00Z  [0-9-]+ 02:30:00 E[SD]T \(-0[45]:00\)' "$TEST_WORK/out" >/dev/null ||
    fail "times are not 02:30 New York: $(cat "$TEST_WORK/out")"
run 0 next lord-howe -c "$config"
has out 'Australia/Lord_Howe, disabled'
[ "$(grep -c 'Z  ' "$TEST_WORK/out")" -eq 10 ] || fail "want 10 times by default"
has out '+1[01]:[03]0)'

# run: 0 on success, recorded; 1 on failure, with the reason.
run 0 run stamp -c "$config"
has out '^stamp: run [0-9]* succeeded in '
id=$(sed -n 's/^stamp: run \([0-9]*\) .*/\1/p' "$TEST_WORK/out")
[ "$(q "SELECT status || '/' || trigger FROM deskdb.job_runs WHERE id = $id")" = succeeded/manual ] ||
    fail "run $id is not recorded as a succeeded manual run"
[ "$(q "SELECT count(*) FROM cli_out WHERE run_id = $id")" = 1 ] || fail "the run did not insert its id"
run 1 run broken -c "$config"
has err 'deskdb jobs run: broken: run [0-9]* failed: relation "no_such_table" does not exist'
one_line_error

# list: every job, next run, last run from deskdb.job_runs.
run 0 list -c "$config"
has out '^NAME  *TYPE  *SCHEDULE  *TIMEZONE  *ENABLED  *NEXT RUN (UTC)  *LAST RUN'
has out "^stamp  *sql  *30 2 \* \* \*  *America/New_York  *yes  *20[0-9-]*T[0-9:]*Z  *succeeded "
has out '^broken .* failed .*no_such_table'
has out '^lord-howe .* no  *disabled  *never'

# Usage and configuration errors: exit 2, one line.
for args in "" "sideways" "next" "run" "next stamp -n 0" "next stamp -n x" \
    "list extra" "next stamp --bogus"; do
    # shellcheck disable=SC2086
    run 2 $args -c "$config"
    one_line_error
done
run 2 next nobody -c "$config"
has err "no job named 'nobody'"
run 2 run nobody -c "$config"

sed -i 's/"30 2 \* \* \*"/"30 2 * * 8"/' "$config"
run 2 list -c "$config"
has err "deskdb.yaml:9:27: job 'stamp': schedule \"30 2 \* \* 8\": cron: column 10: day-of-week 8 out of range"
one_line_error
status=0
"$DESKDB_BIN" check-config -c "$config" >/dev/null 2>"$TEST_WORK/err" || status=$?
[ "$status" -eq 2 ] || fail "check-config accepted a bad schedule"
has err "deskdb.yaml:9:27:"
write_config "$dsn"

# The database down: list still shows the schedule, last runs unknown.
write_config "postgresql://postgres@127.0.0.1:1/$db"
run 0 list -c "$config"
has out '^last runs unknown (database unreachable: '
has out '^stamp .* unknown$'
run 1 run stamp -c "$config"
one_line_error
echo ok
