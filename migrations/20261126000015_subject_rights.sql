-- Data-subject rights (GDPR access and erasure, CCPA): everything that refers to one person —
-- their account, profile and memberships, the contacts carrying their e-mail or account, the
-- tickets and messages, leads, deals, activities, marketing events and consents of those
-- contacts, their billing records, site projects, files and the audit entries about them —
-- exported as one JSON document, or anonymized while the financial records the law requires
-- (payments, invoices, refunds, subscriptions) are kept.
--
-- `private.subject_export/erase(email, org)` do the work (org null: every org, and the account
-- itself); `bizbase subject export|erase --email` call them as the operator, and org admins call
-- `rpc('subject_export'|'subject_erase', { org, email })`, which need `data.export` /
-- `data.erase` — sensitive permissions, so always a second factor (aal2).

insert into private.role_permission_presets (role, permission) values ('admin', 'data.erase')
on conflict do nothing;
insert into public.role_permissions (org_id, role, permission)
select id, 'admin', 'data.erase' from public.orgs
on conflict do nothing;

create or replace function private.is_sensitive(permission text) returns boolean
language sql immutable
as $$
    select permission in ('payments.refund', 'data.export', 'data.erase', 'roles.manage', 'members.manage')
$$;

-- The rows that refer to the person, by table, within `org` (or everywhere).
create or replace function private.subject_scope(p_email text, p_org uuid)
returns table (account uuid, contacts uuid[], tickets uuid[], customers uuid[], projects uuid[])
language plpgsql stable security definer set search_path = ''
as $$
declare
    v_email text := lower(trim(p_email));
begin
    account := (select u.id from auth.users u where u.email = v_email);
    contacts := array(select c.id from public.contacts c
        where (p_org is null or c.org_id = p_org)
          and ((account is not null and c.user_id = account) or lower(c.email) = v_email));
    tickets := array(select t.id from public.tickets t
        where (p_org is null or t.org_id = p_org)
          and ((account is not null and t.user_id = account) or t.contact_id = any (contacts)));
    customers := array(select b.id from public.billing_customers b
        where (p_org is null or b.org_id = p_org)
          and ((account is not null and b.user_id = account) or b.contact_id = any (contacts)
               or lower(b.email) = v_email));
    projects := array(select p.id from public.site_projects p
        where (p_org is null or p.org_id = p_org)
          and ((account is not null and p.client_id = account) or p.contact_id = any (contacts)));
    return next;
end
$$;

