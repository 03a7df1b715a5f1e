-- One row in every business table of `org` (two where ownership matters: one of `customer`, one
-- of `staff`), created as the database owner. Returns the ids by name.
create or replace function private.test_fixture(org uuid, customer uuid, staff uuid) returns jsonb
language plpgsql
as $$
declare
    ids jsonb := '{}';
    v uuid;
    company uuid; contact uuid; pipeline uuid; stage uuid; lead uuid; deal uuid;
    ticket_own uuid; ticket_other uuid; campaign uuid; segment uuid; template uuid;
    project_own uuid; project_other uuid; product uuid; price uuid; bcustomer uuid; bstaff uuid;
    subscription uuid; invoice uuid; payment_own uuid; payment_other uuid; integration uuid; endpoint uuid;
begin
    insert into public.companies (org_id, name) values (org, 'Initech') returning id into company;
    insert into public.contacts (org_id, company_id, user_id, first_name, email)
        values (org, company, customer, 'Carla', 'carla@example.test') returning id into contact;
    insert into public.pipelines (org_id, name, is_default) values (org, 'Sales', true) returning id into pipeline;
    insert into public.pipeline_stages (org_id, pipeline_id, name, position, probability)
        values (org, pipeline, 'Qualified', 1, 20) returning id into stage;
    insert into public.leads (org_id, user_id, contact_id, title) values (org, staff, contact, 'Website rebuild')
        returning id into lead;
    insert into public.lead_scores (org_id, lead_id, score, model) values (org, lead, 61, 'logistic-v1')
        returning id into v; ids := ids || jsonb_build_object('lead_score', v);
    insert into public.deals (org_id, pipeline_id, stage_id, lead_id, contact_id, name, amount)
        values (org, pipeline, stage, lead, contact, 'Rebuild', 5000) returning id into deal;
    insert into public.sales_transactions (org_id, deal_id, amount) values (org, deal, 1200)
        returning id into v; ids := ids || jsonb_build_object('sales_transaction', v);
    insert into public.activities (org_id, kind, subject, deal_id) values (org, 'call', 'Kick-off', deal)
        returning id into v; ids := ids || jsonb_build_object('activity', v);
    insert into public.sla_policies (org_id, priority, first_response_minutes, resolution_minutes)
        values (org, 'urgent', 30, 120) returning id into v; ids := ids || jsonb_build_object('sla_policy', v);
    insert into public.tickets (org_id, user_id, contact_id, subject) values (org, customer, contact, 'Cannot log in')
        returning id into ticket_own;
    insert into public.tickets (org_id, user_id, subject) values (org, null, 'Internal request')
        returning id into ticket_other;
    insert into public.ticket_messages (org_id, ticket_id, author_id, author_kind, body)
        values (org, ticket_own, customer, 'customer', 'Help please') returning id into v;
    ids := ids || jsonb_build_object('message_own', v);
    insert into public.ticket_messages (org_id, ticket_id, author_id, author_kind, body, internal)
        values (org, ticket_own, staff, 'agent', 'Looks like a password issue', true) returning id into v;
    ids := ids || jsonb_build_object('message_internal', v);
    insert into public.ticket_messages (org_id, ticket_id, author_id, author_kind, body)
        values (org, ticket_other, staff, 'agent', 'On it') returning id into v;
    ids := ids || jsonb_build_object('message_other', v);
    insert into public.canned_replies (org_id, title, body) values (org, 'Reset', 'Use the reset link')
        returning id into v; ids := ids || jsonb_build_object('canned_reply', v);
    insert into public.segments (org_id, name) values (org, 'Everyone') returning id into segment;
    insert into public.campaigns (org_id, segment_id, name, channel, status)
        values (org, segment, 'Launch', 'email', 'running') returning id into campaign;
    insert into public.campaign_metrics (org_id, campaign_id, day, channel, impressions)
        values (org, campaign, current_date, 'email', 100) returning id into v;
    ids := ids || jsonb_build_object('campaign_metric', v);
    insert into public.marketing_events (org_id, contact_id, campaign_id, kind)
        values (org, contact, campaign, 'open') returning id into v; ids := ids || jsonb_build_object('marketing_event', v);
    insert into public.site_templates (org_id, name, published) values (org, 'Shop', true) returning id into template;
    insert into public.site_projects (org_id, template_id, client_id, name)
        values (org, template, customer, 'Carla shop') returning id into project_own;
    insert into public.site_projects (org_id, template_id, client_id, name)
        values (org, template, null, 'House site') returning id into project_other;
    insert into public.site_versions (org_id, project_id, version, settings)
        values (org, project_own, 1, '{}') returning id into v; ids := ids || jsonb_build_object('version_own', v);
    insert into public.site_versions (org_id, project_id, version, settings)
        values (org, project_other, 1, '{}') returning id into v; ids := ids || jsonb_build_object('version_other', v);
    insert into public.products (org_id, name) values (org, 'Hosting') returning id into product;
    insert into public.prices (org_id, product_id, kind, unit_amount, billing_interval)
        values (org, product, 'recurring', 20, 'month') returning id into price;
    insert into public.billing_customers (org_id, user_id, contact_id, email)
        values (org, customer, contact, 'carla@example.test') returning id into bcustomer;
    insert into public.billing_customers (org_id, user_id, email)
        values (org, null, 'staff@example.test') returning id into bstaff;
    insert into public.subscriptions (org_id, customer_id, user_id, price_id, status)
        values (org, bcustomer, customer, price, 'active') returning id into subscription;
    insert into public.usage_events (org_id, subscription_id, metric, quantity, idempotency_key)
        values (org, subscription, 'api_calls', 10, 'fixture-1') returning id into v;
    ids := ids || jsonb_build_object('usage_event', v);
    insert into public.invoices (org_id, customer_id, user_id, subscription_id, number, status, amount_due)
        values (org, bcustomer, customer, subscription, 'INV-1', 'open', 20) returning id into invoice;
    insert into public.payments (org_id, user_id, customer_id, invoice_id, transaction_id, amount, payment_type)
        values (org, customer, bcustomer, invoice, 'tx-' || org || '-1', 20, 'subscription') returning id into payment_own;
    insert into public.payments (org_id, user_id, customer_id, transaction_id, amount, payment_type)
        values (org, null, bstaff, 'tx-' || org || '-2', 99.5, 'one_time') returning id into payment_other;
    insert into public.refunds (org_id, payment_id, amount, reason) values (org, payment_other, 10, 'other')
        returning id into v; ids := ids || jsonb_build_object('refund', v);
    insert into public.integrations (org_id, provider, status) values (org, 'mailchimp', 'connected')
        returning id into integration;
    insert into public.sync_runs (org_id, integration_id, direction) values (org, integration, 'push')
        returning id into v; ids := ids || jsonb_build_object('sync_run', v);
    insert into public.webhook_endpoints (org_id, url, events) values (org, 'https://hooks.example.test/a', '{deal.won}')
        returning id into endpoint;
    insert into public.webhook_deliveries (org_id, endpoint_id, event, payload)
        values (org, endpoint, 'deal.won', '{}') returning id into v; ids := ids || jsonb_build_object('webhook_delivery', v);
    return ids || jsonb_build_object(
        'company', company, 'contact', contact, 'pipeline', pipeline, 'stage', stage, 'lead', lead, 'deal', deal,
        'ticket_own', ticket_own, 'ticket_other', ticket_other, 'campaign', campaign, 'segment', segment,
        'template', template, 'project_own', project_own, 'project_other', project_other, 'product', product,
        'price', price, 'billing_customer_own', bcustomer, 'billing_customer_other', bstaff,
        'subscription', subscription, 'invoice', invoice, 'payment_own', payment_own,
        'payment_other', payment_other, 'integration', integration, 'webhook_endpoint', endpoint);
end
$$;
