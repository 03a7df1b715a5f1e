-- Erasure reaches the audit log. Until now an entry's hash covered its `changes` verbatim, so the
-- values an erasure anonymized (a contact's name and e-mail, a ticket's text, …) stayed readable
-- in the entries written before it — to org admins through `audit_entries` and in exports.
--
-- From now on an entry's hash covers a digest of its changes instead:
--   changes_digest = hex(sha256(changes_salt || '|' || changes::text)), with a random salt per entry,
--   hash           = sha256(prev_hash || '|' || canonical), the digest in place of the changes.
-- While the salt is kept, `bizbase audit verify` recomputes the digest from the changes, so an
-- edited entry is found as before. An erasure redacts the entries about the rows it anonymizes:
-- their changes become `{"redacted": [the column names]}` and their salt is dropped, so the digest
-- can no longer confirm a guess of the values; the chain still verifies actor, table, row,
-- operation and time. Each redaction is named (its `seq` and column list) in the erasure's own
-- `ERASE` entry of that chain, which stays salted; `audit verify` reports a redacted entry that no
-- intact, later `ERASE` entry names, or whose changes differ from what that entry recorded.
--
-- Chains written before this migration are verified here and, if intact, re-hashed in the new
-- form from their stored anchors; a chain that does not verify is left as it is (a warning says
-- which), so re-hashing can never launder a forgery — `audit verify` keeps reporting it, and its
-- old entries cannot be redacted.
--
-- Erasure also deletes the org invitations sent to the person's address, and exports list them.

alter table private.audit_log add column changes_salt bytea, add column changes_digest text;

create or replace function private.audit_digest(p_salt bytea, p_changes jsonb) returns text
language sql immutable
as $$
    select encode(sha256(p_salt || convert_to('|' || p_changes::text, 'UTF8')), 'hex')
$$;

