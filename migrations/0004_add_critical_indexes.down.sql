-- Rollback of 0004_add_critical_indexes: DROP INDEX CONCURRENTLY, outside
-- a transaction, one statement at a time; IF EXISTS makes a repeated run
-- harmless.
DROP INDEX CONCURRENTLY IF EXISTS idx_vehicles_pending;
DROP INDEX CONCURRENTLY IF EXISTS idx_deals_active;
DROP INDEX CONCURRENTLY IF EXISTS idx_audit_log_user_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_audit_log_entity;
DROP INDEX CONCURRENTLY IF EXISTS idx_audit_log_dealership_created;
DROP INDEX CONCURRENTLY IF EXISTS idx_email_messages_dealership_created;
DROP INDEX CONCURRENTLY IF EXISTS idx_customers_email;
DROP INDEX CONCURRENTLY IF EXISTS idx_customers_search;
DROP INDEX CONCURRENTLY IF EXISTS idx_deals_created_at;
DROP INDEX CONCURRENTLY IF EXISTS idx_deals_state;
DROP INDEX CONCURRENTLY IF EXISTS idx_deal_scenarios_deal_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_deals_salesperson_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_deals_vehicle_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_deals_customer_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_vehicles_dealership_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_customers_dealership_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_deals_dealership_id;
