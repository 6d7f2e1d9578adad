-- Rollback of 0002_schema_consistency, in one transaction: back to the
-- shape of 0000.  Data is kept: backfilled states and statuses stay as
-- they are (they are valid values under 0000 too).
ALTER TABLE vehicles
    DROP CONSTRAINT vehicles_dealership_stock_number_key;

ALTER TABLE deal_scenarios
    DROP CONSTRAINT deal_scenarios_amounts_check,
    DROP CONSTRAINT deal_scenarios_apr_check,
    DROP CONSTRAINT deal_scenarios_term_check;

ALTER TABLE deals
    DROP CONSTRAINT deals_deal_state_check,
    ALTER COLUMN deal_state DROP NOT NULL,
    ALTER COLUMN deal_state DROP DEFAULT;

ALTER TABLE vehicles
    DROP CONSTRAINT vehicles_status_check,
    ALTER COLUMN status DROP NOT NULL,
    ALTER COLUMN status DROP DEFAULT,
    ALTER COLUMN dealership_id DROP NOT NULL;

ALTER TABLE customers ALTER COLUMN dealership_id DROP NOT NULL;

DROP TRIGGER email_messages_touch_updated_at ON email_messages;
DROP TRIGGER deal_scenarios_touch_updated_at ON deal_scenarios;
DROP TRIGGER deals_touch_updated_at ON deals;
DROP TRIGGER vehicles_touch_updated_at ON vehicles;
DROP TRIGGER customers_touch_updated_at ON customers;
DROP TRIGGER users_touch_updated_at ON users;
DROP TRIGGER dealerships_touch_updated_at ON dealerships;
DROP FUNCTION desk_touch_updated_at();

ALTER TABLE email_messages DROP COLUMN updated_at;
ALTER TABLE deal_scenarios DROP COLUMN updated_at;
ALTER TABLE deals DROP COLUMN updated_at;
ALTER TABLE vehicles DROP COLUMN updated_at;
ALTER TABLE customers DROP COLUMN updated_at;
ALTER TABLE users DROP COLUMN updated_at;
ALTER TABLE dealerships DROP COLUMN updated_at;
