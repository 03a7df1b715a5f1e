//! `POST /factors/{id}/challenge` and `POST /factors/{id}/verify`: a TOTP code or a recovery code
//! raises the session to aal2.

use std::net::IpAddr;

use axum::{
    Json,
    extract::{Path, State},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{own_factor, parse_factor_id};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{AuthUser, ClientInfo},
        rate_limit::Group,
        session, totp, user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// A challenge must be answered within this time.
const CHALLENGE_EXPIRY_SECS: i64 = 300;

fn verification_failed(message: &'static str) -> AppError {
    AppError::Unprocessable {
        code: "mfa_verification_failed",
        message: message.into(),
    }
}

/// A challenge as verification needs it.
#[derive(sqlx::FromRow)]
struct Challenge {
    ip_address: Option<IpAddr>,
    verified_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// `POST /factors/{id}/challenge`.
pub async fn post_challenge(
    State(app): State<AppState>,
    me: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    app.auth
        .limits
        .check(Group::MfaChallenge, client.rate_key())?;
    let factor_id = parse_factor_id(&id)?;
    let mut tx = app.pool.begin().await?;
    own_factor(&mut tx, me.user.id, factor_id, false).await?;
    let (challenge, created): (Uuid, DateTime<Utc>) =
        sqlx::query_as("insert into auth.mfa_challenges (factor_id, ip_address) values ($1, $2) returning id, created_at")
            .bind(factor_id)
            .bind(client.ip)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("update auth.mfa_factors set last_challenged_at = now() where id = $1")
        .bind(factor_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(
        json!({ "id": challenge, "type": "totp", "expires_at": created.timestamp() + CHALLENGE_EXPIRY_SECS }),
    ))
}

/// `POST /factors/{id}/verify` body.
#[derive(Debug, Deserialize)]
pub struct VerifyBody {
    challenge_id: Option<String>,
    code: Option<String>,
}

/// `POST /factors/{id}/verify`: passes the second factor; the session becomes aal2, its refresh
/// token rotates, and the user's other aal1 sessions end.
pub async fn post_verify(
    State(app): State<AppState>,
    me: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
    AppJson(body): AppJson<VerifyBody>,
) -> AppResult<Json<Value>> {
    app.auth.limits.check(Group::MfaVerify, client.rate_key())?;
    let factor_id = parse_factor_id(&id)?;
    let code = body
        .code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or(AppError::validation("MFA verification requires a code"))?;
    let challenge_id = body
        .challenge_id
        .as_deref()
        .and_then(|c| Uuid::parse_str(c).ok())
        .ok_or(AppError::Unprocessable {
            code: "mfa_factor_not_found",
            message: "MFA challenge not found".into(),
        })?;
    let mut tx = app.pool.begin().await?;
    user::lock(&mut tx, me.user.id).await?;
    let (factor, sealed, last_step) = own_factor(&mut tx, me.user.id, factor_id, true).await?;
    let challenge: Option<Challenge> =
        sqlx::query_as("select ip_address, verified_at, created_at from auth.mfa_challenges where id = $1 and factor_id = $2 for update")
            .bind(challenge_id)
            .bind(factor_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Challenge {
        ip_address: ip,
        verified_at,
        created_at: created,
    } = challenge.ok_or(AppError::Unprocessable {
        code: "mfa_factor_not_found",
        message: "MFA challenge not found".into(),
    })?;
    if verified_at.is_some() || ip != client.ip {
        return Err(AppError::Unprocessable {
            code: "mfa_ip_address_mismatch",
            message:
                "Challenge and verify IP addresses mismatch, or the challenge was already used"
                    .into(),
        });
    }
    if created + chrono::Duration::seconds(CHALLENGE_EXPIRY_SECS) < Utc::now() {
        return Err(AppError::Unprocessable { code: "mfa_challenge_expired", message: "MFA challenge has expired, verify against another challenge or create a new factor.".into() });
    }
    let mut codes_activated = false;
    let method = if totp::is_recovery_code(code) {
        if factor.status != "verified" {
            return Err(verification_failed(
                "Recovery codes can only pass a verified factor",
            ));
        }
        let used: Option<Uuid> = sqlx::query_scalar(
            "update auth.mfa_recovery_codes set used_at = now() \
             where user_id = $1 and code_hash = $2 and used_at is null and pending_factor_id is null returning id",
        )
        .bind(me.user.id)
        .bind(totp::recovery_code_hash(code))
        .fetch_optional(&mut *tx)
        .await?;
        if used.is_none() {
            drop(tx);
            record_failure(&app, &me, &client, factor_id).await?;
            return Err(verification_failed("Invalid recovery code entered"));
        }
        "recovery"
    } else {
        let secret = app.auth.cipher.decrypt(&sealed)?;
        let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
        let step = totp::check(&secret, code, now).and_then(|s| i64::try_from(s).ok());
        // A step is accepted once: a code seen before (even a valid one) is a replay.
        let Some(step) = step.filter(|s| last_step.is_none_or(|last| *s > last)) else {
            drop(tx);
            record_failure(&app, &me, &client, factor_id).await?;
            return Err(verification_failed("Invalid TOTP code entered"));
        };
        sqlx::query("update auth.mfa_factors set last_used_step = $2, status = 'verified', updated_at = now() where id = $1")
            .bind(factor_id)
            .bind(step)
            .execute(&mut *tx)
            .await?;
        if factor.status != "verified" {
            codes_activated = activate_recovery_codes(&mut tx, me.user.id, factor_id).await?;
        }
        "totp"
    };
    sqlx::query("update auth.mfa_challenges set verified_at = now() where id = $1")
        .bind(challenge_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("update auth.sessions set aal = 'aal2', factor_id = $2, refresh_counter = refresh_counter + 1, refreshed_at = now(), updated_at = now() where id = $1")
        .bind(me.session.id)
        .bind(factor_id)
        .execute(&mut *tx)
        .await?;
    session::add_amr(&mut tx, me.session.id, method).await?;
    sqlx::query("delete from auth.sessions where user_id = $1 and id <> $2 and aal = 'aal1'")
        .bind(me.user.id)
        .bind(me.session.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from auth.mfa_factors where user_id = $1 and id <> $2 and status = 'unverified' and factor_type = 'totp'")
        .bind(me.user.id)
        .bind(factor_id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut tx,
        "mfa_verified",
        Some(me.user.id),
        Some(me.user.id),
        &client,
        json!({ "factor_id": factor_id, "method": method, "recovery_codes_activated": codes_activated }),
    )
    .await?;
    let s = session::find(&mut tx, me.session.id)
        .await?
        .ok_or(AppError::Forbidden {
            code: "session_not_found",
            message: "Session not found".into(),
        })?;
    let fresh = user::find(&mut tx, me.user.id).await?.unwrap_or(me.user);
    let answer = session::respond(&app, &mut tx, &fresh, &s).await?;
    tx.commit().await?;
    Ok(Json(answer))
}

async fn record_failure(
    app: &AppState,
    me: &AuthUser,
    client: &ClientInfo,
    factor_id: Uuid,
) -> AppResult<()> {
    let mut conn = app.pool.acquire().await?;
    audit::record(
        &mut conn,
        "mfa_verification_failed",
        Some(me.user.id),
        Some(me.user.id),
        client,
        json!({ "factor_id": factor_id }),
    )
    .await?;
    Ok(())
}

/// At the first verification of `factor_id`, its pending recovery codes replace the user's active
/// ones; returns whether it had any. A factor with no pending codes (enrolled before codes were
/// pending) changes nothing.
async fn activate_recovery_codes(
    conn: &mut PgConnection,
    user_id: Uuid,
    factor_id: Uuid,
) -> AppResult<bool> {
    sqlx::query(
        "delete from auth.mfa_recovery_codes where user_id = $1 and pending_factor_id is null \
         and exists (select 1 from auth.mfa_recovery_codes where user_id = $1 and pending_factor_id = $2)",
    )
    .bind(user_id)
    .bind(factor_id)
    .execute(&mut *conn)
    .await?;
    let activated = sqlx::query(
        "update auth.mfa_recovery_codes set pending_factor_id = null \
         where user_id = $1 and pending_factor_id = $2",
    )
    .bind(user_id)
    .bind(factor_id)
    .execute(&mut *conn)
    .await?;
    Ok(activated.rows_affected() > 0)
}
