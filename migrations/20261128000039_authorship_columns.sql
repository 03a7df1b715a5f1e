-- Columns that say who wrote a row (`ticket_messages.author_id`, `site_versions.created_by`, …)
-- default to the writer, but a signed-in writer could name anyone else — a message posted in a
-- colleague's name, a site version attributed to the customer — or change the name afterwards.
-- For writes through the API as `authenticated`, such a column must now be the writer on insert
-- and cannot change on update (SQLSTATE 42501, HTTP 403). The service role, and the server's own
-- SQL (security-definer functions such as the GDPR erasure, foreign-key actions when an account is
-- deleted), still set them freely: imports and erasure need to.

create function private.authored_by_writer() returns trigger
language plpgsql set search_path = ''
as $$
declare
    v_column text := tg_argv[0];
    v_new uuid;
begin
    -- `current_user`, not the token's role: inside a security-definer function it is the owner.
    if current_user <> 'authenticated' then
        return new;
    end if;
    v_new := (to_jsonb(new) ->> v_column)::uuid;
    if tg_op = 'INSERT' and v_new is distinct from auth.uid() then
        raise exception 'column "%" of table "%" names who wrote the row: it must be you', v_column, tg_table_name
            using errcode = '42501', column = v_column,
                  hint = 'Leave it out: it defaults to your user id.';
    end if;
    if tg_op = 'UPDATE' and v_new is distinct from (to_jsonb(old) ->> v_column)::uuid then
        raise exception 'column "%" of table "%" names who wrote the row and cannot be changed', v_column, tg_table_name
            using errcode = '42501', column = v_column;
    end if;
    return new;
end
$$;

do $$
declare
    v record;
begin
    for v in
        select * from (values
            ('public.ticket_messages', 'author_id'),
            ('public.site_versions', 'created_by'),
            ('public.canned_replies', 'created_by'),
            ('public.campaigns', 'created_by'),
            ('public.refunds', 'created_by'),
            ('public.org_invitations', 'invited_by'),
            ('public.orgs', 'created_by')
        ) t(tbl, col)
    loop
        execute format(
            'create trigger authored_by before insert or update of %I on %s '
            'for each row execute function private.authored_by_writer(%L)',
            v.col, v.tbl, v.col);
    end loop;
end
$$;