-- The canonical text with the changes' part given as text: the digest (new entries) or
-- `changes::text` (entries written before this migration, through the jsonb form below).
create or replace function private.audit_canonical(
    chain uuid, seq bigint, org_id uuid, actor_id uuid, actor_role text, table_name text,
    row_id text, op text, content text, request_id text, at timestamptz
) returns text
language sql immutable
as $$
    select concat_ws('|', chain::text, seq::text, coalesce(org_id::text, ''), coalesce(actor_id::text, ''),
        coalesce(actor_role, ''), table_name, coalesce(row_id, ''), op, content,
        coalesce(request_id, ''), to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
$$;

create or replace function private.audit_canonical(
    chain uuid, seq bigint, org_id uuid, actor_id uuid, actor_role text, table_name text,
    row_id text, op text, changes jsonb, request_id text, at timestamptz
) returns text
language sql immutable
as $$
    select private.audit_canonical(chain, seq, org_id, actor_id, actor_role, table_name, row_id, op,
        changes::text, request_id, at)
$$;

-- The hash of an entry whose changes' part is `content`.
create or replace function private.audit_hash(p_prev text, e private.audit_log, p_content text) returns text
language sql immutable
as $$
    select encode(sha256(convert_to(p_prev || '|' || private.audit_canonical(e.chain, e.seq, e.org_id,
        e.actor_id, e.actor_role, e.table_name, e.row_id, e.op, p_content, e.request_id, e.at), 'UTF8')), 'hex')
$$;

create or replace function private.audit_append(
    p_org uuid, p_table text, p_row text, p_op text, p_changes jsonb
) returns void
language plpgsql security definer set search_path = ''
as $$
declare
    v_chain uuid := coalesce(p_org, '00000000-0000-0000-0000-000000000000');
    v_seq bigint;
    v_prev text;
    v_entry private.audit_log;
    v_salt bytea := uuid_send(gen_random_uuid());
    v_digest text := private.audit_digest(v_salt, p_changes);
begin
    select seq, hash into v_seq, v_prev from private.audit_chains where chain = v_chain for update;
    if not found then
        insert into private.audit_chains (chain) values (v_chain) on conflict do nothing;
        select seq, hash into v_seq, v_prev from private.audit_chains where chain = v_chain for update;
    end if;
    v_entry.chain := v_chain;
    v_entry.seq := v_seq + 1;
    v_entry.org_id := p_org;
    v_entry.actor_id := auth.uid();
    v_entry.actor_role := coalesce(nullif(auth.jwt() ->> 'role', ''), session_user::text);
    v_entry.table_name := p_table;
    v_entry.row_id := p_row;
    v_entry.op := p_op;
    v_entry.request_id := coalesce(
        nullif(current_setting('request.id', true), ''),
        nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-request-id'
    );
    v_entry.at := clock_timestamp();
    v_entry.hash := private.audit_hash(v_prev, v_entry, v_digest);
    insert into private.audit_log (chain, seq, org_id, actor_id, actor_role, table_name, row_id, op, changes,
                                   changes_salt, changes_digest, request_id, at, prev_hash, hash)
    values (v_chain, v_entry.seq, p_org, v_entry.actor_id, v_entry.actor_role, p_table, p_row, p_op, p_changes,
            v_salt, v_digest, v_entry.request_id, v_entry.at, v_prev, v_entry.hash);
    update private.audit_chains set seq = v_entry.seq, hash = v_entry.hash where chain = v_chain;
end
$$;

-- Append-only, but for retention (whole prefixes), an erasure's redaction (the changes and the
-- salt of a salted entry other than an erasure's own, nothing else) and the re-hashing below.
create or replace function private.audit_immutable() returns trigger
language plpgsql
as $$
begin
    if tg_op = 'DELETE' and current_setting('bizbase.audit_pruning', true) = 'on' then
        return old;
    end if;
    if tg_op = 'UPDATE' and current_setting('bizbase.audit_redacting', true) = 'on'
       and old.op <> 'ERASE' and old.changes_digest is not null and old.changes_salt is not null
       and new.changes_salt is null
       and (new.id, new.chain, new.seq, new.org_id, new.actor_id, new.actor_role, new.table_name, new.row_id,
            new.op, new.request_id, new.at, new.prev_hash, new.hash, new.changes_digest)
           is not distinct from
           (old.id, old.chain, old.seq, old.org_id, old.actor_id, old.actor_role, old.table_name, old.row_id,
            old.op, old.request_id, old.at, old.prev_hash, old.hash, old.changes_digest) then
        return new;
    end if;
    if tg_op = 'UPDATE' and current_setting('bizbase.audit_upgrading', true) = 'on' then
        return new;
    end if;
    raise exception 'the audit log is append-only' using errcode = '42501';
end
$$;

-- Re-hashes every intact chain still in the old form into the digest form; returns how many
-- chains it re-hashed. A chain that does not verify, or holds digest-form entries already, is left.
create or replace function private.audit_upgrade_chains() returns integer
language plpgsql security definer set search_path = ''
as $$
declare
    c private.audit_chains;
    e private.audit_log;
    v_prev text;
    v_seq bigint;
    v_intact boolean;
    v_salt bytea;
    v_digest text;
    v_done integer := 0;
begin
    perform set_config('bizbase.audit_upgrading', 'on', true);
    for c in select * from private.audit_chains order by chain for update loop
        v_prev := c.pruned_hash;
        v_seq := c.pruned_seq;
        v_intact := true;
        for e in select * from private.audit_log where chain = c.chain order by seq loop
            if e.changes_digest is not null or e.seq <> v_seq + 1 or e.prev_hash <> v_prev
               or e.hash <> private.audit_hash(e.prev_hash, e, e.changes::text) then
                v_intact := false;
                exit;
            end if;
            v_prev := e.hash;
            v_seq := e.seq;
        end loop;
        if not v_intact or v_prev <> c.hash or v_seq <> c.seq then
            raise warning 'audit chain % does not verify in its old form; left as it is', c.chain;
            continue;
        end if;
        v_prev := c.pruned_hash;
        for e in select * from private.audit_log where chain = c.chain order by seq loop
            v_salt := uuid_send(gen_random_uuid());
            v_digest := private.audit_digest(v_salt, e.changes);
            e.prev_hash := v_prev;
            v_prev := private.audit_hash(v_prev, e, v_digest);
            update private.audit_log
               set changes_salt = v_salt, changes_digest = v_digest, prev_hash = e.prev_hash, hash = v_prev
             where id = e.id;
        end loop;
        update private.audit_chains set hash = v_prev where chain = c.chain;
        v_done := v_done + 1;
    end loop;
    perform set_config('bizbase.audit_upgrading', 'off', true);
    return v_done;
end
$$;
revoke execute on function private.audit_upgrade_chains() from public;

select private.audit_upgrade_chains();

-- The column names an entry's changes held values for.
create or replace function private.audit_columns(p_changes jsonb) returns jsonb
language sql immutable
as $$
    select coalesce(jsonb_agg(distinct k order by k), '[]')
    from (select jsonb_object_keys(case when jsonb_typeof(p_changes -> 'new') = 'object' then p_changes -> 'new' else '{}' end)
          union all
          select jsonb_object_keys(case when jsonb_typeof(p_changes -> 'old') = 'object' then p_changes -> 'old' else '{}' end)) x(k)
$$;

-- The invitations sent to the person's address (within `p_org`, if given).
create or replace function private.subject_invitations(p_email text, p_org uuid) returns uuid[]
language sql stable security definer set search_path = ''
as $$
    select array(select i.id from public.org_invitations i
                 where i.email = lower(trim(p_email)) and (p_org is null or i.org_id = p_org))
$$;

-- Erasure as before (20261126000017), and: the audit entries about the rows it anonymizes are
-- redacted (before the anonymizing updates, which record only column names), each chain's `ERASE`
-- entry names them, the invitations sent to their address are deleted, and the person's sign-in
-- events lose their IP address and user agent.
create or replace function private.subject_erase(p_email text, p_org uuid default null) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
    s record;
    v_email_hash text := encode(sha256(convert_to(lower(trim(p_email)), 'UTF8')), 'hex');
    v_files jsonb := '[]';
    v_counts jsonb;
    v_org uuid;
    v_redacted jsonb;
    v_unredactable bigint;
    v_invitations uuid[] := private.subject_invitations(p_email, p_org);
    n_contacts bigint; n_messages bigint; n_tickets bigint; n_leads bigint; n_events bigint; n_customers bigint;
    n_invitations bigint;
begin
    select * into s from private.subject_scope(p_email, p_org);
    with gone as (
        delete from storage.objects o
        where o.id in (select f.id from private.subject_files(p_email, p_org) f where f.bucket_id <> 'site-assets')
        returning o.bucket_id, o.name, o.version)
    select coalesce(jsonb_agg(jsonb_build_object('bucket', g.bucket_id, 'name', g.name, 'version', g.version)), '[]')
      into v_files from gone g;

    perform set_config('bizbase.audit_redacting', 'on', true);
    with about(table_name, row_id) as (
        select 'contacts', unnest(s.contacts)::text
        union all select 'tickets', unnest(s.tickets)::text
        union all select 'billing_customers', unnest(s.customers)::text
        union all select 'org_invitations', unnest(v_invitations)::text
        union all select 'ticket_messages', m.id::text from public.ticket_messages m
                  where m.ticket_id = any (s.tickets) and (m.author_kind = 'customer' or m.author_id = s.account)
        union all select 'leads', l.id::text from public.leads l where l.contact_id = any (s.contacts)
        union all select 'marketing_events', e.id::text from public.marketing_events e
                  where e.contact_id = any (s.contacts)
        union all select 'profiles', s.account::text where p_org is null and s.account is not null),
    -- (An earlier erasure's own entries, `{"erased": …}`, hold no values and stay as they are.)
    redacted as (
        update private.audit_log a
           set changes = jsonb_build_object('redacted', private.audit_columns(a.changes)), changes_salt = null
          from about
         where a.table_name = about.table_name and a.row_id = about.row_id
           and a.changes_salt is not null and not a.changes ? 'erased' and (p_org is null or a.org_id = p_org)
        returning a.chain, a.seq, a.changes -> 'redacted' as columns),
    unredactable as (
        select count(*) n from private.audit_log a join about using (table_name, row_id)
         where a.changes_digest is null and not a.changes ? 'erased' and (p_org is null or a.org_id = p_org))
    select coalesce((select jsonb_object_agg(chain::text, seqs)
                     from (select chain, jsonb_object_agg(seq::text, columns) seqs from redacted group by chain) r), '{}'),
           (select n from unredactable)
      into v_redacted, v_unredactable;
    perform set_config('bizbase.audit_redacting', 'off', true);

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
    v_counts := jsonb_build_object('contacts', n_contacts, 'ticket_messages', n_messages, 'tickets', n_tickets,
        'leads', n_leads, 'marketing_events', n_events, 'billing_customers', n_customers,
        'org_invitations', n_invitations, 'files', jsonb_array_length(v_files),
        'account', p_org is null and s.account is not null);
    -- One audit entry per org the person appeared in (or the org asked about) and per chain holding
    -- a redacted entry, without their e-mail, naming the entries redacted in that chain
    -- (`{"<seq>": [their columns], …}`).
    for v_org in
        select distinct o from unnest(case when p_org is not null then array[p_org] else array(
            select c.org_id from public.contacts c where c.id = any (s.contacts)
            union select m.org_id from public.org_members m where m.user_id = s.account
            union select nullif(k, '00000000-0000-0000-0000-000000000000')::uuid from jsonb_object_keys(v_redacted) k
            union select null::uuid) end) o
    loop
        perform private.audit_append(v_org, 'data_subject', coalesce(s.account::text, v_email_hash), 'ERASE',
            jsonb_build_object('email_sha256', v_email_hash, 'erased', v_counts,
                'redacted', coalesce(v_redacted -> coalesce(v_org, '00000000-0000-0000-0000-000000000000')::text, '{}')));
    end loop;
    return jsonb_build_object('user_id', s.account, 'org_id', p_org, 'erased', v_counts, 'files', v_files,
        'audit_redacted', (select count(*) from jsonb_each(v_redacted) x(k, v), jsonb_object_keys(x.v)),
        'audit_unredactable', v_unredactable);
end
$$;

-- The export as before (20261126000017), and the invitations sent to their address with the audit
-- entries about them — neither with an invitation token's hash.
create or replace function private.subject_document(p_email text, p_org uuid default null) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
    v_doc jsonb := private.subject_export(p_email, p_org);
    v_invitations uuid[] := private.subject_invitations(p_email, p_org);
begin
    return v_doc || jsonb_build_object(
        'files', (
            select coalesce(jsonb_agg(jsonb_build_object('id', f.id, 'bucket', f.bucket_id, 'name', f.name,
                       'version', f.version, 'owner', f.owner, 'metadata', f.metadata, 'created_at', f.created_at)), '[]')
            from private.subject_files(p_email, p_org) f),
        'invitations', (
            select coalesce(jsonb_agg(jsonb_build_object('id', i.id, 'org_id', i.org_id, 'email', i.email,
                       'role', i.role, 'invited_by', i.invited_by, 'expires_at', i.expires_at,
                       'accepted_at', i.accepted_at, 'created_at', i.created_at) order by i.created_at), '[]')
            from public.org_invitations i where i.id = any (v_invitations)),
        -- The audit entries about them and about those invitations, without invitation tokens' hashes.
        'audit', (
            select coalesce(jsonb_agg(e #- '{changes,new,token_hash}' #- '{changes,old,token_hash}' order by (e ->> 'id')::bigint), '[]')
            from (select e from jsonb_array_elements(v_doc -> 'audit') e
                  union
                  select jsonb_build_object('id', a.id, 'at', a.at, 'org_id', a.org_id, 'actor_id', a.actor_id,
                      'table', a.table_name, 'row_id', a.row_id, 'op', a.op, 'changes', a.changes)
                  from private.audit_log a
                  where a.table_name = 'org_invitations' and a.row_id = any (v_invitations::text[])) x(e)));
end
$$;
