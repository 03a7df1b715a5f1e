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

use chrono::Utc;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    crypto,
    mail_templates::{Rendered, Vars},
    pkce::{self, Challenge},
    user::{self, UserRow},
};
use crate::{
    app::AppState,
    error::{AppError, AppResult},
};

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

/// `redirect_to` if it is on the allow-list (the site URL or a configured prefix), else the site URL.
///
/// A target is allowed when its scheme, host and port equal an allowed URL's and its path lies
/// under the allowed path (on a `/` boundary); comparing text prefixes would let
/// `https://app.example.com.evil.net` or `https://app.example.com@evil.net` through.
pub fn allowed_redirect(app: &AppState, requested: Option<&str>) -> String {
    let auth = &app.config.auth;
    let Some(target) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return auth.site_url.clone();
    };
    // The URL parser drops tabs and line breaks that the raw text keeps, and that text becomes a
    // `Location` header: with control characters in it, no redirect is allowed.
    let allowed = !target.chars().any(char::is_control)
        && std::iter::once(&auth.site_url)
            .chain(&auth.redirect_allow_list)
            .any(|a| is_under(target, a));
    if allowed {
        target.to_owned()
    } else {
        auth.site_url.clone()
    }
}

/// Whether `target` is the URL `base` or lies under it.
fn is_under(target: &str, base: &str) -> bool {
    let (Ok(t), Ok(b)) = (url::Url::parse(target), url::Url::parse(base)) else {
        return false;
    };
    if t.scheme() != b.scheme()
        || t.host_str() != b.host_str()
        || t.port_or_known_default() != b.port_or_known_default()
    {
        return false;
    }
    if !t.username().is_empty() || t.password().is_some() {
        return false;
    }
    let base_path = b.path().trim_end_matches('/');
    let path = t.path();
    path == base_path || path.starts_with(&format!("{base_path}/")) || base_path.is_empty()
}
/// Refuses a new mail of `kind` to `user` sooner than the configured frequency allows.
pub fn check_frequency(app: &AppState, user: &UserRow, kind: TokenKind) -> AppResult<()> {
    let last = match kind {
        TokenKind::Confirmation => user.confirmation_sent_at,
        TokenKind::Recovery | TokenKind::MagicLink => user.recovery_sent_at,
        TokenKind::EmailChange | TokenKind::EmailChangeCurrent => user.email_change_sent_at,
        TokenKind::Reauthentication => user.reauthentication_sent_at,
        TokenKind::Invite => None,
    };
    let freq = chrono::Duration::from_std(app.config.auth.mail_frequency).unwrap_or_default();
    if let Some(last) = last {
        let wait = (last + freq - Utc::now()).num_seconds();
        if wait > 0 {
            return Err(AppError::RateLimitedWith {
                code: "over_email_send_rate_limit",
                message: format!(
                    "For security purposes, you can only request this after {wait} seconds."
                )
                .into(),
                retry_after: u64::try_from(wait).unwrap_or(1),
            });
        }
    }
    Ok(())
}

/// Issues a token of `kind` for `user` at address `to` (replacing an earlier one of that kind, and
/// the PKCE flow that one began). With a `challenge` the token begins a PKCE flow and its link
/// carries the `pkce_` prefix.
pub async fn issue(
    app: &AppState,
    conn: &mut PgConnection,
    user: &UserRow,
    kind: TokenKind,
    to: &str,
    redirect_to: &str,
    challenge: Option<&Challenge>,
) -> AppResult<Issued> {
    let otp = crypto::random_otp();
    let token_hash = crypto::otp_token_hash(to, &otp);
    user::lock(conn, user.id).await?;
    sqlx::query(
        "delete from auth.flow_state where id = \
         (select flow_state_id from auth.one_time_tokens where user_id = $1 and token_type = $2)",
    )
    .bind(user.id)
    .bind(kind.db_name())
    .execute(&mut *conn)
    .await?;
    let flow = match challenge {
        Some(c) => Some(pkce::begin(app, conn, user.id, kind, c).await?),
        None => None,
    };
    sqlx::query(
        "insert into auth.one_time_tokens (user_id, token_type, token_hash, relates_to, flow_state_id) \
         values ($1, $2, $3, $4, $5) \
         on conflict (user_id, token_type) do update set token_hash = excluded.token_hash, \
         relates_to = excluded.relates_to, flow_state_id = excluded.flow_state_id, created_at = now()",
    )
    .bind(user.id)
    .bind(kind.db_name())
    .bind(&token_hash)
    .bind(to)
    .bind(flow)
    .execute(&mut *conn)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "update auth.users set {} where id = $1",
        kind.sent_at_set()
    )))
    .bind(user.id)
    .execute(&mut *conn)
    .await?;
    let link_token = match flow {
        Some(_) => format!("{}{token_hash}", pkce::PREFIX),
        None => token_hash.clone(),
    };
    let query = serde_urlencoded::to_string([
        ("token", link_token.as_str()),
        ("type", kind.verify_type()),
        ("redirect_to", redirect_to),
    ])
    .map_err(anyhow::Error::from)?;
    let action_link = format!("{}/auth/v1/verify?{query}", app.config.public_url);
    Ok(Issued {
        otp,
        token_hash,
        link_token,
        action_link,
        redirect_to: redirect_to.to_owned(),
    })
}

