-- Agent Mitra demo schema: the subset of the backend's `lic_schema` that the demo API serves
-- and the exporter's default config reads. Loading it again drops and recreates everything.
--
--   psql -v ON_ERROR_STOP=1 -d agentmitra -f demo/sql/schema.sql -v demo_password=... -f demo/sql/seed.sql
--
-- Needs pgcrypto (bcrypt via crypt()/gen_salt('bf')) and gen_random_uuid(); creating the
-- extension needs a superuser or a database owner on PostgreSQL 13+ (pgcrypto is trusted).

SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS pgcrypto;

DROP SCHEMA IF EXISTS lic_schema CASCADE;
CREATE SCHEMA lic_schema;

CREATE TABLE lic_schema.tenants (
  tenant_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  code        text NOT NULL UNIQUE,
  name        text NOT NULL,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  created_at  timestamptz NOT NULL DEFAULT now());

CREATE TABLE lic_schema.roles (
  role_id     text PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL,
  -- Lower is more powerful; used only for display order.
  rank        integer NOT NULL);

CREATE TABLE lic_schema.users (
  user_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES lic_schema.tenants,
  phone_number  text NOT NULL UNIQUE,
  email         text,
  full_name     text NOT NULL,
  -- bcrypt, as written by crypt(password, gen_salt('bf')).
  password_hash text NOT NULL,
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'locked', 'inactive')),
  language      text NOT NULL DEFAULT 'en',
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at timestamptz);

CREATE TABLE lic_schema.user_roles (
  user_id     uuid NOT NULL REFERENCES lic_schema.users ON DELETE CASCADE,
  role_id     text NOT NULL REFERENCES lic_schema.roles,
  assigned_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, role_id));

CREATE TABLE lic_schema.insurance_products (
  product_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES lic_schema.tenants,
  code         text NOT NULL UNIQUE,
  name         text NOT NULL,
  category     text NOT NULL CHECK (category IN ('term', 'endowment', 'whole_life', 'money_back', 'pension', 'health')),
  -- Yearly premium per 1,00,000 of sum assured at age 30; quotes scale it by age and term.
  premium_per_lakh numeric(10, 2) NOT NULL,
  min_term_years integer NOT NULL,
  max_term_years integer NOT NULL,
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')));

CREATE TABLE lic_schema.agents (
  agent_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id       uuid NOT NULL UNIQUE REFERENCES lic_schema.users,
  tenant_id     uuid NOT NULL REFERENCES lic_schema.tenants,
  agent_code    text NOT NULL UNIQUE,
  region        text NOT NULL,
  level         text NOT NULL CHECK (level IN ('senior', 'junior')),
  status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'terminated')),
  joined_on     date NOT NULL);

CREATE TABLE lic_schema.policyholders (
  policyholder_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id     uuid NOT NULL REFERENCES lic_schema.tenants,
  -- Only policyholders who use the app have a login.
  user_id       uuid UNIQUE REFERENCES lic_schema.users,
  full_name     text NOT NULL,
  phone_number  text NOT NULL,
  date_of_birth date NOT NULL,
  city          text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now());

CREATE TABLE lic_schema.insurance_policies (
  policy_id       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES lic_schema.tenants,
  policy_number   text NOT NULL UNIQUE,
  product_id      uuid NOT NULL REFERENCES lic_schema.insurance_products,
  policyholder_id uuid NOT NULL REFERENCES lic_schema.policyholders,
  agent_id        uuid REFERENCES lic_schema.agents,
  status          text NOT NULL CHECK (status IN ('pending', 'active', 'lapsed', 'surrendered', 'matured')),
  sum_assured     numeric(14, 2) NOT NULL,
  premium_amount  numeric(12, 2) NOT NULL,
  premium_frequency text NOT NULL CHECK (premium_frequency IN ('monthly', 'quarterly', 'half_yearly', 'yearly')),
  start_date      date NOT NULL,
  maturity_date   date NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now());

