-- Data-subject rights through contacts deleted before the request. Deleting a contact unlinks its
-- leads, tickets, billing customers and site projects (`on delete set null`) and deletes its
-- marketing events and activities; until now an export or erasure found the person's rows only
-- through their live contacts, so those rows — live but unlinked, or deleted — and their audit
-- entries were neither exported nor erased. The audit log still knows them:
--
-- * the person's deleted contacts: contacts whose `DELETE` entry shows the row carrying their
--   address or account when it went;
-- * a row's contact as the log last saw it: the latest entry of the row that names a contact —
--   its insert or an update setting `contact_id` (to a contact or to null), or its `DELETE` while
--   linked. A live row whose last such entry is the `set null` of the deletion of one of the
--   person's contacts is the person's; so is a row deleted while linked to one of their contacts,
--   or deleted after such an unlink — with every entry of it. A row unlinked by hand (a misfiled
--   lead put right, even if the contact goes later) is not theirs, nor is a row relinked to
--   someone else's contact. The deletion's `set null` is told from an unlink by hand by where it
--   stands in the org's chain: the foreign keys' actions fire their rows' triggers after the
--   contact's own, so the deletion's unlinks follow the contact's `DELETE` entry, while an unlink
--   by hand precedes it (once the contact is gone, nothing can point at it to be unlinked).
--
-- Also followed: the tickets, billing customers and site projects of their account deleted since,
-- and the messages deleted from their tickets (by hand, or with a deleted ticket), by their
-- `DELETE` entries. What an earlier erasure or the retention of the log removed cannot be followed.

-- The person's contacts that were deleted.
create or replace function private.subject_deleted_contacts(p_email text, p_org uuid, p_account uuid)
returns uuid[]
language sql stable security definer set search_path = ''
as $$
    select coalesce(array_agg(distinct a.row_id::uuid), '{}')
      from private.audit_log a
     where a.table_name = 'contacts' and a.op = 'DELETE' and (p_org is null or a.org_id = p_org)
       and (lower(a.changes -> 'old' ->> 'email') = lower(trim(p_email))
            or (p_account is not null and a.changes -> 'old' ->> 'user_id' = p_account::text))
       and not exists (select 1 from public.contacts c where c.id = a.row_id::uuid)
$$;
revoke execute on function private.subject_deleted_contacts(text, uuid, uuid) from public;

-- The rows of `p_table` whose contact as the log last saw it was one of `p_contacts` and which no
-- longer point at it: deleted while linked to one (or after the deletion of one of `p_deleted`
-- unlinked it), or live and unlinked by the deletion of one of `p_deleted` (the person's deleted
-- contacts; the top of this file says how that unlink is told from one by hand). An entry
-- redacted whole in migration 20261127000026's form that held `contact_id` counts as an unknown
-- contact. Whether an unlinked row is still live is for the caller to check. One pass over the
-- table's entries finds the rows that ever left one of those contacts; each one's last entry naming
-- a contact is then read through the `(table_name, row_id)` index.
create or replace function private.subject_rows_of_contacts(
    p_table text, p_contacts uuid[], p_deleted uuid[], p_org uuid
) returns text[]
language sql stable security definer set search_path = ''
as $$
    select coalesce(array_agg(c.row_id), '{}')
      from (select distinct a.row_id
              from private.audit_log a
             where cardinality(p_contacts) > 0 and a.table_name = p_table and (p_org is null or a.org_id = p_org)
               and (a.changes -> 'old' ->> 'contact_id') = any (p_contacts::text[])) c
     cross join lateral (
            select a.op, a.changes, a.chain, a.seq
              from private.audit_log a
             where a.table_name = p_table and a.row_id = c.row_id
               and (a.changes -> 'new' ? 'contact_id'
                    or (a.op = 'DELETE' and a.changes -> 'old' ->> 'contact_id' is not null)
                    or coalesce(a.changes -> 'redacted' ? 'contact_id', false))
             order by a.id desc
             limit 1) l
     where (l.op = 'DELETE' and (l.changes -> 'old' ->> 'contact_id') = any (p_contacts::text[]))
        or (l.changes -> 'new' -> 'contact_id' = 'null'::jsonb
            and (l.changes -> 'old' ->> 'contact_id') = any (p_deleted::text[])
            -- The unlink of the contact's deletion: it follows the contact's `DELETE` entry.
            and exists (
                select 1 from private.audit_log e
                 where e.chain = l.chain and e.seq < l.seq and e.table_name = 'contacts' and e.op = 'DELETE'
                   and e.row_id = l.changes -> 'old' ->> 'contact_id'))
$$;
revoke execute on function private.subject_rows_of_contacts(text, uuid[], uuid[], uuid) from public;

