-- The claim helpers read the claims bizbase verified for this request first.
--
-- Every request transaction sets `request.jwt.claims` with `SET LOCAL`, so that setting always holds
-- the caller's verified token. The older names (`request.jwt.claim`, `request.jwt.claim.sub`,
-- `.role`, `.email`, which PostgREST 8 and earlier set) are never set by bizbase; 0005 read them
-- first, as Supabase's helpers do, so a project function that set one of them for the whole session
-- (`set_config(…, false)`) made every later request on that pooled connection read that value —
-- someone else's `auth.uid()`, or organizations and roles (`auth.jwt()` feeds `auth.org_ids()`,
-- `auth.role_in()`, `auth.can()`). Now the older names are read only where no request set the
-- claims — not even when the request's claims lack the field (an anon caller has no `sub`): SQL
-- run outside bizbase's requests (psql, test scripts) that sets only the older names still works.
-- A policy that reads `current_setting('request.jwt.claim.sub')` directly still sees whatever was
-- set; the helpers are the supported way.

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claims', true), ''),
        nullif(current_setting('request.jwt.claim', true), '')
    )::jsonb
$$;

-- Each below stays one expression without FROM, so the planner inlines it into the policy.
create or replace function auth.uid() returns uuid
language sql stable
as $$
    select case when nullif(current_setting('request.jwt.claims', true), '') is not null
        then current_setting('request.jwt.claims', true)::jsonb ->> 'sub'
        else nullif(current_setting('request.jwt.claim.sub', true), '')
    end::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
    select case when nullif(current_setting('request.jwt.claims', true), '') is not null
        then current_setting('request.jwt.claims', true)::jsonb ->> 'role'
        else nullif(current_setting('request.jwt.claim.role', true), '')
    end
$$;

create or replace function auth.email() returns text
language sql stable
as $$
    select case when nullif(current_setting('request.jwt.claims', true), '') is not null
        then current_setting('request.jwt.claims', true)::jsonb ->> 'email'
        else nullif(current_setting('request.jwt.claim.email', true), '')
    end
$$;
