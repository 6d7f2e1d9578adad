-- 0002_schema_consistency: close the loose ends of 0000 on a live database.
--   * updated_at on every mutable table, kept current by a trigger;
--   * customers.dealership_id and vehicles.dealership_id NOT NULL;
--   * vehicles.status and deals.deal_state: default, backfill, NOT NULL and
--     a check of the allowed values;
--   * range checks on deal_scenarios;
--   * stock numbers unique per dealership.
--
-- The file builds an index CONCURRENTLY, so deskdb runs it outside a
-- transaction, one statement at a time, each in its own short transaction.
-- That is what makes the two-step constraints worth it: ADD CONSTRAINT ...
-- NOT VALID holds its ACCESS EXCLUSIVE lock only for an instant, and the
-- separate VALIDATE scans the table under SHARE UPDATE EXCLUSIVE, which
-- lets reads and writes continue.  SET NOT NULL then finds the validated
-- CHECK (col IS NOT NULL) and skips its own full scan (PostgreSQL 12+).
--
-- Every statement is idempotent, so a run that stops half way (a row that
-- breaks a new check, say) can be repeated after the data is fixed.
-- Rollback: 0002_schema_consistency.down.sql.

-- ADD CONSTRAINT has no IF NOT EXISTS; this session-local helper adds a
-- constraint unless one of that name exists on the table.
CREATE OR REPLACE FUNCTION pg_temp.desk_add_constraint(tbl regclass,
                                                       con name,
                                                       def text)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = tbl AND conname = con) THEN
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', tbl, con, def);
    END IF;
END
$fn$;

-- now() is stable, not volatile: existing rows get the value of the moment
-- the column is added, without rewriting the table.
ALTER TABLE dealerships
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE users
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE customers
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE vehicles
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE deals
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE deal_scenarios
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE email_messages
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();

CREATE OR REPLACE FUNCTION desk_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$fn$;

-- Only real changes move updated_at; an UPDATE that rewrites the same
-- values does not.
CREATE OR REPLACE TRIGGER dealerships_touch_updated_at
    BEFORE UPDATE ON dealerships FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION desk_touch_updated_at();
CREATE OR REPLACE TRIGGER users_touch_updated_at
    BEFORE UPDATE ON users FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION desk_touch_updated_at();
CREATE OR REPLACE TRIGGER customers_touch_updated_at
    BEFORE UPDATE ON customers FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION desk_touch_updated_at();
CREATE OR REPLACE TRIGGER vehicles_touch_updated_at
    BEFORE UPDATE ON vehicles FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION desk_touch_updated_at();
CREATE OR REPLACE TRIGGER deals_touch_updated_at
    BEFORE UPDATE ON deals FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION desk_touch_updated_at();
CREATE OR REPLACE TRIGGER deal_scenarios_touch_updated_at
    BEFORE UPDATE ON deal_scenarios FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION desk_touch_updated_at();
CREATE OR REPLACE TRIGGER email_messages_touch_updated_at
    BEFORE UPDATE ON email_messages FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*)
    EXECUTE FUNCTION desk_touch_updated_at();

-- customers.dealership_id NOT NULL.  Rows without a dealership cannot be
-- assigned automatically: VALIDATE fails and names the constraint, and the
-- rows must be fixed (or removed) by hand before running again.
SELECT pg_temp.desk_add_constraint('customers',
    'customers_dealership_id_not_null',
    'CHECK (dealership_id IS NOT NULL) NOT VALID');
ALTER TABLE customers VALIDATE CONSTRAINT customers_dealership_id_not_null;
ALTER TABLE customers ALTER COLUMN dealership_id SET NOT NULL;
ALTER TABLE customers
    DROP CONSTRAINT IF EXISTS customers_dealership_id_not_null;

-- vehicles.dealership_id NOT NULL, the same way.
SELECT pg_temp.desk_add_constraint('vehicles',
    'vehicles_dealership_id_not_null',
    'CHECK (dealership_id IS NOT NULL) NOT VALID');
