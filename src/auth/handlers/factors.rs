//! MFA: `POST /factors` (TOTP enrolment, with recovery codes), `POST /factors/{id}/challenge`,
//! `POST /factors/{id}/verify` (a TOTP code or a recovery code → an aal2 session),
//! `DELETE /factors/{id}` (§2.9).
//!
//! Recovery codes belong to the user, not to a factor. The ten an enrolment returns are pending on
//! that factor: they pass nothing, and they replace the user's active codes only when that factor
//! is first verified. An enrolment that is never verified (unenrolled, discarded, expired) takes
//! its codes with it and leaves the active ones alone.

use std::net::IpAddr;

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::require_aal_for_user;
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{AuthUser, ClientInfo},
        rate_limit::Group,
        session, totp,
        user::{self, FactorRow},
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// Unverified factors older than this are discarded at the next enrolment.
const FACTOR_EXPIRY_SECS: f64 = 300.0;
/// A challenge must be answered within this time.
const CHALLENGE_EXPIRY_SECS: i64 = 300;
/// At most this many factors per user.
const MAX_FACTORS: i64 = 10;

fn factor_not_found() -> AppError {
    AppError::NotFound {
        code: "mfa_factor_not_found",
        message: "Factor not found".into(),
    }
}

fn verification_failed(message: &'static str) -> AppError {
    AppError::Unprocessable {
        code: "mfa_verification_failed",
        message: message.into(),
    }
}

fn parse_factor_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| factor_not_found())
}

/// `POST /factors` body.
#[derive(Debug, Deserialize)]
pub struct EnrollBody {
    factor_type: Option<String>,
    friendly_name: Option<String>,
    issuer: Option<String>,
}

/// `POST /factors`: a new unverified TOTP factor and a fresh set of recovery codes, pending until
/// the factor is verified. `replaces_recovery_codes` says whether the user holds unused codes that
/// verifying this factor will void.
pub async fn post_factor(
    State(app): State<AppState>,
    me: AuthUser,
    client: ClientInfo,
    AppJson(body): AppJson<EnrollBody>,
) -> AppResult<Json<Value>> {
    match body.factor_type.as_deref() {
        Some("totp") => {}
        Some("phone") => {
            return Err(AppError::Unprocessable {
                code: "mfa_phone_enroll_not_enabled",
                message: "MFA enroll is disabled for Phone".into(),
            });
        }
        Some("webauthn") => {
            return Err(AppError::Unprocessable {
                code: "mfa_webauthn_enroll_not_enabled",
                message: "MFA enroll is disabled for WebAuthn".into(),
            });
        }
        _ => return Err(AppError::validation("factor_type needs to be totp")),
    }
    if me.user.is_anonymous {
        return Err(AppError::Forbidden {
            code: "no_authorization",
            message: "Anonymous users cannot enroll MFA factors".into(),
        });
    }
    let mut tx = app.pool.begin().await?;
    user::lock(&mut tx, me.user.id).await?;
    sqlx::query("delete from auth.mfa_factors where user_id = $1 and status = 'unverified' and created_at < now() - make_interval(secs => $2)")
        .bind(me.user.id)
        .bind(FACTOR_EXPIRY_SECS)
        .execute(&mut *tx)
        .await?;
    require_aal_for_user(&mut tx, &me.user, &me.session.aal, StatusCode::FORBIDDEN).await?;
    let count: i64 = sqlx::query_scalar("select count(*) from auth.mfa_factors where user_id = $1")
        .bind(me.user.id)
        .fetch_one(&mut *tx)
        .await?;
    if count >= MAX_FACTORS {
        return Err(AppError::Unprocessable {
            code: "too_many_enrolled_mfa_factors",
            message: "Maximum number of verified factors reached, unenroll to continue".into(),
        });
    }
    let friendly_name = body.friendly_name.filter(|n| !n.trim().is_empty());
    if let Some(name) = &friendly_name {
        ensure_name_free(&mut tx, me.user.id, name, None).await?;
    }
    let secret = totp::new_secret();
    let issuer = body
        .issuer
        .filter(|i| !i.is_empty())
        .unwrap_or_else(|| app.config.auth.mfa_issuer.clone());
    let (secret_b32, uri, svg) = totp::enrolment(&secret, &issuer, me.user.email_or_empty())?;
    let sealed = app.auth.cipher.encrypt(&secret)?;
    let id: Uuid = sqlx::query_scalar(
        "insert into auth.mfa_factors (user_id, friendly_name, factor_type, status, secret) values ($1, $2, 'totp', 'unverified', $3) returning id",
    )
    .bind(me.user.id)
    .bind(&friendly_name)
    .bind(sealed)
    .fetch_one(&mut *tx)
    .await?;
    let codes = totp::new_recovery_codes();
    let replaces_codes = store_pending_recovery_codes(&mut tx, me.user.id, id, &codes).await?;
    audit::record(
        &mut tx,
        "factor_enrolled",
        Some(me.user.id),
        Some(me.user.id),
        &client,
        json!({ "factor_id": id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "id": id,
        "type": "totp",
        "friendly_name": friendly_name.unwrap_or_default(),
        "totp": { "qr_code": svg, "secret": secret_b32, "uri": uri },
        "recovery_codes": codes,
        "replaces_recovery_codes": replaces_codes,
    })))
}

