-- 0008_job_runs_run_details: what the scheduler needs beyond 0006's
-- deskdb.job_runs.
--   backend_pid  the server process of the connection that claimed the run
--                and holds it for the run's whole duration.  A 'running'
--                row whose backend is gone belongs to a deskdb that died:
--                the leader marks it 'interrupted'.
--   trigger      why the run happened: 'schedule' (on time), 'catchup'
--                (misfire: run_once after downtime), 'queued' (waited
--                behind a running one), 'manual' (deskdb jobs run).  Missed
--                runs are found from the latest non-manual scheduled_for.
--   note         a remark on a successful run, e.g. a purge that stopped
--                at max_duration and continues on the next run.
--
-- Adding nullable columns and a column with a constant default only
-- touches the catalog.  Runs in one transaction.
-- Rollback: 0008_job_runs_run_details.down.sql.

ALTER TABLE deskdb.job_runs
    ADD COLUMN backend_pid integer,
    ADD COLUMN trigger text NOT NULL DEFAULT 'schedule',
    ADD COLUMN note text,
    ADD CONSTRAINT job_runs_trigger_check
        CHECK (trigger IN ('schedule', 'catchup', 'queued', 'manual'));