ALTER TABLE vehicles VALIDATE CONSTRAINT vehicles_dealership_id_not_null;
ALTER TABLE vehicles ALTER COLUMN dealership_id SET NOT NULL;
ALTER TABLE vehicles DROP CONSTRAINT IF EXISTS vehicles_dealership_id_not_null;

-- vehicles.status: new rows default to 'available', old NULLs become
-- 'available', then NOT NULL and the list of states.
ALTER TABLE vehicles ALTER COLUMN status SET DEFAULT 'available';
UPDATE vehicles SET status = 'available' WHERE status IS NULL;
SELECT pg_temp.desk_add_constraint('vehicles',
    'vehicles_status_not_null',
    'CHECK (status IS NOT NULL) NOT VALID');
ALTER TABLE vehicles VALIDATE CONSTRAINT vehicles_status_not_null;
ALTER TABLE vehicles ALTER COLUMN status SET NOT NULL;
ALTER TABLE vehicles DROP CONSTRAINT IF EXISTS vehicles_status_not_null;
SELECT pg_temp.desk_add_constraint('vehicles',
    'vehicles_status_check',
    $$CHECK (status IN ('available', 'pending', 'sold', 'in_transit',
                        'service')) NOT VALID$$);
ALTER TABLE vehicles VALIDATE CONSTRAINT vehicles_status_check;

-- deals.deal_state: the same steps, 'DRAFT' for deals that never had one.
ALTER TABLE deals ALTER COLUMN deal_state SET DEFAULT 'DRAFT';
UPDATE deals SET deal_state = 'DRAFT' WHERE deal_state IS NULL;
SELECT pg_temp.desk_add_constraint('deals',
    'deals_deal_state_not_null',
    'CHECK (deal_state IS NOT NULL) NOT VALID');
ALTER TABLE deals VALIDATE CONSTRAINT deals_deal_state_not_null;
ALTER TABLE deals ALTER COLUMN deal_state SET NOT NULL;
ALTER TABLE deals DROP CONSTRAINT IF EXISTS deals_deal_state_not_null;
SELECT pg_temp.desk_add_constraint('deals',
    'deals_deal_state_check',
    $$CHECK (deal_state IN ('DRAFT', 'IN_PROGRESS', 'PENDING_APPROVAL',
                            'APPROVED', 'FINANCED', 'DELIVERED',
                            'CANCELLED')) NOT VALID$$);
ALTER TABLE deals VALIDATE CONSTRAINT deals_deal_state_check;

-- Scenario figures: terms of 1 to 120 months, APR in percent, no negative
-- amounts.  NULL still means "not entered yet".
SELECT pg_temp.desk_add_constraint('deal_scenarios',
    'deal_scenarios_term_check',
    'CHECK (term BETWEEN 1 AND 120) NOT VALID');
ALTER TABLE deal_scenarios VALIDATE CONSTRAINT deal_scenarios_term_check;
SELECT pg_temp.desk_add_constraint('deal_scenarios',
    'deal_scenarios_apr_check',
    'CHECK (apr >= 0 AND apr <= 100) NOT VALID');
ALTER TABLE deal_scenarios VALIDATE CONSTRAINT deal_scenarios_apr_check;
SELECT pg_temp.desk_add_constraint('deal_scenarios',
    'deal_scenarios_amounts_check',
    'CHECK (down_payment >= 0 AND trade_in_value >= 0
            AND amount_financed >= 0 AND monthly_payment >= 0) NOT VALID');
ALTER TABLE deal_scenarios VALIDATE CONSTRAINT deal_scenarios_amounts_check;

-- Stock numbers come from a per-dealership sequence, so they repeat across
-- dealerships but must not repeat within one.  Build the unique index
-- without blocking writes, then attach it as the constraint (instant).
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS
    vehicles_dealership_stock_number_key
    ON vehicles (dealership_id, stock_number);
SELECT pg_temp.desk_add_constraint('vehicles',
    'vehicles_dealership_stock_number_key',
    'UNIQUE USING INDEX vehicles_dealership_stock_number_key');
