-- 0007_import_ledger_per_dealership: external ids are unique per
-- dealership, not across all of them.
--
-- 0006 keyed deskdb.import_ledger on (operation, external_id).  Two dealer
-- systems may both call a record "1042": the second dealership's record
-- would then be reported as a duplicate of the first's and never applied,
-- and the first dealership's stored result would be handed to the second.
-- With dealership_id in the key every dealership has its own namespace of
-- external ids, and a ledger lookup (always by operation, dealership and
-- external id) can only find that dealership's row.
--
-- Every deskdb operation is tenant-scoped, so deskdb always writes
-- dealership_id.  A row without one, written by something else, makes
-- SET NOT NULL fail with 23502: delete such rows and run `deskdb migrate up`
-- again.
--
-- Runs in one transaction.  The primary key is rebuilt under an ACCESS
-- EXCLUSIVE lock on the ledger (written only by deskdb op and import jobs)
-- for the time of one index build.
-- Rollback: 0007_import_ledger_per_dealership.down.sql.

ALTER TABLE deskdb.import_ledger
    ALTER COLUMN dealership_id SET NOT NULL,
    DROP CONSTRAINT import_ledger_pkey,
    ADD CONSTRAINT import_ledger_pkey
        PRIMARY KEY (operation, dealership_id, external_id);
