-- The database roles the data API switches between, and the login role that may switch to them.
-- Roles are cluster-wide while migrations run per database, so several databases of one cluster
-- may run this at the same moment: every statement tolerates the role already existing.

do $$
declare
    stmt text;
begin
    foreach stmt in array array[
        'create role anon nologin noinherit',
        'create role authenticated nologin noinherit',
        'create role service_role nologin noinherit bypassrls',
        'create role authenticator login noinherit'
    ] loop
        begin
            execute stmt;
        exception when duplicate_object or unique_violation then
            null;
        end;
    end loop;

    foreach stmt in array array[
        'grant anon, authenticated, service_role to authenticator',
        format('grant anon, authenticated, service_role to %I', current_user)
    ] loop
        begin
            execute stmt;
        exception when duplicate_object or unique_violation then
            null;
        end;
    end loop;
end
$$;