/// Issues a token and e-mails it (through the outbox), within the instance's e-mail budget
/// (`over_email_send_rate_limit` before anything is written when it is spent).
pub async fn send(
    app: &AppState,
    conn: &mut PgConnection,
    user: &UserRow,
    kind: TokenKind,
    to: &str,
    redirect_to: &str,
    challenge: Option<&Challenge>,
) -> AppResult<()> {
    app.auth.limits.check_email()?;
    let issued = issue(app, conn, user, kind, to, redirect_to, challenge).await?;
    let (email, new_email) = match kind {
        TokenKind::EmailChange => (user.email_or_empty(), to),
        TokenKind::EmailChangeCurrent => (to, user.email_change.as_deref().unwrap_or_default()),
        _ => (to, ""),
    };
    let mail = app.auth.templates.render(
        kind,
        &Vars {
            confirmation_url: &issued.action_link,
            token: &issued.otp,
            token_hash: &issued.link_token,
            site_url: &app.config.auth.site_url,
            redirect_to: &issued.redirect_to,
            email,
            new_email,
            data: &user.raw_user_meta_data,
        },
    );
    enqueue(conn, to, kind.template(), &mail).await
}

/// Mails the confirmation of `user`'s pending e-mail change (`email_change`): to the new address,
/// and with secure e-mail change also to the current one — the change completes once every mailed
/// leg is confirmed.
pub async fn send_email_change(
    app: &AppState,
    conn: &mut PgConnection,
    user: &UserRow,
    redirect_to: &str,
    challenge: Option<&Challenge>,
) -> AppResult<()> {
    let Some(new_address) = user.email_change.as_deref() else {
        return Ok(());
    };
    send(
        app,
        conn,
        user,
        TokenKind::EmailChange,
        new_address,
        redirect_to,
        challenge,
    )
    .await?;
    match user.email.as_deref() {
        Some(current) if app.config.auth.secure_email_change => {
            send(
                app,
                conn,
                user,
                TokenKind::EmailChangeCurrent,
                current,
                redirect_to,
                challenge,
            )
            .await
        }
        _ => Ok(()),
    }
}

/// Writes one e-mail to the outbox.
pub async fn enqueue(
    conn: &mut PgConnection,
    to: &str,
    template: &str,
    mail: &Rendered,
) -> AppResult<()> {
    let mut payload =
        json!({ "to": to, "template": template, "subject": mail.subject, "text": mail.text });
    if let (Some(html), Some(map)) = (&mail.html, payload.as_object_mut()) {
        map.insert("html".into(), html.clone().into());
    }
    let id: Uuid = sqlx::query_scalar(
        "insert into private.outbox (kind, payload) values ('email', $1) returning id",
    )
    .bind(payload)
    .fetch_one(conn)
    .await?;
    tracing::info!(outbox.id = %id, mail.template = template, "e-mail queued");
    Ok(())
}

/// A token that [`consume`] found and spent.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// Which of the asked-for kinds it was.
    pub kind: TokenKind,
    /// Whose it was.
    pub user_id: Uuid,
    /// The address it was mailed to.
    pub address: String,
    /// The PKCE flow it began, if any.
    pub flow: Option<Uuid>,
}

