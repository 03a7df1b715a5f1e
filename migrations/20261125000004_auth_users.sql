-- Identity: users, identities, sessions (with their refresh-token counter), MFA and one-time tokens.
-- Shaped after GoTrue's `auth` schema so SQL written for Supabase (`auth.users` foreign keys,
-- `auth.uid()`) keeps working. Secrets are never stored in clear: passwords are argon2id (or
-- imported bcrypt) hashes, one-time tokens and recovery codes are SHA-256 hashes, TOTP secrets
-- are encrypted by the application, refresh tokens are MACs derived from the session counter.

create table auth.users (
    id uuid primary key default gen_random_uuid(),
    aud text not null default 'authenticated',
    role text not null default 'authenticated',
    email text check (email = lower(email)),
    encrypted_password text,
    email_confirmed_at timestamptz,
    invited_at timestamptz,
    confirmation_sent_at timestamptz,
    recovery_sent_at timestamptz,
    email_change text,
    email_change_sent_at timestamptz,
    reauthentication_sent_at timestamptz,
    last_sign_in_at timestamptz,
    raw_app_meta_data jsonb not null default '{}'::jsonb,
    raw_user_meta_data jsonb not null default '{}'::jsonb,
    is_anonymous boolean not null default false,
    banned_until timestamptz,
    deleted_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index users_email_key on auth.users (email) where email is not null;
create index users_created_at_idx on auth.users (created_at);
create trigger users_updated_at before update on auth.users
    for each row execute function private.set_updated_at();

create table auth.identities (
    id uuid primary key default gen_random_uuid(),
    provider_id text not null,
    user_id uuid not null references auth.users (id) on delete cascade,
    identity_data jsonb not null,
    provider text not null,
    last_sign_in_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    email text generated always as (lower(identity_data ->> 'email')) stored,
    unique (provider_id, provider)
);
create index identities_user_id_idx on auth.identities (user_id);

create table auth.mfa_factors (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    friendly_name text,
    factor_type text not null check (factor_type in ('totp')),
    status text not null check (status in ('unverified', 'verified')),
    secret bytea not null,
    last_used_step bigint,
    last_challenged_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index mfa_factors_user_friendly_name_key on auth.mfa_factors (user_id, friendly_name)
    where friendly_name is not null and friendly_name <> '';
create index mfa_factors_user_id_idx on auth.mfa_factors (user_id);

create table auth.sessions (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    aal text not null default 'aal1' check (aal in ('aal1', 'aal2')),
    factor_id uuid references auth.mfa_factors (id) on delete set null,
    refresh_counter bigint not null default 0,
    refreshed_at timestamptz,
    user_agent text,
    ip inet,
    not_after timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index sessions_user_id_idx on auth.sessions (user_id);

-- Authentication methods of a session, newest first in the token's `amr`.
create table auth.mfa_amr_claims (
    session_id uuid not null references auth.sessions (id) on delete cascade,
    authentication_method text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    primary key (session_id, authentication_method)
);

create table auth.mfa_challenges (
    id uuid primary key default gen_random_uuid(),
    factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
    ip_address inet,
    verified_at timestamptz,
    created_at timestamptz not null default now()
);
create index mfa_challenges_factor_id_idx on auth.mfa_challenges (factor_id);

-- Single-use recovery codes (bizbase's addition to GoTrue), SHA-256 hashed.
create table auth.mfa_recovery_codes (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    code_hash text not null,
    used_at timestamptz,
    created_at timestamptz not null default now(),
    unique (user_id, code_hash)
);

-- Confirmation, recovery, magic-link, e-mail-change, invite and reauthentication tokens.
-- `token_hash` is hex(sha224(email || otp)) as in GoTrue, so the same value works in links.
create table auth.one_time_tokens (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null references auth.users (id) on delete cascade,
    token_type text not null check (token_type in (
        'confirmation', 'recovery', 'magiclink', 'email_change_current', 'email_change_new', 'invite', 'reauthentication')),
    token_hash text not null,
    relates_to text not null,
    created_at timestamptz not null default now(),
    unique (user_id, token_type)
);
create index one_time_tokens_token_hash_idx on auth.one_time_tokens (token_hash);

-- Every auth event: who, what, from where, in which request.
create table auth.audit_log_entries (
    id uuid primary key default gen_random_uuid(),
    action text not null,
    actor_id uuid,
    target_id uuid,
    ip inet,
    user_agent text,
    request_id text,
    payload jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now()
);
create index audit_log_entries_actor_idx on auth.audit_log_entries (actor_id, created_at);

-- Outgoing side effects (e-mail first), written in the transaction that causes them and
-- delivered after commit by a worker.
create table private.outbox (
    id uuid primary key default gen_random_uuid(),
    kind text not null,
    payload jsonb not null,
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    delivered_at timestamptz,
    last_error text,
    created_at timestamptz not null default now()
);
create index outbox_pending_idx on private.outbox (next_attempt_at) where delivered_at is null;
