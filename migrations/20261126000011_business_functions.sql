-- Data logic exposed as RPC (`/rest/v1/rpc/<name>`). Every function runs with the caller's rights
-- (security invoker), so row-level security decides which rows feed the figures: a caller who may
-- not read payments sees revenue 0, not someone else's revenue.

-- Count and value of the deals in each stage of a pipeline, weighted by the stage's probability.
create or replace function public.pipeline_summary(org_id uuid, pipeline_id uuid)
returns table (
    stage_id uuid, stage text, "position" integer, probability numeric, kind text,
    deals bigint, value numeric, weighted_value numeric
)
language sql stable
as $$
    select s.id, s.name, s.position, s.probability, s.kind,
           count(d.id), coalesce(sum(d.amount), 0),
           round(coalesce(sum(d.amount), 0) * s.probability / 100, 2)
    from public.pipeline_stages s
    left join public.deals d on d.stage_id = s.id and d.org_id = s.org_id
    where s.org_id = pipeline_summary.org_id and s.pipeline_id = pipeline_summary.pipeline_id
    group by s.id
    order by s.position
$$;

-- Everything that happened with one contact, oldest first: tickets and their messages, leads,
-- deals, payments and the campaigns that reached them.
create or replace function public.customer_history(contact_id uuid)
returns table (at timestamptz, kind text, ref_id uuid, summary text, detail jsonb)
language sql stable
as $$
    with c as (
        select id, org_id, user_id from public.contacts where id = customer_history.contact_id
    )
    select * from (
        select t.created_at, 'ticket', t.id, t.ticket_number || ' ' || t.subject,
               jsonb_build_object('status', t.status, 'priority', t.priority)
        from public.tickets t, c
        where t.org_id = c.org_id and (t.contact_id = c.id or (c.user_id is not null and t.user_id = c.user_id))
        union all
        select m.created_at, 'ticket_message', m.id, left(m.body, 200),
               jsonb_build_object('ticket_id', m.ticket_id, 'author_kind', m.author_kind,
                                  'sentiment', m.sentiment_label)
        from public.ticket_messages m
        join public.tickets t on t.id = m.ticket_id, c
        where t.org_id = c.org_id and (t.contact_id = c.id or (c.user_id is not null and t.user_id = c.user_id))
        union all
        select l.created_at, 'lead', l.id, l.title, jsonb_build_object('status', l.status, 'score', l.score)
        from public.leads l, c
        where l.contact_id = c.id
        union all
        select d.created_at, 'deal', d.id, d.name,
               jsonb_build_object('status', d.status, 'amount', d.amount, 'currency', d.currency)
        from public.deals d, c
        where d.contact_id = c.id
        union all
        select coalesce(p.paid_at, p.created_at), 'payment', p.id, p.payment_type || ' ' || p.amount || ' ' || p.currency,
               jsonb_build_object('status', p.status, 'transaction_id', p.transaction_id)
        from public.payments p, c
        where p.org_id = c.org_id
          and ((c.user_id is not null and p.user_id = c.user_id)
               or p.customer_id in (select b.id from public.billing_customers b where b.contact_id = c.id))
        union all
        select min(e.occurred_at), 'campaign', e.campaign_id, max(cp.name),
               jsonb_build_object('events', jsonb_agg(e.kind order by e.occurred_at))
        from public.marketing_events e
        join public.campaigns cp on cp.id = e.campaign_id, c
        where e.contact_id = c.id
        group by e.campaign_id
    ) h(at, kind, ref_id, summary, detail)
    order by at, kind
$$;

