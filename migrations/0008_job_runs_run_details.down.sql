-- Rollback of 0008_job_runs_run_details, in one transaction.  The backend
-- pids, triggers and notes of past runs are lost.
ALTER TABLE deskdb.job_runs
    DROP CONSTRAINT job_runs_trigger_check,
    DROP COLUMN note,
    DROP COLUMN trigger,
    DROP COLUMN backend_pid;
