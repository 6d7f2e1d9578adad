-- 0005_row_level_security: tenant isolation by dealership_id, enforced by
-- PostgreSQL on every tenant table, whatever the query says.
--
-- The tenant is a transaction-local setting.  Application code (deskdb's
-- atomic operations included) runs, inside its transaction:
--     SELECT set_config('app.dealership_id', $1, true);
-- (the same as SET LOCAL app.dealership_id = '...').  It ends with the
-- transaction, so a pooled connection never carries one tenant's context
-- into the next transaction; a session-level SET would (measured, see
-- research/reliability.md).
--
-- Every policy compares with NULLIF(current_setting('app.dealership_id',
-- true), '')::uuid:
--   * missing_ok = true: an unset setting reads as NULL, not an error;
--   * NULLIF: once a SET LOCAL has been seen in the session, the setting
--     reads as '' after the transaction ends, and ''::uuid would raise;
--   * NULL never equals anything: no tenant set means no rows visible and
--     no rows writable.  A malformed value fails with 22P02.
-- USING filters what is read, updated and deleted; WITH CHECK refuses
-- inserts and updates that would put a row in another dealership.
--
-- FORCE ROW LEVEL SECURITY makes the policies apply to the table owner
-- too.  Superusers and BYPASSRLS roles still bypass them, so the runtime
-- role must be neither, and must not own the tables.  Data migrations that
-- must see every tenant (backfills after this one) need such a role.
--
-- Known, accepted leak: unique constraints are checked against all rows,
-- so inserting a username or e-mail that another dealership uses fails
-- with 23505, which tells the caller the value exists somewhere.  The
-- global uniqueness of usernames and e-mail addresses is a requirement;
-- the error reveals only that the value exists, nothing of the row.
--
-- permissions and role_permissions are global reference data without
-- dealership_id and have no policy.  The deskdb schema (job runs, import
-- ledger) is deskdb's own, not tenant data.
--
-- Runs in one transaction.  Rollback: 0005_row_level_security.down.sql.

-- A dealership sees only itself.  Creating one means setting
-- app.dealership_id to its (client-generated) id first, or doing it as an
-- administrative role that bypasses row security.
ALTER TABLE dealerships ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dealerships
    USING (id = NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE users ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE user_permissions
    ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_permissions
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE customers ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON customers
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE vehicles ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON vehicles
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE deals ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deals
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE deal_scenarios ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deal_scenarios
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE email_messages ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON email_messages
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);

ALTER TABLE sequences ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sequences
    USING (dealership_id =
           NULLIF(current_setting('app.dealership_id', true), '')::uuid)
    WITH CHECK (dealership_id =
                NULLIF(current_setting('app.dealership_id', true), '')::uuid);
