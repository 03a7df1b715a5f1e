-- The data API's schema cache follows DDL by itself: a table, view, function, type or grant
-- created, altered or dropped by anyone (psql, a migration tool, the dashboard's SQL editor)
-- sends `NOTIFY pgrst, 'reload schema'`, which every running bizbase listens for. Before, a new
-- table answered PGRST205 until someone sent that notification by hand.
--
-- Event triggers need a superuser. An owner that is not one (a managed database) skips them with a
-- notice; there `NOTIFY pgrst, 'reload schema'` after DDL stays the way (README, data API).
-- Temporary objects never notify; nor do indexes, statistics objects and a materialized view's refresh,
-- which change nothing the cache holds (a refresh on a schedule would reload every server each time). Notifications of one transaction collapse into one, and the
-- listener waits for a quiet moment before it reloads, so a script of statements costs one reload.

create or replace function private.notify_schema_changed() returns event_trigger
language plpgsql as $$
begin
    if exists (
        select 1 from pg_event_trigger_ddl_commands()
        where schema_name is distinct from 'pg_temp'
          and command_tag not in ('CREATE INDEX', 'ALTER INDEX', 'REFRESH MATERIALIZED VIEW',
                                  'CREATE STATISTICS', 'ALTER STATISTICS')
    ) then
        notify pgrst, 'reload schema';
    end if;
end
$$;

create or replace function private.notify_schema_dropped() returns event_trigger
language plpgsql as $$
begin
    if exists (
        select 1 from pg_event_trigger_dropped_objects()
        where not is_temporary and object_type not in ('index', 'statistics object')
    ) then
        notify pgrst, 'reload schema';
    end if;
end
$$;

comment on function private.notify_schema_changed() is
    'Event trigger: tells the data API to reload its schema cache after DDL (migration 0050).';
comment on function private.notify_schema_dropped() is
    'Event trigger: tells the data API to reload its schema cache after a drop (migration 0050).';

do $$
begin
    if (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
        drop event trigger if exists bizbase_schema_changed;
        drop event trigger if exists bizbase_schema_dropped;
        create event trigger bizbase_schema_changed on ddl_command_end
            execute function private.notify_schema_changed();
        create event trigger bizbase_schema_dropped on sql_drop
            execute function private.notify_schema_dropped();
    else
        raise notice 'not a superuser: the data API will not reload its schema cache after DDL by itself; '
            'send NOTIFY pgrst, ''reload schema'' after changing tables or functions';
    end if;
end
$$;
