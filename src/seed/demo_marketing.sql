-- Demo data, part 4: marketing and sites. Segments, nine campaigns in every status with daily
-- metrics while they ran and the events of the contacts they reached; site templates, and
-- projects with their versions (three of them built for the demo customer).

insert into public.segments (org_id, name, description, rules, member_count, refreshed_at, created_at)
select x.org_id, s.name, s.description, s.rules, s.members, now() - interval '6 hours', now() - interval '170 days'
from demo_ctx x
cross join lateral (values
    ('Newsletter subscribers', 'Contacts who agreed to marketing e-mail',
     '{"all": [{"field": "marketing_consent", "op": "eq", "value": true}]}'::jsonb,
     (select count(*) from demo_contacts where marketing_consent)),
    ('VIP accounts', 'Tagged vip by sales',
     '{"all": [{"field": "tags", "op": "cs", "value": ["vip"]}]}'::jsonb,
     (select count(*) from public.contacts where org_id = x.org_id and 'vip' = any (tags))),
    ('Renewals next month', 'Subscribers whose period ends within 30 days',
     '{"all": [{"field": "subscription.status", "op": "eq", "value": "active"}, {"field": "subscription.period_end", "op": "lt", "value": "30 days"}]}'::jsonb,
     28::bigint),
    ('Stale leads', 'Leads not qualified after a month',
     '{"all": [{"field": "lead.status", "op": "in", "value": ["new", "contacted"]}, {"field": "lead.age_days", "op": "gt", "value": 30}]}'::jsonb,
     (select count(*) from demo_leads where status in ('new', 'contacted') and age_days > 30)),
    ('Retail & hospitality', 'Contacts at shops, restaurants and hotels',
     '{"any": [{"field": "company.industry", "op": "eq", "value": "Retail"}, {"field": "company.industry", "op": "eq", "value": "Hospitality"}]}'::jsonb,
     (select count(*) from demo_contacts c join demo_companies co on co.id = c.company_id
      where co.industry in ('Retail', 'Hospitality')))
) s(name, description, rules, members);

-- Campaigns: start (days ago; negative = in the future), length in days (null: open-ended), and
-- the last day it ran (days ago) for a paused one.
create temp table demo_campaigns on commit drop as
select gen_random_uuid() as id, c.k, c.name, c.channel, c.status, c.budget, c.subject,
       (select id from public.segments s, demo_ctx x where s.org_id = x.org_id and s.name = c.segment) as segment_id,
       date_trunc('day', now()) - make_interval(days => c.start_ago) + interval '9 hours' as starts_at,
       date_trunc('day', now()) - make_interval(days => c.start_ago) + interval '9 hours'
           + make_interval(days => c.length) as ends_at,
       least(now(), date_trunc('day', now()) - make_interval(days => c.start_ago) + make_interval(days => coalesce(c.length, 365)),
             coalesce(date_trunc('day', now()) - make_interval(days => c.paused_ago), now())) as ran_until
from (values
    (1, 'Website check-up offer', 'email', 'completed', 170, 30, 2000.00, 'Is your website ready for the next season?', 'Newsletter subscribers', null),
    (2, 'Hosting deal: 3 months free', 'email', 'completed', 115, 14, 3500.00, 'Three months of hosting on us', 'Newsletter subscribers', null),
    (3, 'Search ads — web design', 'ads', 'completed', 150, 60, 9000.00, null, null, null),
    (4, 'Instagram portfolio showcase', 'social', 'paused', 50, 90, 2500.00, null, 'Retail & hospitality', 20),
    (5, 'Monthly newsletter', 'email', 'running', 160, null, 1200.00, 'What is new at Acme Digital', 'Newsletter subscribers', null),
    (6, 'Search ads — online stores', 'ads', 'running', 45, 75, 7500.00, null, null, null),
    (7, 'SMS renewal reminders', 'sms', 'running', 30, 60, 600.00, null, 'Renewals next month', null),
    (8, 'Webinar: SEO basics', 'web', 'scheduled', -10, 1, 300.00, null, 'Stale leads', null),
    (9, 'Referral program', 'email', 'draft', null, null, 1500.00, 'Give a site, get a month free', 'VIP accounts', null)
) c(k, name, channel, status, start_ago, length, budget, subject, segment, paused_ago);

insert into public.campaigns (id, org_id, segment_id, name, channel, status, subject, content, budget, starts_at,
                              ends_at, created_by, created_at)
