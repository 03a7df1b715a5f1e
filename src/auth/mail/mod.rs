//! E-mailed tokens and the mail outbox.
//!
//! Every mail is written to `private.outbox` in the transaction that causes it, so nothing is sent
//! for a rolled-back request and nothing is lost when SMTP is down; the outbox worker
//! (`crate::jobs::outbox`) delivers it by SMTP when configured. Without SMTP the outbox *is* the
//! delivery: flows work locally and tests read their codes from it.
//!
//! One-time tokens are stored as GoTrue stores them: `hex(sha224(email ‖ otp))`, one per user and
//! kind, so the same value serves as the 6-digit code (`verifyOtp({email, token})`) and the link
//! (`token_hash`).

mod issue;
mod redirect;
mod spend;

pub use issue::{check_frequency, enqueue, issue, send, send_email_change};
pub use redirect::allowed_redirect;
pub use spend::{Consumed, consume, void_confirmation, void_pending, void_sign_in_links};

/// The kinds of e-mailed tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Confirm a new account (`type=signup`).
    Confirmation,
    /// Reset a password (`type=recovery`).
    Recovery,
    /// Sign in without a password (`type=magiclink`).
    MagicLink,
    /// Confirm a new e-mail address (`type=email_change`).
    EmailChange,
    /// Confirm, from the current address, a change to a new one (`type=email_change`; secure
    /// e-mail change only).
    EmailChangeCurrent,
    /// Accept an invitation (`type=invite`).
    Invite,
    /// Re-authenticate before a password change (a nonce).
    Reauthentication,
}

impl TokenKind {
    /// The `token_type` in `auth.one_time_tokens`.
    pub fn db_name(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Recovery => "recovery",
            Self::MagicLink => "magiclink",
            Self::EmailChange => "email_change_new",
            Self::EmailChangeCurrent => "email_change_current",
            Self::Invite => "invite",
            Self::Reauthentication => "reauthentication",
        }
    }

    /// The `type` of the verify link.
    pub fn verify_type(self) -> &'static str {
        match self {
            Self::Confirmation => "signup",
            Self::Recovery => "recovery",
            Self::MagicLink => "magiclink",
            Self::EmailChange | Self::EmailChangeCurrent => "email_change",
            Self::Invite => "invite",
            Self::Reauthentication => "reauthentication",
        }
    }

    /// What records on the user that it was sent: the `*_sent_at` column set to `now()` (an
    /// invitation, as in GoTrue, is also the confirmation mail).
    fn sent_at_set(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation_sent_at = now()",
            Self::Recovery | Self::MagicLink => "recovery_sent_at = now()",
            Self::EmailChange | Self::EmailChangeCurrent => "email_change_sent_at = now()",
            Self::Invite => "invited_at = now(), confirmation_sent_at = now()",
            Self::Reauthentication => "reauthentication_sent_at = now()",
        }
    }

    /// The mail template's name (as recorded in the outbox).
    pub fn template(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::Recovery => "recovery",
            Self::MagicLink => "magiclink",
            Self::EmailChange | Self::EmailChangeCurrent => "email_change",
            Self::Invite => "invite",
            Self::Reauthentication => "reauthentication",
        }
    }

    /// The built-in subject line.
    pub fn subject(self) -> &'static str {
        match self {
            Self::Confirmation => "Confirm your signup",
            Self::Recovery => "Reset your password",
            Self::MagicLink => "Your sign-in link",
            Self::EmailChange => "Confirm your new e-mail address",
            Self::EmailChangeCurrent => "Confirm the change of your e-mail address",
            Self::Invite => "You have been invited",
            Self::Reauthentication => "Confirm it is you",
        }
    }
}

/// A freshly issued token: the code to e-mail and the link that carries its hash.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The 6-digit code.
    pub otp: String,
    /// `hex(sha224(email ‖ otp))`.
    pub token_hash: String,
    /// What the link carries as `token`: the hash, `pkce_`-prefixed in the PKCE flow.
    pub link_token: String,
    /// The verify link.
    pub action_link: String,
    /// Where the link redirects after verification.
    pub redirect_to: String,
}
