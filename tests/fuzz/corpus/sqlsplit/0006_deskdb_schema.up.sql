-- 0006_deskdb_schema: deskdb's own tables, beside its migration history.
--   deskdb.job_runs      one row per scheduled or manual job run
--   deskdb.import_ledger operations applied from data feeds, by external id
--   deskdb.alert_state   alert states kept across restarts
-- deskdb.schema_migrations is created by the migration runner itself,
-- before any migration runs, and is not part of this file.
--
-- These are not tenant data and have no row-level security; grant them
-- only to the role deskdb runs as.
-- Runs in one transaction.  Rollback: 0006_deskdb_schema.down.sql.

CREATE SCHEMA IF NOT EXISTS deskdb;

-- UNIQUE (job, scheduled_for) lets the instance that runs a job claim the
-- run in the same transaction as the work (INSERT ... ON CONFLICT DO
-- NOTHING), so a run happens once even with several instances.
CREATE TABLE deskdb.job_runs (
    id            bigserial PRIMARY KEY,
    job           text NOT NULL,
    scheduled_for timestamptz NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz,
    status        text NOT NULL,
    attempts      integer NOT NULL DEFAULT 1,
    rows_affected bigint,
    error         text,
    instance      text NOT NULL,
    CONSTRAINT job_runs_job_scheduled_for_key UNIQUE (job, scheduled_for),
    CONSTRAINT job_runs_status_check
        CHECK (status IN ('running', 'succeeded', 'failed', 'timed_out',
                          'cancelled', 'skipped', 'interrupted')),
    CONSTRAINT job_runs_attempts_check CHECK (attempts >= 0)
);

-- The last runs of a job (API, `deskdb jobs list`).
CREATE INDEX job_runs_job_started_at_idx
    ON deskdb.job_runs (job, started_at DESC);

-- Retention deletes by age; rows arrive in started_at order, which is
-- what BRIN summarises well at a fraction of a B-tree's size.
CREATE INDEX job_runs_started_at_brin_idx
    ON deskdb.job_runs USING brin (started_at);

-- A record already in the ledger is reported, not applied again.  The row
-- is written in the transaction that applies the operation.
CREATE TABLE deskdb.import_ledger (
    operation     text NOT NULL,
    external_id   text NOT NULL,
    dealership_id uuid,
    result        jsonb NOT NULL,
    applied_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation, external_id)
);

CREATE INDEX import_ledger_applied_at_brin_idx
    ON deskdb.import_ledger USING brin (applied_at);

-- One row per alert instance (rule + labels); what the evaluator needs to
-- resume after a restart without losing a pending resolve.
CREATE TABLE deskdb.alert_state (
    fingerprint  text PRIMARY KEY,
    rule         text NOT NULL,
    labels       jsonb NOT NULL DEFAULT '{}'::jsonb,
    state        text NOT NULL,
    active_at    timestamptz,
    fired_at     timestamptz,
    resolved_at  timestamptz,
    last_sent_at timestamptz,
    payload      jsonb,
    CONSTRAINT alert_state_state_check
        CHECK (state IN ('inactive', 'pending', 'firing', 'resolved'))
);
