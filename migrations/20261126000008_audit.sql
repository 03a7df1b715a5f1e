-- The audit log: every change to an exposed table appends one entry to `private.audit_log`, with
-- the actor (from the JWT claims), the org, the table, the row, the operation, the changed
-- columns with old and new values, and the request id. Entries form one hash chain per org (the
-- nil uuid for rows without an org): each carries the hash of the previous one, so an edited,
-- inserted or removed entry breaks the chain (`bizbase audit verify`). Chains per org keep
-- writers of different orgs from waiting on each other.
--
-- hash = sha256(prev_hash || '|' || canonical), canonical = private.audit_canonical(entry), and
-- `bizbase audit verify` recomputes it in Rust from the stored fields.

create table private.audit_log (
    id bigint generated always as identity primary key,
    chain uuid not null,
    seq bigint not null,
    org_id uuid,
    actor_id uuid,
    actor_role text,
    table_name text not null,
    row_id text,
    op text not null check (op in ('INSERT', 'UPDATE', 'DELETE', 'ERASE')),
    changes jsonb not null,
    request_id text,
    at timestamptz not null default clock_timestamp(),
    prev_hash text not null,
    hash text not null,
    unique (chain, seq)
);
create index audit_log_org_at_idx on private.audit_log (org_id, at);
create index audit_log_row_idx on private.audit_log (table_name, row_id);

-- The head of each chain; `pruned_*` anchor a chain whose oldest entries retention removed.
create table private.audit_chains (
    chain uuid primary key,
    seq bigint not null default 0,
    hash text not null default repeat('0', 64),
    pruned_seq bigint not null default 0,
    pruned_hash text not null default repeat('0', 64)
);