/// Deletes `user`'s sign-up confirmation token, once the address is confirmed (by the user or an
/// admin): a sign-up's link still unspent no longer signs anyone in, as GoTrue clears it likewise.
pub async fn void_confirmation(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "delete from auth.one_time_tokens where user_id = $1 and token_type = 'confirmation'",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes `user`'s links and codes that sign in (sign-up confirmation, recovery, magic link,
/// invitation) once one of them has been used, as GoTrue does: the others still lying in the
/// mailbox (or in a forwarded mail, a link scanner's log) no longer open the account. Unlike
/// GoTrue, a pending change of address keeps its links (and a re-authentication nonce stays).
pub async fn void_sign_in_links(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    let kinds = [
        TokenKind::Confirmation,
        TokenKind::Recovery,
        TokenKind::MagicLink,
        TokenKind::Invite,
    ]
    .map(TokenKind::db_name);
    sqlx::query("delete from auth.one_time_tokens where user_id = $1 and token_type = any($2)")
        .bind(user)
        .bind(&kinds[..])
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every code and link still pending for `user` — and so the address change they may
/// have been confirming (`new_email`): once the password or the address changes under them, what
/// was mailed before (a recovery link to the old address, say) no longer opens the account.
pub async fn void_pending(conn: &mut PgConnection, user: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "with t as (delete from auth.one_time_tokens where user_id = $1) \
         update auth.users set email_change = null, email_change_sent_at = null \
         where id = $1 and email_change is not null",
    )
    .bind(user)
    .execute(conn)
    .await?;
    Ok(())
}

/// Finds and deletes a live token of one of `kinds` with this hash (a link's `pkce_` prefix
/// ignored), having locked its user's row.
pub async fn consume(
    app: &AppState,
    conn: &mut PgConnection,
    kinds: &[TokenKind],
    token_hash: &str,
) -> AppResult<Option<Consumed>> {
    let token_hash = token_hash.strip_prefix(pkce::PREFIX).unwrap_or(token_hash);
    let names: Vec<&str> = kinds.iter().map(|k| k.db_name()).collect();
    // Whose it is, unlocked; then their row (see `user::lock`), then the token.
    let owner: Option<Uuid> = sqlx::query_scalar(
        "select user_id from auth.one_time_tokens where token_hash = $1 and token_type = any($2) \
         limit 1",
    )
    .bind(token_hash)
    .bind(&names)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(owner) = owner else {
        return Ok(None);
    };
    user::lock(conn, owner).await?;
    let row: Option<SpentToken> = sqlx::query_as(
        "delete from auth.one_time_tokens where token_hash = $1 and token_type = any($2) \
         and user_id = $3 and created_at > now() - make_interval(secs => $4) \
         returning token_type, user_id, relates_to, flow_state_id",
    )
    .bind(token_hash)
    .bind(&names)
    .bind(owner)
    .bind(app.config.auth.otp_exp.as_secs_f64())
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|t| {
        kinds
            .iter()
            .find(|k| k.db_name() == t.token_type)
            .map(|&kind| Consumed {
                kind,
                user_id: t.user_id,
                address: t.relates_to,
                flow: t.flow_state_id,
            })
    }))
}

/// The row [`consume`] deleted.
#[derive(sqlx::FromRow)]
struct SpentToken {
    token_type: String,
    user_id: Uuid,
    relates_to: String,
    flow_state_id: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::is_under;

    #[test]
    fn redirects_must_stay_on_the_allowed_origin_and_path() {
        let base = "https://app.example.com";
        assert!(is_under("https://app.example.com", base));
        assert!(is_under("https://app.example.com/welcome?x=1", base));
        assert!(!is_under("https://app.example.com.evil.net/x", base));
        assert!(!is_under("https://app.example.com@evil.net/x", base));
        assert!(!is_under("http://app.example.com/x", base));
        assert!(!is_under("https://app.example.com:8443/x", base));
        assert!(!is_under("javascript:alert(1)", base));
        assert!(is_under(
            "https://app.example.com/docs/a",
            "https://app.example.com/docs"
        ));
        assert!(!is_under(
            "https://app.example.com/docsevil",
            "https://app.example.com/docs"
        ));
    }
}
