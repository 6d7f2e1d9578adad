#!/usr/bin/env bash
# /metrics of deskdb serve against prometheus-postgres-exporter on the same
# database (200 tables with indexes and rows): per-scrape latency, scrapes/s
# sequential and with 8 concurrent clients, exposition size, series, CPU of
# each exporter and of PostgreSQL, peak RSS.
# Run by scripts/bench.  BENCH_SCRAPES (200), BENCH_TABLES (200) and
# BENCH_WRK_SECONDS (10) size it.
source "$DESKDB_SOURCE_DIR/tests/bench/lib.sh"

peer_bin=/usr/bin/prometheus-postgres-exporter
[ -x "$peer_bin" ] || fail "$peer_bin missing (DESKDB_BOOTSTRAP_BENCH=1 scripts/bootstrap)"
command -v wrk >/dev/null || fail "wrk missing (DESKDB_BOOTSTRAP_BENCH=1 scripts/bootstrap)"
scrapes=${BENCH_SCRAPES:-200}
tables=${BENCH_TABLES:-200}
wrk_seconds=${BENCH_WRK_SECONDS:-10}

dsn=$(bench_db deskdb_bench_scrape)
echo "== scrape: $tables tables with 2 indexes and 1000 rows each"
sql "$dsn" "
DO \$\$
BEGIN
    FOR i IN 1..$tables LOOP
        EXECUTE format('CREATE TABLE t%s (id bigint PRIMARY KEY, k int, v text)', i);
        EXECUTE format('CREATE INDEX t%s_k ON t%s (k)', i, i);
        EXECUTE format('INSERT INTO t%s SELECT g, g %% 97, md5(g::text)
                        FROM generate_series(1, 1000) g', i);
        EXECUTE format('UPDATE t%s SET v = v || ''x'' WHERE id %% 10 = 0', i);
        EXECUTE format('SELECT count(*) FROM t%s WHERE k = 5', i);
    END LOOP;
END
\$\$;
ANALYZE;"

# deskdb: a config per instance; everything but the collectors is off
# (no jobs, no alert rules), as the peer has neither.
deskdb_start() { # NAME MIN_INTERVAL -> sets <NAME>_PORT and <NAME>_PID
    local name=$1 min=$2 port
    port=$(free_port)
    cat >"$TEST_WORK/$name.yaml" <<YAML
database: {url: "$dsn", application_name: deskdb-bench-$name}
pool: {min: 1, max: 4}
http: {listen: ["127.0.0.1:$port"]}
collectors: {min_interval: $min}
jobs: {leader: {mode: none}, definitions: []}
alerts: {rules: []}
log: {level: warn}
YAML
    chmod 600 "$TEST_WORK/$name.yaml"
    SERVE_PORT=$port
    serve_start "$TEST_WORK/$name.yaml" "$TEST_WORK/$name.log"
    printf -v "${name}_PORT" '%s' "$port"
    printf -v "${name}_PID" '%s' "$SERVE_PID"
}
deskdb_start d0 0s
deskdb_start d1 1s

peer_PORT=$(free_port)
DATA_SOURCE_NAME="postgresql://postgres@$PG_SERVER/deskdb_bench_scrape?sslmode=disable" \
    "$peer_bin" --web.listen-address="127.0.0.1:$peer_PORT" --log.level=warn \
    >"$TEST_WORK/peer.log" 2>&1 &
peer_PID=$!
started "$peer_PID"
peer_up() {
    kill -0 "$peer_PID" 2>/dev/null || { cat "$TEST_WORK/peer.log" >&2; fail "exporter exited"; }
    curl -s --max-time 10 "http://127.0.0.1:$peer_PORT/metrics" | grep -q '^pg_up 1'
}
wait_until 30 peer_up || { cat "$TEST_WORK/peer.log" >&2; fail "exporter never reported pg_up 1"; }

# Warm both up (first connections, catalog caches), then check the
# expositions: same database, PostgreSQL answering.
for who in d0 d1 peer; do
    port_var=${who}_PORT
    for _ in 1 2 3; do
        curl -s --max-time 30 -o "$TEST_WORK/$who.prom" "http://127.0.0.1:${!port_var}/metrics"
    done
    grep -q '^pg_up 1' "$TEST_WORK/$who.prom" || fail "$who: pg_up is not 1"
done

# pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE, in ms.
pct() {
    sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 } END {
        r = int((p / 100) * NR + 0.999999); if (r < 1) r = 1; printf "%.2f", v[r] * 1000 }'
}
# wrk_ms UNIT_VALUE: wrk's "1.23ms" / "850.00us" / "1.02s" in ms.
wrk_ms() {
    awk -v x="$1" 'BEGIN {
        if (x ~ /us$/) printf "%.2f", x * 0.001
        else if (x ~ /ms$/) printf "%.2f", x + 0
        else if (x ~ /s$/) printf "%.2f", x * 1000
        else printf "%.2f", x + 0 }'
}

# per_scrape CPU_SECONDS RATE: CPU ms per scrape of a wrk run.
per_scrape() {
    awk -v s="$1" -v r="$2" -v d="$wrk_seconds" \
        'BEGIN { if (r > 0) printf "%.2f", s * 1000 / (r * d); else print "n/a" }'
}

