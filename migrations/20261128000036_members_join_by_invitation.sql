-- Nobody joins an org without their consent: a membership is made only by creating the org (its
-- creator) or by accepting an invitation (the invited user), both in security-definer functions.
-- Before, `members.manage` let an org's admin insert any user as a member — from then on that user's
-- profile was the org's to read and tickets or payments could be filed in their name — or turn an
-- existing membership into someone else's by changing its `user_id`. Admins still change roles and
-- remove members.
drop policy org_members_write on public.org_members;
create policy org_members_update on public.org_members for update to authenticated
    using (auth.can(org_id, 'members.manage')) with check (auth.can(org_id, 'members.manage'));
create policy org_members_delete on public.org_members for delete to authenticated
    using (auth.can(org_id, 'members.manage'));

revoke insert, update on public.org_members from authenticated;
grant update (role) on public.org_members to authenticated;
