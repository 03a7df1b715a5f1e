//! `POST /token?grant_type=password|refresh_token|pkce`.

use axum::{
    Json,
    extract::{Query, State},
};
use chrono::{Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::Connection;

use super::policy_weakness;
use crate::{
    app::AppState,
    auth::{
        audit,
        context::ClientInfo,
        password::Verdict,
        pkce,
        rate_limit::Group,
        session::{self, SessionRow},
        user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// `?grant_type=`.
#[derive(Debug, Deserialize)]
pub struct GrantQuery {
    grant_type: Option<String>,
}

/// Body of the grants.
#[derive(Debug, Deserialize)]
pub struct TokenBody {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    auth_code: Option<String>,
    code_verifier: Option<String>,
}

fn invalid_credentials() -> AppError {
    AppError::bad_request("invalid_credentials", "Invalid login credentials")
}

/// `POST /token`.
pub async fn post_token(
    State(app): State<AppState>,
    client: ClientInfo,
    Query(q): Query<GrantQuery>,
    AppJson(body): AppJson<TokenBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::Token, client.rate_key())?;
    match q.grant_type.as_deref() {
        Some("password") => {
            super::refuse_phone(body.phone.as_deref(), "Phone logins are disabled")?;
            password_grant(&app, &client, body).await
        }
        Some("refresh_token") => refresh_grant(&app, &client, body).await,
        Some("pkce") => Ok(Json(
            pkce::exchange(
                &app,
                &client,
                body.auth_code.as_deref().unwrap_or_default(),
                body.code_verifier.as_deref().unwrap_or_default(),
            )
            .await?,
        )),
        _ => Err(AppError::bad_request(
            "invalid_credentials",
            "unsupported_grant_type",
        )),
    }
}

async fn password_grant(
    app: &AppState,
    client: &ClientInfo,
    body: TokenBody,
) -> AppResult<Json<Value>> {
    let email = body
        .email
        .as_deref()
        .map(|e| e.trim().to_lowercase())
        .unwrap_or_default();
    let password = body.password.unwrap_or_default();
    let mut lease = app.statements.autocommit().await?;
    let found = user::find_for_sign_in(lease.conn()?, &email)
        .await?
        .filter(|u| u.user.deleted_at.is_none());
    lease.finish();
    let stored = found
        .as_ref()
        .and_then(|u| u.user.encrypted_password.clone());
    // A password set before the policy was tightened (or imported) still signs in; the answer says
    // what the policy finds wrong with it, so the app can ask for a new one (as GoTrue). The breach
    // check is not repeated here: it costs a request to another service on every sign-in.
    let weak = policy_weakness(app, &password);
    let verdict = app.auth.passwords.verify(password, stored).await?;
    let (who, rehash) = match (found, verdict) {
        (Some(who), Verdict::Match) => (who, None),
        (Some(who), Verdict::MatchRehash(new_hash)) => (who, Some(new_hash)),
        (found, _) => {
            let id = found.map(|u| u.user.id);
            let mut lease = app.statements.autocommit().await?;
            audit::record(
                lease.conn()?,
                "login_failed",
                id,
                id,
                client,
                json!({ "provider": "email" }),
            )
            .await?;
            lease.finish();
            return Err(invalid_credentials());
        }
    };
    if who.user.is_banned() {
        return Err(AppError::bad_request("user_banned", "User is banned"));
    }
    if who.user.email_confirmed_at.is_none() {
        return Err(AppError::bad_request(
            "email_not_confirmed",
            "Email not confirmed",
        ));
    }
    let mut answer = session::start_with_password(app, &who, rehash, client).await?;
    if !weak.is_empty() {
        let message = AppError::WeakPassword {
            reasons: weak.clone(),
        }
        .public_message();
        answer["weak_password"] = json!({ "reasons": weak, "message": message });
    }
    Ok(Json(answer))
}

fn not_found() -> AppError {
    AppError::bad_request(
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    )
}

/// Rotation (see `auth::session`): under a row lock on the session, so concurrent refreshes of
/// one token all succeed with the same new token.
async fn refresh_grant(
    app: &AppState,
    client: &ClientInfo,
    body: TokenBody,
) -> AppResult<Json<Value>> {
    let token = body
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or(AppError::OAuth {
            error: "invalid_request",
            description: "refresh_token required".into(),
        })?;
    let (session_id, presented) =
        session::parse_refresh_token(&app.auth.refresh_key, &token).ok_or_else(not_found)?;
    let mut lease = app.statements.autocommit().await?;
    let mut tx = lease.conn()?.begin().await?;
    let mut s: SessionRow = session::find_for_update(&mut tx, session_id)
        .await?
        .ok_or_else(not_found)?;
    let user = user::find(&mut tx, s.user_id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(not_found)?;
    if user.is_banned() {
        return Err(AppError::bad_request(
            "user_banned",
            "Invalid Refresh Token: User Banned",
        ));
    }
    if let Some(why) = session::why_expired(app, &mut tx, &s).await? {
        return Err(AppError::bad_request(
            "session_expired",
            format!("Invalid Refresh Token: Session Expired{why}"),
        ));
    }
    let current = s.refresh_counter;
    let reuse = Duration::from_std(app.config.auth.refresh_reuse_interval).unwrap_or_default();
    let recently_refreshed = s.refreshed_at.is_some_and(|t| Utc::now() < t + reuse);
    if presented == current {
        s.refresh_counter += 1;
    } else if presented > current {
        return Err(not_found());
    } else if presented == current - 1 || recently_refreshed {
        // The parent of the active token (a lost answer or a concurrent tab), or a race inside
        // the reuse interval: hand out the active token again.
    } else {
        sqlx::query("delete from auth.sessions where id = $1")
            .bind(s.id)
            .execute(&mut *tx)
            .await?;
        audit::record(
            &mut tx,
            "token_refresh_reuse",
            Some(user.id),
            Some(user.id),
            client,
            json!({ "session_id": s.id }),
        )
        .await?;
        tx.commit().await?;
        lease.finish();
        tracing::warn!(session.id = %s.id, "refresh token reused: session revoked");
        return Err(AppError::bad_request(
            "refresh_token_already_used",
            "Invalid Refresh Token: Already Used",
        ));
    }
    sqlx::query(
        "update auth.sessions set refresh_counter = $2, refreshed_at = case when $3 then now() else refreshed_at end, \
         user_agent = coalesce($4, user_agent), ip = coalesce($5, ip), updated_at = now() where id = $1",
    )
    .bind(s.id)
    .bind(s.refresh_counter)
    .bind(presented == current)
    .bind(&client.user_agent)
    .bind(client.ip)
    .execute(&mut *tx)
    .await?;
    let answer = session::respond(app, &mut tx, &user, &s).await?;
    tx.commit().await?;
    lease.finish();
    Ok(Json(answer))
}
