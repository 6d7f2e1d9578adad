-- 0000_initial_schema: the Desk Studio schema as first deployed (the seed's
-- 0000_boring_mentor).  It carries that release's loose ends on purpose:
-- customers.dealership_id and vehicles.dealership_id are nullable,
-- vehicles.status and deals.deal_state have no default or check, and
-- email_messages.direction is free text.  0002 and 0003 tighten them.
--
-- Runs in one transaction.  Requires PostgreSQL 14 or later
-- (gen_random_uuid() is built in since 13; later files use 14 features).
-- Rollback: 0000_initial_schema.down.sql drops every object created here.
--
-- Tenant integrity: every table holding tenant data carries dealership_id,
-- and references between tenant tables are composite foreign keys over
-- (id, dealership_id), so a row can never point at another dealership's
-- row.  Foreign key checks bypass row-level security; these keys are what
-- stop a cross-tenant reference once 0005 is in place.

CREATE TABLE dealerships (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL,
    code       text NOT NULL,
    timezone   text NOT NULL DEFAULT 'UTC',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dealerships_code_key UNIQUE (code)
);

CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dealership_id uuid NOT NULL REFERENCES dealerships (id),
    username      text NOT NULL,
    email         text NOT NULL,
    password_hash text,
    first_name    text,
    last_name     text,
    role          text NOT NULL DEFAULT 'salesperson',
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_id_dealership_key UNIQUE (id, dealership_id),
    CONSTRAINT users_role_check
        CHECK (role IN ('salesperson', 'sales_manager', 'finance_manager',
                        'admin'))
);

-- The permission catalogue is global reference data, not tenant data.
CREATE TABLE permissions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code        text NOT NULL,
    description text NOT NULL,
    CONSTRAINT permissions_code_key UNIQUE (code)
);

-- What register_user grants a new user of each role.
CREATE TABLE role_permissions (
    role          text NOT NULL,
    permission_id uuid NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    PRIMARY KEY (role, permission_id)
);

CREATE TABLE user_permissions (
    user_id       uuid NOT NULL,
    permission_id uuid NOT NULL REFERENCES permissions (id) ON DELETE CASCADE,
    dealership_id uuid NOT NULL,
    granted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, permission_id),
    CONSTRAINT user_permissions_user_fkey FOREIGN KEY (user_id, dealership_id)
        REFERENCES users (id, dealership_id) ON DELETE CASCADE
);

CREATE TABLE customers (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dealership_id uuid REFERENCES dealerships (id),
    first_name    text NOT NULL,
    last_name     text NOT NULL,
    email         text,
    phone         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT customers_id_dealership_key UNIQUE (id, dealership_id)
);

CREATE TABLE vehicles (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dealership_id uuid REFERENCES dealerships (id),
    stock_number  text NOT NULL,
    vin           text,
    model_year    integer,
    make          text,
    model         text,
    trim_level    text,
    status        text,
    price         numeric(12, 2),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT vehicles_id_dealership_key UNIQUE (id, dealership_id)
);

-- deal_number is NULL until a number is drawn (attach_customer draws one
-- for deals created without); it is unique per dealership.
CREATE TABLE deals (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dealership_id  uuid NOT NULL REFERENCES dealerships (id),
    deal_number    text,
    deal_state     text,
    customer_id    uuid,
    vehicle_id     uuid,
    salesperson_id uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deals_dealership_deal_number_key
        UNIQUE (dealership_id, deal_number),
    CONSTRAINT deals_id_dealership_key UNIQUE (id, dealership_id),
    CONSTRAINT deals_customer_fkey FOREIGN KEY (customer_id, dealership_id)
        REFERENCES customers (id, dealership_id),
    CONSTRAINT deals_vehicle_fkey FOREIGN KEY (vehicle_id, dealership_id)
        REFERENCES vehicles (id, dealership_id),
    CONSTRAINT deals_salesperson_fkey
        FOREIGN KEY (salesperson_id, dealership_id)
        REFERENCES users (id, dealership_id)
);

-- term in months, apr in percent ("8.9").
CREATE TABLE deal_scenarios (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    deal_id         uuid NOT NULL,
    dealership_id   uuid NOT NULL,
    name            text NOT NULL,
    term            integer,
    apr             numeric(6, 3),
    down_payment    numeric(12, 2),
    trade_in_value  numeric(12, 2),
    amount_financed numeric(12, 2),
    monthly_payment numeric(12, 2),
    is_default      boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT deal_scenarios_deal_fkey FOREIGN KEY (deal_id, dealership_id)
        REFERENCES deals (id, dealership_id) ON DELETE CASCADE
);

