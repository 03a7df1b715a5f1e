-- Every password sign-in updates its user's row (`last_sign_in_at`), and calling the PL/pgSQL
-- `set_updated_at` trigger was a measurable part of that statement's cost. The trigger now runs
-- only for updates that leave `updated_at` as it was; statements that set it themselves (the
-- sign-in sets `updated_at = now()`) skip the call. Every other update of `auth.users` still gets
-- a current `updated_at`. Only `auth.users` changes: the business tables' triggers stay
-- unconditional, so no client of the data API can set its own `updated_at` there.

drop trigger users_updated_at on auth.users;
create trigger users_updated_at before update on auth.users
    for each row when (new.updated_at is not distinct from old.updated_at)
    execute function private.set_updated_at();
