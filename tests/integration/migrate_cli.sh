#!/usr/bin/env bash
# deskdb migrate from the command line: status, up, down, bad input, exit codes.
set -euo pipefail
: "${DESKDB_BIN:?set by ctest}" "${DESKDB_SOURCE_DIR:?set by ctest}"
: "${DESKDB_TEST_DSN:?run the integration tests through scripts/test}"

case $DESKDB_TEST_DSN in
postgresql://*/*) ;;
*) echo "migrate_cli: DESKDB_TEST_DSN must be a postgresql:// URI" >&2; exit 1 ;;
esac
[[ $DESKDB_TEST_DSN == *\?* ]] &&
    { echo "migrate_cli: DESKDB_TEST_DSN must have no query string" >&2; exit 1; }

psql=${DESKDB_PG_BIN:+$DESKDB_PG_BIN/}psql
db=deskdb_cli_$$
work=$(mktemp -d /tmp/deskdb-migrate-cli.XXXXXX)
sql() { "$psql" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }
cleanup() {
    sql "$DESKDB_TEST_DSN" "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
    rm -rf "$work"
}
trap cleanup EXIT
sql "$DESKDB_TEST_DSN" "CREATE DATABASE $db"

export DATABASE_URL=${DESKDB_TEST_DSN%/*}/$db
unset DESKDB_CONFIG
cd "$work"

fail() { echo "migrate_cli: $*" >&2; exit 1; }

# run EXPECTED_STATUS ARGS...: output in $work/out and $work/err.
run() {
    local want=$1 got=0
    shift
    "$DESKDB_BIN" migrate "$@" >"$work/out" 2>"$work/err" || got=$?
    [ "$got" -eq "$want" ] ||
        fail "'migrate $*' exited $got, want $want: $(cat "$work/err")"
}
has() { grep -qF -- "$2" "$work/$1" || fail "'$2' not in $1: $(cat "$work/$1")"; }
one_line_error() {
    [ "$(wc -l <"$work/err")" -eq 1 ] || fail "want one line on stderr: $(cat "$work/err")"
}

run 0 status
has out "0000_initial_schema"
has out "0 applied, 9 pending"
[ "$(grep -c ' pending ' "$work/out")" -eq 9 ] || fail "status: $(cat "$work/out")"

run 0 up
has out "applied 0000_initial_schema in"
has out "applied 0004_add_critical_indexes in"
has out "(statement by statement)"
has out "applied 9 migrations"
[ "$(sql "$DATABASE_URL" 'SELECT count(*) FROM deskdb.schema_migrations')" -eq 9 ] ||
    fail "history does not have 9 rows"

run 0 up
has out "nothing to apply"
run 0 status
has out "9 applied, 0 pending"

run 0 down
has out "rolled back 0008_job_runs_run_details"
has out "rolled back 1 migration"
run 0 down 2
has out "rolled back 0007_import_ledger_per_dealership"
has out "rolled back 0006_deskdb_schema"
run 0 status
has out "6 applied, 3 pending"
printf 'log:\n  level: warn\n' >"$work/quiet.yaml"
run 0 up -c "$work/quiet.yaml" --wait 5
has out "applied 3 migrations"

# Bad arguments: exit 2 and one line on stderr.
for args in "" "sideways" "down 0" "down x" "down 1 2" "up 3" "status --bogus" \
    "up --dir" "up --wait" "up --wait -1" "up --wait 1s"; do
    # shellcheck disable=SC2086
    run 2 $args
    one_line_error
done
run 0 --help
has out "usage: deskdb migrate"

# A directory with a stray file, or none at all: exit 2.
mkdir "$work/bad"
cp "$DESKDB_SOURCE_DIR"/migrations/*.sql "$work/bad/"
echo "SELECT 1" >"$work/bad/notes.sql"
run 2 status --dir "$work/bad"
one_line_error
has err "notes.sql: migrations are named"
run 2 up --dir "$work/missing"
one_line_error

# An applied file that changed: up refuses, exit 1.
rm "$work/bad/notes.sql"
echo "-- edited" >>"$work/bad/0002_schema_consistency.up.sql"
run 1 up --dir="$work/bad"
one_line_error
has err "migration 0002_schema_consistency was changed after it was applied"
run 0 status --dir "$work/bad"
has out "changed"
has err "changed or unknown"

# The configuration file names the database the same way.
printf 'database:\n  url: %s\n' "$DATABASE_URL" >"$work/deskdb.yaml"
(
    unset DATABASE_URL
    run 0 status -c "$work/deskdb.yaml"
    has out "9 applied, 0 pending"
)
printf 'database:\n  ulr: x\n' >"$work/broken.yaml"
run 2 status -c "$work/broken.yaml"
one_line_error

# An unreachable server: exit 1, one line, and the password never shown.
DATABASE_URL="postgresql://u:sekrit@127.0.0.1:1/x?connect_timeout=2" run 1 status
one_line_error
has err "connect to database"
if grep -q sekrit "$work/out" "$work/err"; then fail "password leaked"; fi
DATABASE_URL="postgresql://u:sekrit@127.0.0.1:1/x?connect_timeout=2" run 1 up
if grep -q sekrit "$work/out" "$work/err"; then fail "password leaked"; fi

run 0 down 100 --wait 0
has out "rolled back 9 migrations"
[ "$(sql "$DATABASE_URL" "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace")" -eq 0 ] ||
    fail "down 100 left objects in public"
echo "migrate_cli: ok"
