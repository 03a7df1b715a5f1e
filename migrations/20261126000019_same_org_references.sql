-- A row may only refer to rows of its own organization. The foreign keys say that the referenced
-- row exists; they do not say it belongs to the same org, so a member of org B who learned the
-- id of org A's contact could attach B's lead to it, and everything that follows references
-- (embeds, the GDPR export and erasure, the RPCs) would cross the tenant boundary. Each
-- org-scoped table gets a trigger, generated from its foreign keys, that refuses such a row with
-- SQLSTATE 23503 (HTTP 409, as for any foreign-key violation) and refuses moving a row to
-- another org (23514, HTTP 400: children would be left behind in the old one).
--
-- The checks are static SQL in one function per table (plans are cached), read the referenced
-- row past row-level security (the caller may not be allowed to see it, which must not change
-- the answer), and skip null references and missing rows (the foreign key reports those).
-- A later migration that adds an org-scoped table or foreign key calls
-- `select private.enforce_same_org('public.<table>')` to regenerate that table's trigger.

create function private.enforce_same_org(p_table regclass) returns void
language plpgsql set search_path = ''
as $gen$
declare
    v_name text := (select relname from pg_class where oid = p_table);
    v_fn text := format('private.%I', 'same_org_' || v_name);
    v_checks text := '';
    v_fk record;
begin
    for v_fk in
        select a.attname as col, c.confrelid::regclass as ref
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
        raise exception 'insert or update on table "%%" refers to a row of another organization', tg_table_name
            using errcode = '23503', column = %1$L,
                  detail = format('Key (%%s)=(%%s) belongs to another organization than the row.', %1$L, new.%1$I);
    end if;$c$, v_fk.col, v_fk.ref);
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
        select c.oid::regclass from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and c.relname <> 'orgs'
          and exists (select 1 from pg_attribute x
                      where x.attrelid = c.oid and x.attname = 'org_id' and not x.attisdropped)
        order by c.relname
    loop
        perform private.enforce_same_org(v_table);
    end loop;
end
$$;
