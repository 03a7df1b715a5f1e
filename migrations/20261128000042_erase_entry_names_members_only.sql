-- An org's erasure of a person who is not its member no longer names their account in the org's
-- audit log. Migration 20261128000034 stopped the org-scoped export and erasure from returning such
-- a person's account, but the erasure's `ERASE` entry, which the org's admins read, still carried
-- the account's id as its row id — telling whether an address has an account, and which. It now
-- names the account only in the operator's erasure (every org) and in an org the account is a
-- member of; otherwise the address's digest, as for an address without an account.
--
-- Erasure as in 20261127000028, with that one change (`v_named`).
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
    v_named uuid;
begin
    select * into s from private.subject_scope(p_email, p_org);
    -- The account the `ERASE` entries name: within one org, only a member's (before anything changes).
    if p_org is null or private.subject_is_member(p_email, p_org) then
        v_named := s.account;
    end if;
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
        perform private.audit_append(v_org, 'data_subject', coalesce(v_named::text, v_email_hash), 'ERASE',
            jsonb_build_object('email_digest', v_email_hash, 'erased', v_counts,
                'redacted', coalesce(v_redacted -> coalesce(v_org, '00000000-0000-0000-0000-000000000000')::text, '{}')));
    end loop;
    return jsonb_build_object('user_id', s.account, 'org_id', p_org, 'erased', v_counts, 'files', v_files,
        'audit_redacted', (select count(*) from jsonb_each(v_redacted) x(k, v), jsonb_object_keys(x.v)),
        'audit_unredactable', v_unredactable);
end
$$;
