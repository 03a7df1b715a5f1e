-- Who sees and changes what in the business tables. Staff rows are governed by permissions
-- (`role_permissions`, data an org admin edits); customers see their own records.
--
-- Policies test `org_id = any ((select auth.orgs_with('<permission>'))::uuid[])`: the orgs where the
-- caller's role holds the permission, computed once per statement (an InitPlan) instead of once
-- per row, which keeps a 50-row page under RLS about as fast as without. It means exactly
-- `auth.can(org_id, '<permission>')`, which is now defined in terms of it.

create or replace function auth.orgs_with(permission text) returns uuid[]
language sql stable security definer set search_path = ''
as $$
    select coalesce(array_agg(rp.org_id), '{}')
    from public.role_permissions rp
    join public.orgs o on o.id = rp.org_id
    where rp.org_id = any ((select auth.org_ids())::uuid[])
      and rp.role = auth.role_in(rp.org_id)
      and rp.permission = orgs_with.permission
      and (
          coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2'
          or (not rp.role = any (o.require_mfa_roles) and not private.is_sensitive(orgs_with.permission))
      )
$$;

create or replace function auth.can(org uuid, permission text) returns boolean
language sql stable
as $$
    select can.org = any (auth.orgs_with(can.permission))
$$;

grant execute on function auth.orgs_with(text), auth.can(uuid, text) to anon, authenticated, service_role;

-- Presets: new permissions for admins; customer service reads the payments of customers who
-- opened tickets (not every payment); customers customize their own site projects and read the
-- template catalogue.
insert into private.role_permission_presets (role, permission) values
    ('admin', 'pipelines.write'), ('admin', 'sla.manage'), ('admin', 'payments.write'),
    ('customer_service', 'payments.read_ticket_customers'),
    ('customer', 'sites.customize'), ('customer', 'templates.read')
on conflict do nothing;
delete from private.role_permission_presets
where (role, permission) in (('customer_service', 'payments.read'), ('customer', 'sites.read'));

-- Existing orgs follow the preset change where they still hold the old preset.
insert into public.role_permissions (org_id, role, permission)
select o.id, p.role, p.permission
from public.orgs o
cross join (values
    ('admin', 'pipelines.write'), ('admin', 'sla.manage'), ('admin', 'payments.write'),
    ('customer_service', 'payments.read_ticket_customers'),
    ('customer', 'sites.customize'), ('customer', 'templates.read')
) p(role, permission)
on conflict do nothing;
delete from public.role_permissions
where (role, permission) in (('customer_service', 'payments.read'), ('customer', 'sites.read'));

-- Read with one permission, insert/update/delete with another.
create or replace function private.org_policies(t regclass, read_perm text, write_perm text) returns void
language plpgsql
as $$
declare
    v_name text := (select relname from pg_class where oid = t);
begin
    execute format('create policy %I on %s for select to authenticated using (org_id = any ((select auth.orgs_with(%L))::uuid[]))',
                   v_name || '_read', t, read_perm);
    execute format('create policy %I on %s for insert to authenticated with check (org_id = any ((select auth.orgs_with(%L))::uuid[]))',
                   v_name || '_insert', t, write_perm);
    execute format('create policy %I on %s for update to authenticated using (org_id = any ((select auth.orgs_with(%L))::uuid[])) '
                   'with check (org_id = any ((select auth.orgs_with(%L))::uuid[]))',
                   v_name || '_update', t, write_perm, write_perm);
    execute format('create policy %I on %s for delete to authenticated using (org_id = any ((select auth.orgs_with(%L))::uuid[]))',
                   v_name || '_delete', t, write_perm);
end
$$;

