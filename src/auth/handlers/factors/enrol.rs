//! `POST /factors`: TOTP enrolment, with the recovery codes that become active when it is verified.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::ensure_name_free;
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{AuthUser, ClientInfo},
        handlers::require_aal_for_user,
        totp, user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// Unverified factors older than this are discarded at the next enrolment.
const FACTOR_EXPIRY_SECS: f64 = 300.0;
/// At most this many factors per user.
const MAX_FACTORS: i64 = 10;

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
