-- Demo data for lic_schema. Run after schema.sql with the login password for every demo
-- user:  psql ... -v demo_password='...' -f demo/sql/seed.sql
--
-- The seven demo logins (one per role) have fixed phone numbers, listed in demo/README.md:
--   +919876540101 junior agent       +919876540105 super admin
--   +919876540102 senior agent       +919876540106 policyholder
--   +919876540103 regional manager   +919876540107 support staff
--   +919876540104 provider admin     +919876540199 junior agent, locked account
-- Everything else is generated, reproducibly (setseed), around them. Passwords are bcrypt with
-- cost 8: a login takes a realistic few tens of milliseconds without slowing the seed down.

\set ON_ERROR_STOP on
SET client_min_messages = warning;
SELECT setseed(0.42) AS seeded \gset

BEGIN;

-- The password is bound once as a session setting (never echoed) for the statements below.
SET agentmitra.demo_password = :'demo_password';

INSERT INTO lic_schema.tenants (tenant_id, code, name) VALUES
  ('00000000-0000-4000-8000-000000000001', 'lic-pune', 'LIC Pune Divisional Office');

INSERT INTO lic_schema.roles (role_id, name, description, rank) VALUES
  ('role-super-admin',      'Super Admin',      'Platform operator: every permission in every tenant', 1),
  ('role-provider-admin',   'Provider Admin',   'Insurance provider administrator for one tenant',     2),
  ('role-regional-manager', 'Regional Manager', 'Manages agents and reads analytics for a region',     3),
  ('role-senior-agent',     'Senior Agent',     'Agent with a team; sells, quotes and reads analytics', 4),
  ('role-junior-agent',     'Junior Agent',     'Agent: own policies, leads and quotes',               5),
  ('role-policyholder',     'Policyholder',     'Customer: own policies and quotes',                   6),
  ('role-support-staff',    'Support Staff',    'Help desk: reads policies and agents',                7);

CREATE TEMPORARY TABLE demo_people (pn int, first_name text, last_name text) ON COMMIT DROP;
INSERT INTO demo_people
SELECT n, (ARRAY['Aarav','Vivaan','Aditya','Vihaan','Arjun','Sai','Reyansh','Krishna','Ishaan','Rohan',
                 'Ananya','Diya','Aadhya','Saanvi','Pari','Anika','Navya','Myra','Priya','Kavya',
                 'Rahul','Sneha','Vikram','Pooja','Amit','Neha','Suresh','Lakshmi','Manoj','Deepa'])[1 + (n * 7) % 30],
          (ARRAY['Sharma','Patel','Deshmukh','Kulkarni','Iyer','Reddy','Nair','Joshi','Gupta','Singh',
                 'Rao','Menon','Pawar','Shinde','Banerjee','Chatterjee','Mehta','Shah','Verma','Kapoor'])[1 + (n * 11) % 20]
FROM generate_series(1, 400) AS n;

-- The seven role logins and one locked account.
INSERT INTO lic_schema.users (user_id, tenant_id, phone_number, email, full_name, password_hash, status)
SELECT id::uuid, '00000000-0000-4000-8000-000000000001', phone, email, full_name,
       crypt(current_setting('agentmitra.demo_password'), gen_salt('bf', 8)), status
FROM (VALUES
  ('00000000-0000-4000-8000-000000000101', '+919876540101', 'ravi.kulkarni@agentmitra.test', 'Ravi Kulkarni', 'active'),
  ('00000000-0000-4000-8000-000000000102', '+919876540102', 'meera.iyer@agentmitra.test', 'Meera Iyer', 'active'),
  ('00000000-0000-4000-8000-000000000103', '+919876540103', 'sanjay.deshmukh@agentmitra.test', 'Sanjay Deshmukh', 'active'),
  ('00000000-0000-4000-8000-000000000104', '+919876540104', 'anita.rao@agentmitra.test', 'Anita Rao', 'active'),
  ('00000000-0000-4000-8000-000000000105', '+919876540105', 'root@agentmitra.test', 'Platform Admin', 'active'),
  ('00000000-0000-4000-8000-000000000106', '+919876540106', 'kiran.joshi@example.test', 'Kiran Joshi', 'active'),
  ('00000000-0000-4000-8000-000000000107', '+919876540107', 'helpdesk@agentmitra.test', 'Farah Shaikh', 'active'),
  ('00000000-0000-4000-8000-000000000199', '+919876540199', 'locked.agent@agentmitra.test', 'Locked Agent', 'locked')
) AS demo (id, phone, email, full_name, status);

