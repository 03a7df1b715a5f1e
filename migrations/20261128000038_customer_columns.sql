-- What a customer writes is theirs to write, not the staff's fields. Before, a customer's new ticket
-- could carry any contact (filing it into another person's history, export and erasure), a first
-- response, a sentiment or a back- or forward-dated `created_at` (from which its SLA due times are
-- computed); and a customer customizing their own site project could also set its status, domain,
-- template and contact.

-- A customer's ticket: open, unassigned, theirs (as before), and with none of the staff's fields.
drop policy tickets_own_insert on public.tickets;
create policy tickets_own_insert on public.tickets for insert to authenticated
    with check (
        user_id = (select auth.uid()) and status = 'open' and assignee_id is null
        and contact_id is null and first_responded_at is null and sentiment is null
        and created_at = now()
        and org_id = any ((select auth.orgs_with('tickets.create'))::uuid[])
    );

-- A customer customizing their site project (`sites.customize`, without `sites.write`) changes its
-- name and settings only.
create function private.site_project_customized() returns trigger
language plpgsql
as $$
begin
    if current_user = 'authenticated'
       and not (old.org_id = any (auth.orgs_with('sites.write')))
       and (new.status, new.domain, new.template_id, new.contact_id, new.client_id, new.org_id)
           is distinct from (old.status, old.domain, old.template_id, old.contact_id, old.client_id, old.org_id)
    then
        raise exception 'a customer changes only the name and settings of their site project'
            using errcode = '42501';
    end if;
    return new;
end
$$;
create trigger site_projects_customized before update on public.site_projects
    for each row execute function private.site_project_customized();
