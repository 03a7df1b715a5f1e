-- Two holes found by an attack review of storage and the data-subject functions:
--
-- 1. An org's export or erasure of a person took the files their account owns in EVERY bucket
--    whose first folder is the org's id — meant for the two per-org buckets (`ticket-attachments`,
--    `site-assets`), but it also matched the common per-user layout, `<bucket>/<user id>/…`. A
--    signed-in user could create an org whose id was a victim's user id (orgs took any id the
--    caller gave), pass a second factor as its admin, and export the victim's private files with
--    their bytes — or erase them. Org-scoped requests now take owned files from the per-org
--    buckets only (the operator's request, every org, still takes all of them).
-- 2. Org ids are drawn by the database: signed-in callers may no longer give or change an org's
--    id, so an org id never equals an id of something else (a user, another org's row) that a
--    policy or folder layout may compare it with. The service role still may (imports).

create or replace function private.subject_files(p_email text, p_org uuid) returns setof storage.objects
language sql stable security definer set search_path = ''
as $$
    select o.*
    from private.subject_scope(p_email, p_org) s, storage.objects o
    where (s.account is not null and o.owner = s.account
           and (p_org is null
                or (o.bucket_id in ('ticket-attachments', 'site-assets')
                    and storage.folder_uuid(o.name, 1) = p_org)))
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

revoke insert, update on public.orgs from authenticated;
grant insert (name, require_mfa_roles, created_by, created_at, updated_at),
      update (name, require_mfa_roles, created_by, created_at, updated_at)
   on public.orgs to authenticated;
