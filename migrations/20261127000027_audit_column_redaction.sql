-- An erasure redacts values, not whole audit entries. Until now (20261127000026) an erasure took
-- every entry about the rows it anonymizes whole: a ticket's status changes and a lead's stage
-- history went with the person's name, and an org admin could point rows at a throwaway contact and
-- erase it to blank their value history.
--
-- From now on an entry's digest is built from one digest per value ("leaf"): for each column of
-- `old`/`new` (or each other top-level key of the changes), with `path` the JSON array of its keys
-- (`["new", "email"]`) and `seed` 16 random bytes kept with the entry,
--   leaf salt      = sha256(seed || path),
--   leaf digest    = hex(sha256(leaf salt || '|' || value::text)),
--   changes_digest = hex(sha256(the lines `path=leaf digest`, sorted by path bytewise, joined by '\n')).
-- The entry's hash covers `changes_digest` as before. An erasure removes from the changes only the
-- columns it anonymizes in the live row (its updates below list them) and drops the seed, keeping
-- in `changes_leaves` the salt of each value left ({"salt": hex}) and the digest of each value
-- removed ({"digest": hex}): `audit verify` still recomputes every kept value, and without its
-- salt a removed value's digest cannot confirm a guess. The erasure's `ERASE` entry names each
-- redacted entry with the columns removed from it, as before.
--
-- Entries written in the earlier forms keep them: a salted whole-changes digest (0026), redacted
-- whole, or the changes themselves (a chain that did not verify when 0026 ran). An erasure now
-- leaves alone the entries about a person's rows that hold none of the columns it anonymizes.

alter table private.audit_log add column changes_seed bytea, add column changes_leaves jsonb;

-- The leaves of an entry's changes: (path, value) — each key of each object value, and each other
-- top-level value (an empty object included); changes that are not an object are one leaf, `[]`.
create or replace function private.audit_leaves(p_changes jsonb) returns table (path text, value jsonb)
language sql immutable
as $$
    select jsonb_build_array(t.key, c.key)::text, c.value
      from jsonb_each(case when jsonb_typeof(p_changes) = 'object' then p_changes else '{}' end) t
     cross join lateral jsonb_each(case when jsonb_typeof(t.value) = 'object' then t.value else '{}' end) c
    union all
    select jsonb_build_array(t.key)::text, t.value
      from jsonb_each(case when jsonb_typeof(p_changes) = 'object' then p_changes else '{}' end) t
     where jsonb_typeof(t.value) <> 'object' or t.value = '{}'
    union all
    select '[]', p_changes where jsonb_typeof(p_changes) <> 'object'
$$;

create or replace function private.audit_leaf_salt(p_seed bytea, p_path text) returns bytea
language sql immutable
as $$
    select sha256(p_seed || convert_to(p_path, 'UTF8'))
$$;

create or replace function private.audit_leaf_digest(p_salt bytea, p_value jsonb) returns text
language sql immutable
as $$
    select encode(sha256(p_salt || convert_to('|' || p_value::text, 'UTF8')), 'hex')
$$;

-- The digest of an entry's changes from its seed (see above): the two functions above, written out
-- (a call per leaf costs as much again as the hashing), in PL/pgSQL so that its plan is kept for the
-- session (a SQL function called from PL/pgSQL is planned again on every call). A contact's
-- creation (fifteen columns) takes 0.2 ms more to write otherwise, 0.06 ms more than with 0026's
-- single digest this way.
create or replace function private.audit_seeded_digest(p_seed bytea, p_changes jsonb) returns text
language plpgsql immutable
as $$
begin
    return (select encode(sha256(convert_to(coalesce(string_agg(l.path || '=' || encode(sha256(
                sha256(p_seed || convert_to(l.path, 'UTF8')) || convert_to('|' || l.value::text, 'UTF8')), 'hex'),
                E'\n' order by l.path collate "C"), ''), 'UTF8')), 'hex')
              from private.audit_leaves(p_changes) l);
end
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
    v_seed bytea := uuid_send(gen_random_uuid());
    v_digest text := private.audit_seeded_digest(v_seed, p_changes);
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
                                   changes_seed, changes_digest, request_id, at, prev_hash, hash)
    values (v_chain, v_entry.seq, p_org, v_entry.actor_id, v_entry.actor_role, p_table, p_row, p_op, p_changes,
            v_seed, v_digest, v_entry.request_id, v_entry.at, v_prev, v_entry.hash);
    update private.audit_chains set seq = v_entry.seq, hash = v_entry.hash where chain = v_chain;
end
$$;

