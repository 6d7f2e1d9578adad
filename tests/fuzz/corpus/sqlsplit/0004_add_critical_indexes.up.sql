-- 0004_add_critical_indexes: the index set of the seed's "Performance
-- Optimizations", plus the foreign-key and audit-log indexes it calls for.
--
-- CREATE INDEX CONCURRENTLY: deskdb runs this file outside a transaction,
-- one statement at a time, so no table is locked against writes while an
-- index builds.  A build that fails (or is cancelled) leaves an INVALID
-- index behind; deskdb drops such a leftover before building it again, and
-- IF NOT EXISTS skips the ones already built, so the file can simply be
-- run again.  Rollback: 0004_add_critical_indexes.down.sql.
--
-- Every query must filter by dealership_id first (see the seed's "Query
-- Patterns"), hence the leading column.  The three single-column tenant
-- indexes are the seed's; the composite ones below also serve
-- "WHERE dealership_id = $1", so the seed's unused-index query
-- (pg_stat_user_indexes.idx_scan = 0) will tell after a while whether
-- the single-column ones earn their keep.

-- Multi-tenant filtering.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_dealership_id
    ON deals (dealership_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_customers_dealership_id
    ON customers (dealership_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_vehicles_dealership_id
    ON vehicles (dealership_id);

-- Foreign keys: joins from deals, and the checks PostgreSQL runs when a
-- customer, vehicle, user or deal is deleted.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_customer_id
    ON deals (customer_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_vehicle_id
    ON deals (vehicle_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_salesperson_id
    ON deals (salesperson_id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deal_scenarios_deal_id
    ON deal_scenarios (deal_id);

-- Deal lookups.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_state
    ON deals (dealership_id, deal_state);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_created_at
    ON deals (dealership_id, created_at DESC);

-- Customer search.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_customers_search
    ON customers (dealership_id, last_name, first_name);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_customers_email
    ON customers (dealership_id, email);

-- E-mail inbox, newest first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_email_messages_dealership_created
    ON email_messages (dealership_id, created_at DESC);

-- Audit log: a dealership's recent activity, the history of one object,
-- and everything one user did (compliance queries).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_audit_log_dealership_created
    ON audit_log (dealership_id, created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_audit_log_entity
    ON audit_log (dealership_id, entity_type, entity_id, created_at DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_audit_log_user_id
    ON audit_log (user_id, created_at DESC) WHERE user_id IS NOT NULL;

-- Partial indexes over the rows the desk works on.  A query uses them only
-- when its WHERE clause implies the index predicate, e.g.
-- "deal_state NOT IN ('CANCELLED', 'DELIVERED')" exactly.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_deals_active
    ON deals (dealership_id, created_at DESC)
    WHERE deal_state NOT IN ('CANCELLED', 'DELIVERED');
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_vehicles_pending
    ON vehicles (dealership_id)
    WHERE status = 'pending';