select private.org_policies(t::regclass, r, w) from (values
    ('public.companies', 'companies.read', 'companies.write'),
    ('public.contacts', 'contacts.read', 'contacts.write'),
    ('public.pipelines', 'deals.read', 'pipelines.write'),
    ('public.pipeline_stages', 'deals.read', 'pipelines.write'),
    ('public.leads', 'leads.read', 'leads.write'),
    ('public.lead_scores', 'leads.read', 'leads.write'),
    ('public.deals', 'deals.read', 'deals.write'),
    ('public.sales_transactions', 'transactions.read', 'transactions.write'),
    ('public.activities', 'activities.read', 'activities.write'),
    ('public.sla_policies', 'tickets.read_all', 'sla.manage'),
    ('public.tickets', 'tickets.read_all', 'tickets.write'),
    ('public.ticket_messages', 'messages.read', 'messages.write'),
    ('public.canned_replies', 'canned_replies.read', 'canned_replies.write'),
    ('public.segments', 'segments.read', 'segments.write'),
    ('public.campaigns', 'campaigns.read', 'campaigns.write'),
    ('public.campaign_metrics', 'metrics.read', 'metrics.write'),
    ('public.marketing_events', 'events.read', 'events.write'),
    ('public.site_templates', 'templates.read', 'templates.write'),
    ('public.site_projects', 'sites.read', 'sites.write'),
    ('public.site_versions', 'sites.read', 'sites.write'),
    ('public.products', 'products.read', 'products.write'),
    ('public.prices', 'products.read', 'products.write'),
    ('public.billing_customers', 'subscriptions.read', 'subscriptions.write'),
    ('public.subscriptions', 'subscriptions.read', 'subscriptions.write'),
    ('public.usage_events', 'subscriptions.read', 'subscriptions.write'),
    ('public.invoices', 'payments.read', 'payments.write'),
    ('public.payments', 'payments.read', 'payments.write'),
    ('public.refunds', 'payments.read', 'payments.refund'),
    ('public.integrations', 'integrations.manage', 'integrations.manage'),
    ('public.sync_runs', 'integrations.manage', 'integrations.manage'),
    ('public.webhook_endpoints', 'integrations.manage', 'integrations.manage'),
    ('public.webhook_deliveries', 'integrations.manage', 'integrations.manage')
) p(t, r, w);

-- Customers: their own tickets, and opening new ones (open, unassigned).
create policy tickets_own_read on public.tickets for select to authenticated
    using (user_id = (select auth.uid()) and org_id = any ((select auth.org_ids())::uuid[]));
create policy tickets_own_insert on public.tickets for insert to authenticated
    with check (
        user_id = (select auth.uid()) and status = 'open' and assignee_id is null
        and org_id = any ((select auth.orgs_with('tickets.create'))::uuid[])
    );

-- Customers: the public messages of their own tickets, and replying to them.
create policy ticket_messages_own_read on public.ticket_messages for select to authenticated
    using (
        not internal and org_id = any ((select auth.org_ids())::uuid[])
        and exists (select 1 from public.tickets t where t.id = ticket_messages.ticket_id and t.user_id = (select auth.uid()))
    );
create policy ticket_messages_own_insert on public.ticket_messages for insert to authenticated
    with check (
        author_id = (select auth.uid()) and author_kind = 'customer' and not internal
        and org_id = any ((select auth.orgs_with('messages.create'))::uuid[])
        and exists (select 1 from public.tickets t
                where t.id = ticket_messages.ticket_id and t.user_id = (select auth.uid()) and t.org_id = ticket_messages.org_id)
    );

-- Customers: their own billing records.
create policy payments_own_read on public.payments for select to authenticated
    using (user_id = (select auth.uid()) and org_id = any ((select auth.org_ids())::uuid[]));
create policy invoices_own_read on public.invoices for select to authenticated
    using (user_id = (select auth.uid()) and org_id = any ((select auth.org_ids())::uuid[]));
create policy subscriptions_own_read on public.subscriptions for select to authenticated
    using (user_id = (select auth.uid()) and org_id = any ((select auth.org_ids())::uuid[]));
create policy billing_customers_own_read on public.billing_customers for select to authenticated
    using (user_id = (select auth.uid()) and org_id = any ((select auth.org_ids())::uuid[]));

-- Customer service: payments of customers who opened a ticket in the org.
create policy payments_ticket_customers_read on public.payments for select to authenticated
    using (
        org_id = any ((select auth.orgs_with('payments.read_ticket_customers'))::uuid[])
        and exists (select 1 from public.tickets t where t.org_id = payments.org_id and t.user_id = payments.user_id)
    );

-- Customers: their own site projects (and their versions), customizable with `sites.customize`.
create policy site_projects_own_read on public.site_projects for select to authenticated
    using (client_id = (select auth.uid()) and org_id = any ((select auth.org_ids())::uuid[]));
create policy site_projects_own_update on public.site_projects for update to authenticated
    using (client_id = (select auth.uid()) and org_id = any ((select auth.orgs_with('sites.customize'))::uuid[]))
    with check (client_id = (select auth.uid()) and org_id = any ((select auth.orgs_with('sites.customize'))::uuid[]));
create policy site_versions_own_read on public.site_versions for select to authenticated
    using (
        org_id = any ((select auth.org_ids())::uuid[])
        and exists (select 1 from public.site_projects p where p.id = site_versions.project_id and p.client_id = (select auth.uid()))
    );
create policy site_versions_own_insert on public.site_versions for insert to authenticated
    with check (
        org_id = any ((select auth.orgs_with('sites.customize'))::uuid[])
        and exists (select 1 from public.site_projects p
                where p.id = site_versions.project_id and p.client_id = (select auth.uid()) and p.org_id = site_versions.org_id)
    );
