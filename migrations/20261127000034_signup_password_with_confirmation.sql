-- A repeated sign-up's password travels with its confirmation.
--
-- Before, signing up an address that was registered but never confirmed sent the confirmation
-- again and dropped the new password: whoever signed up first kept theirs. Someone who signed up
-- with another person's address (and a password of their own) therefore got in as soon as the
-- owner signed up for real and confirmed the mail the owner's own sign-up had sent — the owner's
-- password did nothing (pre-account takeover; GoTrue behaves the same way).
--
-- Now a repeated sign-up holds its password's hash with the confirmation token it mails
-- (`password_hash`); confirming that token makes it the user's password, replacing the one the
-- first sign-up chose. A re-sent confirmation (`POST /resend`) keeps the held password; a first
-- sign-up holds none (its password is already the user's). The held hash lives until the token is
-- used, the address is confirmed some other way (every confirmation deletes the user's remaining
-- confirmation token, as GoTrue clears it), or the user is deleted: the expired-token sweep keeps
-- confirmation tokens that hold a password, so a `resend` after expiry still carries it.

alter table auth.one_time_tokens add column password_hash text;

comment on column auth.one_time_tokens.password_hash is
    'For a confirmation token mailed by a repeated sign-up: the hash of that sign-up''s password, '
    'applied when the token confirms the address.';

-- Only confirmation tokens carry one.
alter table auth.one_time_tokens add constraint one_time_tokens_password_only_for_confirmation
    check (password_hash is null or token_type = 'confirmation');
