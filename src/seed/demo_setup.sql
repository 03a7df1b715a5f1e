-- Demo data, part 1: the org, its members, and the helpers the other parts use. Runs in the
-- transaction `bizbase seed demo` opened, after it created the demo users; their ids and the org
-- name arrive in the setting `bizbase.demo` (JSON).
--
-- Everything runs as `service_role`: it bypasses row-level security (even where the owner is
-- subject to it), and the audit trigger records the seed's rows under that role and the request
-- id `bizbase seed demo`.
-- Pseudo-randomness is a hash of a key (`pg_temp.rnd`), so the same run gives the same figures,
-- and dates are relative to now() over the last ~180 days.

set local role service_role;
-- The audit log records the actor role from the claims, and the request id, as for an API call.
select set_config('request.jwt.claims', '{"role": "service_role"}', true),
       set_config('request.id', 'bizbase seed demo', true);

-- A number in [0, 1) derived from `key`.
create or replace function pg_temp.rnd(key text) returns double precision
language sql immutable
as $$ select ('x' || substr(md5(key), 1, 8))::bit(32)::bigint / 4294967296.0 $$;

-- One of `options`, chosen by `key`.
create or replace function pg_temp.pick(options text[], key text) returns text
language sql immutable
as $$ select options[1 + floor(pg_temp.rnd(key) * cardinality(options))::int] $$;

-- The ids every part refers to.
create temp table demo_ctx on commit drop as
select gen_random_uuid() as org_id,
       gen_random_uuid() as pipeline_id,
       c ->> 'org_name' as org_name,
       (c -> 'users' ->> 'admin')::uuid as admin_id,
       (c -> 'users' ->> 'sales_rep')::uuid as sales_id,
       (c -> 'users' ->> 'customer_service')::uuid as support_id,
       (c -> 'users' ->> 'marketing_manager')::uuid as marketing_id,
       (c -> 'users' ->> 'customer')::uuid as customer_id,
       c -> 'emails' ->> 'customer' as customer_email
from (select current_setting('bizbase.demo')::jsonb as c) s;

-- The org (its creation trigger adds the preset permissions and makes the creator admin), and one
-- member per role.
insert into public.orgs (id, name, created_by, created_at)
select org_id, org_name, admin_id, now() - interval '200 days' from demo_ctx;

insert into public.org_members (org_id, user_id, role)
select x.org_id, m.user_id, m.role
from demo_ctx x
cross join lateral (values
    (x.admin_id, 'admin'), (x.sales_id, 'sales_rep'), (x.support_id, 'customer_service'),
    (x.marketing_id, 'marketing_manager'), (x.customer_id, 'customer')
) m(user_id, role)
on conflict (org_id, user_id) do update set role = excluded.role;

-- Companies: 120 distinct names (prefix × suffix), domains under the reserved `.example` TLD.
create temp table demo_companies on commit drop as
select n as k, gen_random_uuid() as id, name,
       lower(regexp_replace(name, '[^A-Za-z]', '', 'g')) || '.example' as domain,
       pg_temp.pick(array['Software', 'Retail', 'Hospitality', 'Healthcare', 'Manufacturing', 'Finance',
                          'Education', 'Real estate', 'Logistics', 'Media', 'Non-profit', 'Construction'],
                    'co-industry' || n) as industry,
       5 + floor(power(pg_temp.rnd('co-size' || n), 3) * 2500)::int as employees,
       now() - make_interval(days => 200) + make_interval(secs => pg_temp.rnd('co-at' || n) * 20 * 86400) as created_at
from (
    select n,
           (array['Northwind', 'Bluebird', 'Summit', 'Cedar', 'Harbor', 'Ironwood', 'Lumen', 'Maple', 'Nimbus',
                  'Orchid', 'Pioneer', 'Quarry', 'Redwood', 'Silverline', 'Tidewater', 'Umber', 'Vantage',
                  'Willow', 'Zenith', 'Aurora', 'Beacon', 'Copper', 'Driftwood', 'Evergreen', 'Foxglove',
                  'Granite', 'Highland', 'Juniper', 'Keystone', 'Larkspur'])[1 + (n - 1) % 30]
           || ' ' ||
           (array['Labs', 'Systems', 'Foods', 'Logistics', 'Studio', 'Partners', 'Health', 'Outfitters',
                  'Capital', 'Academy', 'Builders', 'Media'])[1 + (((n - 1) / 30) * 3 + (n - 1) % 30) % 12]
           as name
    from generate_series(1, 120) n
) c;

insert into public.companies (id, org_id, name, domain, industry, employees, owner_id, created_at)
select c.id, x.org_id, c.name, c.domain, c.industry, c.employees, x.sales_id, c.created_at
from demo_companies c cross join demo_ctx x;