-- The text an entry's hash covers. Timestamps in UTC with microseconds, so the text does not
-- depend on the session's TimeZone or DateStyle.
create or replace function private.audit_canonical(
    chain uuid, seq bigint, org_id uuid, actor_id uuid, actor_role text, table_name text,
    row_id text, op text, changes jsonb, request_id text, at timestamptz
) returns text
language sql immutable
as $$
    select concat_ws('|', chain::text, seq::text, coalesce(org_id::text, ''), coalesce(actor_id::text, ''),
        coalesce(actor_role, ''), table_name, coalesce(row_id, ''), op, changes::text,
        coalesce(request_id, ''), to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
$$;

-- Appends one entry to its org's chain. Serializes writers of one org at the chain head.
create or replace function private.audit_append(
    p_org uuid, p_table text, p_row text, p_op text, p_changes jsonb
) returns void
language plpgsql security definer set search_path = ''
as $$
declare
    v_chain uuid := coalesce(p_org, '00000000-0000-0000-0000-000000000000');
    v_seq bigint;
    v_prev text;
    v_at timestamptz := clock_timestamp();
    v_actor uuid := auth.uid();
    v_role text := coalesce(nullif(auth.jwt() ->> 'role', ''), current_user::text);
    v_request text := coalesce(
        nullif(current_setting('request.id', true), ''),
        nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-request-id'
    );
    v_hash text;
begin
    select seq, hash into v_seq, v_prev from private.audit_chains where chain = v_chain for update;
    if not found then
        insert into private.audit_chains (chain) values (v_chain) on conflict do nothing;
        select seq, hash into v_seq, v_prev from private.audit_chains where chain = v_chain for update;
    end if;
    v_seq := v_seq + 1;
    v_hash := encode(sha256(convert_to(v_prev || '|' || private.audit_canonical(
        v_chain, v_seq, p_org, v_actor, v_role, p_table, p_row, p_op, p_changes, v_request, v_at), 'UTF8')), 'hex');
    insert into private.audit_log (chain, seq, org_id, actor_id, actor_role, table_name, row_id, op, changes,
                                   request_id, at, prev_hash, hash)
    values (v_chain, v_seq, p_org, v_actor, v_role, p_table, p_row, p_op, p_changes, v_request, v_at, v_prev, v_hash);
    update private.audit_chains set seq = v_seq, hash = v_hash where chain = v_chain;
end
$$;

-- The row trigger: inserts and deletes record the whole row, updates only the columns that
-- changed (`updated_at` alone is no change). The org is the row's `org_id`, or the row's `id` for
-- `orgs` itself; the row id is `id`, else the primary key columns joined.
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
begin
    if tg_op = 'UPDATE' then
        select jsonb_build_object(
                   'old', coalesce(jsonb_object_agg(k, v_old -> k), '{}'),
                   'new', coalesce(jsonb_object_agg(k, v_new -> k), '{}')),
               count(*)
          into v_changes, v_changed
          from jsonb_object_keys(v_new) k
         where k <> 'updated_at' and (v_old -> k) is distinct from (v_new -> k);
        if v_changed = 0 then
            return null;
        end if;
    elsif tg_op = 'INSERT' then
        v_changes := jsonb_build_object('new', v_new);
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

-- Append-only: entries are never changed, and removed only by retention (`audit_prune`).
create or replace function private.audit_immutable() returns trigger
language plpgsql
as $$
begin
    if tg_op = 'DELETE' and current_setting('bizbase.audit_pruning', true) = 'on' then
        return old;
    end if;
    raise exception 'the audit log is append-only' using errcode = '42501';
end
$$;
create trigger audit_log_immutable before update or delete on private.audit_log
    for each row execute function private.audit_immutable();
revoke all on private.audit_log, private.audit_chains from public;

-- Retention: removes entries older than `older_than`, a prefix of each chain at a time, and
-- anchors the chain at the last removed entry so what stays still verifies. Returns the count.
create or replace function private.audit_prune(older_than interval) returns bigint
language plpgsql security definer set search_path = ''
as $$
declare
    c record;
    v_last private.audit_log;
    v_total bigint := 0;
    v_n bigint;
begin
    perform set_config('bizbase.audit_pruning', 'on', true);
    for c in select chain from private.audit_chains for update loop
        select * into v_last from private.audit_log
         where chain = c.chain and at < now() - older_than
         order by seq desc limit 1;
        continue when v_last.id is null;
        delete from private.audit_log where chain = c.chain and seq <= v_last.seq;
        get diagnostics v_n = row_count;
        v_total := v_total + v_n;
        update private.audit_chains set pruned_seq = v_last.seq, pruned_hash = v_last.hash where chain = c.chain;
    end loop;
    perform set_config('bizbase.audit_pruning', 'off', true);
    return v_total;
end
$$;

-- What an org's admins read through `/rest/v1/rpc/audit_entries` (needs `audit.read`).
create or replace function public.audit_entries(
    org uuid, since timestamptz default null, until timestamptz default null,
    table_filter text default null, max_rows integer default 100
) returns table (
    id bigint, at timestamptz, actor_id uuid, actor_role text, table_name text, row_id text,
    op text, changes jsonb, request_id text
)
language plpgsql stable security definer set search_path = ''
as $$
begin
    if not auth.can(org, 'audit.read') then
        raise exception 'permission denied: audit.read' using errcode = '42501';
    end if;
    return query
        select a.id, a.at, a.actor_id, a.actor_role, a.table_name, a.row_id, a.op, a.changes, a.request_id
        from private.audit_log a
        where a.org_id = org
          and (since is null or a.at >= since)
          and (until is null or a.at < until)
          and (table_filter is null or a.table_name = table_filter)
        order by a.at desc, a.id desc
        limit least(greatest(max_rows, 1), 1000);
end
$$;
revoke execute on function public.audit_entries(uuid, timestamptz, timestamptz, text, integer) from public;
grant execute on function public.audit_entries(uuid, timestamptz, timestamptz, text, integer)
    to authenticated, service_role;

-- Every exposed table gets: `updated_at` maintenance, row-level security enabled and forced, the
-- audit trigger, and table privileges for signed-in users (policies decide the rows).
create or replace function private.expose(t regclass) returns void
language plpgsql
as $$
declare
    v_name text := (select relname from pg_class where oid = t);
begin
    if exists (select 1 from pg_attribute where attrelid = t and attname = 'updated_at' and not attisdropped)
       and not exists (select 1 from pg_trigger where tgrelid = t and tgname = v_name || '_updated_at') then
        execute format('create trigger %I before update on %s for each row execute function private.set_updated_at()',
                       v_name || '_updated_at', t);
    end if;
    execute format('alter table %s enable row level security', t);
    execute format('alter table %s force row level security', t);
    execute format('create trigger %I after insert or update or delete on %s for each row execute function private.audit()',
                   v_name || '_audit', t);
    execute format('grant select, insert, update, delete on %s to authenticated, service_role', t);
end
$$;

-- The tenancy tables are exposed tables too.
select private.expose(t) from unnest(array[
    'public.orgs', 'public.org_members', 'public.role_permissions', 'public.org_invitations', 'public.profiles'
]::regclass[]) t;
-- expose() grants every privilege; profiles keep their narrower grant for signed-in users.
revoke insert, update, delete on public.profiles from authenticated;
grant update (full_name, avatar_url) on public.profiles to authenticated;
