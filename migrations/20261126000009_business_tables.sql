-- The business modules' tables: sales, service, marketing, sites, billing and integrations. Every
-- table belongs to an org, keeps created/updated times, states its statuses and amounts as CHECK
-- constraints (money as numeric with an ISO 4217 code), and has the indexes the org-scoped screens
-- use. Row-level security and the audit trigger are switched on at the end (`private.expose`);
-- the policies are in the next migration.

create domain public.currency_code as text check (value ~ '^[A-Z]{3}$');
create domain public.money_amount as numeric(12, 2) check (value >= 0);

-- Sales -----------------------------------------------------------------------------------------

create table public.companies (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    name text not null check (length(name) between 1 and 300),
    domain text,
    industry text,
    employees integer check (employees >= 0),
    owner_id uuid references auth.users (id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index companies_org_name_idx on public.companies (org_id, name);

create table public.contacts (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    company_id uuid references public.companies (id) on delete set null,
    user_id uuid references auth.users (id) on delete set null, -- the customer's account, if any
    owner_id uuid references auth.users (id) on delete set null,
    first_name text,
    last_name text,
    email text check (email is null or email like '%@%'),
    phone text,
    title text,
    tags text[] not null default '{}',
    marketing_consent boolean not null default false,
    consent_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index contacts_org_created_idx on public.contacts (org_id, created_at desc);
create index contacts_org_email_idx on public.contacts (org_id, lower(email));
create index contacts_user_idx on public.contacts (user_id) where user_id is not null;
create index contacts_company_idx on public.contacts (company_id);

create table public.pipelines (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    name text not null,
    is_default boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index pipelines_org_idx on public.pipelines (org_id);
create unique index pipelines_one_default_idx on public.pipelines (org_id) where is_default;

create table public.pipeline_stages (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    pipeline_id uuid not null references public.pipelines (id) on delete cascade,
    name text not null,
    position integer not null check (position >= 0),
    probability numeric(5, 2) not null default 0 check (probability between 0 and 100),
    kind text not null default 'open' check (kind in ('open', 'won', 'lost')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (pipeline_id, position)
);
create index pipeline_stages_org_idx on public.pipeline_stages (org_id);

create table public.leads (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    user_id uuid references auth.users (id) on delete set null, -- the rep who owns it
    contact_id uuid references public.contacts (id) on delete set null,
    company_id uuid references public.companies (id) on delete set null,
    title text not null,
    source text check (source in ('web', 'referral', 'event', 'ads', 'email', 'partner', 'cold', 'other')),
    status text not null default 'new'
        check (status in ('new', 'contacted', 'qualified', 'unqualified', 'converted')),
    lead_details jsonb not null default '{}',
    estimated_value public.money_amount,
    currency public.currency_code not null default 'USD',
    score integer check (score between 0 and 100),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index leads_org_created_idx on public.leads (org_id, created_at desc, id);
create index leads_org_status_idx on public.leads (org_id, status);
create index leads_user_idx on public.leads (user_id);
create index leads_contact_idx on public.leads (contact_id);

create table public.lead_scores (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    lead_id uuid not null references public.leads (id) on delete cascade,
    score integer not null check (score between 0 and 100),
    model text not null,
    contributions jsonb not null default '[]', -- [{feature, value, weight, contribution}]
    computed_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index lead_scores_lead_idx on public.lead_scores (lead_id, computed_at desc);
create index lead_scores_org_idx on public.lead_scores (org_id);

create table public.deals (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    pipeline_id uuid not null references public.pipelines (id),
    stage_id uuid not null references public.pipeline_stages (id),
    lead_id uuid references public.leads (id) on delete set null,
    contact_id uuid references public.contacts (id) on delete set null,
    company_id uuid references public.companies (id) on delete set null,
    owner_id uuid references auth.users (id) on delete set null,
    name text not null,
    amount public.money_amount not null default 0,
    currency public.currency_code not null default 'USD',
    status text not null default 'open' check (status in ('open', 'won', 'lost')),
    expected_close date,
    closed_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((status = 'open') = (closed_at is null))
);
create index deals_org_pipeline_stage_idx on public.deals (org_id, pipeline_id, stage_id);
create index deals_org_status_idx on public.deals (org_id, status);
create index deals_contact_idx on public.deals (contact_id);
create index deals_owner_idx on public.deals (owner_id);

create table public.sales_transactions (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    deal_id uuid references public.deals (id) on delete set null,
    contact_id uuid references public.contacts (id) on delete set null,
    user_id uuid references auth.users (id) on delete set null, -- the rep credited
    kind text not null default 'sale' check (kind in ('sale', 'refund', 'adjustment')),
    amount numeric(12, 2) not null check (amount <> 0),
    currency public.currency_code not null default 'USD',
    occurred_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index sales_transactions_org_at_idx on public.sales_transactions (org_id, occurred_at desc);
create index sales_transactions_deal_idx on public.sales_transactions (deal_id);

create table public.activities (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    kind text not null check (kind in ('call', 'email', 'meeting', 'note', 'task')),
    subject text not null,
    body text,
    contact_id uuid references public.contacts (id) on delete cascade,
    lead_id uuid references public.leads (id) on delete cascade,
    deal_id uuid references public.deals (id) on delete cascade,
    owner_id uuid references auth.users (id) on delete set null,
    due_at timestamptz,
    done_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index activities_org_due_idx on public.activities (org_id, due_at);
create index activities_contact_idx on public.activities (contact_id);
create index activities_deal_idx on public.activities (deal_id);

-- Service ---------------------------------------------------------------------------------------

create table public.sla_policies (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    priority text not null check (priority in ('low', 'normal', 'high', 'urgent')),
    first_response_minutes integer not null check (first_response_minutes > 0),
    resolution_minutes integer not null check (resolution_minutes > 0),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, priority)
);

create table public.tickets (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    number integer not null,
    ticket_number text generated always as ('T-' || number::text) stored,
    user_id uuid references auth.users (id) on delete set null default auth.uid(), -- the requester
    contact_id uuid references public.contacts (id) on delete set null,
    assignee_id uuid references auth.users (id) on delete set null,
    subject text not null check (length(subject) between 1 and 500),
    issue text not null default '',
    status text not null default 'open' check (status in ('open', 'pending', 'on_hold', 'solved', 'closed')),
    priority text not null default 'normal' check (priority in ('low', 'normal', 'high', 'urgent')),
    channel text not null default 'web' check (channel in ('web', 'email', 'chat', 'phone')),
    sentiment text check (sentiment in ('negative', 'neutral', 'positive')),
    first_response_due_at timestamptz,
    resolution_due_at timestamptz,
    first_responded_at timestamptz,
    resolved_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, number)
);
create index tickets_org_status_idx on public.tickets (org_id, status, created_at desc);
create index tickets_org_created_idx on public.tickets (org_id, created_at desc);
create index tickets_user_idx on public.tickets (user_id);
create index tickets_assignee_idx on public.tickets (assignee_id);
create index tickets_contact_idx on public.tickets (contact_id);

-- Per-org counters (ticket numbers, invoice numbers): the row lock makes concurrent inserts wait
-- their turn, so numbers are unique and increasing without a race.
create table private.org_counters (
    org_id uuid not null references public.orgs (id) on delete cascade,
    name text not null,
    value bigint not null,
    primary key (org_id, name)
);

create or replace function private.next_number(org uuid, counter text, start bigint) returns bigint
language sql security definer set search_path = ''
as $$
    insert into private.org_counters as c (org_id, name, value) values (org, counter, start)
    on conflict (org_id, name) do update set value = c.value + 1
    returning value
$$;

-- A new ticket gets the org's next number and its SLA due times (the org's policy for its
-- priority, else the defaults: urgent 1 h / 4 h, high 4 h / 24 h, normal 8 h / 48 h, low 24 h / 96 h).
create or replace function private.on_ticket_written() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
    v_first integer;
    v_resolve integer;
begin
    if tg_op = 'INSERT' then
        new.number := private.next_number(new.org_id, 'ticket', 1001);
    else
        new.number := old.number;
    end if;
    if tg_op = 'INSERT' or new.priority is distinct from old.priority then
        select first_response_minutes, resolution_minutes into v_first, v_resolve
        from public.sla_policies where org_id = new.org_id and priority = new.priority;
        if not found then
            select f, r into v_first, v_resolve from (values
                ('urgent', 60, 240), ('high', 240, 1440), ('normal', 480, 2880), ('low', 1440, 5760)
            ) d(p, f, r) where p = new.priority;
        end if;
        new.first_response_due_at := new.created_at + make_interval(mins => v_first);
        new.resolution_due_at := new.created_at + make_interval(mins => v_resolve);
    end if;
    if new.status in ('solved', 'closed') and new.resolved_at is null then
        new.resolved_at := now();
    elsif new.status not in ('solved', 'closed') then
        new.resolved_at := null;
    end if;
    return new;
end
$$;
create trigger tickets_written before insert or update on public.tickets
    for each row execute function private.on_ticket_written();

create table public.ticket_messages (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    ticket_id uuid not null references public.tickets (id) on delete cascade,
    author_id uuid references auth.users (id) on delete set null default auth.uid(),
    author_kind text not null default 'agent' check (author_kind in ('customer', 'agent', 'system')),
    body text not null check (length(body) between 1 and 100000),
    internal boolean not null default false,
    sentiment numeric(4, 3) check (sentiment between -1 and 1),
    sentiment_label text check (sentiment_label in ('negative', 'neutral', 'positive')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (not (internal and author_kind = 'customer'))
);
create index ticket_messages_ticket_idx on public.ticket_messages (ticket_id, created_at);
create index ticket_messages_org_idx on public.ticket_messages (org_id, created_at desc);

-- The first public agent reply stamps the ticket's first response.
create or replace function private.on_ticket_message() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    if new.author_kind = 'agent' and not new.internal then
        update public.tickets set first_responded_at = new.created_at
        where id = new.ticket_id and first_responded_at is null;
    end if;
    return null;
end
$$;
create trigger ticket_messages_first_response after insert on public.ticket_messages
    for each row execute function private.on_ticket_message();

create table public.canned_replies (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    title text not null,
    body text not null,
    tags text[] not null default '{}',
    created_by uuid references auth.users (id) on delete set null default auth.uid(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index canned_replies_org_idx on public.canned_replies (org_id, title);

-- Marketing -------------------------------------------------------------------------------------

create table public.segments (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    name text not null,
    description text,
    rules jsonb not null default '{"all": []}', -- a rule tree: {"all"|"any": [rule | tree]}
    member_count integer check (member_count >= 0),
    refreshed_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index segments_org_idx on public.segments (org_id, name);

create table public.campaigns (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    segment_id uuid references public.segments (id) on delete set null,
    name text not null,
    channel text not null check (channel in ('email', 'sms', 'social', 'ads', 'web')),
    status text not null default 'draft'
        check (status in ('draft', 'scheduled', 'running', 'paused', 'completed', 'canceled')),
    subject text,
    content jsonb not null default '{}',
    budget public.money_amount,
    currency public.currency_code not null default 'USD',
    starts_at timestamptz,
    ends_at timestamptz,
    created_by uuid references auth.users (id) on delete set null default auth.uid(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (ends_at is null or starts_at is null or ends_at >= starts_at)
);
create index campaigns_org_status_idx on public.campaigns (org_id, status);

create table public.campaign_metrics (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    campaign_id uuid not null references public.campaigns (id) on delete cascade,
    day date not null,
    channel text not null,
    impressions integer not null default 0 check (impressions >= 0),
    clicks integer not null default 0 check (clicks >= 0),
    opens integer not null default 0 check (opens >= 0),
    conversions integer not null default 0 check (conversions >= 0),
    spend public.money_amount not null default 0,
    revenue public.money_amount not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (campaign_id, day, channel)
);
create index campaign_metrics_org_day_idx on public.campaign_metrics (org_id, day);

create table public.marketing_events (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    contact_id uuid references public.contacts (id) on delete cascade,
    campaign_id uuid references public.campaigns (id) on delete set null,
    kind text not null
        check (kind in ('sent', 'open', 'click', 'conversion', 'unsubscribe', 'bounce', 'page_view', 'form_submit')),
    properties jsonb not null default '{}',
    occurred_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index marketing_events_org_at_idx on public.marketing_events (org_id, occurred_at desc);
create index marketing_events_contact_idx on public.marketing_events (contact_id);
create index marketing_events_campaign_idx on public.marketing_events (campaign_id);

-- Sites -----------------------------------------------------------------------------------------

create table public.site_templates (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    name text not null,
    category text,
    description text,
    settings_schema jsonb not null default '{"type": "object"}', -- JSON Schema of a project's settings
    default_settings jsonb not null default '{}',
    preview_url text,
    published boolean not null default false,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index site_templates_org_idx on public.site_templates (org_id, name);

create table public.site_projects (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    template_id uuid references public.site_templates (id) on delete set null,
    client_id uuid references auth.users (id) on delete set null, -- the customer it is built for
    contact_id uuid references public.contacts (id) on delete set null,
    name text not null,
    settings jsonb not null default '{}',
    status text not null default 'draft'
        check (status in ('draft', 'in_progress', 'review', 'live', 'archived')),
    domain text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index site_projects_org_idx on public.site_projects (org_id, status);
create index site_projects_client_idx on public.site_projects (client_id);

create table public.site_versions (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    project_id uuid not null references public.site_projects (id) on delete cascade,
    version integer not null check (version > 0),
    settings jsonb not null,
    note text,
    created_by uuid references auth.users (id) on delete set null default auth.uid(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (project_id, version)
);
create index site_versions_org_idx on public.site_versions (org_id);

-- Billing ---------------------------------------------------------------------------------------

create table public.products (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    name text not null,
    description text,
    active boolean not null default true,
    stripe_product_id text unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index products_org_idx on public.products (org_id, name);

create table public.prices (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    product_id uuid not null references public.products (id) on delete cascade,
    kind text not null check (kind in ('one_time', 'recurring', 'metered')),
    unit_amount numeric(12, 4) not null check (unit_amount >= 0),
    currency public.currency_code not null default 'USD',
    billing_interval text check (billing_interval in ('day', 'week', 'month', 'year')),
    usage_metric text,
    active boolean not null default true,
    stripe_price_id text unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((kind = 'one_time') = (billing_interval is null)),
    check ((kind = 'metered') = (usage_metric is not null))
);
create index prices_product_idx on public.prices (product_id);
create index prices_org_idx on public.prices (org_id);

create table public.billing_customers (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    user_id uuid references auth.users (id) on delete set null,
    contact_id uuid references public.contacts (id) on delete set null,
    email text,
    stripe_customer_id text unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, user_id)
);
create index billing_customers_org_idx on public.billing_customers (org_id);

create table public.subscriptions (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    customer_id uuid not null references public.billing_customers (id) on delete cascade,
    user_id uuid references auth.users (id) on delete set null,
    price_id uuid not null references public.prices (id),
    status text not null
        check (status in ('trialing', 'active', 'past_due', 'canceled', 'incomplete', 'incomplete_expired', 'unpaid', 'paused')),
    quantity integer not null default 1 check (quantity > 0),
    current_period_start timestamptz,
    current_period_end timestamptz,
    cancel_at_period_end boolean not null default false,
    canceled_at timestamptz,
    stripe_subscription_id text unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index subscriptions_org_status_idx on public.subscriptions (org_id, status);
create index subscriptions_user_idx on public.subscriptions (user_id);
create index subscriptions_customer_idx on public.subscriptions (customer_id);

create table public.invoices (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    customer_id uuid not null references public.billing_customers (id) on delete cascade,
    user_id uuid references auth.users (id) on delete set null,
    subscription_id uuid references public.subscriptions (id) on delete set null,
    number text not null,
    status text not null default 'draft' check (status in ('draft', 'open', 'paid', 'void', 'uncollectible')),
    amount_due public.money_amount not null,
    amount_paid public.money_amount not null default 0,
    currency public.currency_code not null default 'USD',
    due_at timestamptz,
    paid_at timestamptz,
    stripe_invoice_id text unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, number)
);
create index invoices_org_status_idx on public.invoices (org_id, status);
create index invoices_user_idx on public.invoices (user_id);

-- The seed's payments table: (user_id, transaction_id unique, amount decimal(10,2), payment_type).
create table public.payments (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    user_id uuid references auth.users (id) on delete set null,
    customer_id uuid references public.billing_customers (id) on delete set null,
    invoice_id uuid references public.invoices (id) on delete set null,
    transaction_id text not null unique,
    amount numeric(10, 2) not null check (amount > 0),
    amount_refunded numeric(10, 2) not null default 0 check (amount_refunded >= 0),
    currency public.currency_code not null default 'USD',
    payment_type text not null check (payment_type in ('one_time', 'subscription', 'usage')),
    status text not null default 'succeeded'
        check (status in ('pending', 'succeeded', 'failed', 'refunded', 'partially_refunded')),
    description text,
    paid_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (amount_refunded <= amount)
);
create index payments_org_created_idx on public.payments (org_id, created_at desc);
create index payments_user_idx on public.payments (user_id);

create table public.usage_events (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    subscription_id uuid not null references public.subscriptions (id) on delete cascade,
    metric text not null,
    quantity numeric(14, 4) not null check (quantity > 0),
    idempotency_key text not null,
    occurred_at timestamptz not null default now(),
    reported_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, idempotency_key)
);
create index usage_events_subscription_idx on public.usage_events (subscription_id, occurred_at);

create table public.refunds (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    payment_id uuid not null references public.payments (id) on delete cascade,
    amount numeric(10, 2) not null check (amount > 0),
    reason text check (reason in ('duplicate', 'fraudulent', 'requested_by_customer', 'other')),
    status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'canceled')),
    stripe_refund_id text unique,
    created_by uuid references auth.users (id) on delete set null default auth.uid(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index refunds_payment_idx on public.refunds (payment_id);
create index refunds_org_idx on public.refunds (org_id);

-- Integrations ----------------------------------------------------------------------------------
-- Credentials and signing secrets are encrypted by the application and live in `private`, never
-- readable through the data API.

create table public.integrations (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    provider text not null check (provider in ('mailchimp', 'salesforce', 'google_analytics', 'stripe')),
    status text not null default 'disconnected' check (status in ('disconnected', 'connected', 'error')),
    settings jsonb not null default '{}',
    last_synced_at timestamptz,
    last_error text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (org_id, provider)
);

create table private.integration_secrets (
    integration_id uuid primary key references public.integrations (id) on delete cascade,
    ciphertext bytea not null, -- AES-256-GCM, nonce || ciphertext || tag
    updated_at timestamptz not null default now()
);

create table public.sync_runs (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    integration_id uuid not null references public.integrations (id) on delete cascade,
    direction text not null check (direction in ('push', 'pull')),
    status text not null default 'running' check (status in ('running', 'succeeded', 'failed')),
    stats jsonb not null default '{}',
    error text,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index sync_runs_integration_idx on public.sync_runs (integration_id, started_at desc);
create index sync_runs_org_idx on public.sync_runs (org_id);

create table public.webhook_endpoints (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    url text not null check (url ~ '^https?://'),
    events text[] not null default '{}',
    active boolean not null default true,
    description text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index webhook_endpoints_org_idx on public.webhook_endpoints (org_id);

create table private.webhook_secrets (
    endpoint_id uuid primary key references public.webhook_endpoints (id) on delete cascade,
    ciphertext bytea not null,
    updated_at timestamptz not null default now()
);

create table public.webhook_deliveries (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
    event text not null,
    payload jsonb not null,
    status text not null default 'pending' check (status in ('pending', 'delivered', 'failed', 'dead')),
    attempts integer not null default 0 check (attempts >= 0),
    response_status integer,
    next_attempt_at timestamptz,
    delivered_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index webhook_deliveries_endpoint_idx on public.webhook_deliveries (endpoint_id, created_at desc);
create index webhook_deliveries_org_idx on public.webhook_deliveries (org_id);
create index webhook_deliveries_due_idx on public.webhook_deliveries (next_attempt_at) where status = 'pending';

-- Row-level security (forced), the audit trigger, `updated_at`, and privileges for every table.
select private.expose(t) from unnest(array[
    'public.companies', 'public.contacts', 'public.pipelines', 'public.pipeline_stages', 'public.leads',
    'public.lead_scores', 'public.deals', 'public.sales_transactions', 'public.activities',
    'public.sla_policies', 'public.tickets', 'public.ticket_messages', 'public.canned_replies',
    'public.segments', 'public.campaigns', 'public.campaign_metrics', 'public.marketing_events',
    'public.site_templates', 'public.site_projects', 'public.site_versions',
    'public.products', 'public.prices', 'public.billing_customers', 'public.subscriptions', 'public.invoices',
    'public.payments', 'public.usage_events', 'public.refunds',
    'public.integrations', 'public.sync_runs', 'public.webhook_endpoints', 'public.webhook_deliveries'
]::regclass[]) t;
