-- Demo data, part 5: billing. Products with one-time, monthly, yearly and metered prices; 80
-- billing customers (the first is the demo customer); subscriptions in every status; an invoice
-- per billing period and per one-time purchase, paid (a few refunded) or open with a failed
-- payment; weekly usage of the metered subscriptions. No Stripe ids: nothing here is in Stripe.

create temp table demo_prices on commit drop as
select gen_random_uuid() as id, p.*
from (values
    ('starter_once', 'Website Starter', 'one_time', 1490.00, null, null),
    ('growth_month', 'Growth plan', 'recurring', 99.00, 'month', null),
    ('growth_year', 'Growth plan', 'recurring', 990.00, 'year', null),
    ('pro_month', 'Pro plan', 'recurring', 299.00, 'month', null),
    ('pro_year', 'Pro plan', 'recurring', 2990.00, 'year', null),
    ('seo_month', 'SEO add-on', 'recurring', 149.00, 'month', null),
    ('bandwidth', 'Managed hosting bandwidth', 'metered', 0.25, 'month', 'bandwidth_gb'),
    ('dev_hour', 'Custom development', 'one_time', 120.00, null, null)
) p(key, product, kind, unit_amount, billing_interval, usage_metric);

create temp table demo_products on commit drop as
select gen_random_uuid() as id, product as name from (select distinct product from demo_prices) p;

insert into public.products (id, org_id, name, description, created_at)
select p.id, x.org_id, p.name,
       case p.name when 'Website Starter' then 'A five-page website built from a template, delivered in two weeks'
                   when 'Growth plan' then 'Hosting, updates and one change request a month'
                   when 'Pro plan' then 'Everything in Growth plus an online store and priority support'
                   when 'SEO add-on' then 'Monthly keyword report and on-page fixes'
                   when 'Managed hosting bandwidth' then 'Traffic beyond the plan, billed per GB'
                   else 'Bespoke work, billed per hour' end,
       now() - interval '195 days'
from demo_products p cross join demo_ctx x;

insert into public.prices (id, org_id, product_id, kind, unit_amount, billing_interval, usage_metric, created_at)
select pr.id, x.org_id, p.id, pr.kind, pr.unit_amount, pr.billing_interval, pr.usage_metric, now() - interval '195 days'
from demo_prices pr
join demo_products p on p.name = pr.product
cross join demo_ctx x;

create temp table demo_billing_customers on commit drop as
select n, gen_random_uuid() as id, ct.id as contact_id, ct.email, ct.created_at,
       case when n = 1 then x.customer_id end as user_id
from generate_series(1, 80) n
join demo_contacts ct on ct.k = case when n = 1 then 1 else n * 6 end
cross join demo_ctx x;

insert into public.billing_customers (id, org_id, user_id, contact_id, email, created_at)
select b.id, x.org_id, b.user_id, b.contact_id, b.email, b.created_at
from demo_billing_customers b cross join demo_ctx x;

-- Subscriptions: the demo customer is on the monthly Growth plan; the others vary.
create temp table demo_subs on commit drop as
select s.*,
       case when s.status = 'canceled'
            then s.started + (now() - s.started) * (0.5 + 0.4 * pg_temp.rnd('sub-cancel' || s.n)) end as canceled_at
from (
    select b.n, gen_random_uuid() as id, b.id as customer_id, b.user_id, pr.id as price_id, pr.key, pr.kind, pr.product,
           pr.billing_interval, pr.unit_amount,
           case when b.n % 9 = 0 then 2 else 1 end as quantity, st.status,
           case when st.status = 'trialing' then now() - make_interval(secs => 86400 * 13 * pg_temp.rnd('sub-at' || b.n))
                when b.n = 1 then now() - interval '150 days'
                else now() - make_interval(secs => 86400 * (5 + 170 * pg_temp.rnd('sub-at' || b.n))) end as started
    from demo_billing_customers b
    cross join lateral (select
        case when b.n = 1 then 'growth_month'
             else (array['growth_month', 'growth_month', 'growth_month', 'growth_month', 'pro_month', 'pro_month',
                         'growth_year', 'growth_year', 'pro_year', 'seo_month', 'seo_month', 'bandwidth'])
                  [1 + floor(pg_temp.rnd('sub-price' || b.n) * 12)::int] end as key,
        pg_temp.rnd('sub-status' || b.n) as r) k
    join demo_prices pr on pr.key = k.key
    cross join lateral (select case when b.n = 1 or k.r < 0.72 then 'active' when k.r < 0.80 then 'past_due'
                                    when k.r < 0.86 then 'trialing' when k.r < 0.97 then 'canceled' else 'paused' end
                        as status) st
    where b.n <= 72
) s;

-- Billing periods up to now (or the cancellation): one invoice each, none while trialing.
create temp table demo_periods on commit drop as
select s.*, p,
       s.started + case when s.billing_interval = 'year' then make_interval(years => p) else make_interval(months => p) end as period_start,
       p = max(p) over (partition by s.id) as latest
from demo_subs s
cross join lateral (select coalesce(s.canceled_at, now()) as stop) e
cross join lateral generate_series(0, case when s.billing_interval = 'year' then extract(year from age(e.stop, s.started))::int
    else (extract(year from age(e.stop, s.started)) * 12 + extract(month from age(e.stop, s.started)))::int end) p
