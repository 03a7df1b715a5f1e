-- Migration 0038 kept staff's fields out of a customer's ticket and site project; two gaps stayed
-- (found by an attack review of the data API):
--
-- * A customer's message on their ticket could carry a sentiment score and label (read by
--   `ticket_stats` and `customer_history`: a customer could mark their own complaint "positive")
--   and a `created_at` of their choosing (reordering the conversation, which is kept in time
--   order). Those are the staff's and the clock's.
-- * A customer customizing their site project could change its `created_at` (and its `id`, held
--   back only by the foreign keys of its versions): everything but the name and settings is now
--   theirs to leave as it is, as the README always said.

drop policy ticket_messages_own_insert on public.ticket_messages;
create policy ticket_messages_own_insert on public.ticket_messages for insert to authenticated
    with check (
        author_id = (select auth.uid()) and author_kind = 'customer' and not internal
        and sentiment is null and sentiment_label is null and created_at = now()
        and org_id = any ((select auth.orgs_with('messages.create'))::uuid[])
        and exists (select 1 from public.tickets t
                where t.id = ticket_messages.ticket_id and t.user_id = (select auth.uid()) and t.org_id = ticket_messages.org_id)
    );

-- As 0038's, comparing the whole row but the name, the settings and `updated_at` (which any
-- writer of any table may set, as before; the `updated_at` trigger stamps it when left alone).
create or replace function private.site_project_customized() returns trigger
language plpgsql
as $$
begin
    if current_user = 'authenticated'
       and not (old.org_id = any (auth.orgs_with('sites.write')))
       and (to_jsonb(new) - array['name', 'settings', 'updated_at'])
           is distinct from (to_jsonb(old) - array['name', 'settings', 'updated_at'])
    then
        raise exception 'a customer changes only the name and settings of their site project'
            using errcode = '42501';
    end if;
    return new;
end
$$;
