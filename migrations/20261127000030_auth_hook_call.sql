-- What `supabase_auth_admin` (previous migration) may read, and the call of the hook as that role.
-- Like Supabase's, the role may read `auth.users` (a hook adding claims from the user's metadata
-- needs nothing more); everything else a hook reads is granted by the project, as in Supabase.

grant usage on schema public, auth to supabase_auth_admin;
grant select on auth.users to supabase_auth_admin;

-- Calls the hook `p_hook` (a function `(jsonb) returns jsonb`) with `p_event` as
-- `supabase_auth_admin`, and switches back to the caller's role for the rest of the transaction.
-- Not `security definer`: PostgreSQL forbids `set role` there; only bizbase can call it (no API role
-- may use schema `private`). A hook that fails aborts the transaction, and the role with it.
create or replace function private.call_access_token_hook(p_hook regprocedure, p_event jsonb)
returns jsonb language plpgsql as $$
declare
    v_caller text := current_user;
    v_out jsonb;
begin
    set local role supabase_auth_admin;
    execute format('select %s($1)', p_hook::regproc) into v_out using p_event;
    perform set_config('role', v_caller, true);
    return v_out;
end
$$;
revoke all on function private.call_access_token_hook(regprocedure, jsonb) from public;