declare -A R
# measure WHO: sequential scrapes on one keep-alive connection, then wrk.
measure() {
    local who=$1 port_var=${1}_PORT pid_var=${1}_PID
    local url="http://127.0.0.1:${!port_var}/metrics" pid=${!pid_var}
    local c0 c1 p0 p1 t0 t1 urls=() out
    # -o applies to one URL: one per scrape, all on one keep-alive connection.
    for _ in $(seq 1 "$scrapes"); do urls+=(-o /dev/null "$url"); done

    c0=$(cpu_ticks "$pid")
    p0=$(pg_cpu_ticks)
    t0=$(date +%s.%N)
    curl -s --max-time 60 -w '%{time_total}\n' "${urls[@]}" >"$TEST_WORK/$who.lat"
    t1=$(date +%s.%N)
    c1=$(cpu_ticks "$pid")
    p1=$(pg_cpu_ticks)
    [ "$(wc -l <"$TEST_WORK/$who.lat")" -eq "$scrapes" ] || fail "$who: not every scrape answered"
    R[$who.seq_p50]=$(pct "$TEST_WORK/$who.lat" 50)
    R[$who.seq_p99]=$(pct "$TEST_WORK/$who.lat" 99)
    R[$who.seq_rate]=$(awk -v n="$scrapes" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
    R[$who.seq_cpu_ms]=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$scrapes" \
        'BEGIN { printf "%.2f", t / hz * 1000 / n }')
    R[$who.seq_pg_cpu_ms]=$(awk -v t=$((p1 - p0)) -v hz="$CLK_TCK" -v n="$scrapes" \
        'BEGIN { printf "%.2f", t / hz * 1000 / n }')

    c0=$(cpu_ticks "$pid")
    p0=$(pg_cpu_ticks)
    out=$(wrk -t 2 -c 8 -d "${wrk_seconds}s" --timeout 30s --latency "$url")
    c1=$(cpu_ticks "$pid")
    p1=$(pg_cpu_ticks)
    echo "$out" >"$TEST_WORK/$who.wrk"
    grep -q 'Non-2xx' <<<"$out" && fail "$who: wrk saw non-2xx answers: $out"
    R[$who.conc_rate]=$(awk '/^Requests\/sec:/ { printf "%.1f", $2 }' <<<"$out")
    R[$who.conc_p50]=$(wrk_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    R[$who.conc_p99]=$(wrk_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    R[$who.conc_cpu_s]=$(seconds $((c1 - c0)))
    R[$who.conc_pg_cpu_s]=$(seconds $((p1 - p0)))
    R[$who.conc_cpu_ms]=$(per_scrape "${R[$who.conc_cpu_s]}" "${R[$who.conc_rate]}")
    R[$who.conc_pg_cpu_ms]=$(per_scrape "${R[$who.conc_pg_cpu_s]}" "${R[$who.conc_rate]}")
    R[$who.rss_mib]=$(awk -v k="$(peak_rss_kib "$pid")" 'BEGIN { printf "%.1f", k / 1024 }')
    R[$who.bytes]=$(wc -c <"$TEST_WORK/$who.prom")
    R[$who.series]=$(grep -cv '^#' "$TEST_WORK/$who.prom")
    R[$who.pg_series]=$(grep -c '^pg_' "$TEST_WORK/$who.prom")
    echo "$who: sequential p50 ${R[$who.seq_p50]} ms, p99 ${R[$who.seq_p99]} ms," \
        "${R[$who.seq_rate]}/s; 8 clients ${R[$who.conc_rate]}/s," \
        "p50 ${R[$who.conc_p50]} ms, p99 ${R[$who.conc_p99]} ms"
}
measure d0
measure d1
measure peer

# The exporters must still be alive and have answered every request.
for who in d0 d1 peer; do
    pid_var=${who}_PID
    kill -0 "${!pid_var}" 2>/dev/null || fail "$who exited during the run"
done

echo
echo "== scrape results (ratio = deskdb / prometheus-postgres-exporter; lower is better"
echo "   for latency, CPU, RSS; higher for scrapes/s)"
P=pg_exporter
row() { # LABEL KEY [DESKDB_INSTANCE]
    summary scrape "$1" "${R[${3:-d0}.$2]}" "${R[peer.$2]}" "$P"
}
row "seq p50 latency ms (every scrape collects)" seq_p50
row "seq p99 latency ms (every scrape collects)" seq_p99
row "seq scrapes/s (every scrape collects)" seq_rate
row "seq exporter CPU ms/scrape" seq_cpu_ms
row "seq PostgreSQL CPU ms/scrape" seq_pg_cpu_ms
row "8 clients scrapes/s (every scrape collects)" conc_rate
row "8 clients p50 latency ms" conc_p50
row "8 clients p99 latency ms" conc_p99
row "8 clients exporter CPU ms/scrape" conc_cpu_ms
row "8 clients PostgreSQL CPU ms/scrape" conc_pg_cpu_ms
row "seq p50 latency ms (default min_interval 1s)" seq_p50 d1
row "8 clients scrapes/s (default min_interval 1s)" conc_rate d1
row "8 clients p99 latency ms (default 1s)" conc_p99 d1
row "8 clients PostgreSQL CPU s in ${wrk_seconds}s (default 1s)" conc_pg_cpu_s d1
row "peak RSS MiB (every scrape collects)" rss_mib
row "peak RSS MiB (default 1s)" rss_mib d1
row "exposition bytes (plain text)" bytes
row "series (all)" series
row "series pg_* (PostgreSQL statistics)" pg_series
note scrape "both serve Prometheus text 0.0.4 uncompressed to curl/wrk; 'every scrape collects' is deskdb with collectors.min_interval 0s, 'default 1s' lets scrapes within 1 s share one collection (the peer has no such sharing)"
note scrape "deskdb's default collectors include pg_stat_statements (top 50), locks, activity, indexes and settings; it caches sizes and pg_stat_statements for collectors.sizes_interval (5m), the peer queries database sizes on every scrape; compare series counts before reading latency ratios"
note scrape "PostgreSQL CPU is the whole server's (postmaster, its children, reaped children) during each exporter's run; exporters run one after the other, so background work (autovacuum, checkpoints) lands in either"
