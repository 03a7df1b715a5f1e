-- `auth.orgs_with` in PL/pgSQL: PostgreSQL plans a SQL-language security-definer function's
-- query on every call, but caches a PL/pgSQL function's plans for the session, which makes the
-- per-statement permission check about five times cheaper on pooled connections (10 µs instead
-- of 50 µs). It reads the memberships from the token once instead of once per permission row.
create or replace function auth.orgs_with(permission text) returns uuid[]
language plpgsql stable security definer set search_path = ''
as $$
declare
    claims jsonb := auth.jwt();
    memberships jsonb := claims -> 'app_metadata' -> 'orgs';
    aal2 boolean := coalesce(claims ->> 'aal', 'aal1') = 'aal2';
    sensitive boolean := private.is_sensitive(orgs_with.permission);
    result uuid[];
begin
    if jsonb_typeof(memberships) is distinct from 'object' then
        return '{}';
    end if;
    select coalesce(array_agg(rp.org_id), '{}') into result
    from jsonb_each_text(memberships) m(org, role)
    join public.role_permissions rp
      on rp.org_id = m.org::uuid and rp.role = m.role and rp.permission = orgs_with.permission
    join public.orgs o on o.id = rp.org_id
    where aal2 or (not (rp.role = any (o.require_mfa_roles)) and not sensitive);
    return result;
end
$$;