-- Service figures for tickets opened in [from, to): volume by status and priority, first-response
-- and resolution times (minutes: average and median), SLA breaches, and the sentiment mix of the
-- customers' messages.
create or replace function public.ticket_stats(org_id uuid, "from" timestamptz, "to" timestamptz)
returns jsonb
language sql stable
as $$
    with t as (
        select * from public.tickets
        where tickets.org_id = ticket_stats.org_id
          and created_at >= ticket_stats."from" and created_at < ticket_stats."to"
    ),
    times as (
        select extract(epoch from first_responded_at - created_at) / 60 as first_response,
               extract(epoch from resolved_at - created_at) / 60 as resolution
        from t
    ),
    sentiment as (
        select m.sentiment_label as label, count(*) as n
        from public.ticket_messages m join t on t.id = m.ticket_id
        where m.author_kind = 'customer' and m.sentiment_label is not null
        group by m.sentiment_label
    )
    select jsonb_build_object(
        'tickets', (select count(*) from t),
        'by_status', coalesce((select jsonb_object_agg(status, n) from (select status, count(*) n from t group by status) s), '{}'),
        'by_priority', coalesce((select jsonb_object_agg(priority, n) from (select priority, count(*) n from t group by priority) s), '{}'),
        'first_response_minutes', (select jsonb_build_object(
            'avg', round(avg(first_response)::numeric, 1),
            'median', round((percentile_cont(0.5) within group (order by first_response))::numeric, 1),
            'responded', count(first_response)) from times),
        'resolution_minutes', (select jsonb_build_object(
            'avg', round(avg(resolution)::numeric, 1),
            'median', round((percentile_cont(0.5) within group (order by resolution))::numeric, 1),
            'resolved', count(resolution)) from times),
        'sla_breaches', jsonb_build_object(
            'first_response', (select count(*) from t where coalesce(first_responded_at, now()) > first_response_due_at),
            'resolution', (select count(*) from t where coalesce(resolved_at, now()) > resolution_due_at)),
        'sentiment', (select jsonb_build_object(
            'negative', coalesce(sum(n) filter (where label = 'negative'), 0),
            'neutral', coalesce(sum(n) filter (where label = 'neutral'), 0),
            'positive', coalesce(sum(n) filter (where label = 'positive'), 0)) from sentiment)
    )
$$;

-- The dashboard's headline figures: revenue (last 30 days and all time, net of refunds), MRR
-- (active subscriptions normalized to a month), open deals, open tickets, running campaigns.
create or replace function public.kpi_snapshot(org_id uuid)
returns jsonb
language sql stable
as $$
    select jsonb_build_object(
        'currency', 'USD',
        'revenue_30d', (select coalesce(sum(amount - amount_refunded), 0) from public.payments p
                        where p.org_id = kpi_snapshot.org_id and status in ('succeeded', 'partially_refunded', 'refunded')
                          and coalesce(paid_at, created_at) >= now() - interval '30 days'),
        'revenue_total', (select coalesce(sum(amount - amount_refunded), 0) from public.payments p
                          where p.org_id = kpi_snapshot.org_id and status in ('succeeded', 'partially_refunded', 'refunded')),
        'mrr', (select coalesce(round(sum(pr.unit_amount * s.quantity * case pr.billing_interval
                        when 'day' then 30 when 'week' then 52.0 / 12 when 'month' then 1 when 'year' then 1.0 / 12 end), 2), 0)
                from public.subscriptions s join public.prices pr on pr.id = s.price_id
                where s.org_id = kpi_snapshot.org_id and s.status in ('active', 'past_due') and pr.kind = 'recurring'),
        'open_deals', (select count(*) from public.deals d where d.org_id = kpi_snapshot.org_id and status = 'open'),
        'open_pipeline_value', (select coalesce(sum(amount), 0) from public.deals d
                                where d.org_id = kpi_snapshot.org_id and status = 'open'),
        'open_tickets', (select count(*) from public.tickets t
                         where t.org_id = kpi_snapshot.org_id and status in ('open', 'pending', 'on_hold')),
        'active_campaigns', (select count(*) from public.campaigns c
                             where c.org_id = kpi_snapshot.org_id and status = 'running')
    )
$$;

revoke execute on function public.pipeline_summary(uuid, uuid), public.customer_history(uuid),
    public.ticket_stats(uuid, timestamptz, timestamptz), public.kpi_snapshot(uuid) from public;
grant execute on function public.pipeline_summary(uuid, uuid), public.customer_history(uuid),
    public.ticket_stats(uuid, timestamptz, timestamptz), public.kpi_snapshot(uuid) to authenticated, service_role;