select c.id, x.org_id, c.segment_id, c.name, c.channel, c.status, c.subject,
       jsonb_build_object('headline', coalesce(c.subject, c.name), 'cta', 'Book a free consultation',
                          'landing_url', 'https://acme.test/offers/' || c.k),
       c.budget, c.starts_at, c.ends_at, x.marketing_id,
       coalesce(c.starts_at - interval '7 days', now() - interval '3 days')
from demo_campaigns c cross join demo_ctx x;

-- One row per day while a campaign ran.
insert into public.campaign_metrics (org_id, campaign_id, day, channel, impressions, clicks, opens, conversions,
                                     spend, revenue)
select x.org_id, m.id, m.day, m.channel, m.impressions, m.clicks, m.opens, m.conversions,
       round((m.budget / coalesce(m.length, 180) * (0.8 + 0.4 * m.r))::numeric, 2),
       round((m.conversions * (150 + 450 * m.r))::numeric, 2)
from (
    select c.id, c.channel, c.budget, extract(day from c.ends_at - c.starts_at)::int as length, d::date as day,
           imp.impressions, pg_temp.rnd('cm' || c.k || d) as r,
           case when c.channel in ('email', 'sms') then round(imp.impressions * (0.25 + 0.15 * pg_temp.rnd('cmo' || c.k || d)))::int
                else 0 end as opens,
           round(imp.impressions * case c.channel when 'email' then 0.06 when 'sms' then 0.08 else 0.025 end
                 * (0.6 + 0.8 * pg_temp.rnd('cmc' || c.k || d)))::int as clicks,
           round(imp.impressions * case c.channel when 'email' then 0.006 when 'sms' then 0.01 else 0.0015 end
                 * (0.5 + pg_temp.rnd('cmv' || c.k || d)))::int as conversions
    from demo_campaigns c
    cross join generate_series(c.starts_at::date, c.ran_until::date, interval '1 day') d
    cross join lateral (select round(case c.channel when 'email' then 900 when 'sms' then 300 when 'ads' then 5200
                                                    else 3000 end * (0.7 + 0.6 * pg_temp.rnd('cmi' || c.k || d)))::int
                        as impressions) imp
    where c.status in ('running', 'completed', 'paused')
) m
cross join demo_ctx x;

-- The funnel of each reached contact: sent → open → click → conversion for e-mail and SMS,
-- click → page view → form → conversion for ads and social; a few bounces and unsubscribes.
insert into public.marketing_events (org_id, contact_id, campaign_id, kind, properties, occurred_at)
select x.org_id, r.contact_id, r.campaign_id, e.kind, jsonb_build_object('channel', r.channel) || e.props, e.at
from (
    select c.id as campaign_id, c.channel, ct.id as contact_id, pg_temp.rnd('evf' || c.k || '-' || ct.k) as f,
           c.starts_at + (c.ran_until - c.starts_at) * pg_temp.rnd('eva' || c.k || '-' || ct.k) as at0
    from demo_campaigns c
    join demo_contacts ct on ct.marketing_consent
    where c.status in ('running', 'completed', 'paused')
      and (pg_temp.rnd('ev' || c.k || '-' || ct.k) < 0.18 or (ct.k = 1 and c.k in (1, 5)))
) r
cross join demo_ctx x
cross join lateral (values
    (case when r.channel in ('email', 'sms') then 'sent' else 'click' end, '{}'::jsonb, r.at0, true),
    ('bounce', '{}'::jsonb, r.at0 + interval '1 minute', r.channel = 'email' and r.f >= 0.97),
    (case when r.channel in ('email', 'sms') then 'open' else 'page_view' end, '{"path": "/offers"}'::jsonb,
     r.at0 + interval '2 hours', r.f < 0.5),
    (case when r.channel in ('email', 'sms') then 'click' else 'form_submit' end, '{"path": "/offers"}'::jsonb,
     r.at0 + interval '2 hours 5 minutes', r.f < 0.2),
    ('conversion', jsonb_build_object('value', 150 + round(r.f * 3000)), r.at0 + interval '1 day', r.f < 0.06),
    ('unsubscribe', '{}'::jsonb, r.at0 + interval '3 hours', r.channel = 'email' and r.f between 0.90 and 0.92)
) e(kind, props, at, happens)
where e.happens and e.at < now();

-- Site visits that no campaign brought.
insert into public.marketing_events (org_id, contact_id, kind, properties, occurred_at)
select x.org_id, ct.id, 'page_view',
       jsonb_build_object('path', pg_temp.pick(array['/', '/pricing', '/portfolio', '/blog/seo-checklist', '/contact'], 'pv' || i)),
       now() - make_interval(secs => pg_temp.rnd('pva' || i) * 90 * 86400)
