-- The database roles the data API switches between, and the login role that may switch to them.
-- Roles are cluster-wide while migrations run per database, so several databases of one cluster
-- may run this at the same moment: every statement tolerates the role already existing.
--
-- Revised on 2026-11-28 (same effect where the first text ran; src/db/mod.rs keeps the first
-- text's checksum as an accepted one): a role that exists is no longer created again, so an owner
-- that is not a superuser migrates once a superuser has created what it may not create itself
-- (`service_role`, which bypasses row-level security, on PostgreSQL 15 and older); and a missing
-- privilege is reported with the statement to run instead of PostgreSQL's bare refusal.

do $$
declare
    r record;
begin
    for r in
        select * from (values
            ('anon', 'nologin noinherit'),
            ('authenticated', 'nologin noinherit'),
            ('service_role', 'nologin noinherit bypassrls'),
            ('authenticator', 'login noinherit')
        ) as wanted (name, attributes)
        where not exists (select from pg_catalog.pg_roles where rolname = wanted.name)
    loop
        begin
            execute format('create role %I %s', r.name, r.attributes);
        exception
            when duplicate_object or unique_violation then
                null;
            when insufficient_privilege then
                raise exception 'role "%" does not exist and "%" may not create it: as a superuser, run '
                                '"create role % %", then migrate again', r.name, current_user, r.name, r.attributes
                    using errcode = 'insufficient_privilege';
        end;
    end loop;

    for r in select * from (values ('authenticator'), (current_user::text)) as grantees (name) loop
        begin
            execute format('grant anon, authenticated, service_role to %I', r.name);
        exception
            when duplicate_object or unique_violation then
                null;
            when insufficient_privilege then
                if not (pg_catalog.pg_has_role(r.name, 'anon', 'member')
                        and pg_catalog.pg_has_role(r.name, 'authenticated', 'member')
                        and pg_catalog.pg_has_role(r.name, 'service_role', 'member')) then
                    raise exception '"%" may not grant the API roles to "%": as a superuser, run '
                                    '"grant anon, authenticated, service_role to %", then migrate again',
                                    current_user, r.name, r.name
                        using errcode = 'insufficient_privilege';
                end if;
        end;
    end loop;
end
$$;