create or replace function private.subject_export(p_email text, p_org uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
    s record;
    v_payments uuid[];
    v_ids text[];
    v_doc jsonb;
begin
    select * into s from private.subject_scope(p_email, p_org);
    v_payments := array(select p.id from public.payments p
        where (p_org is null or p.org_id = p_org)
          and ((s.account is not null and p.user_id = s.account) or p.customer_id = any (s.customers)));
    v_doc := jsonb_build_object(
        'subject', jsonb_build_object('email', lower(trim(p_email)), 'user_id', s.account, 'org_id', p_org,
                                      'exported_at', now()),
        'account', (select to_jsonb(u) - 'encrypted_password' from auth.users u where u.id = s.account),
        'identities', (select coalesce(jsonb_agg(to_jsonb(i) order by i.created_at), '[]')
                       from auth.identities i where i.user_id = s.account),
        'profile', (select to_jsonb(p) from public.profiles p where p.id = s.account),
        'memberships', (select coalesce(jsonb_agg(to_jsonb(m) order by m.created_at), '[]') from public.org_members m
                        where m.user_id = s.account and (p_org is null or m.org_id = p_org)),
        'contacts', (select coalesce(jsonb_agg(to_jsonb(c) order by c.created_at), '[]') from public.contacts c
                     where c.id = any (s.contacts)),
        'consents', (select coalesce(jsonb_agg(jsonb_build_object('contact_id', c.id, 'org_id', c.org_id,
                         'marketing_consent', c.marketing_consent, 'consent_at', c.consent_at) order by c.created_at), '[]')
                     from public.contacts c where c.id = any (s.contacts)),
        'leads', (select coalesce(jsonb_agg(to_jsonb(l) order by l.created_at), '[]') from public.leads l
                  where l.contact_id = any (s.contacts)),
        'deals', (select coalesce(jsonb_agg(to_jsonb(d) order by d.created_at), '[]') from public.deals d
                  where d.contact_id = any (s.contacts)),
        'activities', (select coalesce(jsonb_agg(to_jsonb(a) order by a.created_at), '[]') from public.activities a
                       where a.contact_id = any (s.contacts)),
        'tickets', (select coalesce(jsonb_agg(to_jsonb(t) order by t.created_at), '[]') from public.tickets t
                    where t.id = any (s.tickets)),
        'ticket_messages', (select coalesce(jsonb_agg(to_jsonb(m) order by m.created_at), '[]') from public.ticket_messages m
                            where m.ticket_id = any (s.tickets) and (not m.internal or m.author_id = s.account)),
        'marketing_events', (select coalesce(jsonb_agg(to_jsonb(e) order by e.occurred_at), '[]') from public.marketing_events e
                             where e.contact_id = any (s.contacts)),
        'billing_customers', (select coalesce(jsonb_agg(to_jsonb(b) order by b.created_at), '[]') from public.billing_customers b
                              where b.id = any (s.customers)),
        'subscriptions', (select coalesce(jsonb_agg(to_jsonb(x) order by x.created_at), '[]') from public.subscriptions x
                          where x.customer_id = any (s.customers)),
        'invoices', (select coalesce(jsonb_agg(to_jsonb(x) order by x.created_at), '[]') from public.invoices x
                     where x.customer_id = any (s.customers)),
        'payments', (select coalesce(jsonb_agg(to_jsonb(x) order by x.created_at), '[]') from public.payments x
                     where x.id = any (v_payments)),
        'refunds', (select coalesce(jsonb_agg(to_jsonb(x) order by x.created_at), '[]') from public.refunds x
                    where x.payment_id = any (v_payments)),
        'site_projects', (select coalesce(jsonb_agg(to_jsonb(x) order by x.created_at), '[]') from public.site_projects x
                          where x.id = any (s.projects)),
        'files', (select coalesce(jsonb_agg(jsonb_build_object('bucket', o.bucket_id, 'name', o.name,
                      'metadata', o.metadata, 'created_at', o.created_at) order by o.created_at), '[]')
                  from storage.objects o where p_org is null and s.account is not null and o.owner = s.account)
    );
    -- The audit entries about them: their own actions, and changes to any row of the document.
    v_ids := array(select e ->> 'id' from jsonb_each(v_doc) kv,
                   jsonb_array_elements(case when jsonb_typeof(kv.value) = 'array' then kv.value else '[]' end) e
                   where e ? 'id') || array[s.account::text];
    return v_doc || jsonb_build_object('audit', (
        select coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'at', a.at, 'org_id', a.org_id,
                   'actor_id', a.actor_id, 'table', a.table_name, 'row_id', a.row_id, 'op', a.op,
                   'changes', a.changes) order by a.id), '[]')
        from private.audit_log a
        where (p_org is null or a.org_id = p_org)
          and ((s.account is not null and a.actor_id = s.account)
               or a.row_id = any (v_ids)
               or (a.table_name = 'org_members' and a.row_id like '%,' || s.account::text))));
end
$$;

-- While an erasure runs, the audit trigger records which columns were erased, not their values.
create or replace function private.audit() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
    v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
    v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
    v_row jsonb := coalesce(v_new, v_old);
    v_changes jsonb;
    v_changed bigint;
    v_org uuid;
    v_id text;
    v_erasing boolean := coalesce(current_setting('bizbase.erasing', true), '') = 'on';
begin
    if tg_op = 'UPDATE' then
        select case when v_erasing
                    then jsonb_build_object('erased', coalesce(jsonb_agg(k order by k), '[]'))
                    else jsonb_build_object(
                        'old', coalesce(jsonb_object_agg(k, v_old -> k), '{}'),
                        'new', coalesce(jsonb_object_agg(k, v_new -> k), '{}')) end,
               count(*)
          into v_changes, v_changed
          from jsonb_object_keys(v_new) k
         where k <> 'updated_at' and (v_old -> k) is distinct from (v_new -> k);
        if v_changed = 0 then
            return null;
        end if;
    elsif tg_op = 'INSERT' then
        v_changes := jsonb_build_object('new', v_new);
    elsif v_erasing then
        v_changes := jsonb_build_object('erased', true);
    else
        v_changes := jsonb_build_object('old', v_old);
    end if;
    v_org := case when tg_table_name = 'orgs' then (v_row ->> 'id')::uuid else (v_row ->> 'org_id')::uuid end;
    v_id := coalesce(v_row ->> 'id', (
        select string_agg(v_row ->> a.attname, ',' order by k.n)
        from pg_index i cross join unnest(i.indkey) with ordinality k(attnum, n)
        join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
        where i.indrelid = tg_relid and i.indisprimary));
    perform private.audit_append(v_org, tg_table_name, v_id, tg_op, v_changes);
    return null;
