-- Demo data, part 2: sales. A default pipeline with six stages, 2,000 leads owned by the sales
-- rep, deals for the qualified and converted ones (won, lost and open, each in a stage of its
-- kind), a sale for every won deal, activities and lead scores.

insert into public.pipelines (id, org_id, name, is_default, created_at)
select pipeline_id, org_id, 'Sales pipeline', true, now() - interval '200 days' from demo_ctx;

create temp table demo_stages on commit drop as
select gen_random_uuid() as id, s.*
from (values
    (0, 'New opportunity', 10.00, 'open'),
    (1, 'Discovery', 25.00, 'open'),
    (2, 'Proposal sent', 50.00, 'open'),
    (3, 'Negotiation', 75.00, 'open'),
    (4, 'Closed won', 100.00, 'won'),
    (5, 'Closed lost', 0.00, 'lost')
) s(position, name, probability, kind);

insert into public.pipeline_stages (id, org_id, pipeline_id, name, position, probability, kind, created_at)
select s.id, x.org_id, x.pipeline_id, s.name, s.position, s.probability, s.kind, now() - interval '200 days'
from demo_stages s cross join demo_ctx x;

-- Leads: created between their contact's creation and now; young leads are mostly new, older
-- ones have been worked (qualified, unqualified or converted).
create temp table demo_leads on commit drop as
select l.*,
       case when age_days < 14 then
                case when r < 0.5 then 'new' when r < 0.85 then 'contacted' else 'qualified' end
            else
                case when r < 0.08 then 'new' when r < 0.26 then 'contacted' when r < 0.50 then 'qualified'
                     when r < 0.74 then 'unqualified' else 'converted' end
       end as status
from (
    select n, gen_random_uuid() as id, ct.id as contact_id, ct.company_id, ct.k as contact_n,
           coalesce(co.name, ct.first_name || ' ' || ct.last_name) as account,
           at, extract(epoch from now() - at) / 86400 as age_days,
           pg_temp.rnd('lead-status' || n) as r,
           pg_temp.pick(array['web', 'referral', 'event', 'ads', 'email', 'partner', 'cold', 'other'], 'lead-src' || n) as source,
           pg_temp.pick(array['Website redesign', 'Online store', 'SEO retainer', 'Landing pages', 'Brand refresh',
                              'Booking system', 'Analytics setup', 'Hosting migration', 'Newsletter program',
                              'Support portal'], 'lead-need' || n) as need,
           round((800 + power(pg_temp.rnd('lead-value' || n), 2) * 39200)::numeric, -2) as estimated_value
    from generate_series(1, 2000) n
    join demo_contacts ct on ct.k = 1 + (n * 13) % 500
    left join demo_companies co on co.id = ct.company_id
    cross join lateral (select ct.created_at + (now() - ct.created_at) * pg_temp.rnd('lead-at' || n) as at) t
) l;

insert into public.leads (id, org_id, user_id, contact_id, company_id, title, source, status, lead_details,
                          estimated_value, score, created_at, updated_at)
select l.id, x.org_id, x.sales_id, l.contact_id, l.company_id, l.need || ' for ' || l.account, l.source, l.status,
       jsonb_build_object(
           'need', l.need,
           'budget', l.estimated_value,
           'timeline', pg_temp.pick(array['this month', 'this quarter', 'next quarter', 'exploring'], 'lead-tl' || l.n),
           'decision_maker', pg_temp.rnd('lead-dm' || l.n) < 0.55,
           'channel_detail', case l.source when 'event' then 'Web Summit booth' when 'ads' then 'Search ads'
                                  when 'referral' then 'Existing customer' else null end,
           'notes', pg_temp.pick(array['Wants a demo next week.', 'Comparing us with two agencies.',
                                       'Current site is slow on mobile.', 'Needs a multilingual site.',
                                       'Asked for references in their industry.', 'Budget approval pending.'],
                                 'lead-note' || l.n)),
       l.estimated_value,
       case when l.status = 'new' then null
            else least(100, greatest(0, round(30 + 60 * pg_temp.rnd('lead-score' || l.n)
                 + case l.status when 'converted' then 10 when 'unqualified' then -25 else 0 end)))::int end,
       l.at, l.at
from demo_leads l cross join demo_ctx x;

insert into public.lead_scores (org_id, lead_id, score, model, contributions, computed_at, created_at)
select x.org_id, l.id, ld.score, 'demo-logistic-v1',
       jsonb_build_array(
           jsonb_build_object('feature', 'source', 'value', l.source, 'weight', 0.8,
                              'contribution', round((ld.score * 0.35)::numeric, 1)),
           jsonb_build_object('feature', 'budget', 'value', l.estimated_value, 'weight', 1.2,
                              'contribution', round((ld.score * 0.45)::numeric, 1)),
           jsonb_build_object('feature', 'engagement', 'value', 1 + l.n % 7, 'weight', 0.5,
                              'contribution', round((ld.score * 0.20)::numeric, 1))),
       least(now(), l.at + interval '1 day'), least(now(), l.at + interval '1 day')
from demo_leads l
join public.leads ld on ld.id = l.id
cross join demo_ctx x
where ld.score is not null and l.status in ('qualified', 'converted');