INSERT INTO lic_schema.user_roles (user_id, role_id) VALUES
  ('00000000-0000-4000-8000-000000000101', 'role-junior-agent'),
  ('00000000-0000-4000-8000-000000000102', 'role-senior-agent'),
  ('00000000-0000-4000-8000-000000000103', 'role-regional-manager'),
  ('00000000-0000-4000-8000-000000000104', 'role-provider-admin'),
  ('00000000-0000-4000-8000-000000000105', 'role-super-admin'),
  ('00000000-0000-4000-8000-000000000106', 'role-policyholder'),
  ('00000000-0000-4000-8000-000000000107', 'role-support-staff'),
  ('00000000-0000-4000-8000-000000000199', 'role-junior-agent');

-- 22 more agents (24 in all), a few more managers and support staff: +9198765420NN.
INSERT INTO lic_schema.users (tenant_id, phone_number, email, full_name, password_hash, status)
SELECT '00000000-0000-4000-8000-000000000001', format('+9198765420%s', lpad(n::text, 2, '0')),
       format('%s.%s%s@agentmitra.test', lower(p.first_name), lower(p.last_name), n),
       p.first_name || ' ' || p.last_name,
       crypt(current_setting('agentmitra.demo_password'), gen_salt('bf', 8)),
       CASE WHEN n % 17 = 0 THEN 'inactive' ELSE 'active' END
FROM demo_people p JOIN generate_series(1, 28) AS n ON p.pn = n;

INSERT INTO lic_schema.user_roles (user_id, role_id)
SELECT u.user_id,
       CASE WHEN s.n <= 8 THEN 'role-senior-agent'
            WHEN s.n <= 22 THEN 'role-junior-agent'
            WHEN s.n <= 25 THEN 'role-regional-manager'
            ELSE 'role-support-staff' END
FROM lic_schema.users u
JOIN LATERAL (SELECT substr(u.phone_number, 12)::int AS n) s ON true
WHERE u.phone_number LIKE '+9198765420__';

INSERT INTO lic_schema.agents (user_id, tenant_id, agent_code, region, level, status, joined_on)
SELECT u.user_id, u.tenant_id, format('AG%s', lpad(row_number() OVER (ORDER BY u.phone_number)::text, 4, '0')),
       (ARRAY['Pune City','Pimpri-Chinchwad','Satara','Kolhapur'])[1 + (row_number() OVER (ORDER BY u.phone_number))::int % 4],
       CASE ur.role_id WHEN 'role-senior-agent' THEN 'senior' ELSE 'junior' END,
       CASE WHEN u.status = 'active' THEN 'active' ELSE 'suspended' END,
       date '2015-01-01' + (random() * 3000)::int
FROM lic_schema.users u
JOIN lic_schema.user_roles ur USING (user_id)
WHERE ur.role_id IN ('role-senior-agent', 'role-junior-agent');

INSERT INTO lic_schema.insurance_products (tenant_id, code, name, category, premium_per_lakh, min_term_years, max_term_years) VALUES
  ('00000000-0000-4000-8000-000000000001', 'JEEVAN-ANAND', 'Jeevan Anand',        'endowment',  4650.00, 15, 35),
  ('00000000-0000-4000-8000-000000000001', 'TECH-TERM',    'Tech Term',           'term',        820.00, 10, 40),
  ('00000000-0000-4000-8000-000000000001', 'JEEVAN-LABH',  'Jeevan Labh',         'endowment',  5900.00, 16, 25),
  ('00000000-0000-4000-8000-000000000001', 'JEEVAN-UMANG', 'Jeevan Umang',        'whole_life', 3980.00, 15, 30),
  ('00000000-0000-4000-8000-000000000001', 'MONEY-BACK-20','New Money Back 20',   'money_back', 6120.00, 20, 20),
  ('00000000-0000-4000-8000-000000000001', 'SARAL-PENSION','Saral Pension',       'pension',    9000.00, 10, 30),
  ('00000000-0000-4000-8000-000000000001', 'CANCER-COVER', 'Cancer Cover',        'health',      610.00, 10, 30);

