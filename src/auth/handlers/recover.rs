//! `POST /recover`, `POST /otp` (and `/magiclink`), `POST /resend`: endpoints that e-mail a code.
//! All answer `{}` whether or not the address is known, so they reveal no account.

use axum::{
    Json,
    extract::{Query, State},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{RedirectQuery, parse_email};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::ClientInfo,
        mail::{self, TokenKind},
        pkce::ChallengeFields,
        rate_limit::Group,
        user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// Body of the e-mailing endpoints.
#[derive(Debug, Deserialize)]
pub struct EmailBody {
    email: Option<String>,
    phone: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    create_user: Option<bool>,
    data: Option<Value>,
    #[serde(flatten)]
    pkce: ChallengeFields,
}

/// `POST /recover`: e-mails a password-recovery code and link.
pub async fn post_recover(
    State(app): State<AppState>,
    client: ClientInfo,
    Query(q): Query<RedirectQuery>,
    AppJson(body): AppJson<EmailBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::Recover, client.rate_key())?;
    let email = parse_email(body.email.as_deref())?;
    let challenge = body.pkce.parse()?;
    let mut tx = app.pool.begin().await?;
    if let Some(u) = user::find_by_email(&mut tx, &email)
        .await?
        .filter(|u| u.deleted_at.is_none())
    {
        // Within the per-user window, or with the instance's e-mail budget spent, nothing is
        // sent, silently: an error would reveal the account.
        if mail::check_frequency(&app, &u, TokenKind::Recovery).is_ok() {
            let redirect = mail::allowed_redirect(&app, q.redirect_to.as_deref());
            let sent = mail::send(
                &app,
                &mut tx,
                &u,
                TokenKind::Recovery,
                &email,
                &redirect,
                challenge.as_ref(),
            )
            .await;
            match sent {
                Err(AppError::RateLimitedWith {
                    code: "over_email_send_rate_limit",
                    ..
                }) => {
                    tracing::warn!("e-mail budget spent: a recovery mail was not sent");
                    tx.commit().await?;
                    return Ok(Json(json!({})));
                }
                other => other?,
            }
            audit::record(
                &mut tx,
                "user_recovery_requested",
                Some(u.id),
                Some(u.id),
                &client,
                json!({}),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(Json(json!({})))
}

/// `POST /otp`: e-mails a magic link / one-time code; creates the user unless `create_user` is false.
pub async fn post_otp(
    State(app): State<AppState>,
    client: ClientInfo,
    Query(q): Query<RedirectQuery>,
    AppJson(body): AppJson<EmailBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::Otp, client.rate_key())?;
    super::refuse_phone(body.phone.as_deref(), "Unsupported phone provider")?;
    let email = parse_email(body.email.as_deref())?;
    let challenge = body.pkce.parse()?;
    let redirect = mail::allowed_redirect(&app, q.redirect_to.as_deref());
    let mut tx = app.pool.begin().await?;
    let existing = user::find_by_email(&mut tx, &email)
        .await?
        .filter(|u| u.deleted_at.is_none());
    let target = match existing {
        Some(u) => {
            mail::check_frequency(&app, &u, TokenKind::MagicLink)?;
            u
        }
        None if body.create_user.unwrap_or(true) && !app.config.auth.disable_signup => {
            let data = body
                .data
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            let Some(created) =
                user::insert(&mut tx, &email, None, &data, &json!({}), false).await?
            else {
                return Ok(Json(json!({})));
            };
            audit::record(
                &mut tx,
                "user_signedup",
                Some(created.id),
                Some(created.id),
                &client,
                json!({ "provider": "email", "via": "otp" }),
            )
            .await?;
            created
        }
        None => {
            return Err(AppError::Unprocessable {
                code: "otp_disabled",
                message: "Signups not allowed for otp".into(),
            });
        }
    };
    mail::send(
        &app,
        &mut tx,
        &target,
        TokenKind::MagicLink,
        &email,
        &redirect,
        challenge.as_ref(),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

/// `POST /resend {type: signup|email_change, email}`.
pub async fn post_resend(
    State(app): State<AppState>,
    client: ClientInfo,
    Query(q): Query<RedirectQuery>,
    AppJson(body): AppJson<EmailBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::Resend, client.rate_key())?;
    let email = parse_email(body.email.as_deref())?;
    let challenge = body.pkce.parse()?;
    let redirect = mail::allowed_redirect(&app, q.redirect_to.as_deref());
    let mut tx = app.pool.begin().await?;
    match body.kind.as_deref() {
        Some("signup") => {
            if let Some(u) = user::find_by_email(&mut tx, &email)
                .await?
                .filter(|u| u.email_confirmed_at.is_none())
            {
                mail::check_frequency(&app, &u, TokenKind::Confirmation)?;
                mail::send(
                    &app,
                    &mut tx,
                    &u,
                    TokenKind::Confirmation,
                    &email,
                    &redirect,
                    challenge.as_ref(),
                )
                .await?;
            }
        }
        Some("email_change") => {
            let pending: Option<uuid::Uuid> =
                sqlx::query_scalar("select id from auth.users where email_change = $1")
                    .bind(&email)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(id) = pending
                && let Some(u) = user::find(&mut tx, id).await?
            {
                mail::check_frequency(&app, &u, TokenKind::EmailChange)?;
                mail::send_email_change(&app, &mut tx, &u, &redirect, challenge.as_ref()).await?;
            }
        }
        _ => {
            return Err(AppError::validation(
                "Missing one of these types: signup, email_change",
            ));
        }
    }
    tx.commit().await?;
    Ok(Json(json!({})))
}