end
$$;

-- Anonymizes what refers to the person and returns what was done (and, when erasing everywhere,
-- the storage versions whose bytes the caller deletes). Financial records stay, their link to the
-- person now pointing at an anonymous account or contact.
create or replace function private.subject_erase(p_email text, p_org uuid default null) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
    s record;
    v_email_hash text := encode(sha256(convert_to(lower(trim(p_email)), 'UTF8')), 'hex');
    v_files jsonb := '[]';
    v_counts jsonb;
    v_org uuid;
    n_contacts bigint; n_messages bigint; n_tickets bigint; n_leads bigint; n_events bigint; n_customers bigint;
begin
    select * into s from private.subject_scope(p_email, p_org);
    perform set_config('bizbase.erasing', 'on', true);
    update public.contacts set first_name = null, last_name = null, email = null, phone = null, title = null,
        tags = '{}', marketing_consent = false, consent_at = null, user_id = null
    where id = any (s.contacts);
    get diagnostics n_contacts = row_count;
    update public.ticket_messages set body = '[erased]', sentiment = null, sentiment_label = null
    where ticket_id = any (s.tickets) and (author_kind = 'customer' or author_id = s.account);
    get diagnostics n_messages = row_count;
    update public.tickets set subject = '[erased]', issue = '' where id = any (s.tickets);
    get diagnostics n_tickets = row_count;
    update public.leads set title = '[erased]', lead_details = '{}' where contact_id = any (s.contacts);
    get diagnostics n_leads = row_count;
    update public.marketing_events set properties = '{}' where contact_id = any (s.contacts);
    get diagnostics n_events = row_count;
    update public.billing_customers set email = null where id = any (s.customers);
    get diagnostics n_customers = row_count;
    if p_org is null and s.account is not null then
        select coalesce(jsonb_agg(jsonb_build_object('bucket', o.bucket_id, 'name', o.name, 'version', o.version)), '[]')
          into v_files from storage.objects o where o.owner = s.account;
        delete from storage.objects where owner = s.account;
        update public.profiles set email = null, full_name = null, avatar_url = null where id = s.account;
        delete from auth.identities where user_id = s.account;
        delete from auth.sessions where user_id = s.account;
        delete from auth.mfa_factors where user_id = s.account;
        delete from auth.mfa_recovery_codes where user_id = s.account;
        delete from auth.one_time_tokens where user_id = s.account;
        update auth.users set email = null, encrypted_password = null, email_change = null,
            raw_user_meta_data = '{}', deleted_at = now(), banned_until = 'infinity'
        where id = s.account;
    end if;
    perform set_config('bizbase.erasing', 'off', true);
    v_counts := jsonb_build_object('contacts', n_contacts, 'ticket_messages', n_messages, 'tickets', n_tickets,
        'leads', n_leads, 'marketing_events', n_events, 'billing_customers', n_customers,
        'files', jsonb_array_length(v_files), 'account', p_org is null and s.account is not null);
    -- One audit entry per org the person appeared in (or the org asked about), without their e-mail.
    for v_org in
        select distinct o from unnest(case when p_org is not null then array[p_org] else array(
            select c.org_id from public.contacts c where c.id = any (s.contacts)
            union select m.org_id from public.org_members m where m.user_id = s.account
            union select null::uuid) end) o
    loop
        perform private.audit_append(v_org, 'data_subject', coalesce(s.account::text, v_email_hash), 'ERASE',
            jsonb_build_object('email_sha256', v_email_hash, 'erased', v_counts));
    end loop;
    return jsonb_build_object('user_id', s.account, 'org_id', p_org, 'erased', v_counts, 'files', v_files);
end
$$;

-- What org admins call (aal2 through the sensitive permissions).
create or replace function public.subject_export(org uuid, email text) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
    if not auth.can(org, 'data.export') then
        raise exception 'permission denied: data.export needs an admin with a second factor' using errcode = '42501';
    end if;
    return private.subject_export(email, org);
end
$$;

create or replace function public.subject_erase(org uuid, email text) returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
    if not auth.can(org, 'data.erase') then
        raise exception 'permission denied: data.erase needs an admin with a second factor' using errcode = '42501';
    end if;
    return private.subject_erase(email, org) - 'files';
end
$$;

revoke execute on function public.subject_export(uuid, text), public.subject_erase(uuid, text) from public;
grant execute on function public.subject_export(uuid, text), public.subject_erase(uuid, text)
    to authenticated, service_role;