-- 120 policyholders; the first 40 use the app (+9198765430NN), one of them is the demo login.
INSERT INTO lic_schema.users (tenant_id, phone_number, email, full_name, password_hash)
SELECT '00000000-0000-4000-8000-000000000001', format('+9198765430%s', lpad(n::text, 2, '0')),
       format('%s.%s.%s@example.test', lower(p.first_name), lower(p.last_name), n),
       p.first_name || ' ' || p.last_name,
       crypt(current_setting('agentmitra.demo_password'), gen_salt('bf', 8))
FROM demo_people p JOIN generate_series(1, 39) AS n ON p.pn = n + 100;

INSERT INTO lic_schema.user_roles (user_id, role_id)
SELECT user_id, 'role-policyholder' FROM lic_schema.users WHERE phone_number LIKE '+9198765430__';

INSERT INTO lic_schema.policyholders (tenant_id, user_id, full_name, phone_number, date_of_birth, city)
SELECT u.tenant_id, u.user_id, u.full_name, u.phone_number,
       date '1960-01-01' + (random() * 15000)::int,
       (ARRAY['Pune','Satara','Kolhapur','Sangli','Nashik'])[1 + (random() * 4)::int]
FROM lic_schema.users u
JOIN lic_schema.user_roles ur USING (user_id)
WHERE ur.role_id = 'role-policyholder' AND u.status = 'active';

INSERT INTO lic_schema.policyholders (tenant_id, full_name, phone_number, date_of_birth, city)
SELECT '00000000-0000-4000-8000-000000000001', p.first_name || ' ' || p.last_name,
       format('+9197600%s', lpad(n::text, 5, '0')),
       date '1960-01-01' + (random() * 15000)::int,
       (ARRAY['Pune','Satara','Kolhapur','Sangli','Nashik'])[1 + (random() * 4)::int]
FROM demo_people p JOIN generate_series(1, 80) AS n ON p.pn = n + 200;

-- 180 policies, spread over agents and policyholders; the demo policyholder holds three.
CREATE TEMPORARY TABLE demo_agents ON COMMIT DROP AS
  SELECT agent_id, row_number() OVER (ORDER BY agent_code) AS k FROM lic_schema.agents;
CREATE TEMPORARY TABLE demo_holders ON COMMIT DROP AS
  SELECT policyholder_id, row_number() OVER (ORDER BY user_id = '00000000-0000-4000-8000-000000000106' DESC NULLS LAST, phone_number) AS k
  FROM lic_schema.policyholders;
CREATE TEMPORARY TABLE demo_products ON COMMIT DROP AS
  SELECT product_id, premium_per_lakh, min_term_years, row_number() OVER (ORDER BY code) AS k FROM lic_schema.insurance_products;

INSERT INTO lic_schema.insurance_policies (tenant_id, policy_number, product_id, policyholder_id, agent_id, status,
                                           sum_assured, premium_amount, premium_frequency, start_date, maturity_date)
SELECT '00000000-0000-4000-8000-000000000001', format('LIC%s', 880000000 + n),
       pr.product_id, h.policyholder_id, a.agent_id,
       CASE WHEN r < 0.70 THEN 'active' WHEN r < 0.82 THEN 'lapsed' WHEN r < 0.90 THEN 'pending'
            WHEN r < 0.95 THEN 'surrendered' ELSE 'matured' END,
       sa, round(sa / 100000 * pr.premium_per_lakh, 2),
       (ARRAY['monthly','quarterly','half_yearly','yearly'])[1 + n % 4],
       start_on, start_on + make_interval(years => pr.min_term_years)
