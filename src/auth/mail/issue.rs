//! Issuing e-mailed tokens and queueing their mails in the outbox, within the caller's transaction.

use chrono::Utc;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Issued, TokenKind};
use crate::{
    app::AppState,
    auth::{
        crypto,
        mail_templates::{Rendered, Vars},
        pkce::{self, Challenge},
        user::{self, UserRow},
    },
    error::{AppError, AppResult},
};

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