/// Stores the recovery codes of a new enrolment as pending on `factor_id`, and returns whether
/// the user holds unused active codes that they will replace.
async fn store_pending_recovery_codes(
    conn: &mut PgConnection,
    user_id: Uuid,
    factor_id: Uuid,
    codes: &[String],
) -> AppResult<bool> {
    let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_code_hash(c)).collect();
    sqlx::query(
        "insert into auth.mfa_recovery_codes (user_id, pending_factor_id, code_hash) \
         select $1, $2, unnest($3::text[])",
    )
    .bind(user_id)
    .bind(factor_id)
    .bind(&hashes)
    .execute(&mut *conn)
    .await?;
    let unused: bool = sqlx::query_scalar(
        "select exists(select 1 from auth.mfa_recovery_codes \
         where user_id = $1 and pending_factor_id is null and used_at is null)",
    )
    .bind(user_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(unused)
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

/// A factor with its sealed secret and the last accepted time step.
#[derive(sqlx::FromRow)]
struct StoredFactor {
    #[sqlx(flatten)]
    row: FactorRow,
    secret: Vec<u8>,
    last_used_step: Option<i64>,
}

/// Refuses `name` when another factor of `user_id` (than `except`) already has it.
pub async fn ensure_name_free(
    conn: &mut PgConnection,
    user_id: Uuid,
    name: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let taken: bool = sqlx::query_scalar(
        "select exists(select 1 from auth.mfa_factors where user_id = $1 and friendly_name = $2 \
         and id is distinct from $3)",
    )
    .bind(user_id)
    .bind(name)
    .bind(except)
    .fetch_one(conn)
    .await?;
    if taken {
        return Err(AppError::Unprocessable {
            code: "mfa_factor_name_conflict",
            message: format!(
                "A factor with the friendly name \"{name}\" for this user already exists"
            )
            .into(),
        });
    }
    Ok(())
}

async fn own_factor(
    conn: &mut PgConnection,
    user_id: Uuid,
    factor_id: Uuid,
    lock: bool,
) -> AppResult<(FactorRow, Vec<u8>, Option<i64>)> {
    let sql = format!(
        "select {}, secret, last_used_step from auth.mfa_factors where id = $1 and user_id = $2{}",
        user::FACTOR_COLUMNS,
        if lock { " for update" } else { "" }
    );
    let stored: StoredFactor = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(factor_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(factor_not_found)?;
    Ok((stored.row, stored.secret, stored.last_used_step))
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

/// Deletes a factor of `user_id` (with its pending recovery codes), downgrading sessions it raised,
/// and returns it.
pub async fn remove_factor(
    conn: &mut PgConnection,
    user_id: Uuid,
    factor_id: Uuid,
) -> AppResult<FactorRow> {
    // First, also when an admin removes the factor: in turn with the user's own MFA writes.
    user::lock(conn, user_id).await?;
    let (factor, _, _) = own_factor(conn, user_id, factor_id, true).await?;
    sqlx::query("update auth.sessions set aal = 'aal1', factor_id = null where factor_id = $1")
        .bind(factor_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from auth.mfa_amr_claims c using auth.sessions s where c.session_id = s.id and s.user_id = $1 and c.authentication_method in ('totp', 'recovery') and s.aal = 'aal1'")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("delete from auth.mfa_factors where id = $1")
        .bind(factor_id)
        .execute(&mut *conn)
        .await?;
    // With the last verified factor the active codes go too; a pending enrolment's stay, to
    // become active if it is verified.
    sqlx::query("delete from auth.mfa_recovery_codes where user_id = $1 and pending_factor_id is null \
                 and not exists (select 1 from auth.mfa_factors where user_id = $1 and status = 'verified')")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(factor)
}

/// `DELETE /factors/{id}`: a verified factor can only be removed from an aal2 session.
pub async fn delete_factor(
    State(app): State<AppState>,
    me: AuthUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let factor_id = parse_factor_id(&id)?;
    let mut tx = app.pool.begin().await?;
    user::lock(&mut tx, me.user.id).await?;
    let (factor, _, _) = own_factor(&mut tx, me.user.id, factor_id, true).await?;
    if factor.status == "verified" && me.session.aal != "aal2" {
        return Err(AppError::Unprocessable {
            code: "insufficient_aal",
            message: "AAL2 required to unenroll verified factor".into(),
        });
    }
    remove_factor(&mut tx, me.user.id, factor_id).await?;
    audit::record(
        &mut tx,
        "factor_unenrolled",
        Some(me.user.id),
        Some(me.user.id),
        &client,
        json!({ "factor_id": factor_id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({ "id": factor_id })))
}