-- The rows that refer to the person, by table: as in 20261126000015, and also the live rows
-- unlinked from the person's contacts; the leads are listed here now, and the deleted contacts.
-- `via_log` holds what `subject_rows_of_contacts` found per table (live or not), for
-- `subject_logged_rows`, so the log is read once per table.
drop function private.subject_scope(text, uuid);
create function private.subject_scope(p_email text, p_org uuid)
returns table (account uuid, contacts uuid[], tickets uuid[], customers uuid[], projects uuid[], leads uuid[],
               deleted_contacts uuid[], via_log jsonb)
language plpgsql stable security definer set search_path = ''
as $$
declare
    v_email text := lower(trim(p_email));
    v_theirs uuid[];
    v_found text[];
begin
    account := (select u.id from auth.users u where u.email = v_email);
    contacts := array(select c.id from public.contacts c
        where (p_org is null or c.org_id = p_org)
          and ((account is not null and c.user_id = account) or lower(c.email) = v_email));
    deleted_contacts := private.subject_deleted_contacts(p_email, p_org, account);
    v_theirs := contacts || deleted_contacts;
    via_log := (select jsonb_object_agg(t, private.subject_rows_of_contacts(t, v_theirs, deleted_contacts, p_org))
                from unnest(array['tickets', 'billing_customers', 'site_projects', 'leads']) t);
    v_found := array(select jsonb_array_elements_text(via_log -> 'tickets'));
    tickets := array(select t.id from public.tickets t
        where (p_org is null or t.org_id = p_org)
          and ((account is not null and t.user_id = account) or t.contact_id = any (contacts)
               or (t.contact_id is null and t.id::text = any (v_found))));
    v_found := array(select jsonb_array_elements_text(via_log -> 'billing_customers'));
    customers := array(select b.id from public.billing_customers b
        where (p_org is null or b.org_id = p_org)
          and ((account is not null and b.user_id = account) or b.contact_id = any (contacts)
               or lower(b.email) = v_email or (b.contact_id is null and b.id::text = any (v_found))));
    v_found := array(select jsonb_array_elements_text(via_log -> 'site_projects'));
    projects := array(select p.id from public.site_projects p
        where (p_org is null or p.org_id = p_org)
          and ((account is not null and p.client_id = account) or p.contact_id = any (contacts)
               or (p.contact_id is null and p.id::text = any (v_found))));
    v_found := array(select jsonb_array_elements_text(via_log -> 'leads'));
    leads := array(select l.id from public.leads l
        where (p_org is null or l.org_id = p_org)
          and (l.contact_id = any (contacts) or (l.contact_id is null and l.id::text = any (v_found))));
    return next;
end
$$;
revoke execute on function private.subject_scope(text, uuid) from public;

-- The rows the audit log ties to the person beyond the live ones of `subject_scope` (whose
-- account, contacts, deleted contacts, tickets and `via_log` are passed in, found before an
-- erasure changes anything): their deleted contacts; the rows whose contact as the log last saw it
-- was one of theirs (the scope's `via_log`, and the marketing events; the live ones among them are
-- in the scope too); the tickets, billing customers and site projects of their account deleted
-- since; and the messages deleted from their tickets, live or deleted (those the person wrote, or
-- any customer-side message, as erasure anonymizes).
create or replace function private.subject_logged_rows(
    p_org uuid, p_account uuid, p_contacts uuid[], p_deleted uuid[], p_tickets uuid[], p_via_log jsonb
) returns table (table_name text, row_id text)
language sql stable security definer set search_path = ''
as $$
    with logged (table_name, row_id) as (
        select 'contacts', unnest(p_deleted)::text
        union all
        select f.key, r from jsonb_each(p_via_log) f, jsonb_array_elements_text(f.value) r
        union all
        select 'marketing_events', r
          from unnest(private.subject_rows_of_contacts('marketing_events', p_contacts || p_deleted, p_deleted, p_org)) r
        union all
        select a.table_name, a.row_id
          from private.audit_log a
         where p_account is not null and a.op = 'DELETE' and (p_org is null or a.org_id = p_org)
           and a.table_name in ('tickets', 'billing_customers', 'site_projects')
           and a.changes -> 'old' ->> (case a.table_name when 'site_projects' then 'client_id' else 'user_id' end)
               = p_account::text)
    select l.table_name, l.row_id from logged l
    union all
    select 'ticket_messages', a.row_id
      from private.audit_log a
     where a.table_name = 'ticket_messages' and a.op = 'DELETE' and (p_org is null or a.org_id = p_org)
       and ((a.changes -> 'old' ->> 'ticket_id') = any (p_tickets::text[])
            or (a.changes -> 'old' ->> 'ticket_id') in (select l.row_id from logged l where l.table_name = 'tickets'))
       and (a.changes -> 'old' ->> 'author_kind' = 'customer'
            or (p_account is not null and a.changes -> 'old' ->> 'author_id' = p_account::text))
