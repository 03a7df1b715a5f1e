-- Session management for the signed-in user (`supabase.rpc(...)`): the sessions of their account —
-- one per sign-in, device or browser — and revoking one of them (a lost laptop) without signing
-- out everywhere. A revoked session's refresh token stops working at once and Auth endpoints
-- answer its access token with `session_not_found`; the data API honours the access token until it
-- expires, as after a sign-out.

create function public.my_sessions()
returns table (
    id uuid, created_at timestamptz, refreshed_at timestamptz, user_agent text, ip inet, aal text,
    "current" boolean
)
language sql stable security definer set search_path = ''
as $$
    select s.id, s.created_at, s.refreshed_at, s.user_agent, s.ip, s.aal,
           s.id = nullif(auth.jwt() ->> 'session_id', '')::uuid
    from auth.sessions s
    where s.user_id = auth.uid()
    order by s.created_at desc
$$;
revoke execute on function public.my_sessions() from public;
grant execute on function public.my_sessions() to authenticated;

-- Ends one session of the caller; false when they have no such session (someone else's, or gone).
create function public.revoke_session(session_id uuid) returns boolean
language plpgsql volatile security definer set search_path = ''
as $$
declare
    revoked boolean;
begin
    delete from auth.sessions s where s.id = revoke_session.session_id and s.user_id = auth.uid();
    revoked := found;
    if revoked then
        insert into auth.audit_log_entries (action, actor_id, target_id, user_agent, request_id, payload)
        values ('session_revoked', auth.uid(), auth.uid(),
                nullif(current_setting('request.headers', true), '')::jsonb ->> 'user-agent',
                coalesce(nullif(current_setting('request.id', true), ''),
                         nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-request-id'),
                jsonb_build_object('session_id', revoke_session.session_id));
    end if;
    return revoked;
end
$$;
revoke execute on function public.revoke_session(uuid) from public;
grant execute on function public.revoke_session(uuid) to authenticated;
