#!/usr/bin/env bash
# deskdb check-config on bad input: every file in tests/data/bad-config is
# refused with exit 2, nothing on stdout and exactly one "FILE:LINE:COL: "
# line on stderr containing the file's "# expect:" text; unusable paths
# (missing, directory, FIFO, too large, world-writable) give one line and
# exit 2; the reference example passes and prints no secret.  Run in the
# ASan build too, this is the "bad input never crashes" check.
set -euo pipefail
: "${DESKDB_BIN:?DESKDB_BIN must name the deskdb binary}"
: "${DESKDB_SOURCE_DIR:?DESKDB_SOURCE_DIR must name the source tree}"

unset DATABASE_URL DB_POOL_MAX DB_POOL_MIN DB_CONNECT_TIMEOUT DB_IDLE_TIMEOUT \
    DB_STATEMENT_TIMEOUT DB_QUERY_TIMEOUT DB_SLOW_QUERY_THRESHOLD \
    DESKDB_CONFIG DESKDB_WEBHOOK_URL DESKDB_BAD_CONFIG_UNDEFINED

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checked=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# run_check FILE -> sets rc, out, err
run_check() {
    set +e
    "$DESKDB_BIN" check-config -c "$1" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# expect_refused FILE SUBSTRING POSITIONED(yes|no)
expect_refused() {
    local file=$1 want=$2 positioned=$3 lines rest
    checked=$((checked + 1))
    run_check "$file"
    lines=$(wc -l <"$tmp/err")
    if [ "$rc" -ne 2 ]; then
        fail "$file: exit $rc, want 2 (stderr: $err)"
        return
    fi
    [ -z "$out" ] || fail "$file: stdout is not empty"
    if [ "$lines" -ne 1 ]; then
        fail "$file: $lines lines on stderr, want 1: $err"
        return
    fi
    if [ "$positioned" = yes ]; then
        rest=${err#"$file":}
        if [ "$rest" = "$err" ] || ! [[ $rest =~ ^[0-9]+:[0-9]+:\  ]]; then
            fail "$file: not 'FILE:LINE:COL: ...': $err"
        fi
    elif [[ $err != "$file"* ]]; then
        fail "$file: the message does not name the file: $err"
    fi
    [[ $err == *"$want"* ]] || fail "$file: '$err' does not contain '$want'"
}

for f in "$DESKDB_SOURCE_DIR"/tests/data/bad-config/*.yaml; do
    want=$(head -n 1 "$f" | sed -n 's/^# expect: //p')
    if [ -z "$want" ]; then
        fail "$f: the first line is not '# expect: ...'"
        continue
    fi
    expect_refused "$f" "$want" yes
done

# Files that cannot be used at all.
expect_refused "$tmp/missing.yaml" "cannot open: No such file or directory" no
mkdir "$tmp/dir.yaml"
expect_refused "$tmp/dir.yaml" "is a directory" no
mkfifo "$tmp/fifo.yaml"
expect_refused "$tmp/fifo.yaml" "is not a regular file" no
{ printf '# a comment line that is long enough to fill a lot of space\n%.0s' \
    $(seq 1 20000); } >"$tmp/big.yaml"
expect_refused "$tmp/big.yaml" "is larger than 1 MiB" no
printf 'log: {level: info}\n' >"$tmp/open.yaml"
chmod 666 "$tmp/open.yaml"
expect_refused "$tmp/open.yaml" "is writable by every user" no

# A bad environment variable names the variable.
checked=$((checked + 1))
printf 'log: {level: info}\n' >"$tmp/ok.yaml"
chmod 600 "$tmp/ok.yaml"
set +e
err=$(DB_POOL_MAX=lots "$DESKDB_BIN" check-config -c "$tmp/ok.yaml" 2>&1 >/dev/null)
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "DB_POOL_MAX=lots: exit $rc, want 2"
[ "$err" = "DB_POOL_MAX: invalid value 'lots' (not an integer)" ] ||
    fail "DB_POOL_MAX=lots: unexpected message: $err"

# Usage errors.
checked=$((checked + 1))
set +e
"$DESKDB_BIN" check-config --frobnicate >/dev/null 2>"$tmp/err"
rc=$?
set -e
[ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] ||
    fail "check-config --frobnicate: exit $rc, want 2 and one line"

# The reference example loads, and secrets stay hidden.
checked=$((checked + 1))
example=$DESKDB_SOURCE_DIR/config/examples/deskdb.yaml
set +e
DATABASE_URL='postgresql://deskdb:SENTINEL-PW-5Qx@db1,db2/desk_studio' \
    DESKDB_WEBHOOK_URL='https://hooks.example.com/x?token=SENTINEL-TOKEN-9' \
    "$DESKDB_BIN" check-config -c "$example" >"$tmp/out" 2>"$tmp/err"
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
    fail "$example: exit $rc: $(cat "$tmp/err")"
else
    [ ! -s "$tmp/err" ] || fail "$example: stderr is not empty: $(cat "$tmp/err")"
    if grep -q SENTINEL "$tmp/out"; then
        fail "$example: a secret was printed"
    fi
    grep -q 'postgresql://deskdb:\*\*\*@db1,db2/desk_studio' "$tmp/out" ||
        fail "$example: the redacted database url is missing"
    grep -q '^  definitions:$' "$tmp/out" || fail "$example: no job definitions"
    grep -q 'token=\*\*\*' "$tmp/out" || fail "$example: webhook url not shown redacted"
    # the output is itself a valid configuration (secrets aside)
    sed 's/\*\*\*/redacted/' "$tmp/out" >"$tmp/printed.yaml"
    chmod 600 "$tmp/printed.yaml"
    "$DESKDB_BIN" check-config -c "$tmp/printed.yaml" >/dev/null ||
        fail "$example: the printed configuration does not load"
fi

if [ "$failures" -ne 0 ]; then
    echo "bad_config: $failures of $checked checks failed" >&2
    exit 1
fi
echo "bad_config: $checked checks passed"
