# Shared helpers for the shell tests: failing loudly, free ports, HTTP
# polling and a `deskdb serve` under test.  Source it; it sets -euo pipefail.
set -euo pipefail

: "${DESKDB_BIN:?DESKDB_BIN must point at the deskdb binary (run through ctest)}"

TEST_WORK=$(mktemp -d)
SERVE_PIDS=()

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

cleanup_lib() {
    local pid
    for pid in "${SERVE_PIDS[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
    done
    rm -rf "$TEST_WORK"
}
trap cleanup_lib EXIT

require_dsn() {
    : "${DESKDB_TEST_DSN:?run through scripts/test: DESKDB_TEST_DSN is not set}"
}

# own_database NAME: a new database NAME_<pid> on the test server, dropped
# at exit; sets $db, $dsn (the test DSN naming it) and $admin (the test
# DSN), and unsets DATABASE_URL, which would override the configuration.
own_database() {
    require_dsn
    unset DATABASE_URL
    db=${1}_$$
    admin=$DESKDB_TEST_DSN
    dsn=${admin%/*}/$db
    psql "$admin" -qAtX -c "CREATE DATABASE $db" >/dev/null
    trap 'cleanup_lib; psql "$admin" -qAtX -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
}

# q SQL: run SQL on the database of own_database, unaligned output.
q() {
    psql "$dsn" -qAtX -v ON_ERROR_STOP=1 -c "$1"
}

# A TCP port on 127.0.0.1 that nothing listens on right now, below the
# kernel's ephemeral range (where outgoing connections could hold it).
free_port() {
    local p low
    low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % (low - 10000)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    fail "no free port found"
}

# http_code URL [curl args...]: print the status code (000 if no answer).
http_code() {
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time 15 "$@" "$url" || true
}

# wait_until SECONDS COMMAND...: poll every 0.2 s until COMMAND succeeds.
wait_until() {
    local limit=$1
    shift
    local deadline=$((SECONDS + limit))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.2
    done
}

# serve_start CONFIG LOG: start `deskdb serve` in the background and wait
# for /-/ready on the first listen port ($SERVE_PORT).  Sets SERVE_PID.
serve_start() {
    local config=$1
    SERVE_LOG=$2
    "$DESKDB_BIN" serve -c "$config" >"$SERVE_LOG" 2>&1 &
    SERVE_PID=$!
    SERVE_PIDS+=("$SERVE_PID")
    if ! wait_until 20 serve_ready; then
        cat "$SERVE_LOG" >&2
        fail "deskdb serve did not become ready"
    fi
}

serve_ready() {
    if ! kill -0 "$SERVE_PID" 2>/dev/null; then
        cat "$SERVE_LOG" >&2
        fail "deskdb serve exited early"
    fi
    [ "$(http_code "http://127.0.0.1:$SERVE_PORT/-/ready")" = 200 ]
}

# serve_stop: SIGTERM and require a clean exit within 20 s.
serve_stop() {
    local status=0
    kill -TERM "$SERVE_PID"
    wait_until 20 bash -c "! kill -0 $SERVE_PID 2>/dev/null" ||
        fail "deskdb serve did not stop within 20 s of SIGTERM"
    wait "$SERVE_PID" || status=$?
    [ "$status" -eq 0 ] || fail "deskdb serve exited $status after SIGTERM"
}

# hook_receiver_start FILE: an HTTP receiver on a free port that appends
# the JSON body of every POST as one line to FILE and answers 200; sets
# HOOK_PORT.  Stopped at exit.
hook_receiver_start() {
    HOOK_PORT=$(free_port)
    : >"$1"
    cat >"$TEST_WORK/receiver.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "a") as out:
            out.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
PY
    python3 "$TEST_WORK/receiver.py" "$HOOK_PORT" "$1" &
    SERVE_PIDS+=("$!")
    wait_until 10 bash -c "(exec 3<>/dev/tcp/127.0.0.1/$HOOK_PORT) 2>/dev/null" ||
        fail "the test receiver did not start"
}
