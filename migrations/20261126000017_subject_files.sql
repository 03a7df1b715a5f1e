-- Data-subject rights and files, and the orphan sweep's lookup.
--
-- The files that refer to a person are now those their account uploaded (everywhere, or within
-- one org's folders of the per-org buckets) and every attachment of their tickets and asset of
-- their site projects. Exports list them with their storage version (the operator's export and
-- `POST /functions/v1/subject-export` add their bytes); erasure deletes them — except site assets,
-- which are the business's deliverables and stay with the (kept) site project — and hands their
-- versions back so the caller deletes the bytes at once (the orphan sweep would within the hour).

-- The sweep asks "does any row still name this version?" for batches of blobs.
create index objects_version_idx on storage.objects (version);

create or replace function private.subject_files(p_email text, p_org uuid) returns setof storage.objects
language sql stable security definer set search_path = ''
as $$
    select o.*
    from private.subject_scope(p_email, p_org) s, storage.objects o
    where (s.account is not null and o.owner = s.account
           and (p_org is null or storage.folder_uuid(o.name, 1) = p_org))
       or (o.bucket_id = 'ticket-attachments' and exists (
               select 1 from public.tickets t
               where t.id = any (s.tickets) and t.id = storage.folder_uuid(o.name, 2)
                 and t.org_id = storage.folder_uuid(o.name, 1)))
       or (o.bucket_id = 'site-assets' and exists (
               select 1 from public.site_projects p
               where p.id = any (s.projects) and p.id = storage.folder_uuid(o.name, 2)
                 and p.org_id = storage.folder_uuid(o.name, 1)))
    order by o.created_at, o.bucket_id, o.name
$$;

-- The export document with the files of `subject_files`.
create or replace function private.subject_document(p_email text, p_org uuid default null) returns jsonb
language sql stable security definer set search_path = ''
as $$
    select private.subject_export(p_email, p_org) || jsonb_build_object('files', (
        select coalesce(jsonb_agg(jsonb_build_object('id', f.id, 'bucket', f.bucket_id, 'name', f.name,
                   'version', f.version, 'owner', f.owner, 'metadata', f.metadata, 'created_at', f.created_at)), '[]')
        from private.subject_files(p_email, p_org) f))
$$;

-- Erasure as before, with the files of `subject_files` (resolved before anything is anonymized).
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
    update public.leads set title = '[erased]', lead_details = '{}' where contact_id = any (s.contacts);
    get diagnostics n_leads = row_count;
    update public.marketing_events set properties = '{}' where contact_id = any (s.contacts);
    get diagnostics n_events = row_count;
    update public.billing_customers set email = null where id = any (s.customers);
    get diagnostics n_customers = row_count;
    if p_org is null and s.account is not null then
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

create or replace function public.subject_export(org uuid, email text) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
begin
    if not auth.can(org, 'data.export') then
        raise exception 'permission denied: data.export needs an admin with a second factor' using errcode = '42501';
    end if;
    return private.subject_document(email, org);
end
$$;

-- Now with the files removed (bucket, name, version), so `/functions/v1/subject-erase` can delete
-- their bytes.
create or replace function public.subject_erase(org uuid, email text) returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
    if not auth.can(org, 'data.erase') then
        raise exception 'permission denied: data.erase needs an admin with a second factor' using errcode = '42501';
    end if;
    return private.subject_erase(email, org);
end
$$;
