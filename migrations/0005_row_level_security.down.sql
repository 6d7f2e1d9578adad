-- Rollback of 0005_row_level_security, in one transaction: drop the
-- policies and turn row-level security off again.

DROP POLICY tenant_isolation ON sequences;
ALTER TABLE sequences
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON email_messages;
ALTER TABLE email_messages
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON audit_log;
ALTER TABLE audit_log
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON deal_scenarios;
ALTER TABLE deal_scenarios
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON deals;
ALTER TABLE deals
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON vehicles;
ALTER TABLE vehicles
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON customers;
ALTER TABLE customers
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON user_permissions;
ALTER TABLE user_permissions
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON users;
ALTER TABLE users
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;

DROP POLICY tenant_isolation ON dealerships;
ALTER TABLE dealerships
    NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY;
