#!/usr/bin/env bash
# deskdb op from the command line, as a role subject to row-level security:
# result lines, feeds re-run, malformed lines, all-or-nothing, exit codes.
set -euo pipefail
: "${DESKDB_BIN:?set by ctest}"
: "${DESKDB_TEST_DSN:?run the integration tests through scripts/test}"

case $DESKDB_TEST_DSN in
postgresql://*@*/*) ;;
*) echo "op_cli: DESKDB_TEST_DSN must be a postgresql://user@host/db URI" >&2; exit 1 ;;
esac
[[ $DESKDB_TEST_DSN == *\?* ]] &&
    { echo "op_cli: DESKDB_TEST_DSN must have no query string" >&2; exit 1; }

psql=${DESKDB_PG_BIN:+$DESKDB_PG_BIN/}psql
db=deskdb_op_cli_$$
role=desk_op_cli_$$
work=$(mktemp -d /tmp/deskdb-op-cli.XXXXXX)
admin_url=${DESKDB_TEST_DSN%/*}/$db
server=${DESKDB_TEST_DSN#postgresql://*@}
server=${server%%/*}
sql() { "$psql" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"; }
cleanup() {
    sql "$DESKDB_TEST_DSN" "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
    sql "$DESKDB_TEST_DSN" "DROP ROLE IF EXISTS $role" || true
    rm -rf "$work"
}
trap cleanup EXIT
sql "$DESKDB_TEST_DSN" "CREATE DATABASE $db"
sql "$DESKDB_TEST_DSN" "CREATE ROLE $role LOGIN NOSUPERUSER NOBYPASSRLS"
unset DESKDB_CONFIG
cd "$work"

fail() { echo "op_cli: $*" >&2; exit 1; }

DATABASE_URL=$admin_url "$DESKDB_BIN" migrate up >/dev/null
A=00000000-0000-0000-0000-00000000000a
B=00000000-0000-0000-0000-00000000000b
S=10000000-0000-0000-0000-00000000000a
sql "$admin_url" "
GRANT USAGE ON SCHEMA public, deskdb TO $role;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO $role;
GRANT SELECT, INSERT, UPDATE ON deskdb.import_ledger TO $role;
INSERT INTO dealerships (id, name, code) VALUES ('$A', 'A', 'A'), ('$B', 'B', 'B');
INSERT INTO users (id, dealership_id, username, email)
    VALUES ('$S', '$A', 'sam', 'sam@example.com');
INSERT INTO vehicles (id, dealership_id, stock_number)
    SELECT ('3' || lpad(i::text, 7, '0') || '-0000-0000-0000-00000000000a')::uuid,
           '$A', 'S' || i FROM generate_series(1, 20) i;"
export DATABASE_URL=postgresql://$role@$server/$db

# run EXPECTED_STATUS ARGS... [< input]: output in $work/out and $work/err.
run() {
    local want=$1 got=0
    shift
    "$DESKDB_BIN" op "$@" >"$work/out" 2>"$work/err" || got=$?
    [ "$got" -eq "$want" ] ||
        fail "'op $*' exited $got, want $want: $(cat "$work/err")"
}
has() { grep -qF -- "$2" "$work/$1" || fail "'$2' not in $1: $(cat "$work/$1")"; }
lines() { [ "$(wc -l <"$work/out")" -eq "$1" ] || fail "want $1 result lines: $(cat "$work/out")"; }
count() { sql "$admin_url" "SELECT count(*) FROM $1"; }
deal() { # deal EXTERNAL_ID VEHICLE_NUMBER
    printf '{"external_id":"%s","dealership_id":"%s","salesperson_id":"%s","vehicle_id":"3%07d-0000-0000-0000-00000000000a","customer":{"first_name":"John","last_name":"Doe","email":"john@example.com"},"scenario":{"name":"Finance Deal","term":60,"apr":"8.9"}}\n' \
        "$1" "$A" "$S" "$2"
}

# A feed with good records, a blank line, malformed and invalid lines.
{
    deal dms-1 1
    deal dms-2 2
    echo
    echo '{"external_id":"dms-3", not json'
    printf '{"dealership_id":"%s","salesperson_id":"%s","colour":"red"}\n' "$A" "$S"
    deal dms-4 3
} >"$work/feed.ndjson"

run 1 create_deal --input "$work/feed.ndjson"
lines 5
has err "applied 3, duplicates 0, failed 2"
has out '"line":1,"status":"applied","external_id":"dms-1","deal":{'
has out '"deal_number":"D-000001"'
has out '"line":4,"status":"failed","code":"invalid_input","error":"invalid JSON'
has out '"line":5,"status":"failed","code":"invalid_input","error":"unknown field '"'colour'"'"}'
has out '"line":6,"status":"applied","external_id":"dms-4"'
[ "$(count deals)" -eq 3 ] || fail "want 3 deals"

# The same feed again: nothing new, the same answers.
cp "$work/out" "$work/first"
run 1 create_deal --input "$work/feed.ndjson"
has err "applied 0, duplicates 3, failed 2"
has out '"line":1,"status":"duplicate","external_id":"dms-1"'
[ "$(count deals)" -eq 3 ] || fail "re-run created deals"
[ "$(count customers)" -eq 3 ] || fail "re-run created customers"
[ "$(count audit_log)" -eq 3 ] || fail "re-run wrote audit entries"
grep -o '"deal_number":"D-00000[0-9]"' "$work/first" | sort >"$work/n1"
grep -o '"deal_number":"D-00000[0-9]"' "$work/out" | sort >"$work/n2"
cmp -s "$work/n1" "$work/n2" || fail "duplicates report other deal numbers"

# Standard input, with or without "-": all good, exit 0.
{ deal std-1 10; deal std-2 11; } >"$work/good.ndjson"
run 0 create_deal <"$work/good.ndjson"
has err "applied 2, duplicates 0, failed 0"
run 0 create_deal --input - <"$work/good.ndjson"
has err "applied 0, duplicates 2, failed 0"

# All or nothing: record 3 wants the vehicle record 1 takes.
{ deal aon-1 12; deal aon-2 13; deal aon-3 12; } >"$work/aon.ndjson"
run 1 create_deal --all-or-nothing --input "$work/aon.ndjson"
lines 3
has err "applied 0, duplicates 0, failed 1, not applied 2"
has out '"line":1,"status":"not_applied","external_id":"aon-1","code":"rolled_back","error":"not applied: line 3 failed'
has out '"line":3,"status":"failed","external_id":"aon-3","code":"conflict"'
[ "$(count deals)" -eq 5 ] || fail "all-or-nothing applied part of its input"
sed -i '$d' "$work/aon.ndjson"
run 0 create_deal --all-or-nothing --input "$work/aon.ndjson"
has err "applied 2, duplicates 0, failed 0"
[ "$(count deals)" -eq 7 ] || fail "all-or-nothing did not apply"

# A run bound to one dealership refuses records of another.
printf '{"dealership_id":"%s","name":"stock"}\n{"dealership_id":"%s","name":"stock"}\n' "$B" "$A" \
    >"$work/seq.ndjson"
run 1 next_sequence --dealership "$A" --input "$work/seq.ndjson"
has out '"line":1,"status":"failed","code":"forbidden"'
has out '"line":2,"status":"applied","name":"stock","value":1'

# Usage errors: exit 2, one line on stderr.
one_line_error() {
    [ "$(wc -l <"$work/err")" -eq 1 ] || fail "want one line on stderr: $(cat "$work/err")"
}
for args in "" "drop_tables" "create_deal --bogus" "create_deal --input" \
    "create_deal extra words" "create_deal --input $work/missing.ndjson" \
    "create_deal --dealership nope" "create_deal --timeout 5x" \
    "create_deal --timeout 0"; do
    # shellcheck disable=SC2086
    run 2 $args </dev/null
    one_line_error
done
run 2 drop_tables </dev/null
has err "unknown operation 'drop_tables' (create_deal, attach_customer, register_user, update_email_status, next_sequence)"
run 0 --help
has out "usage: deskdb op NAME"
printf 'database:\n  ulr: x\n' >"$work/broken.yaml"
run 2 create_deal -c "$work/broken.yaml" </dev/null

# The database is gone: the first record fails, the rest are not tried,
# and the password never shows.
printf 'pool:\n  acquire_timeout: 1s\ntransactions:\n  max_retries: 0\nlog:\n  level: error\n' \
    >"$work/quick.yaml"
DATABASE_URL="postgresql://u:sekrit@127.0.0.1:1/x?connect_timeout=2" \
    run 1 create_deal -c "$work/quick.yaml" --input "$work/good.ndjson"
lines 2
has out '"line":1,"status":"failed","external_id":"std-1","code":"connection"'
has out '"line":2,"status":"not_applied","external_id":"std-2","code":"unavailable","error":"not attempted: the database connection failed at line 1"'
if grep -q sekrit "$work/out" "$work/err"; then fail "password leaked"; fi
echo "op_cli: ok"
