-- A reference to another organization's row is refused with the very answer PostgreSQL gives for
-- a reference to no row at all. Before (migration 0019), the refusal said "refers to a row of
-- another organization", while an id that exists nowhere got the foreign key's "is not present in
-- table": a member who held a UUID could learn that it names a row of some other org. Both now
-- read as the foreign key's violation — same SQLSTATE (23503, HTTP 409), message, detail,
-- constraint, schema and table — so the check keeps the tenant boundary without telling anything
-- across it. Like PostgreSQL, the detail names the key only to roles that row-level security does
-- not bind (the check runs as its definer, so `current_setting('role')` tells who asked). The refusal to move a row to another org (23514) is unchanged.
--
-- This restates 0019's generator with only the messages changed (a migration cannot edit an
-- earlier one) and regenerates the trigger function of every table that has the check.

create or replace function private.enforce_same_org(p_table regclass) returns void
language plpgsql set search_path = ''
as $gen$
declare
    v_name text := (select relname from pg_class where oid = p_table);
    v_schema text := (select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                      where c.oid = p_table);
    v_fn text := format('private.%I', 'same_org_' || v_name);
    v_checks text := '';
    v_fk record;
begin
    for v_fk in
        select a.attname as col, c.confrelid::regclass as ref, c.conname as constraint_name,
               (select relname from pg_class where oid = c.confrelid) as ref_name
        from pg_constraint c
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
        where c.conrelid = p_table and c.contype = 'f' and array_length(c.conkey, 1) = 1
          and exists (select 1 from pg_attribute x
                      where x.attrelid = c.confrelid and x.attname = 'org_id' and not x.attisdropped)
        order by a.attname
    loop
        v_checks := v_checks || format($c$
    if new.%1$I is not null
       and exists (select 1 from %2$s r where r.id = new.%1$I and r.org_id <> new.org_id) then
        raise exception 'insert or update on table "%%" violates foreign key constraint "%%"', tg_table_name, %3$L
            using errcode = '23503', constraint = %3$L, schema = %5$L, table = tg_table_name,
                  detail = case when current_setting('role') in ('anon', 'authenticated')
                                then format('Key is not present in table "%%s".', %4$L)
                                else format('Key (%%s)=(%%s) is not present in table "%%s".', %1$L, new.%1$I, %4$L) end;
    end if;$c$, v_fk.col, v_fk.ref, v_fk.constraint_name, v_fk.ref_name, v_schema);
    end loop;
    execute format($f$
create or replace function %1$s() returns trigger
language plpgsql security definer set search_path = ''
as $body$
begin
    if tg_op = 'UPDATE' and new.org_id is distinct from old.org_id then
        raise exception 'a row of table "%%" cannot move to another organization', tg_table_name
            using errcode = '23514', column = 'org_id';
    end if;%2$s
    return new;
end
$body$$f$, v_fn, v_checks);
    if exists (select 1 from pg_trigger where tgrelid = p_table and tgname = 'same_org') then
        execute format('drop trigger same_org on %s', p_table);
    end if;
    execute format('create trigger same_org before insert or update on %s for each row execute function %s()',
                   p_table, v_fn);
end
$gen$;

do $$
declare
    v_table regclass;
begin
    for v_table in
        select t.tgrelid::regclass from pg_trigger t
        where t.tgname = 'same_org' and not t.tgisinternal
        order by t.tgrelid::regclass::text
    loop
        perform private.enforce_same_org(v_table);
    end loop;
end
$$;