CREATE TABLE lic_schema.leads (
  lead_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES lic_schema.tenants,
  agent_id     uuid REFERENCES lic_schema.agents,
  full_name    text NOT NULL,
  phone_number text NOT NULL,
  stage        text NOT NULL CHECK (stage IN ('new', 'contacted', 'qualified', 'proposal', 'won', 'lost')),
  source       text NOT NULL CHECK (source IN ('referral', 'website', 'campaign', 'walk_in', 'whatsapp')),
  interested_product_id uuid REFERENCES lic_schema.insurance_products,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now());

CREATE TABLE lic_schema.quotes (
  quote_id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES lic_schema.tenants,
  product_id      uuid NOT NULL REFERENCES lic_schema.insurance_products,
  requested_by    uuid NOT NULL REFERENCES lic_schema.users,
  agent_id        uuid REFERENCES lic_schema.agents,
  customer_name   text NOT NULL,
  customer_age    integer NOT NULL CHECK (customer_age BETWEEN 18 AND 70),
  sum_assured     numeric(14, 2) NOT NULL CHECK (sum_assured > 0),
  term_years      integer NOT NULL CHECK (term_years > 0),
  premium_amount  numeric(12, 2) NOT NULL,
  status          text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'accepted', 'expired')),
  created_at      timestamptz NOT NULL DEFAULT now());

CREATE TABLE lic_schema.premium_payments (
  payment_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  policy_id   uuid NOT NULL REFERENCES lic_schema.insurance_policies,
  amount      numeric(12, 2) NOT NULL,
  due_date    date NOT NULL,
  paid_at     timestamptz,
  status      text NOT NULL CHECK (status IN ('paid', 'due', 'overdue', 'failed')),
  method      text CHECK (method IN ('upi', 'card', 'netbanking', 'cash', 'ecs')));

-- Audit trail the exporter turns into login and API error rates. Both are append-only; the
-- exporter reads "rows after the last key it saw", which the primary keys make an index
-- range scan however large the tables grow. occurred_at is indexed for time-window queries.
CREATE TABLE lic_schema.auth_events (
  event_id    bigserial PRIMARY KEY,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  user_id     uuid, role_id text, tenant_id uuid,
  outcome     text NOT NULL CHECK (outcome IN
                ('success','invalid_credentials','locked','mfa_failed','error')),
  client_ip   inet, duration_ms integer);
CREATE TABLE lic_schema.api_request_log (
  id bigserial PRIMARY KEY, occurred_at timestamptz DEFAULT now(),
  method text, route text, status integer, duration_ms integer);

CREATE INDEX auth_events_occurred_at_idx ON lic_schema.auth_events (occurred_at);
CREATE INDEX api_request_log_occurred_at_idx ON lic_schema.api_request_log (occurred_at);

-- Lookups the API makes on every request.
CREATE INDEX user_roles_role_idx ON lic_schema.user_roles (role_id);
CREATE INDEX policies_agent_idx ON lic_schema.insurance_policies (agent_id);
CREATE INDEX policies_policyholder_idx ON lic_schema.insurance_policies (policyholder_id);
CREATE INDEX policies_status_idx ON lic_schema.insurance_policies (status);
CREATE INDEX leads_agent_idx ON lic_schema.leads (agent_id);
CREATE INDEX payments_policy_idx ON lic_schema.premium_payments (policy_id);

-- Read access for monitoring: the exporter's login role is made a member of this role.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentmitra_reader') THEN
    CREATE ROLE agentmitra_reader NOLOGIN;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA lic_schema TO agentmitra_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA lic_schema TO agentmitra_reader;

-- What the API needs: read everything, write audit rows, quotes and last-login times.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentmitra_writer') THEN
    CREATE ROLE agentmitra_writer NOLOGIN;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA lic_schema TO agentmitra_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA lic_schema TO agentmitra_writer;
GRANT INSERT ON lic_schema.auth_events, lic_schema.api_request_log, lic_schema.quotes TO agentmitra_writer;
GRANT UPDATE (last_login_at) ON lic_schema.users TO agentmitra_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA lic_schema TO agentmitra_writer;
