-- Statement timeouts of the data API's roles, as Supabase sets them: anonymous callers get 3 s,
-- signed-in users 8 s. They are settings of this database only (`in database`), so databases of
-- one cluster keep their own, and operators change them the PostgREST way:
--     alter role authenticated in database <db> set statement_timeout = '15s';
--     notify pgrst, 'reload config';
-- A login role that may not alter roles keeps the configured default
-- (BIZBASE_REST_STATEMENT_TIMEOUT_MS).

do $$
begin
    execute format('alter role anon in database %I set statement_timeout = %L', current_database(), '3s');
    execute format('alter role authenticated in database %I set statement_timeout = %L', current_database(), '8s');
exception when insufficient_privilege then
    raise notice 'not allowed to set role timeouts; the configured default applies';
end
$$;