where s.status <> 'trialing';

insert into public.subscriptions (id, org_id, customer_id, user_id, price_id, status, quantity, current_period_start,
                                  current_period_end, cancel_at_period_end, canceled_at, created_at)
select s.id, x.org_id, s.customer_id, s.user_id, s.price_id, s.status, s.quantity,
       coalesce(p.period_start, s.started),
       coalesce(p.period_start, s.started) + case when s.status = 'trialing' then interval '14 days'
           when s.billing_interval = 'year' then interval '1 year' else interval '1 month' end,
       s.status = 'active' and pg_temp.rnd('sub-cape' || s.n) < 0.08, s.canceled_at, s.started
from demo_subs s
cross join demo_ctx x
left join demo_periods p on p.id = s.id and p.latest;

-- Invoices: subscription periods, and one-time purchases (a Starter site for every fourth
-- customer and the demo customer, ten hours of custom development for every twelfth).
create temp table demo_invoices on commit drop as
select i.*, gen_random_uuid() as id,
       'INV-' || lpad(row_number() over (order by i.created_at, i.amount_due)::text, 5, '0') as number,
       case when i.unpaid then 'open' else 'paid' end as status
from (
    select p.customer_id, p.user_id, p.id as subscription_id, p.period_start as created_at,
           case when p.kind = 'metered'
                then round(p.unit_amount * (40 + 360 * pg_temp.rnd('usage' || p.n || '-' || p.p))::numeric, 2)
                else round(p.unit_amount * p.quantity, 2) end as amount_due,
           case p.kind when 'metered' then 'usage' else 'subscription' end as payment_type,
           p.latest and p.status = 'past_due' as unpaid,
           p.product || ', ' || to_char(p.period_start, 'FMMonth YYYY') as description
    from demo_periods p
    union all
    select b.id, b.user_id, null, b.created_at + interval '3 days', pr.unit_amount * case when pr.key = 'dev_hour' then 10 else 1 end,
           'one_time', false, pr.product
    from demo_billing_customers b
    join demo_prices pr on (pr.key = 'starter_once' and (b.n = 1 or b.n % 4 = 0)) or (pr.key = 'dev_hour' and b.n % 12 = 0)
) i;

insert into public.invoices (id, org_id, customer_id, user_id, subscription_id, number, status, amount_due,
                             amount_paid, due_at, paid_at, created_at)
select i.id, x.org_id, i.customer_id, i.user_id, i.subscription_id, i.number, i.status, i.amount_due,
       case when i.status = 'paid' then i.amount_due else 0 end, i.created_at + interval '14 days',
       case when i.status = 'paid' then least(now(), i.created_at + interval '2 hours') end, i.created_at
from demo_invoices i cross join demo_ctx x;

-- Payments: one per paid invoice (about one in twenty later refunded, fully or in part), and a
-- failed attempt on every open invoice.
create temp table demo_payments on commit drop as
select i.*, gen_random_uuid() as payment_id, f,
       case when i.status = 'open' then 'failed' when f < 0.02 then 'refunded' when f < 0.05 then 'partially_refunded'
            else 'succeeded' end as payment_status,
       case when i.status = 'open' then 0 when f < 0.02 then i.amount_due when f < 0.05 then round(i.amount_due * 0.3, 2)
            else 0 end as refunded,
       least(now(), i.created_at + interval '2 hours') as paid_at
from demo_invoices i
cross join lateral (select pg_temp.rnd('refund' || i.number) as f) r;

insert into public.payments (id, org_id, user_id, customer_id, invoice_id, transaction_id, amount, amount_refunded,
                             payment_type, status, description, paid_at, created_at)
select p.payment_id, x.org_id, p.user_id, p.customer_id, p.id, 'txn_' || substr(md5(p.payment_id::text), 1, 24),
       p.amount_due, p.refunded, p.payment_type, p.payment_status, p.description,
       case when p.payment_status <> 'failed' then p.paid_at end, p.paid_at
from demo_payments p cross join demo_ctx x
where p.amount_due > 0;

insert into public.refunds (org_id, payment_id, amount, reason, status, created_by, created_at)
select x.org_id, p.payment_id, p.refunded,
       pg_temp.pick(array['requested_by_customer', 'requested_by_customer', 'duplicate', 'other'], 'refund-why' || p.number),
       'succeeded', x.admin_id, least(now(), p.paid_at + interval '5 days')
from demo_payments p cross join demo_ctx x
where p.refunded > 0;

insert into public.usage_events (org_id, subscription_id, metric, quantity, idempotency_key, occurred_at, reported_at)
select x.org_id, s.id, 'bandwidth_gb', round((5 + 60 * pg_temp.rnd('ue' || s.n || '-' || w))::numeric, 4),
       'demo-usage-' || s.n || '-' || w, s.started + make_interval(weeks => w),
       s.started + make_interval(weeks => w) + interval '1 hour'
from demo_subs s
cross join demo_ctx x
cross join generate_series(0, floor(extract(epoch from coalesce(s.canceled_at, now()) - s.started) / 604800)::int) w
where s.kind = 'metered' and s.status <> 'trialing';

-- The helpers are session-scoped, not transaction-scoped: leave none behind on the connection.
drop function pg_temp.pick(text[], text);
drop function pg_temp.rnd(text);