$$;
revoke execute on function private.subject_logged_rows(uuid, uuid, uuid[], uuid[], uuid[], jsonb) from public;

-- The export as in 20261126000015, with the leads of `subject_scope` (those unlinked from a deleted
-- contact of theirs too) and the audit entries of the rows only the log ties to them.
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
                  where l.id = any (s.leads)),
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
                   where e ? 'id') || array[s.account::text]
             || array(select r.row_id
                      from private.subject_logged_rows(p_org, s.account, s.contacts, s.deleted_contacts, s.tickets, s.via_log) r);
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


-- Erasure as in 20261127000027, with the leads of `subject_scope`, and the audit entries of the rows
-- only the log ties to the person (`subject_logged_rows`, found before anything is anonymized: the
-- anonymized contacts and account would lead nowhere) redacted like those of the live ones.
create or replace function private.subject_erase(p_email text, p_org uuid default null) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
    s record;
    v_email_hash text := private.subject_email_digest(p_email);
    v_files jsonb := '[]';
    v_counts jsonb;
    v_org uuid;
    v_redacted jsonb;
    v_unredactable bigint;
    v_invitations uuid[] := private.subject_invitations(p_email, p_org);
    v_logged_tables text[];
    v_logged_rows text[];
    n_contacts bigint; n_messages bigint; n_tickets bigint; n_leads bigint; n_events bigint; n_customers bigint;
    n_invitations bigint;
