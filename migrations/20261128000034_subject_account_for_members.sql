-- An org's export or erasure of a person (`rpc('subject_export' | 'subject_erase', {org, email})`,
-- `/functions/v1/subject-*`) speaks of their account only when that account is a member of the
-- org. Before, the rows were limited to the org but the account, identities and profile were not:
-- an admin of any org (one they had just created would do) could read any user's account by
-- address, and `user_id` told whether an address had an account at all. The operator's own
-- export (`bizbase subject export`, every org) is unchanged.

-- Whether the account with this address is a member of the org.
create function private.subject_is_member(p_email text, p_org uuid) returns boolean
language sql stable security definer set search_path = ''
as $$
    select exists (
        select 1
        from auth.users u
        join public.org_members m on m.user_id = u.id and m.org_id = p_org
        where u.email = lower(trim(p_email))
    )
$$;

create or replace function public.subject_export(org uuid, email text) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
    v_doc jsonb;
begin
    if not auth.can(org, 'data.export') then
        raise exception 'permission denied: data.export needs an admin with a second factor' using errcode = '42501';
    end if;
    v_doc := private.subject_document(email, org);
    if private.subject_is_member(email, org) then
        return v_doc;
    end if;
    return v_doc - 'account' - 'identities' - 'profile'
        || jsonb_build_object('subject', (v_doc -> 'subject') || '{"user_id": null}');
end
$$;

create or replace function public.subject_erase(org uuid, email text) returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
    v_member boolean := private.subject_is_member(email, org);
    v_done jsonb;
begin
    if not auth.can(org, 'data.erase') then
        raise exception 'permission denied: data.erase needs an admin with a second factor' using errcode = '42501';
    end if;
    v_done := private.subject_erase(email, org);
    if v_member then
        return v_done;
    end if;
    return v_done || '{"user_id": null}';
end
$$;

revoke execute on function private.subject_is_member(text, uuid) from public;
