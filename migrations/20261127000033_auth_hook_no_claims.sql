-- The access-token hook runs with no request claims, as in Supabase (GoTrue calls it on a connection
-- of its own, where none are set). Before, the hook saw whatever its transaction's connection held:
-- nothing when all is well, but a project function that had set `request.jwt.claims` (or the older
-- `request.jwt.claim.sub` and its kin) for a whole session made a hook that reads `auth.uid()` or
-- `auth.jwt()` — instead of `event->>'user_id'` — compute the claims of whoever that was. Now those
-- settings are empty for the call; after it they are reset and the caller's set again, as in 0030.

create or replace function private.call_access_token_hook(p_hook regprocedure, p_event jsonb)
returns jsonb language plpgsql as $$
declare
    v_guarded constant text[] := array['role', 'request.jwt.claims', 'request.jwt.claim',
        'request.jwt.claim.sub', 'request.jwt.claim.role', 'request.jwt.claim.email'];
    v_caller text[] := array(select current_setting(g, true) from unnest(v_guarded) g);
    v_out jsonb;
begin
    -- Every guarded name but the role (element 1), empty for the call.
    for i in 2 .. array_length(v_guarded, 1) loop
        perform set_config(v_guarded[i], '', true);
    end loop;
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
