-- A permission holds only while the membership the token claims it through still exists, with the
-- role the token names. The token's `app_metadata.orgs` says which role a user had when it was
-- minted; until it expired (1 h by default) a removed or demoted member kept every permission of
-- the old role — enough for a removed admin to insert their own membership again, demote whoever
-- removed them, and so make the removal never take effect. Now every permission check
-- (`auth.orgs_with`, and `auth.can` through it) also finds the live `org_members` row (by its
-- primary key); rows seen through membership alone (`org_id = any (auth.org_ids())`) still follow
-- the token until it expires, as in Supabase. Otherwise as in 20261126000013.
create or replace function auth.orgs_with(permission text) returns uuid[]
language plpgsql stable security definer set search_path = ''
as $$
declare
    claims jsonb := auth.jwt();
    memberships jsonb := claims -> 'app_metadata' -> 'orgs';
    aal2 boolean := coalesce(claims ->> 'aal', 'aal1') = 'aal2';
    sensitive boolean := private.is_sensitive(orgs_with.permission);
    me uuid := auth.uid();
    result uuid[];
begin
    if jsonb_typeof(memberships) is distinct from 'object' or me is null then
        return '{}';
    end if;
    select coalesce(array_agg(rp.org_id), '{}') into result
    from jsonb_each_text(memberships) m(org, role)
    join public.role_permissions rp
      on rp.org_id = m.org::uuid and rp.role = m.role and rp.permission = orgs_with.permission
    join public.org_members live
      on live.org_id = rp.org_id and live.user_id = me and live.role = rp.role
    join public.orgs o on o.id = rp.org_id
    where aal2 or (not (rp.role = any (o.require_mfa_roles)) and not sensitive);
    return result;
end
$$;
