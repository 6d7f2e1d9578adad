-- Rollback of 0007_import_ledger_per_dealership, in one transaction: one
-- namespace of external ids for all dealerships again.
--
-- Fails with 23505 (naming the key) when two dealerships have used the same
-- external id for the same operation.  Deleting one of the two ledger rows
-- lets it through, at a price: that record is no longer recognised as
-- applied, and re-running its feed applies it a second time.
ALTER TABLE deskdb.import_ledger
    DROP CONSTRAINT import_ledger_pkey,
    ADD CONSTRAINT import_ledger_pkey PRIMARY KEY (operation, external_id),
    ALTER COLUMN dealership_id DROP NOT NULL;
