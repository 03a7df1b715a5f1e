-- The custom access-token hook runs as `supabase_auth_admin`, the role Supabase runs it as, instead
-- of as the role bizbase connects with (which owns every table and passes every policy).
--
-- A hook then reads only what it is granted, and the grants Supabase's documentation tells a project
-- to run (`grant usage on schema public to supabase_auth_admin; grant execute on function … to
-- supabase_auth_admin; grant all on table public.user_roles to supabase_auth_admin; …`) work here
-- unchanged — before, they failed: the role did not exist.
--
-- Roles are cluster-wide while migrations run per database (see the roles migration): every
-- statement tolerates the role already existing. A restore runs this migration again before it loads
-- a dump (whose grants name the role) into a cluster that may not have it; the grants and the
-- function that calls the hook are in the next migration.

do $$
begin
    begin
        create role supabase_auth_admin nologin noinherit;
    exception when duplicate_object or unique_violation then
        null;
    end;
    begin
        -- bizbase's own role switches to it for the hook's call.
        execute format('grant supabase_auth_admin to %I', current_user);
    exception when duplicate_object or unique_violation then
        null;
    end;
end
$$;
