-- Recovery codes handed out at an enrolment are pending until that factor is verified.
--
-- Before, every `POST /factors` deleted the user's recovery codes and stored the new ones at once.
-- A user with a verified factor who enrolled another one and abandoned it (never verified it, or
-- unenrolled it) had lost the codes they had saved, and held only codes shown for a factor that no
-- longer mattered: a lockout. Now an enrolment's codes carry `pending_factor_id`; they pass nothing,
-- and are deleted with their factor (unenrolled, discarded when another factor is verified, or
-- expired). The first verification of that factor deletes the user's active codes and activates
-- its own (`pending_factor_id` set to null), in the same transaction.
--
-- Existing rows stay active (null): codes stored by an enrolment that was never verified cannot be
-- told apart from the ones the user relies on, and after the old behaviour they may be the only
-- codes the user has, so none is demoted to pending.

alter table auth.mfa_recovery_codes
    add column pending_factor_id uuid references auth.mfa_factors (id) on delete cascade;

comment on column auth.mfa_recovery_codes.pending_factor_id is
    'The unverified factor whose enrolment generated this code; null once the code is active.';

-- The cascade from auth.mfa_factors looks codes up by factor.
create index mfa_recovery_codes_pending_factor_id_idx
    on auth.mfa_recovery_codes (pending_factor_id) where pending_factor_id is not null;