-- Deals: every converted lead and a third of the qualified ones. Older deals are mostly closed.
create temp table demo_deals on commit drop as
select d.*,
       case when d.kind = 'open' then null
            else least(d.at + make_interval(days => 7 + floor(pg_temp.rnd('deal-close' || d.n) * 45)::int),
                       now() - interval '1 hour') end as closed_at
from (
    select l.n, gen_random_uuid() as id, l.id as lead_id, l.contact_id, l.company_id, l.contact_n,
           l.need || ' — ' || l.account as name, t.at,
           round(l.estimated_value * (0.8 + 0.4 * pg_temp.rnd('deal-amount' || l.n))::numeric, 2) as amount,
           case when l.status = 'qualified' then 'open'
                when k.age > 60 then case when k.r < 0.55 then 'won' when k.r < 0.85 then 'lost' else 'open' end
                when k.age > 20 then case when k.r < 0.30 then 'won' when k.r < 0.50 then 'lost' else 'open' end
                else case when k.r < 0.05 then 'won' when k.r < 0.10 then 'lost' else 'open' end
           end as kind,
           case when l.status = 'qualified' then floor(pg_temp.rnd('deal-stage' || l.n) * 2)::int
                else floor(pg_temp.rnd('deal-stage' || l.n) * 4)::int end as open_position
    from demo_leads l
    cross join lateral (select least(l.at + make_interval(days => 2 + floor(pg_temp.rnd('deal-at' || l.n) * 12)::int),
                                     now() - interval '2 hours') as at) t
    cross join lateral (select extract(epoch from now() - t.at) / 86400 as age,
                               pg_temp.rnd('deal-kind' || l.n) as r) k
    where l.status = 'converted' or (l.status = 'qualified' and pg_temp.rnd('deal-q' || l.n) < 0.33)
) d;

insert into public.deals (id, org_id, pipeline_id, stage_id, lead_id, contact_id, company_id, owner_id, name,
                          amount, status, expected_close, closed_at, created_at, updated_at)
select d.id, x.org_id, x.pipeline_id, s.id, d.lead_id, d.contact_id, d.company_id, x.sales_id, d.name,
       d.amount, d.kind,
       case when d.kind = 'open' then (now() + make_interval(days => 7 + floor(pg_temp.rnd('deal-exp' || d.n) * 80)::int))::date
            else d.closed_at::date end,
       d.closed_at, d.at, coalesce(d.closed_at, d.at)
from demo_deals d
cross join demo_ctx x
join demo_stages s on (d.kind = 'open' and s.kind = 'open' and s.position = d.open_position)
                   or (d.kind <> 'open' and s.kind = d.kind);

-- A sale per won deal; a few were partly refunded later.
insert into public.sales_transactions (org_id, deal_id, contact_id, user_id, kind, amount, occurred_at)
select x.org_id, d.id, d.contact_id, x.sales_id, 'sale', d.amount, d.closed_at
from demo_deals d cross join demo_ctx x
where d.kind = 'won'
union all
select x.org_id, d.id, d.contact_id, x.sales_id, 'refund', -round(d.amount * 0.2, 2),
       least(d.closed_at + interval '20 days', now() - interval '1 hour')
from demo_deals d cross join demo_ctx x
where d.kind = 'won' and pg_temp.rnd('deal-refund' || d.n) < 0.05;

-- Activities: a first touch on most leads, a meeting and a call per deal, and a follow-up task on
-- each open deal (due in the coming weeks, not done yet).
insert into public.activities (org_id, kind, subject, body, contact_id, lead_id, deal_id, owner_id, due_at,
                               done_at, created_at)
select x.org_id, a.kind, a.subject, a.body, a.contact_id, a.lead_id, a.deal_id, x.sales_id, a.due_at,
       case when a.due_at < now() then a.due_at end, least(a.created_at, now())
from demo_ctx x
cross join lateral (
    select case when l.n % 3 = 0 then 'call' else 'email' end as kind,
           case when l.n % 3 = 0 then 'Intro call' else 'Intro e-mail' end || ' — ' || l.account as subject,
           'First contact about ' || lower(l.need) || '.' as body,
           l.contact_id, l.id as lead_id, null::uuid as deal_id,
           least(l.at + interval '1 day', now() - interval '10 minutes') as due_at, l.at as created_at
    from demo_leads l where l.status <> 'new' and l.n <= 1600
    union all
    select 'meeting', 'Discovery meeting — ' || d.name, 'Walked through goals, scope and budget.',
           d.contact_id, d.lead_id, d.id, least(d.at + interval '2 days', now() - interval '5 minutes'), d.at
    from demo_deals d
    union all
    select 'call', 'Proposal review — ' || d.name, 'Went through the proposal line by line.',
           d.contact_id, d.lead_id, d.id, least(d.at + interval '6 days', coalesce(d.closed_at, now()) - interval '1 minute'), d.at
    from demo_deals d
    union all
    select 'task', 'Follow up — ' || d.name, 'Send the revised quote and book the next call.',
           d.contact_id, d.lead_id, d.id, now() + make_interval(days => 1 + floor(pg_temp.rnd('task' || d.n) * 20)::int), now()
    from demo_deals d where d.kind = 'open'
) a;
