#!/usr/bin/env bash
# Transaction throughput.  (1) pgbench through pgbouncer (transaction
# pooling) against pgbench straight to PostgreSQL: the peers' figures, for
# scale.  (2) `deskdb op create_deal` on an NDJSON feed (deskdb's pool and
# transaction manager) against psql running the same statements, one
# transaction per record, on one connection.
# Run by scripts/bench.  BENCH_PGBENCH_SECONDS (10), BENCH_PGBENCH_SCALE (10),
# BENCH_DEALS (5000) and BENCH_DEALERSHIPS (20) size it.
source "$DESKDB_SOURCE_DIR/tests/bench/lib.sh"

command -v pgbouncer >/dev/null || fail "pgbouncer missing (DESKDB_BOOTSTRAP_BENCH=1 scripts/bootstrap)"
PGBENCH=${DESKDB_PG_BIN:+$DESKDB_PG_BIN/}pgbench
[ -x "$PGBENCH" ] || PGBENCH=pgbench
seconds_each=${BENCH_PGBENCH_SECONDS:-10}
scale=${BENCH_PGBENCH_SCALE:-10}
deals=${BENCH_DEALS:-5000}
dealerships=${BENCH_DEALERSHIPS:-20}
pg_port=${PG_SERVER##*:}

# ---- pgbench: direct and through pgbouncer ------------------------------

pgb_dsn=$(bench_db deskdb_bench_pgbench)
echo "== pool: pgbench -i -s $scale"
"$PGBENCH" -i -q -s "$scale" "$pgb_dsn" >"$TEST_WORK/pgbench-init.log" 2>&1 ||
    { cat "$TEST_WORK/pgbench-init.log" >&2; fail "pgbench -i failed"; }

bouncer_dir=$TEST_WORK/pgbouncer
mkdir -p "$bouncer_dir"
bouncer_port=$(free_port)
echo '"postgres" ""' >"$bouncer_dir/userlist.txt"
cat >"$bouncer_dir/pgbouncer.ini" <<INI
[databases]
deskdb_bench_pgbench = host=127.0.0.1 port=$pg_port dbname=deskdb_bench_pgbench

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $bouncer_dir/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
log_connections = 0
log_disconnections = 0
INI
chmod 755 "$TEST_WORK" "$bouncer_dir"
chmod 644 "$bouncer_dir"/*
# PgBouncer refuses to run as root; -u switches to the postgres user.
as_user=()
[ "$(id -u)" -eq 0 ] && as_user=(-u postgres)
pgbouncer "${as_user[@]}" "$bouncer_dir/pgbouncer.ini" >"$TEST_WORK/pgbouncer.log" 2>&1 &
bouncer_pid=$!
started "$bouncer_pid"
bouncer_up() {
    kill -0 "$bouncer_pid" 2>/dev/null || { cat "$TEST_WORK/pgbouncer.log" >&2; fail "pgbouncer exited"; }
    PGCONNECT_TIMEOUT=2 "$PSQL" -X -At -h 127.0.0.1 -p "$bouncer_port" -U postgres \
        -d deskdb_bench_pgbench -c 'SELECT 1' >/dev/null 2>&1
}
wait_until 20 bouncer_up || fail "pgbouncer did not accept connections"

# pgbench_tps NAME PORT ARGS...: run pgbench for the configured time, print tps.
pgbench_tps() {
    local name=$1 port=$2 out
    shift 2
    out=$("$PGBENCH" -n -h 127.0.0.1 -p "$port" -U postgres -c 8 -j 2 \
        -T "$seconds_each" "$@" deskdb_bench_pgbench 2>&1) ||
        { echo "$out" >&2; fail "pgbench $name failed"; }
    echo "$out" >"$TEST_WORK/pgbench-$name.log"
    awk '/^tps = / { printf "%.0f", $3; exit }' <<<"$out"
}
declare -A T
for mode in select tpcb connect; do
    case $mode in
    select) args=(-S) ;;
    tpcb) args=() ;;
    connect) args=(-S -C) ;;
    esac
    T[$mode.direct]=$(pgbench_tps "$mode-direct" "$pg_port" "${args[@]}")
    T[$mode.bouncer]=$(pgbench_tps "$mode-bouncer" "$bouncer_port" "${args[@]}")
    echo "pgbench $mode: direct ${T[$mode.direct]} tps, pgbouncer ${T[$mode.bouncer]} tps"
done
kill -0 "$bouncer_pid" 2>/dev/null || fail "pgbouncer exited during the run"

# ---- create_deal: deskdb op against psql --------------------------------

echo "== pool: $deals create_deal records over $dealerships dealerships"
tmpl_dsn=$(bench_db deskdb_bench_ops_tmpl)
DATABASE_URL=$tmpl_dsn "$DESKDB_BIN" migrate up >"$TEST_WORK/migrate.log" 2>&1 ||
    { cat "$TEST_WORK/migrate.log" >&2; fail "deskdb migrate up failed"; }
# Dealership j: id de..0j, salesperson 5a..0j; vehicle i: ae..0i, in
# dealership i % dealerships + 1.
sql "$tmpl_dsn" "
INSERT INTO dealerships (id, name, code)
    SELECT ('de000000-0000-0000-0000-' || lpad(j::text, 12, '0'))::uuid,
           'Dealer ' || j, 'D' || j FROM generate_series(1, $dealerships) j;
INSERT INTO users (id, dealership_id, username, email)
    SELECT ('5a000000-0000-0000-0000-' || lpad(j::text, 12, '0'))::uuid,
           ('de000000-0000-0000-0000-' || lpad(j::text, 12, '0'))::uuid,
           'sales' || j, 'sales' || j || '@example.com'
    FROM generate_series(1, $dealerships) j;
INSERT INTO vehicles (id, dealership_id, stock_number)
    SELECT ('ae000000-0000-0000-0000-' || lpad(i::text, 12, '0'))::uuid,
           ('de000000-0000-0000-0000-' || lpad((i % $dealerships + 1)::text, 12, '0'))::uuid,
           'S' || i FROM generate_series(1, $deals) i;
ANALYZE;"
ops_dsn=$(bench_db deskdb_bench_ops_deskdb deskdb_bench_ops_tmpl)
psql_dsn=$(bench_db deskdb_bench_ops_psql deskdb_bench_ops_tmpl)

# The feed and, for psql, the statements deskdb runs for each record
# (core/ops_sql.c, core/ops_deal.c), in the same order; ids returned by
# one statement feed the next through \gset, as deskdb binds them.
awk -v n="$deals" -v m="$dealerships" -v feed="$TEST_WORK/deals.ndjson" \
    -v script="$TEST_WORK/deals.sql" '
function uuid(prefix, k) { return sprintf("%s000000-0000-0000-0000-%012d", prefix, k) }
BEGIN {
    print "\\set ON_ERROR_STOP on" > script
    for (i = 1; i <= n; i++) {
        j = i % m + 1
        D = uuid("de", j); S = uuid("5a", j); V = uuid("ae", i); X = "dms-" i
        printf "{\"external_id\":\"%s\",\"dealership_id\":\"%s\",\"salesperson_id\":\"%s\",\"vehicle_id\":\"%s\",\"customer\":{\"first_name\":\"John\",\"last_name\":\"Doe\",\"email\":\"john%d@example.com\"},\"scenario\":{\"name\":\"Finance Deal\",\"term\":60,\"apr\":\"8.9\"}}\n", X, D, S, V, i > feed
        printf "BEGIN ISOLATION LEVEL READ COMMITTED;\n" > script
        printf "SELECT set_config('"'"'app.dealership_id'"'"', '"'"'%s'"'"', true);\n", D > script
        printf "INSERT INTO deskdb.import_ledger (operation, dealership_id, external_id, result) VALUES ('"'"'create_deal'"'"', '"'"'%s'"'"', '"'"'%s'"'"', '"'"'{}'"'"') ON CONFLICT DO NOTHING RETURNING 1;\n", D, X > script
        printf "SELECT (SELECT true FROM dealerships WHERE id = '"'"'%s'"'"'), (SELECT is_active FROM users WHERE id = '"'"'%s'"'"' AND dealership_id = '"'"'%s'"'"');\n", D, S, D > script
        printf "INSERT INTO customers (dealership_id, first_name, last_name, email, phone) VALUES ('"'"'%s'"'"', '"'"'John'"'"', '"'"'Doe'"'"', '"'"'john%d@example.com'"'"', NULL) RETURNING id AS customer_id \\gset\n", D, i > script
        printf "UPDATE vehicles SET status = '"'"'pending'"'"' WHERE id = '"'"'%s'"'"' AND dealership_id = '"'"'%s'"'"' AND status = '"'"'available'"'"' RETURNING id;\n", V, D > script
        printf "INSERT INTO deals (dealership_id, deal_state, customer_id, vehicle_id, salesperson_id) VALUES ('"'"'%s'"'"', '"'"'DRAFT'"'"', :'"'"'customer_id'"'"', '"'"'%s'"'"', '"'"'%s'"'"') RETURNING id AS deal_id, deal_state \\gset\n", D, V, S > script
        printf "INSERT INTO deal_scenarios (deal_id, dealership_id, name, term, apr, down_payment, trade_in_value, amount_financed, monthly_payment, is_default) VALUES (:'"'"'deal_id'"'"', '"'"'%s'"'"', '"'"'Finance Deal'"'"', 60, 8.9, NULL, NULL, NULL, NULL, true) RETURNING id AS scenario_id \\gset\n", D > script
        printf "INSERT INTO audit_log (dealership_id, user_id, action, entity_type, entity_id, details) VALUES ('"'"'%s'"'"', '"'"'%s'"'"', '"'"'deal.created'"'"', '"'"'deal'"'"', :'"'"'deal_id'"'"', jsonb_build_object('"'"'scenario_id'"'"', :'"'"'scenario_id'"'"', '"'"'customer_id'"'"', :'"'"'customer_id'"'"', '"'"'customer_created'"'"', true, '"'"'vehicle_id'"'"', '"'"'%s'"'"', '"'"'source'"'"', '"'"'deskdb op'"'"', '"'"'external_id'"'"', '"'"'%s'"'"'));\n", D, S, V, X > script
        printf "WITH n AS (INSERT INTO sequences (dealership_id, name, value) VALUES ('"'"'%s'"'"', '"'"'deal'"'"', 1) ON CONFLICT (dealership_id, name) DO UPDATE SET value = sequences.value + 1 RETURNING value) UPDATE deals d SET deal_number = '"'"'D-'"'"' || lpad(n.value::text, greatest(6, length(n.value::text)), '"'"'0'"'"') FROM n WHERE d.id = :'"'"'deal_id'"'"' AND d.dealership_id = '"'"'%s'"'"' RETURNING d.deal_number AS deal_number \\gset\n", D, D > script
        printf "UPDATE deskdb.import_ledger SET result = jsonb_build_object('"'"'deal'"'"', jsonb_build_object('"'"'id'"'"', :'"'"'deal_id'"'"', '"'"'deal_number'"'"', :'"'"'deal_number'"'"', '"'"'deal_state'"'"', :'"'"'deal_state'"'"'), '"'"'scenario'"'"', jsonb_build_object('"'"'id'"'"', :'"'"'scenario_id'"'"'), '"'"'customer'"'"', jsonb_build_object('"'"'id'"'"', :'"'"'customer_id'"'"', '"'"'created'"'"', true), '"'"'vehicle'"'"', jsonb_build_object('"'"'id'"'"', '"'"'%s'"'"', '"'"'status'"'"', '"'"'pending'"'"')) WHERE operation = '"'"'create_deal'"'"' AND dealership_id = '"'"'%s'"'"' AND external_id = '"'"'%s'"'"';\n", V, D, X > script
        printf "COMMIT;\n" > script
    }
}'

# stmt_calls DB: statements the client sent to DB since the last reset
# (top level: not those run by triggers and foreign key checks).
stmt_calls() {
    sql "$DESKDB_TEST_DSN" "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
        WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = '$1')"
}
# stmt_list DB: those statements, most frequent first.
stmt_list() {
    sql "$DESKDB_TEST_DSN" "SELECT calls, left(regexp_replace(query, '\s+', ' ', 'g'), 100)
        FROM pg_stat_statements WHERE toplevel
        AND dbid = (SELECT oid FROM pg_database WHERE datname = '$1') ORDER BY calls DESC, query"
}
no_backends() {
    [ "$(sql "$DESKDB_TEST_DSN" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1'")" = 0 ]
}
# timed NAME DB CMD...: run CMD (stdout to NAME.out, stderr to NAME.err),
# record wall time, the command's CPU and the server's CPU.
declare -A D
timed() {
    local name=$1 db=$2 p0 p1 t
    shift 2
    sql "$DESKDB_TEST_DSN" "SELECT pg_stat_statements_reset()" >/dev/null
    p0=$(pg_cpu_ticks)
    TIMEFORMAT='%R %U %S'
    t=$({ time "$@" >"$TEST_WORK/$name.out" 2>"$TEST_WORK/$name.err"; } 2>&1) ||
        { cat "$TEST_WORK/$name.err" >&2; fail "$name failed"; }
    # A backend's CPU is counted once the postmaster has reaped it: wait
    # for the client's backends to be gone.
    wait_until 20 no_backends "$db" || fail "$name: backends of $db still running"
    sleep 0.5
    p1=$(pg_cpu_ticks)
    read -r D[$name.wall] D[$name.user] D[$name.sys] <<<"$t"
    D[$name.rate]=$(awk -v n="$deals" -v w="${D[$name.wall]}" 'BEGIN { printf "%.0f", n / w }')
    D[$name.cpu_us]=$(awk -v u="${D[$name.user]}" -v s="${D[$name.sys]}" -v n="$deals" \
        'BEGIN { printf "%.0f", (u + s) * 1e6 / n }')
    D[$name.pg_cpu_us]=$(awk -v t=$((p1 - p0)) -v hz="$CLK_TCK" -v n="$deals" \
        'BEGIN { printf "%.0f", t / hz * 1e6 / n }')
    D[$name.stmts]=$(awk -v c="$(stmt_calls "$db")" -v n="$deals" 'BEGIN { printf "%.1f", c / n }')
    stmt_list "$db" >"$TEST_WORK/$name.stmts"
}
# No ./deskdb.yaml: the defaults (pool 5-20, READ COMMITTED) and the URL.
mkdir -p "$TEST_WORK/op"
cd "$TEST_WORK/op"
timed deskdb deskdb_bench_ops_deskdb env DATABASE_URL="$ops_dsn" \
    "$DESKDB_BIN" op create_deal --input "$TEST_WORK/deals.ndjson"
timed psql deskdb_bench_ops_psql "$PSQL" -X -q -d "$psql_dsn" -f "$TEST_WORK/deals.sql"

# Both did the whole work: every record applied, numbers unique per
# dealership and without gaps, one audit entry and ledger entry each.
grep -q "applied $deals, duplicates 0, failed 0" "$TEST_WORK/deskdb.err" ||
    fail "deskdb op did not apply every record: $(tail -n 3 "$TEST_WORK/deskdb.err")"
for dsn in "$ops_dsn" "$psql_dsn"; do
    got=$(sql "$dsn" "SELECT count(*), count(DISTINCT (dealership_id, deal_number)),
        max(substr(deal_number, 3)::int), (SELECT count(*) FROM audit_log),
        (SELECT count(*) FROM deskdb.import_ledger WHERE result <> '{}'),
        (SELECT count(*) FROM vehicles WHERE status = 'pending') FROM deals")
    want="$deals|$deals|$(((deals + dealerships - 1) / dealerships))|$deals|$deals|$deals"
    [ "$got" = "$want" ] || fail "${dsn##*/}: deals|numbers|max|audit|ledger|vehicles = $got, want $want"
