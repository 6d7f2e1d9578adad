# Shared helpers for the benchmarks: the test helpers (free ports,
# polling, deskdb serve, cleanup of what was started) plus per-process CPU
# and memory accounting and the summary rows scripts/bench prints.
# Source it; it sets -euo pipefail.
# shellcheck source=../support/lib.sh
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"

: "${DESKDB_TEST_DSN:?run through scripts/bench: DESKDB_TEST_DSN is not set}"
: "${DESKDB_PG_DIR:?run through scripts/bench: DESKDB_PG_DIR is not set}"

PSQL=${DESKDB_PG_BIN:+$DESKDB_PG_BIN/}psql
PG_SERVER=${DESKDB_TEST_DSN#postgresql://*@}
PG_SERVER=${PG_SERVER%%/*}
CLK_TCK=$(getconf CLK_TCK)
BENCH_DBS=()
BENCH_CLEANUPS=()

# Databases created with bench_db are dropped at exit, after the processes
# the test library started are killed.
cleanup_bench() {
    local f db
    for f in "${BENCH_CLEANUPS[@]}"; do
        "$f" || true
    done
    # Disowned, the processes killed next are not reported as "Killed".
    disown -a 2>/dev/null || true
    cleanup_lib
    for db in "${BENCH_DBS[@]}"; do
        "$PSQL" -X -q -d "$DESKDB_TEST_DSN" \
            -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
}
trap cleanup_bench EXIT

# sql DSN SQL: run statements, stop at the first error, print rows unaligned.
sql() {
    PGOPTIONS='-c client_min_messages=warning' \
        "$PSQL" -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2"
}

# bench_db NAME [TEMPLATE]: a fresh database, dropped at exit; prints its DSN.
bench_db() {
    local name=$1 template=${2:-}
    sql "$DESKDB_TEST_DSN" "DROP DATABASE IF EXISTS $name WITH (FORCE)"
    sql "$DESKDB_TEST_DSN" "CREATE DATABASE $name${template:+ TEMPLATE $template}"
    BENCH_DBS+=("$name")
    echo "postgresql://postgres@$PG_SERVER/$name"
}

# started PID: kill PID at exit (the test library's list).
started() {
    SERVE_PIDS+=("$1")
}

# cpu_ticks PID: user + system CPU time of the process, in clock ticks.
cpu_ticks() {
    # Fields after the parenthesised command name: utime is the 12th.
    local rest
    rest=$(sed 's/^.*) //' "/proc/$1/stat")
    awk '{ print $12 + $13 }' <<<"$rest"
}

# pg_cpu_ticks: CPU of the whole PostgreSQL server, the postmaster, its
# live children and the children it has already reaped.
pg_cpu_ticks() {
    local pm total=0 pid t
    pm=$(head -n 1 "$DESKDB_PG_DIR/data/postmaster.pid")
    total=$(sed 's/^.*) //' "/proc/$pm/stat" | awk '{ print $12 + $13 + $14 + $15 }')
    for pid in $(pgrep -P "$pm"); do
        t=$(cpu_ticks "$pid" 2>/dev/null) || continue
        total=$((total + t))
    done
    echo "$total"
}

# seconds TICKS: clock ticks as seconds, two decimals.
seconds() {
    awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }'
}

# peak_rss_kib PID: the process's peak resident set (VmHWM) in KiB.
peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# ratio A B: A/B with two decimals, "n/a" when either is not a positive number.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "n/a" }'
}

# summary BENCH METRIC DESKDB PEER PEER_NAME: one row of the table
# scripts/bench prints at the end (and the same row on stdout now).
# The ratio is deskdb/peer.
summary() {
    compare "$1" "$2" deskdb "$3" "$5" "$4"
}

# compare BENCH METRIC A_NAME A B_NAME B: a row between two peers (A/B).
compare() {
    local r
    r=$(ratio "$4" "$6")
    printf '%-8s %-44s %s=%-12s %s=%-12s ratio=%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$r"
    if [ -n "${BENCH_SUMMARY:-}" ]; then
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$r" >>"$BENCH_SUMMARY"
    fi
}

# note BENCH TEXT: a line of explanation, kept for the summary too.
note() {
    echo "note: $2"
    if [ -n "${BENCH_SUMMARY:-}" ]; then
        printf '%s\tnote\t%s\n' "$1" "$2" >>"$BENCH_SUMMARY"
    fi
}
