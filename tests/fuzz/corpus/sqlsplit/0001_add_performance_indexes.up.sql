-- 0001_add_performance_indexes: indexes on the foreign keys that 0004 does
-- not cover, and case-insensitive uniqueness of user e-mail addresses.
--
-- Contains CREATE INDEX CONCURRENTLY, so deskdb runs it outside a
-- transaction, one statement at a time.  Every statement is idempotent: if
-- a run stops half way, fix the cause and run `deskdb migrate up` again.
-- An index left INVALID by a failed build is dropped before it is rebuilt.
-- Rollback: 0001_add_performance_indexes.down.sql.

-- users(id, dealership_id) leads with id; tenant listings and the foreign
-- key from users to dealerships need dealership_id first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_dealership_id
    ON users (dealership_id);

-- Deleting a permission cascades into these tables.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_user_permissions_permission_id
    ON user_permissions (permission_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_role_permissions_permission_id
    ON role_permissions (permission_id);

-- E-mail threads shown on a customer, a deal and a user.  Most messages
-- are linked to only some of them, so the NULLs are left out.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_email_messages_customer_id
    ON email_messages (customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_email_messages_deal_id
    ON email_messages (deal_id) WHERE deal_id IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_email_messages_user_id
    ON email_messages (user_id) WHERE user_id IS NOT NULL;

-- users_email_key is case-sensitive: John@x.com and john@x.com were two
-- accounts.  register_user compares lower(email); this enforces it.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS users_email_lower_key
    ON users (lower(email));
