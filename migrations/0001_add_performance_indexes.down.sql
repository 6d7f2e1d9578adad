-- Rollback of 0001_add_performance_indexes.  DROP INDEX CONCURRENTLY runs
-- outside a transaction, one statement at a time; IF EXISTS makes a
-- repeated run harmless.
DROP INDEX CONCURRENTLY IF EXISTS users_email_lower_key;
DROP INDEX CONCURRENTLY IF EXISTS idx_email_messages_user_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_email_messages_deal_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_email_messages_customer_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_role_permissions_permission_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_user_permissions_permission_id;
DROP INDEX CONCURRENTLY IF EXISTS idx_users_dealership_id;
