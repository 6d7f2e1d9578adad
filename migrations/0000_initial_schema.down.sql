-- Rollback of 0000_initial_schema: drop every table it created, children
-- first.  No CASCADE: an object someone added on top of these tables makes
-- the rollback fail instead of disappearing silently.
DROP TABLE sequences;
DROP TABLE email_messages;
DROP TABLE audit_log;
DROP TABLE deal_scenarios;
DROP TABLE deals;
DROP TABLE vehicles;
DROP TABLE customers;
DROP TABLE user_permissions;
DROP TABLE role_permissions;
DROP TABLE permissions;
DROP TABLE users;
DROP TABLE dealerships;