-- At most one default scenario per deal.  The table is new, so a plain
-- CREATE INDEX inside this transaction locks nobody out.
CREATE UNIQUE INDEX deal_scenarios_one_default_key
    ON deal_scenarios (deal_id) WHERE is_default;

-- Audit entries outlive the users and objects they mention, so user_id and
-- entity_id carry no foreign keys.
CREATE TABLE audit_log (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dealership_id uuid NOT NULL REFERENCES dealerships (id),
    user_id       uuid,
    action        text NOT NULL,
    entity_type   text NOT NULL,
    entity_id     uuid,
    details       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE email_messages (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    dealership_id uuid NOT NULL REFERENCES dealerships (id),
    customer_id   uuid,
    deal_id       uuid,
    user_id       uuid,
    message_id    text,
    from_address  text NOT NULL,
    to_addresses  text[] NOT NULL DEFAULT '{}',
    subject       text NOT NULL DEFAULT '',
    body_text     text,
    folder        text NOT NULL DEFAULT 'inbox',
    direction     text,
    status        text NOT NULL DEFAULT 'draft',
    sent_at       timestamptz,
    received_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT email_messages_customer_fkey
        FOREIGN KEY (customer_id, dealership_id)
        REFERENCES customers (id, dealership_id),
    CONSTRAINT email_messages_deal_fkey FOREIGN KEY (deal_id, dealership_id)
        REFERENCES deals (id, dealership_id),
    CONSTRAINT email_messages_user_fkey FOREIGN KEY (user_id, dealership_id)
        REFERENCES users (id, dealership_id)
);

-- Per-dealership counters (deal and stock numbers).  next_sequence locks
-- the row: UPDATE ... SET value = value + 1 ... RETURNING value.
CREATE TABLE sequences (
    dealership_id uuid NOT NULL REFERENCES dealerships (id),
    name          text NOT NULL,
    value         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (dealership_id, name),
    CONSTRAINT sequences_value_check CHECK (value >= 0)
);

INSERT INTO permissions (code, description) VALUES
    ('deals.read', 'View deals and their scenarios'),
    ('deals.write', 'Create and edit deals and scenarios'),
    ('deals.approve', 'Approve, finance and deliver deals'),
    ('customers.read', 'View customers'),
    ('customers.write', 'Create and edit customers'),
    ('vehicles.read', 'View inventory'),
    ('vehicles.write', 'Edit inventory and vehicle status'),
    ('email.read', 'Read customer e-mail'),
    ('email.send', 'Send customer e-mail'),
    ('reports.read', 'View dealership reports'),
    ('users.manage', 'Manage users and their permissions');

INSERT INTO role_permissions (role, permission_id)
SELECT r.role, p.id
FROM (VALUES
        ('salesperson', 'deals.read'), ('salesperson', 'deals.write'),
        ('salesperson', 'customers.read'), ('salesperson', 'customers.write'),
        ('salesperson', 'vehicles.read'), ('salesperson', 'email.read'),
        ('salesperson', 'email.send'),
        ('sales_manager', 'deals.read'), ('sales_manager', 'deals.write'),
        ('sales_manager', 'deals.approve'),
        ('sales_manager', 'customers.read'),
        ('sales_manager', 'customers.write'),
        ('sales_manager', 'vehicles.read'),
        ('sales_manager', 'vehicles.write'),
        ('sales_manager', 'email.read'), ('sales_manager', 'email.send'),
        ('sales_manager', 'reports.read'),
        ('finance_manager', 'deals.read'), ('finance_manager', 'deals.write'),
        ('finance_manager', 'deals.approve'),
        ('finance_manager', 'customers.read'),
        ('finance_manager', 'vehicles.read'),
        ('finance_manager', 'email.read'), ('finance_manager', 'email.send'),
        ('finance_manager', 'reports.read')
     ) AS r (role, code)
JOIN permissions p ON p.code = r.code;

-- Administrators get everything.
INSERT INTO role_permissions (role, permission_id)
SELECT 'admin', id FROM permissions;
