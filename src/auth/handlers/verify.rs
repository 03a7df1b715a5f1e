//! `POST /verify` (verifyOtp) and `GET /verify` (the link in the e-mail).

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::Value;

use super::parse_email;
use crate::{
    app::AppState,
    auth::{
        audit,
        context::ClientInfo,
        crypto,
        mail::{self, TokenKind},
        rate_limit::Group,
        session, user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// `POST /verify` body: `{type, token_hash}` or `{type, token, email}`.
#[derive(Debug, Deserialize)]
pub struct VerifyBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    token_hash: Option<String>,
    token: Option<String>,
    email: Option<String>,
}

fn kinds_for(kind: &str) -> AppResult<&'static [TokenKind]> {
    Ok(match kind {
        "signup" => &[TokenKind::Confirmation],
        "recovery" => &[TokenKind::Recovery],
        "magiclink" => &[TokenKind::MagicLink],
        "email" => &[TokenKind::Confirmation, TokenKind::MagicLink],
        "invite" => &[TokenKind::Invite],
        "email_change" => &[TokenKind::EmailChange],
        _ => return Err(AppError::validation("Verify requires a verification type")),
    })
}

fn expired() -> AppError {
    AppError::Forbidden {
        code: "otp_expired",
        message: "Token has expired or is invalid".into(),
    }
}

/// Consumes the token, applies what it proves (a confirmed address, a new e-mail) and starts a
/// session.
async fn verify(
    app: &AppState,
    client: &ClientInfo,
    kind: &str,
    token_hash: &str,
) -> AppResult<Value> {
    let kinds = kinds_for(kind)?;
    let mut tx = app.pool.begin().await?;
    let (used, user_id, address) = mail::consume(app, &mut tx, kinds, token_hash)
        .await?
        .ok_or_else(expired)?;
    let found = user::find_for_update(&mut tx, user_id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(expired)?;
    if found.is_banned() {
        return Err(AppError::Forbidden {
            code: "user_banned",
            message: "User is banned".into(),
        });
    }
    if used == TokenKind::EmailChange {
        if found.email_change.as_deref() != Some(address.as_str()) {
            return Err(expired());
        }
        // The address may have been registered by someone else since the change was asked for.
        if user::find_by_email(&mut tx, &address)
            .await?
            .is_some_and(|other| other.id != found.id)
        {
            return Err(AppError::Unprocessable {
                code: "email_exists",
                message: "A user with this email address has already been registered".into(),
            });
        }
        sqlx::query("update auth.users set email = email_change, email_change = null, email_confirmed_at = coalesce(email_confirmed_at, now()) where id = $1")
            .bind(found.id)
            .execute(&mut *tx)
            .await?;
        user::set_identity_email(&mut tx, found.id, &address).await?;
    } else {
        sqlx::query("update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()) where id = $1")
            .bind(found.id)
            .execute(&mut *tx)
            .await?;
    }
    user::mark_identity_verified(&mut tx, found.id).await?;
    audit::record(
        &mut tx,
        "user_verified",
        Some(found.id),
        Some(found.id),
        client,
        serde_json::json!({ "type": kind }),
    )
    .await?;
    let fresh = user::find(&mut tx, found.id).await?.unwrap_or(found);
    let method = match used {
        TokenKind::Recovery => "recovery",
        TokenKind::MagicLink => "magiclink",
        TokenKind::Invite => "invite",
        TokenKind::EmailChange => "email_change",
        _ => "otp",
    };
    let answer = session::start(app, &mut tx, &fresh, method, client).await?;
    tx.commit().await?;
    Ok(answer)
}

/// `POST /verify`.
pub async fn post_verify(
    State(app): State<AppState>,
    client: ClientInfo,
    AppJson(body): AppJson<VerifyBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::Verify, client.ip)?;
    let kind = body.kind.as_deref().unwrap_or_default();
    let hash = match (&body.token_hash, &body.token) {
        (Some(hash), _) if !hash.is_empty() => hash.clone(),
        (_, Some(token)) if !token.is_empty() => {
            let email = parse_email(body.email.as_deref())?;
            crypto::otp_token_hash(&email, token.trim())
        }
        _ => {
            return Err(AppError::validation(
                "Verify requires a token or a token hash",
            ));
        }
    };
    Ok(Json(verify(&app, &client, kind, &hash).await?))
}

/// `GET /verify?token=&type=&redirect_to=` query.
#[derive(Debug, Deserialize)]
pub struct VerifyQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

/// `GET /verify`: redirects (303) to `redirect_to` with the session, or the error, in the fragment.
pub async fn get_verify(
    State(app): State<AppState>,
    client: ClientInfo,
    Query(q): Query<VerifyQuery>,
) -> Response {
    let redirect = mail::allowed_redirect(&app, q.redirect_to.as_deref());
    let kind = q.kind.clone().unwrap_or_default();
    let outcome = match app.auth.limits.check(Group::Verify, client.ip) {
        Err(e) => Err(e),
        Ok(()) => verify(&app, &client, &kind, q.token.as_deref().unwrap_or_default()).await,
    };
    let fragment = match outcome {
        Ok(s) => serde_urlencoded::to_string([
            (
                "access_token",
                s["access_token"].as_str().unwrap_or_default().to_owned(),
            ),
            ("expires_at", s["expires_at"].to_string()),
            ("expires_in", s["expires_in"].to_string()),
            (
                "refresh_token",
                s["refresh_token"].as_str().unwrap_or_default().to_owned(),
            ),
            ("token_type", "bearer".to_owned()),
            ("type", kind),
            ("sb", String::new()),
        ]),
        Err(e) => {
            let error = match e.status() {
                StatusCode::FORBIDDEN => "access_denied",
                StatusCode::UNAUTHORIZED => "unauthorized_client",
                s if s.is_server_error() => "server_error",
                _ => "invalid_request",
            };
            serde_urlencoded::to_string([
                ("error", error.to_owned()),
                ("error_code", e.code().to_owned()),
                ("error_description", e.public_message().into_owned()),
                ("sb", String::new()),
            ])
        }
    };
    let location = format!("{redirect}#{}", fragment.unwrap_or_default());
    match HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => AppError::Internal(anyhow::anyhow!("unrepresentable redirect")).into_response(),
    }
}
