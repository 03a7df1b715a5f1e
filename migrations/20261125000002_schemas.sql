-- The schemas: `auth` (identity), `storage` (file metadata), `private` (never exposed: jobs,
-- outbox, audit) and `public` (served by /rest/v1, guarded by row-level security).

create schema if not exists auth;
create schema if not exists storage;
create schema if not exists private;

revoke all on schema private from public;
revoke create on schema public from public;

grant usage on schema public to anon, authenticated, service_role;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema storage to anon, authenticated, service_role;