-- Append-only, but for retention (whole prefixes), an erasure's redaction of an entry other than an
-- erasure's own (a seeded entry: its changes, seed and leaves; an entry of 0026's form: its changes
-- and salt; nothing else) and re-hashing an old chain.
create or replace function private.audit_immutable() returns trigger
language plpgsql
as $$
begin
    if tg_op = 'DELETE' and current_setting('bizbase.audit_pruning', true) = 'on' then
        return old;
    end if;
    if tg_op = 'UPDATE' and current_setting('bizbase.audit_redacting', true) = 'on'
       and old.op <> 'ERASE' and old.changes_digest is not null
       and (new.id, new.chain, new.seq, new.org_id, new.actor_id, new.actor_role, new.table_name, new.row_id,
            new.op, new.request_id, new.at, new.prev_hash, new.hash, new.changes_digest)
           is not distinct from
           (old.id, old.chain, old.seq, old.org_id, old.actor_id, old.actor_role, old.table_name, old.row_id,
            old.op, old.request_id, old.at, old.prev_hash, old.hash, old.changes_digest)
       and ((old.changes_seed is not null and new.changes_seed is null and old.changes_leaves is null
             and new.changes_leaves is not null and new.changes_salt is not distinct from old.changes_salt)
            or (old.changes_salt is not null and new.changes_salt is null
                and new.changes_seed is not distinct from old.changes_seed
                and new.changes_leaves is not distinct from old.changes_leaves)) then
        return new;
    end if;
    if tg_op = 'UPDATE' and current_setting('bizbase.audit_upgrading', true) = 'on' then
        return new;
    end if;
    raise exception 'the audit log is append-only' using errcode = '42501';
end
$$;

-- As in 0026, but an intact old chain is re-hashed into seeded entries.
create or replace function private.audit_upgrade_chains() returns integer
language plpgsql security definer set search_path = ''
as $$
declare
    c private.audit_chains;
    e private.audit_log;
    v_prev text;
    v_seq bigint;
    v_intact boolean;
    v_seed bytea;
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
            v_seed := uuid_send(gen_random_uuid());
            v_digest := private.audit_seeded_digest(v_seed, e.changes);
            e.prev_hash := v_prev;
            v_prev := private.audit_hash(v_prev, e, v_digest);
            update private.audit_log
               set changes_seed = v_seed, changes_digest = v_digest, prev_hash = e.prev_hash, hash = v_prev
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

-- The columns an erasure anonymizes in each table it touches (the updates in subject_erase below;
-- an invitation is deleted, its address is what is theirs). Keep the two together.
create or replace function private.subject_erased_columns() returns table (table_name text, columns text[])
language sql immutable
as $$
    values ('contacts', array['first_name', 'last_name', 'email', 'phone', 'title', 'tags', 'marketing_consent',
                              'consent_at', 'user_id']),
           ('ticket_messages', array['body', 'sentiment', 'sentiment_label']),
           ('tickets', array['subject', 'issue']),
           ('leads', array['title', 'lead_details']),
           ('marketing_events', array['properties']),
           ('billing_customers', array['email']),
           ('org_invitations', array['email']),
           ('profiles', array['email', 'full_name', 'avatar_url'])
$$;

-- A key of this installation, random, for the digest that stands in for an erased person's address.
create table private.erasure_key (
    only_one boolean primary key default true check (only_one),
    key bytea not null
);
insert into private.erasure_key (key) values (uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()));
revoke all on private.erasure_key from public;

-- The digest an erasure records in place of the address. Until now it was the address's plain
-- SHA-256, which anyone reading the log could match against a guess; keyed, only the operator can
-- (`select private.subject_email_digest('…')`), to show that an address was erased.
create or replace function private.subject_email_digest(p_email text) returns text
language sql stable security definer set search_path = ''
as $$
    select encode(sha256(k.key || convert_to('|' || lower(trim(p_email)), 'UTF8')), 'hex') from private.erasure_key k
$$;
revoke execute on function private.subject_email_digest(text) from public;

-- Erasure as in 0026, but the audit entries about the rows it anonymizes, and about the rows that
-- once carried the person's address, lose only the columns it anonymizes (seeded entries, recorded
-- in the `ERASE` entry as `{"<seq>": {"removed": [columns]}}`) or, in 0026's form, are redacted
-- whole (`{"<seq>": [columns]}`) only if they hold one of them. The redaction now follows the
-- anonymizing updates: they lock the rows, so a change committed before them is in the log the
-- redaction reads, and one after them waits for the erasure to commit. The `ERASE` entry carries
-- the keyed `email_digest` in place of `email_sha256`.
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