from generate_series(1, 300) i
join demo_contacts ct on ct.k = 1 + (i * 11) % 500
cross join demo_ctx x;

-- Sites ------------------------------------------------------------------------------------------

create temp table demo_templates on commit drop as
select gen_random_uuid() as id, t.*
from (values
    (1, 'Landing page', 'marketing', 'One page with a hero, benefits and a sign-up form', '#2563eb', 'Inter'),
    (2, 'Portfolio', 'creative', 'A gallery of work with project pages', '#111827', 'Playfair Display'),
    (3, 'Restaurant', 'hospitality', 'Menu, opening hours and table booking', '#b45309', 'Lora'),
    (4, 'Online store', 'commerce', 'Catalogue, cart and checkout', '#059669', 'Inter'),
    (5, 'Blog', 'content', 'Articles with categories and a newsletter box', '#7c3aed', 'Merriweather'),
    (6, 'SaaS product', 'technology', 'Features, pricing table and documentation links', '#0ea5e9', 'Inter')
) t(k, name, category, description, color, font);

insert into public.site_templates (id, org_id, name, category, description, settings_schema, default_settings,
                                   preview_url, published, created_at)
select t.id, x.org_id, t.name, t.category, t.description,
       '{"type": "object", "required": ["business_name"], "properties": {
          "business_name": {"type": "string", "maxLength": 80},
          "brand_color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"},
          "font": {"type": "string"},
          "sections": {"type": "array", "items": {"type": "string"}}}}'::jsonb,
       jsonb_build_object('business_name', 'Your business', 'brand_color', t.color, 'font', t.font,
                          'sections', jsonb_build_array('hero', 'features', 'contact')),
       'https://templates.acme.test/' || t.k, t.k <> 6, now() - interval '190 days'
from demo_templates t cross join demo_ctx x;

create temp table demo_projects on commit drop as
select n, gen_random_uuid() as id, tpl.id as template_id, tpl.color,
       case when n <= 3 then x.customer_id end as client_id,
       case when n <= 3 then (select id from demo_contacts where k = 1) else ct.id end as contact_id,
       case n when 1 then 'Doyle Bakery website' when 2 then 'Doyle Bakery online shop'
              when 3 then 'Spring promo landing page' else coalesce(co.name, ct.last_name || ' family business') || ' — ' || tpl.name end as name,
       case n when 1 then 'live' when 2 then 'in_progress' when 3 then 'review'
              else pg_temp.pick(array['draft', 'in_progress', 'review', 'live', 'live', 'live', 'archived'], 'sp' || n) end as status,
       now() - make_interval(secs => 86400 * (20 + pg_temp.rnd('spa' || n) * 150)) as created_at
from generate_series(1, 24) n
cross join demo_ctx x
join demo_templates tpl on tpl.k = case n when 1 then 3 when 2 then 4 when 3 then 1 else 1 + n % 6 end
join demo_contacts ct on ct.k = 1 + (n * 19) % 500
left join demo_companies co on co.id = ct.company_id;

insert into public.site_projects (id, org_id, template_id, client_id, contact_id, name, settings, status, domain,
                                  created_at)
select p.id, x.org_id, p.template_id, p.client_id, p.contact_id, p.name,
       jsonb_build_object('business_name', split_part(p.name, ' — ', 1), 'brand_color', p.color,
                          'sections', jsonb_build_array('hero', 'about', 'services', 'contact')),
       p.status, case when p.status = 'live' then lower(regexp_replace(split_part(p.name, ' — ', 1), '[^A-Za-z]', '', 'g')) || '.example' end,
       p.created_at
from demo_projects p cross join demo_ctx x;

insert into public.site_versions (org_id, project_id, version, settings, note, created_by, created_at)
select x.org_id, p.id, v, sp.settings || jsonb_build_object('revision', v),
       case v when 1 then 'First draft from the template' when 2 then 'Client feedback: colours and copy'
              when 3 then 'Added the services page' else 'Final tweaks before launch' end,
       case when p.client_id is not null and v % 2 = 0 then x.customer_id else x.admin_id end,
       least(now(), p.created_at + make_interval(days => 4 * v))
from demo_projects p
join public.site_projects sp on sp.id = p.id
cross join demo_ctx x
cross join generate_series(1, 1 + (p.n + 2) % 4) v;
