-- Who sees an org's people: members whose role holds `members.read` (the staff presets — admin,
-- sales_rep, customer_service, marketing_manager — in every org) see its member list and their
-- fellow members' profiles; the others (customers) see their own membership and profile only.
-- Before, every member saw every other: a customer read the other customers' names and e-mail
-- addresses, and everyone's role.
insert into private.role_permission_presets (role, permission) values
    ('admin', 'members.read'), ('sales_rep', 'members.read'),
    ('customer_service', 'members.read'), ('marketing_manager', 'members.read')
on conflict do nothing;

insert into public.role_permissions (org_id, role, permission)
select o.id, p.role, 'members.read'
from public.orgs o
cross join (values ('admin'), ('sales_rep'), ('customer_service'), ('marketing_manager')) p(role)
on conflict do nothing;

drop policy org_members_select on public.org_members;
create policy org_members_select on public.org_members for select to authenticated
    using (user_id = (select auth.uid()) or org_id = any ((select auth.orgs_with('members.read'))::uuid[]));

drop policy profiles_select on public.profiles;
create policy profiles_select on public.profiles for select to authenticated
    using (
        id = (select auth.uid())
        or exists (
            select 1 from public.org_members m
            where m.user_id = profiles.id
              and m.org_id = any ((select auth.orgs_with('members.read'))::uuid[])
        )
    );
