-- `rpc('accept_invitation')` read only the access token's claims, the address included: the
-- unexpired token of a session that had ended, of a banned user or of a user an admin deleted
-- (soft delete keeps the row and removes the memberships) could still take up an invitation and
-- so add a membership back; and a token minted before the user's address changed still spoke for
-- the old address. Now the caller's session must be live (`private.require_live_session`, 0048) and
-- the invitation must name the address the account has now.

create or replace function public.accept_invitation(token text) returns uuid
language plpgsql security definer set search_path = ''
as $$
declare
    inv public.org_invitations;
    address text;
begin
    perform private.require_live_session();
    select lower(u.email) into address from auth.users u where u.id = auth.uid();
    select * into inv from public.org_invitations
    where token_hash = encode(sha256(convert_to(token, 'UTF8')), 'hex')
      and accepted_at is null and expires_at > now()
    for update;
    if inv.id is null or inv.email <> coalesce(address, '') then
        raise exception 'invalid or expired invitation' using errcode = 'P0001';
    end if;
    insert into public.org_members (org_id, user_id, role) values (inv.org_id, auth.uid(), inv.role)
    on conflict (org_id, user_id) do update set role = excluded.role;
    update public.org_invitations set accepted_at = now() where id = inv.id;
    return inv.org_id;
end
$$;
