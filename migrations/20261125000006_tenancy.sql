-- Tenancy: organizations, their members with a role, the permissions of each role (data, editable
-- by an org admin), invitations, and the helpers policies are written with:
--   auth.org_ids()              orgs in the caller's token (`app_metadata.orgs`)
--   auth.role_in(org)           the caller's role in that org
--   auth.can(org, permission)   whether that role has the permission, under the org's MFA policy

create table public.orgs (
    id uuid primary key default gen_random_uuid(),
    name text not null check (length(name) between 1 and 200),
    require_mfa_roles text[] not null default array['admin'],
    created_by uuid references auth.users (id) on delete set null default auth.uid(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger orgs_updated_at before update on public.orgs
    for each row execute function private.set_updated_at();

create table public.org_members (
    org_id uuid not null references public.orgs (id) on delete cascade,
    user_id uuid not null references auth.users (id) on delete cascade,
    role text not null check (role ~ '^[a-z][a-z0-9_]{0,62}$'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, user_id)
);
create index org_members_user_id_idx on public.org_members (user_id);
create trigger org_members_updated_at before update on public.org_members
    for each row execute function private.set_updated_at();

create table public.role_permissions (
    org_id uuid not null references public.orgs (id) on delete cascade,
    role text not null check (role ~ '^[a-z][a-z0-9_]{0,62}$'),
    permission text not null check (permission ~ '^[a-z_]+\.[a-z_]+$'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (org_id, role, permission)
);
create trigger role_permissions_updated_at before update on public.role_permissions
    for each row execute function private.set_updated_at();

create table public.org_invitations (
    id uuid primary key default gen_random_uuid(),
    org_id uuid not null references public.orgs (id) on delete cascade,
    email text not null check (email = lower(email) and email like '%@%'),
    role text not null check (role ~ '^[a-z][a-z0-9_]{0,62}$'),
    token_hash text not null unique default '',
    invited_by uuid references auth.users (id) on delete set null default auth.uid(),
    expires_at timestamptz not null default now() + interval '7 days',
    accepted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index org_invitations_org_id_idx on public.org_invitations (org_id);
create trigger org_invitations_updated_at before update on public.org_invitations
    for each row execute function private.set_updated_at();

-- Users as the rest of the schema joins them.
create table public.profiles (
    id uuid primary key references auth.users (id) on delete cascade,
    email text,
    full_name text,
    avatar_url text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create trigger profiles_updated_at before update on public.profiles
    for each row execute function private.set_updated_at();

-- The permissions each preset role starts with in a new org.
create table private.role_permission_presets (
    role text not null,
    permission text not null,
    primary key (role, permission)
);
insert into private.role_permission_presets (role, permission)
select 'admin', p from unnest(array[
    'org.manage', 'members.manage', 'roles.manage', 'audit.read', 'data.export', 'integrations.manage',
    'contacts.read', 'contacts.write', 'companies.read', 'companies.write', 'leads.read', 'leads.write',
    'deals.read', 'deals.write', 'activities.read', 'activities.write', 'transactions.read', 'transactions.write',
    'products.read', 'products.write', 'tickets.read_all', 'tickets.write', 'messages.read', 'messages.write',
    'canned_replies.read', 'canned_replies.write', 'payments.read', 'payments.refund', 'subscriptions.read',
    'subscriptions.write', 'segments.read', 'segments.write', 'campaigns.read', 'campaigns.write',
    'metrics.read', 'metrics.write', 'events.read', 'events.write', 'sites.read', 'sites.write',
    'templates.read', 'templates.write'
]) p
union all
select 'sales_rep', p from unnest(array[
    'contacts.read', 'contacts.write', 'companies.read', 'companies.write', 'leads.read', 'leads.write',
    'deals.read', 'deals.write', 'activities.read', 'activities.write', 'transactions.read', 'products.read'
]) p
union all
select 'customer_service', p from unnest(array[
    'contacts.read', 'contacts.write', 'tickets.read_all', 'tickets.write', 'messages.read', 'messages.write',
    'canned_replies.read', 'canned_replies.write', 'payments.read'
]) p
union all
select 'marketing_manager', p from unnest(array[
    'contacts.read', 'segments.read', 'segments.write', 'campaigns.read', 'campaigns.write',
    'metrics.read', 'metrics.write', 'events.read', 'events.write'
]) p
union all
select 'customer', p from unnest(array['tickets.create', 'messages.create', 'sites.read']) p;

-- Permissions that always need a second factor (aal2), whatever the role.
create or replace function private.is_sensitive(permission text) returns boolean
language sql immutable
as $$
    select permission in ('payments.refund', 'data.export', 'roles.manage', 'members.manage')
$$;

create or replace function auth.org_ids() returns uuid[]
language sql stable
as $$
    select case when jsonb_typeof(auth.jwt() -> 'app_metadata' -> 'orgs') = 'object'
        then array(select jsonb_object_keys(auth.jwt() -> 'app_metadata' -> 'orgs'))::uuid[]
        else '{}'::uuid[] end
$$;

create or replace function auth.role_in(org uuid) returns text
language sql stable
as $$
    select auth.jwt() -> 'app_metadata' -> 'orgs' ->> org::text
$$;

-- Roles in `orgs.require_mfa_roles` have no permissions at aal1; sensitive permissions need aal2.
create or replace function auth.can(org uuid, permission text) returns boolean
language sql stable security definer set search_path = ''
as $$
    select exists (
        select 1
        from public.role_permissions rp
        join public.orgs o on o.id = rp.org_id
        where rp.org_id = can.org
          and rp.role = auth.role_in(can.org)
          and rp.permission = can.permission
          and (
              coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2'
              or (not rp.role = any (o.require_mfa_roles) and not private.is_sensitive(can.permission))
          )
    )
$$;

grant execute on function auth.org_ids(), auth.role_in(uuid), auth.can(uuid, text) to anon, authenticated, service_role;

-- A new org gets the preset permissions, and its creator becomes its admin.
create or replace function private.on_org_created() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    insert into public.role_permissions (org_id, role, permission)
    select new.id, role, permission from private.role_permission_presets;
    if new.created_by is not null then
        insert into public.org_members (org_id, user_id, role) values (new.id, new.created_by, 'admin')
        on conflict do nothing;
    end if;
    return new;
end
$$;
create trigger orgs_created after insert on public.orgs
    for each row execute function private.on_org_created();

-- An invitation gets a random token; its hash is stored and the token itself is e-mailed.
create or replace function private.on_invitation_created() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
    token text := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    org_name text;
begin
    new.token_hash := encode(sha256(convert_to(token, 'UTF8')), 'hex');
    select name into org_name from public.orgs where id = new.org_id;
    insert into private.outbox (kind, payload) values ('email', jsonb_build_object(
        'to', new.email,
        'template', 'org_invitation',
        'subject', format('You are invited to join %s', org_name),
        'text', format(E'You have been invited to join %s as %s.\n\nAccept the invitation with this token: %s\n',
                       org_name, new.role, token)
    ));
    return new;
end
$$;
create trigger org_invitations_created before insert on public.org_invitations
    for each row execute function private.on_invitation_created();

-- Accepting an invitation (as the invited, signed-in user) adds the membership.
create or replace function public.accept_invitation(token text) returns uuid
language plpgsql security definer set search_path = ''
as $$
declare
    inv public.org_invitations;
begin
    select * into inv from public.org_invitations
    where token_hash = encode(sha256(convert_to(token, 'UTF8')), 'hex')
      and accepted_at is null and expires_at > now()
    for update;
    if inv.id is null or auth.uid() is null or inv.email <> lower(coalesce(auth.email(), '')) then
        raise exception 'invalid or expired invitation' using errcode = 'P0001';
    end if;
    insert into public.org_members (org_id, user_id, role) values (inv.org_id, auth.uid(), inv.role)
    on conflict (org_id, user_id) do update set role = excluded.role;
    update public.org_invitations set accepted_at = now() where id = inv.id;
    return inv.org_id;
end
$$;
revoke execute on function public.accept_invitation(text) from public;
grant execute on function public.accept_invitation(text) to authenticated;

-- profiles mirror auth.users.
create or replace function private.sync_profile() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
    insert into public.profiles (id, email, full_name, avatar_url)
    values (new.id, new.email, new.raw_user_meta_data ->> 'full_name', new.raw_user_meta_data ->> 'avatar_url')
    on conflict (id) do update set
        email = excluded.email,
        full_name = excluded.full_name,
        avatar_url = excluded.avatar_url;
    return new;
end
$$;
create trigger users_sync_profile after insert or update of email, raw_user_meta_data on auth.users
    for each row execute function private.sync_profile();

-- Row-level security.
alter table public.orgs enable row level security;
alter table public.orgs force row level security;
alter table public.org_members enable row level security;
alter table public.org_members force row level security;
alter table public.role_permissions enable row level security;
alter table public.role_permissions force row level security;
alter table public.org_invitations enable row level security;
alter table public.org_invitations force row level security;
alter table public.profiles enable row level security;
alter table public.profiles force row level security;

create policy orgs_select on public.orgs for select to authenticated
    using (id = any (auth.org_ids()) or created_by = auth.uid());
create policy orgs_insert on public.orgs for insert to authenticated
    with check (created_by = auth.uid());
create policy orgs_update on public.orgs for update to authenticated
    using (auth.can(id, 'org.manage')) with check (auth.can(id, 'org.manage'));
create policy orgs_delete on public.orgs for delete to authenticated
    using (auth.can(id, 'org.manage'));

create policy org_members_select on public.org_members for select to authenticated
    using (org_id = any (auth.org_ids()));
create policy org_members_write on public.org_members for all to authenticated
    using (auth.can(org_id, 'members.manage')) with check (auth.can(org_id, 'members.manage'));

create policy role_permissions_select on public.role_permissions for select to authenticated
    using (org_id = any (auth.org_ids()));
create policy role_permissions_write on public.role_permissions for all to authenticated
    using (auth.can(org_id, 'roles.manage')) with check (auth.can(org_id, 'roles.manage'));

create policy org_invitations_all on public.org_invitations for all to authenticated
    using (auth.can(org_id, 'members.manage')) with check (auth.can(org_id, 'members.manage'));

create policy profiles_select on public.profiles for select to authenticated
    using (
        id = auth.uid()
        or exists (
            select 1 from public.org_members m
            where m.user_id = profiles.id and m.org_id = any (auth.org_ids())
        )
    );
create policy profiles_update on public.profiles for update to authenticated
    using (id = auth.uid()) with check (id = auth.uid());

grant select, insert, update, delete on public.orgs, public.org_members, public.role_permissions,
    public.org_invitations to authenticated, service_role;
grant select, update (full_name, avatar_url) on public.profiles to authenticated;
grant select, insert, update, delete on public.profiles to service_role;
