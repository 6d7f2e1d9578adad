-- Rollback of 0006_deskdb_schema, in one transaction.  The deskdb schema
-- itself stays: it holds the migration history.
DROP TABLE deskdb.alert_state;
DROP TABLE deskdb.import_ledger;
DROP TABLE deskdb.job_runs;
