-- What `supabase_auth_admin` (previous migration) may read, and the call of the hook as that role.
-- Like Supabase's, the role may read the auth schema (a hook adding claims from the user's metadata
-- needs nothing more); everything else a hook reads is granted by the project, as in Supabase.

grant usage on schema public, auth to supabase_auth_admin;
-- Supabase's role owns the auth schema, so hooks there read any of its tables.
grant select on all tables in schema auth to supabase_auth_admin;
alter default privileges in schema auth grant select on tables to supabase_auth_admin;

-- Calls the hook `p_hook` (a function `(jsonb) returns jsonb`) with `p_event` as
-- `supabase_auth_admin`, and switches back to the caller's role for the rest of the transaction.
-- Not `security definer`: PostgreSQL forbids `set role` there; only bizbase can call it (no API role
-- may use schema `private`). A hook that fails aborts the transaction, and the role with it.
--
-- A hook may itself change the role or the request's claims for the whole session (`set role …`,
-- `set_config('request.jwt.claims', …, false)`, or the older `request.jwt.claim.sub` and its kin,
-- which `auth.uid()` reads first), which would outlive the transaction on a pooled connection and
-- make later requests there act as someone else: those settings are reset after the call, which
-- puts their session values back to the defaults (bizbase sets them only per transaction), and the
-- caller's are set again for the rest of this one. Other settings a hook changes for the session
-- stay; the switch is a guard against mistakes, not a boundary: a hook can switch to any role the
-- connection's login may use, as SQL run by bizbase's own role could.
create or replace function private.call_access_token_hook(p_hook regprocedure, p_event jsonb)
returns jsonb language plpgsql as $$
declare
    v_guarded constant text[] := array['role', 'request.jwt.claims', 'request.jwt.claim',
        'request.jwt.claim.sub', 'request.jwt.claim.role', 'request.jwt.claim.email'];
    v_caller text[] := array(select current_setting(g, true) from unnest(v_guarded) g);
    v_out jsonb;
begin
    set local role supabase_auth_admin;
    execute format('select %s($1)', p_hook::regproc) into v_out using p_event;
    for i in 1 .. array_length(v_guarded, 1) loop
        execute format('reset %I', v_guarded[i]);
        perform set_config(v_guarded[i], coalesce(v_caller[i], ''), true);
    end loop;
    return v_out;
end
$$;
revoke all on function private.call_access_token_hook(regprocedure, jsonb) from public;
