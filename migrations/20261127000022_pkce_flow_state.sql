-- PKCE (`flowType: 'pkce'`, the default of @supabase/ssr): a mailed link proves the address, but the
-- session goes only to whoever holds the code verifier the flow began with. A sign-up, magic link,
-- recovery or e-mail change that carries a `code_challenge` records it here; the mailed token points
-- at it; following the link hands out a one-time auth code (stored hashed), which
-- `POST /token?grant_type=pkce {auth_code, code_verifier}` exchanges for a session.
create table auth.flow_state (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    code_challenge text not null check (length(code_challenge) between 43 and 128),
    code_challenge_method text not null check (code_challenge_method in ('s256', 'plain')),
    -- The AMR method the session will carry: 'email/signup', 'magiclink', 'recovery', 'email_change'.
    authentication_method text not null,
    provider_type text not null default 'email',
    -- hex(sha256(auth code)); set when the mailed link is followed.
    auth_code_hash text unique,
    auth_code_issued_at timestamptz,
    created_at timestamptz not null default now(),
    check ((auth_code_hash is null) = (auth_code_issued_at is null))
);
create index flow_state_user_idx on auth.flow_state (user_id, created_at);

alter table auth.one_time_tokens
    add column flow_state_id uuid references auth.flow_state (id) on delete set null;
