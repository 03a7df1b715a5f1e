-- An org's creator sees its row while they are a member — and before anyone is, which is what the
-- `created_by` clause of `orgs_select` is for: `insert … returning` (supabase-js `.insert().select()`)
-- reads the new row before its creator's membership exists and before their token names the org.
-- Before, a creator removed from the org kept reading it (name, MFA policy) for good.
--
-- The check reads `org_members` past row-level security (a removed member may not read it, which
-- must not change the answer), so it is a security-definer function; in `auth` like the other
-- helpers policies call, since the API roles have no access to `private`.
create function auth.creator_sees_org(org uuid) returns boolean
language sql stable security definer set search_path = ''
as $$
    select exists (select 1 from public.org_members m
                   where m.org_id = creator_sees_org.org and m.user_id = auth.uid())
        or not exists (select 1 from public.org_members m where m.org_id = creator_sees_org.org)
$$;
revoke execute on function auth.creator_sees_org(uuid) from public;
grant execute on function auth.creator_sees_org(uuid) to authenticated;

drop policy orgs_select on public.orgs;
create policy orgs_select on public.orgs for select to authenticated
    using (id = any (auth.org_ids()) or (created_by = auth.uid() and auth.creator_sees_org(id)));