-- Contacts: 500, most at a company. Contact 1 is the demo customer's own record (linked to their
-- account), so their tickets, payments and campaigns show up in `customer_history`.
create temp table demo_contacts on commit drop as
select n as k, gen_random_uuid() as id,
       case when n = 1 or n % 10 = 0 then null else co.id end as company_id,
       case when n = 1 then x.customer_id end as user_id,
       first_name, last_name,
       case when n = 1 then x.customer_email
            else lower(first_name || '.' || last_name || n) || '@'
                 || case when n % 10 = 0 then 'mail.example' else co.domain end
       end as email,
       pg_temp.rnd('ct-consent' || n) < 0.6 or n = 1 as marketing_consent,
       now() - make_interval(secs => 5 * 86400 + pg_temp.rnd('ct-at' || n) * 175 * 86400) as created_at
from generate_series(1, 500) n
cross join demo_ctx x
join demo_companies co on co.k = 1 + (n * 7) % 120
cross join lateral (select
    case when n = 1 then 'Jamie' else pg_temp.pick(array['Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'Elijah',
        'Sophia', 'Mateo', 'Isabella', 'Lucas', 'Mia', 'Amir', 'Chloe', 'Kenji', 'Grace', 'Ravi', 'Zoe',
        'Diego', 'Hannah', 'Omar', 'Leila', 'Jonas', 'Freya', 'Marco', 'Aisha', 'Tomás', 'Ingrid', 'Kwame',
        'Nora', 'Felix', 'Priya', 'Hugo', 'Lina', 'Arjun', 'Maya', 'Sven', 'Yara', 'Luca', 'Ines', 'Theo'],
        'ct-first' || n) end as first_name,
    case when n = 1 then 'Doyle' else pg_temp.pick(array['Smith', 'Garcia', 'Nguyen', 'Müller', 'Rossi',
        'Kowalski', 'Okafor', 'Tanaka', 'Silva', 'Johansson', 'Dubois', 'Patel', 'Kim', 'Cohen', 'Murphy',
        'Novak', 'Haddad', 'Fischer', 'Moreau', 'Costa', 'Larsen', 'Ivanova', 'Mensah', 'Lopez', 'Walsh',
        'Schmidt', 'Yilmaz', 'Andersen', 'Romano', 'Brennan', 'Sato', 'Hughes', 'Park', 'Weber', 'Bianchi',
        'Khan', 'Olsen', 'Reyes', 'Chen', 'Adeyemi'], 'ct-last' || n) end as last_name
) nm;

insert into public.contacts (id, org_id, company_id, user_id, owner_id, first_name, last_name, email, phone,
                             title, tags, marketing_consent, consent_at, created_at)
select c.id, x.org_id, c.company_id, c.user_id, x.sales_id, c.first_name, c.last_name, c.email,
       '+1 555 ' || lpad((1000 + (c.k * 37) % 9000)::text, 4, '0'),
       pg_temp.pick(array['Founder', 'CEO', 'Marketing lead', 'Operations manager', 'Office manager',
                          'Head of growth', 'IT manager', 'Owner', 'Product manager', 'Buyer'], 'ct-title' || c.k),
       case when pg_temp.rnd('ct-tag' || c.k) < 0.3 then array['newsletter']
            when pg_temp.rnd('ct-tag' || c.k) < 0.45 then array['vip', 'newsletter']
            when pg_temp.rnd('ct-tag' || c.k) < 0.6 then array['event-2026']
            else '{}' end,
       c.marketing_consent, case when c.marketing_consent then c.created_at end, c.created_at
from demo_contacts c cross join demo_ctx x;

-- Integrations: connected providers with their non-secret settings (credentials are never seeded),
-- and a fortnight of sync runs.
insert into public.integrations (org_id, provider, status, settings, last_synced_at, last_error)
select x.org_id, p.provider, p.status, p.settings, p.last_synced_at, p.last_error
from demo_ctx x
cross join (values
    ('mailchimp', 'connected', '{"audience": "Acme newsletter", "double_opt_in": true, "sync": ["contacts", "segments"]}'::jsonb,
     now() - interval '3 hours', null),
    ('salesforce', 'connected', '{"instance_url": "https://acme-demo.my.salesforce.example", "sync": ["contacts", "leads", "deals"]}'::jsonb,
     now() - interval '5 hours', null),
    ('google_analytics', 'connected', '{"measurement_id": "G-DEMO0001", "property": "acme.test"}'::jsonb,
     now() - interval '1 day', null),
    ('stripe', 'disconnected', '{}'::jsonb, null::timestamptz, null::text)
) p(provider, status, settings, last_synced_at, last_error);

insert into public.sync_runs (org_id, integration_id, direction, status, stats, error, started_at, finished_at)
select i.org_id, i.id, d.direction,
       case when i.provider = 'salesforce' and day = 6 then 'failed' else 'succeeded' end,
       jsonb_build_object('records', 20 + floor(pg_temp.rnd('sync' || i.provider || d.direction || day) * 180)::int),
       case when i.provider = 'salesforce' and day = 6 then 'rate limited by the provider; retried next run' end,
       now() - make_interval(days => day, hours => 3),
       now() - make_interval(days => day, hours => 3) + interval '42 seconds'
from public.integrations i
join demo_ctx x on x.org_id = i.org_id
cross join generate_series(0, 13) day
cross join (values ('push'), ('pull')) d(direction)
where i.status = 'connected' and (i.provider <> 'google_analytics' or d.direction = 'pull');
