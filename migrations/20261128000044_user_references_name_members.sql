-- A business row that names a user — a contact's or ticket's customer account, a deal's owner, a
-- site project's client — names a member of the row's org. Before, a signed-in writer could put any
-- user id there: the foreign key answered "not present in table users" for an id without an account,
-- which told whether an id is an account; and a row planted with a non-member's id was then found by
-- the org's own data-subject export of their address, which tied the address to the id (found by an
-- attack review). For writes through the API as `authenticated`, such a column, when set or
-- changed, must now name a member of the org; the refusal is the same for a non-member and for no
-- account at all (SQLSTATE 23503, HTTP 409). Rows keep naming
-- members who have since left, and the service role and the server's own SQL are not checked.
--
-- The check reads the membership past row-level security (security definer), so it cannot tell who
-- writes from `current_user`; `current_setting('role')` still names the role the request switched to.
-- It runs AFTER the row is written, so row-level security refuses a write to another org first (as
-- before), and it is named to fire before the foreign keys' own triggers (`RI_ConstraintTrigger_…`:
-- triggers fire in the byte order of their names, and `M` comes before `R`), whose message would
-- tell an id without an account from a non-member.

create function private.names_a_member() returns trigger
language plpgsql security definer set search_path = ''
as $$
declare
    v_column text := tg_argv[0];
    v_user uuid := (to_jsonb(new) ->> v_column)::uuid;
begin
    if current_setting('role') <> 'authenticated' or v_user is null
       or (tg_op = 'UPDATE' and v_user is not distinct from (to_jsonb(old) ->> v_column)::uuid)
       or exists (select 1 from public.org_members m where m.org_id = new.org_id and m.user_id = v_user) then
        return null;
    end if;
    raise exception 'insert or update on table "%" names a user who is not a member of the organization', tg_table_name
        using errcode = '23503', column = v_column,
              detail = format('Key (%s)=(%s) is not a member of the row''s organization.', v_column, v_user);
end
$$;

do $$
declare
    v record;
begin
    for v in
        select * from (values
            ('public.activities', 'owner_id'),
            ('public.billing_customers', 'user_id'),
            ('public.companies', 'owner_id'),
            ('public.contacts', 'owner_id'),
            ('public.contacts', 'user_id'),
            ('public.deals', 'owner_id'),
            ('public.invoices', 'user_id'),
            ('public.leads', 'user_id'),
            ('public.payments', 'user_id'),
            ('public.sales_transactions', 'user_id'),
            ('public.site_projects', 'client_id'),
            ('public.subscriptions', 'user_id'),
            ('public.tickets', 'assignee_id'),
            ('public.tickets', 'user_id')
        ) t(tbl, col)
    loop
        execute format(
            'create trigger %I after insert or update of %I on %s '
            'for each row execute function private.names_a_member(%L)',
            'Member_' || v.col, v.col, v.tbl, v.col);
    end loop;
end
$$;