done
echo "create_deal: deskdb ${D[deskdb.rate]}/s, psql ${D[psql.rate]}/s"
for side in deskdb psql; do
    echo "statements $side sent (calls, text):"
    sed 's/^/    /' "$TEST_WORK/$side.stmts"
done

echo
echo "== pool results"
compare pool "pgbench select-only tps, 8 clients" pgbouncer "${T[select.bouncer]}" direct "${T[select.direct]}"
compare pool "pgbench tpcb-like tps, 8 clients" pgbouncer "${T[tpcb.bouncer]}" direct "${T[tpcb.direct]}"
compare pool "pgbench select-only tps, new conn per txn" pgbouncer "${T[connect.bouncer]}" direct "${T[connect.direct]}"
note pool "pgbench rows compare the peers with each other (pgbouncer / direct), for scale: deskdb has no PostgreSQL protocol endpoint, so no deskdb/pgbouncer ratio would be honest"
summary pool "create_deal records/s (1 feed, 1 connection)" "${D[deskdb.rate]}" "${D[psql.rate]}" psql
summary pool "client CPU us/record" "${D[deskdb.cpu_us]}" "${D[psql.cpu_us]}" psql
summary pool "PostgreSQL CPU us/record" "${D[deskdb.pg_cpu_us]}" "${D[psql.pg_cpu_us]}" psql
summary pool "statements sent/record (pg_stat_statements)" "${D[deskdb.stmts]}" "${D[psql.stmts]}" psql
note pool "create_deal: deskdb op reads $deals NDJSON lines, validates each, runs it as one READ COMMITTED transaction through its pool and transaction manager (bound parameters, deadlines, retry policy) and writes one JSON result line; psql -f runs the same statements with literal values, \\gset for returned ids, one transaction per record, one connection, ON_ERROR_STOP; both results are checked (every deal numbered, audited and in the ledger)"
note pool "deskdb's extra statement per record is its transaction manager's set_config('statement_timeout', remaining budget, true); its wall time includes opening its pool (min 5 connections) and the validation of every line before the first transaction"