FROM (SELECT n, random() AS r, (5 + (random() * 95)::int) * 100000 AS sa,
             date '2012-01-01' + (random() * 4700)::int AS start_on
      FROM generate_series(1, 180) AS n) g
JOIN demo_products pr ON pr.k = 1 + g.n % 7
JOIN demo_holders h ON h.k = CASE WHEN g.n <= 3 THEN 1 ELSE 2 + (g.n * 37) % (SELECT count(*) - 1 FROM demo_holders) END
JOIN demo_agents a ON a.k = 1 + (g.n * 13) % (SELECT count(*) FROM demo_agents);

-- Twelve premium instalments per policy, the recent ones partly unpaid.
INSERT INTO lic_schema.premium_payments (policy_id, amount, due_date, paid_at, status, method)
SELECT p.policy_id, p.premium_amount, d.due, 
       CASE WHEN s.status = 'paid' THEN d.due + (random() * 10)::int * interval '1 day' END,
       s.status,
       CASE WHEN s.status IN ('paid', 'failed') THEN (ARRAY['upi','card','netbanking','cash','ecs'])[1 + (random() * 4)::int] END
FROM lic_schema.insurance_policies p
CROSS JOIN LATERAL (SELECT (date_trunc('month', now()) - make_interval(months => m))::date AS due, m
                    FROM generate_series(0, 11) AS m) d
CROSS JOIN LATERAL (SELECT CASE WHEN p.status = 'lapsed' AND d.m < 4 THEN 'overdue'
                                WHEN d.m = 0 AND random() < 0.5 THEN 'due'
                                WHEN random() < 0.03 THEN 'failed'
                                ELSE 'paid' END AS status) s
WHERE p.status IN ('active', 'lapsed');

-- 150 leads in every stage.
INSERT INTO lic_schema.leads (tenant_id, agent_id, full_name, phone_number, stage, source, interested_product_id, created_at, updated_at)
SELECT '00000000-0000-4000-8000-000000000001', a.agent_id, p.first_name || ' ' || p.last_name,
       format('+9197700%s', lpad(g.n::text, 5, '0')),
       (ARRAY['new','new','contacted','contacted','qualified','proposal','won','lost'])[1 + (random() * 7)::int],
       (ARRAY['referral','website','campaign','walk_in','whatsapp'])[1 + (random() * 4)::int],
       pr.product_id, g.created, g.created + (random() * 20)::int * interval '1 day'
FROM (SELECT n, now() - (random() * 120)::int * interval '1 day' AS created FROM generate_series(1, 150) AS n) g
JOIN demo_people p ON p.pn = 250 + g.n % 150
JOIN demo_agents a ON a.k = 1 + (g.n * 7) % (SELECT count(*) FROM demo_agents)
JOIN demo_products pr ON pr.k = 1 + g.n % 7;

-- 60 earlier quotes.
INSERT INTO lic_schema.quotes (tenant_id, product_id, requested_by, agent_id, customer_name, customer_age,
                               sum_assured, term_years, premium_amount, status, created_at)
SELECT '00000000-0000-4000-8000-000000000001', pr.product_id, ag.user_id, ag.agent_id,
       p.first_name || ' ' || p.last_name, age, sa, pr.min_term_years,
       round(sa / 100000 * pr.premium_per_lakh * (1 + greatest(age - 30, 0) * 0.03), 2),
       (ARRAY['issued','accepted','expired'])[1 + (random() * 2)::int],
       now() - (random() * 60)::int * interval '1 day'
FROM (SELECT n, 20 + (random() * 40)::int AS age, (5 + (random() * 45)::int) * 100000 AS sa
      FROM generate_series(1, 60) AS n) g
JOIN demo_people p ON p.pn = 300 + g.n
JOIN demo_agents a ON a.k = 1 + (g.n * 5) % (SELECT count(*) FROM demo_agents)
JOIN lic_schema.agents ag ON ag.agent_id = a.agent_id
JOIN demo_products pr ON pr.k = 1 + g.n % 7;

RESET agentmitra.demo_password;

COMMIT;

ANALYZE;