begin
    select * into s from private.subject_scope(p_email, p_org);
    -- Before anything is anonymized: the live contacts and the account lead to these rows.
    select coalesce(array_agg(r.table_name), '{}'), coalesce(array_agg(r.row_id), '{}')
      into v_logged_tables, v_logged_rows
      from private.subject_logged_rows(p_org, s.account, s.contacts, s.deleted_contacts, s.tickets, s.via_log) r;
    with gone as (
        delete from storage.objects o
        where o.id in (select f.id from private.subject_files(p_email, p_org) f where f.bucket_id <> 'site-assets')
        returning o.bucket_id, o.name, o.version)
    select coalesce(jsonb_agg(jsonb_build_object('bucket', g.bucket_id, 'name', g.name, 'version', g.version)), '[]')
      into v_files from gone g;

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
    update public.leads set title = '[erased]', lead_details = '{}' where id = any (s.leads);
    get diagnostics n_leads = row_count;
    update public.marketing_events set properties = '{}' where contact_id = any (s.contacts);
    get diagnostics n_events = row_count;
    update public.billing_customers set email = null where id = any (s.customers);
    get diagnostics n_customers = row_count;
    delete from public.org_invitations where id = any (v_invitations);
    get diagnostics n_invitations = row_count;
    if p_org is null and s.account is not null then
        update public.profiles set email = null, full_name = null, avatar_url = null where id = s.account;
        delete from auth.identities where user_id = s.account;
        delete from auth.sessions where user_id = s.account;
        delete from auth.mfa_factors where user_id = s.account;
        delete from auth.mfa_recovery_codes where user_id = s.account;
        delete from auth.one_time_tokens where user_id = s.account;
        update auth.audit_log_entries set ip = null, user_agent = null where actor_id = s.account;
        update auth.users set email = null, encrypted_password = null, email_change = null,
            raw_user_meta_data = '{}', deleted_at = now(), banned_until = 'infinity'
        where id = s.account;
    end if;
    perform set_config('bizbase.erasing', 'off', true);

    perform set_config('bizbase.audit_redacting', 'on', true);
    with about(table_name, row_id) as (
        select 'contacts', unnest(s.contacts)::text
        union all select 'tickets', unnest(s.tickets)::text
        union all select 'billing_customers', unnest(s.customers)::text
        union all select 'org_invitations', unnest(v_invitations)::text
        union all select 'ticket_messages', m.id::text from public.ticket_messages m
                  where m.ticket_id = any (s.tickets) and (m.author_kind = 'customer' or m.author_id = s.account)
        union all select 'leads', unnest(s.leads)::text
        union all select 'marketing_events', e.id::text from public.marketing_events e
                  where e.contact_id = any (s.contacts)
        union all select 'profiles', s.account::text where p_org is null and s.account is not null
        union all select t, r from unnest(v_logged_tables, v_logged_rows) u(t, r)),
    -- The entries about those rows holding a column the erasure anonymizes, and the entries that hold
    -- their address in a row that no longer does (deleted, or given another address: only those
    -- entries, the row's later history is not theirs). Read in full: erasures are rare. (An earlier
    -- erasure's own entries, `{"erased": …}`, hold no values and stay as they are.)
    x as (
        select a.id, a.changes, a.changes_seed, a.changes_salt, a.changes_digest, c.columns
          from private.audit_log a
          join private.subject_erased_columns() c on c.table_name = a.table_name
         where not a.changes ? 'erased' and (p_org is null or a.org_id = p_org)
           and private.audit_columns(a.changes) ?| c.columns
           and ((a.table_name, a.row_id) in (select table_name, row_id from about)
                or (a.table_name in ('contacts', 'billing_customers', 'org_invitations', 'profiles')
                    and (a.table_name <> 'profiles' or p_org is null)
                    and lower(trim(p_email)) in (lower(a.changes -> 'new' ->> 'email'),
                                                 lower(a.changes -> 'old' ->> 'email'))))),
    seeded as (
        update private.audit_log a
           -- (An object emptied by the removal goes: an empty object is a leaf of its own.)
           set changes = (select coalesce(jsonb_object_agg(t.key, case when jsonb_typeof(t.value) = 'object'
                                                                       then t.value - x.columns else t.value end)
                                            filter (where jsonb_typeof(t.value) <> 'object' or t.value = '{}'
                                                    or t.value - x.columns <> '{}'), '{}')
                            from jsonb_each(x.changes) t),
               changes_leaves = (select jsonb_object_agg(l.path, case
                       when (l.path::jsonb ->> 1) = any (x.columns)
                       then jsonb_build_object('digest', private.audit_leaf_digest(
                                private.audit_leaf_salt(x.changes_seed, l.path), l.value))
                       else jsonb_build_object('salt', encode(private.audit_leaf_salt(x.changes_seed, l.path), 'hex'))
                       end)
                   from private.audit_leaves(x.changes) l),
               changes_seed = null
          from x
         where a.id = x.id and x.changes_seed is not null
        returning a.chain, a.seq,
                  jsonb_build_object('removed', (select jsonb_agg(c order by c)
                      from jsonb_array_elements_text(private.audit_columns(x.changes)) c where c = any (x.columns)))
                  as columns),
    whole as (
        update private.audit_log a
           set changes = jsonb_build_object('redacted', private.audit_columns(a.changes)), changes_salt = null
          from x
         where a.id = x.id and x.changes_salt is not null
        returning a.chain, a.seq, a.changes -> 'redacted' as columns),
    redacted as (select * from seeded union all select * from whole)
    select coalesce((select jsonb_object_agg(chain::text, seqs)
                     from (select chain, jsonb_object_agg(seq::text, columns) seqs from redacted group by chain) r), '{}'),
           -- (Entries in the form before digests, and any a column the erasure anonymizes was added to
           -- after they were redacted.)
           (select count(*) from x where x.changes_seed is null and x.changes_salt is null)
      into v_redacted, v_unredactable;
    perform set_config('bizbase.audit_redacting', 'off', true);
    v_counts := jsonb_build_object('contacts', n_contacts, 'ticket_messages', n_messages, 'tickets', n_tickets,
        'leads', n_leads, 'marketing_events', n_events, 'billing_customers', n_customers,
        'org_invitations', n_invitations, 'files', jsonb_array_length(v_files),
        'account', p_org is null and s.account is not null);
    -- One audit entry per org the person appeared in (or the org asked about) and per chain holding
    -- a redacted entry, without their e-mail, naming the entries redacted in that chain
    -- (`{"<seq>": {"removed": [columns]} or [columns], …}`).
    for v_org in
        select distinct o from unnest(case when p_org is not null then array[p_org] else array(
            select c.org_id from public.contacts c where c.id = any (s.contacts)
            union select m.org_id from public.org_members m where m.user_id = s.account
            union select nullif(k, '00000000-0000-0000-0000-000000000000')::uuid from jsonb_object_keys(v_redacted) k
            union select null::uuid) end) o
    loop
        perform private.audit_append(v_org, 'data_subject', coalesce(s.account::text, v_email_hash), 'ERASE',
            jsonb_build_object('email_digest', v_email_hash, 'erased', v_counts,
                'redacted', coalesce(v_redacted -> coalesce(v_org, '00000000-0000-0000-0000-000000000000')::text, '{}')));
    end loop;
    return jsonb_build_object('user_id', s.account, 'org_id', p_org, 'erased', v_counts, 'files', v_files,
        'audit_redacted', (select count(*) from jsonb_each(v_redacted) x(k, v), jsonb_object_keys(x.v)),
        'audit_unredactable', v_unredactable);
end
$$;

