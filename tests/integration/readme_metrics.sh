#!/usr/bin/env bash
# The README's metric table equals what deskdb serve exports (with a job, so
# the job families appear).  DESKDB_WRITE_README=1 rewrites the table.
source "$DESKDB_SOURCE_DIR/tests/support/lib.sh"
require_dsn

# Data that makes the data-dependent families appear: a table with an
# index, a replication slot.
psql "$DESKDB_TEST_DSN" -qAtX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE IF NOT EXISTS readme_doc (id int PRIMARY KEY, v text);
INSERT INTO readme_doc VALUES (1, 'x') ON CONFLICT DO NOTHING;
SELECT pg_create_physical_replication_slot('readme_doc')
 WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'readme_doc');
SQL
drop_fixture() {
    psql "$DESKDB_TEST_DSN" -qAtX >/dev/null 2>&1 <<'SQL' || true
DROP TABLE IF EXISTS readme_doc;
SELECT pg_drop_replication_slot('readme_doc');
SQL
}
trap 'drop_fixture; cleanup_lib' EXIT

SERVE_PORT=$(free_port)
cat >"$TEST_WORK/deskdb.yaml" <<YAML
database: {url: "$DESKDB_TEST_DSN", application_name: deskdb-readme}
pool: {min: 1, max: 4}
http: {listen: ["127.0.0.1:$SERVE_PORT"]}
jobs:
  leader: {mode: none}
  definitions:
    - {name: doc-job, schedule: "@hourly", type: sql, sql: "SELECT 1"}
alerts: {rules: []}
YAML
chmod 600 "$TEST_WORK/deskdb.yaml"
serve_start "$TEST_WORK/deskdb.yaml" "$TEST_WORK/serve.log"
curl -s "http://127.0.0.1:$SERVE_PORT/metrics" >"$TEST_WORK/metrics.prom"
serve_stop
grep -q '^pg_up 1' "$TEST_WORK/metrics.prom" || fail "the database did not answer"

mode=--check
[ "${DESKDB_WRITE_README:-0}" = 1 ] && mode=--write
"$DESKDB_SOURCE_DIR/scripts/metrics-doc" "$mode" "$DESKDB_SOURCE_DIR/README.md" \
    <"$TEST_WORK/metrics.prom" || fail "README.md metric table is out of date"
echo "ok: README metric table matches the exposition"
