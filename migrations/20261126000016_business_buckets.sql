-- Per-org files of the business modules, in two shared buckets whose first folder is the org:
--   ticket-attachments/<org id>/<ticket id>/<file>   — staff with tickets.read_all read them,
--       tickets.write adds and removes them; a customer reads and adds files on their own tickets;
--   site-assets/<org id>/<project id>/<file>         — sites.read / sites.write for staff; a
--       customer reads and customizes (adds, replaces) the assets of their own site projects.
-- Access follows role_permissions, like the tables (`auth.orgs_with`), so an admin who edits the
-- permissions changes who may touch the files too.

insert into storage.buckets (id, name, public, file_size_limit) values
    ('ticket-attachments', 'ticket-attachments', false, 26214400),
    ('site-assets', 'site-assets', false, 10485760)
on conflict (id) do nothing;

-- The uuid in folder `n` of an object name (null when that folder is not a uuid).
create or replace function storage.folder_uuid(name text, n integer) returns uuid
language sql immutable
as $$
    select case when f ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
                then f::uuid end
    from (select (storage.foldername(name))[n] as f) x
$$;
grant execute on function storage.folder_uuid(text, integer) to anon, authenticated, service_role;

create policy ticket_attachments_read on storage.objects for select to authenticated
    using (
        bucket_id = 'ticket-attachments'
        and (
            storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('tickets.read_all'))::uuid[])
            or exists (select 1 from public.tickets t
                       where t.id = storage.folder_uuid(objects.name, 2) and t.org_id = storage.folder_uuid(objects.name, 1)
                         and t.user_id = (select auth.uid()))
        )
    );
create policy ticket_attachments_insert on storage.objects for insert to authenticated
    with check (
        bucket_id = 'ticket-attachments'
        and (
            storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('tickets.write'))::uuid[])
            or (storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('messages.create'))::uuid[])
                and exists (select 1 from public.tickets t
                            where t.id = storage.folder_uuid(objects.name, 2) and t.org_id = storage.folder_uuid(objects.name, 1)
                              and t.user_id = (select auth.uid())))
        )
    );
create policy ticket_attachments_change on storage.objects for update to authenticated
    using (bucket_id = 'ticket-attachments'
           and storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('tickets.write'))::uuid[]));
create policy ticket_attachments_delete on storage.objects for delete to authenticated
    using (bucket_id = 'ticket-attachments'
           and storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('tickets.write'))::uuid[]));

create policy site_assets_read on storage.objects for select to authenticated
    using (
        bucket_id = 'site-assets'
        and (
            storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('sites.read'))::uuid[])
            or exists (select 1 from public.site_projects p
                       where p.id = storage.folder_uuid(objects.name, 2) and p.org_id = storage.folder_uuid(objects.name, 1)
                         and p.client_id = (select auth.uid()))
        )
    );
create policy site_assets_write on storage.objects for insert to authenticated
    with check (
        bucket_id = 'site-assets'
        and (
            storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('sites.write'))::uuid[])
            or (storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('sites.customize'))::uuid[])
                and exists (select 1 from public.site_projects p
                            where p.id = storage.folder_uuid(objects.name, 2) and p.org_id = storage.folder_uuid(objects.name, 1)
                              and p.client_id = (select auth.uid())))
        )
    );
create policy site_assets_change on storage.objects for update to authenticated
    using (
        bucket_id = 'site-assets'
        and (
            storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('sites.write'))::uuid[])
            or (storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('sites.customize'))::uuid[])
                and exists (select 1 from public.site_projects p
                            where p.id = storage.folder_uuid(objects.name, 2) and p.org_id = storage.folder_uuid(objects.name, 1)
                              and p.client_id = (select auth.uid())))
        )
    );
create policy site_assets_delete on storage.objects for delete to authenticated
    using (bucket_id = 'site-assets'
           and storage.folder_uuid(objects.name, 1) = any ((select auth.orgs_with('sites.write'))::uuid[]));
