-- `rpc('my_sessions')` and `rpc('revoke_session')` read only the access token's claims, and the data
-- API honours an access token until it expires: so the token of a session that had ended (signed
-- out, revoked, or ended by a new password) could still list the account's sessions, with their
-- addresses and user agents, and revoke the new ones — an evicted attacker could keep evicting the
-- owner until the token expired. Banned users could too. As on `/auth/v1` (`session_not_found`,
-- `user_banned`), both now need the caller's session to exist and the user to be neither banned nor
-- deleted; otherwise they fail with HTTP 403.

create function private.require_live_session() returns uuid
language plpgsql stable security definer set search_path = ''
as $$
declare
    sid uuid := nullif(auth.jwt() ->> 'session_id', '')::uuid;
    banned timestamptz;
begin
    select u.banned_until into banned
    from auth.sessions s join auth.users u on u.id = s.user_id
    where s.id = sid and s.user_id = auth.uid() and u.deleted_at is null;
    if not found then
        raise exception using errcode = 'PT403',
            message = 'Session from session_id claim in JWT does not exist',
            hint = 'Sign in again: this session has ended.';
    end if;
    if banned > now() then
        raise exception using errcode = 'PT403', message = 'User is banned';
    end if;
    return sid;
end
$$;
revoke execute on function private.require_live_session() from public;

create or replace function public.my_sessions()
returns table (
    id uuid, created_at timestamptz, refreshed_at timestamptz, user_agent text, ip inet, aal text,
    "current" boolean
)
language plpgsql stable security definer set search_path = ''
as $$
declare
    caller uuid := private.require_live_session();
begin
    return query
    select s.id, s.created_at, s.refreshed_at, s.user_agent, s.ip, s.aal, s.id = caller
    from auth.sessions s
    where s.user_id = auth.uid()
    order by s.created_at desc;
end
$$;

create or replace function public.revoke_session(session_id uuid) returns boolean
language plpgsql volatile security definer set search_path = ''
as $$
declare
    revoked boolean;
begin
    perform private.require_live_session();
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
