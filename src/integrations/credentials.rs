//! Integration credentials at rest: AES-256-GCM under the server's encryption key
//! (`BIZBASE_ENCRYPTION_KEY`) in `private.integration_secrets`, bound to their integration (the
//! sealed document names it, so a ciphertext moved to another row does not open).
//!
//! `PUT /functions/v1/integrations/{id}/credentials` with `{"credentials": {…}}` stores them and
//! marks the integration `connected`; `DELETE` removes them (`disconnected`). The caller needs
//! `integrations.manage` in the integration's org (or the service role); the integration row is
//! changed in the caller's identity transaction, so the audit log names them. Nothing returns
//! the credentials over HTTP; workers read them with [`load`].

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    app::AppState,
    auth::{context::Bearer, crypto::Cipher},
    db::identity::{self, Access},
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// Largest credentials document accepted, in bytes of JSON.
const MAX_BYTES: usize = 16 * 1024;

fn not_found() -> AppError {
    AppError::NotFound {
        code: "integration_not_found",
        message: "No integration with this id that you may manage".into(),
    }
}

fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::parse_str(raw)
        .map_err(|_| AppError::Validation("the integration id must be a UUID".into()))
}

/// Sets the integration's status as the caller (row-level security and the audit log see them),
/// returning its row, or not-found when the caller may not manage it.
async fn mark(conn: &mut PgConnection, id: Uuid, status: &str) -> AppResult<Value> {
    let row: Option<Value> = sqlx::query_scalar(
        "update public.integrations set status = $2, last_error = null where id = $1 \
         and (auth.can(org_id, 'integrations.manage') or auth.role() = 'service_role') \
         returning json_build_object('id', id, 'org_id', org_id, 'provider', provider, 'status', status)",
    )
    .bind(id)
    .bind(status)
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or_else(not_found)?;
    // Back to the server's own role for the private table; the claims stay for the audit.
    sqlx::query("reset role").execute(&mut *conn).await?;
    Ok(row)
}

/// `PUT /functions/v1/integrations/{id}/credentials`.
pub async fn put(
    State(app): State<AppState>,
    Path(id): Path<String>,
    bearer: Bearer,
    AppJson(body): AppJson<Value>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let who = bearer.signed_in("manage integrations")?;
    let credentials = match body.get("credentials") {
        Some(c @ Value::Object(map)) if !map.is_empty() => c.clone(),
        _ => {
            return Err(AppError::Validation(
                "send {\"credentials\": {…}} with at least one field".into(),
            ));
        }
    };
    let sealed = seal(&app.auth.cipher, id, &credentials)?;
    if sealed.len() > MAX_BYTES + 64 {
        return Err(AppError::PayloadTooLarge);
    }
    // The owner's pool, not the API's: `mark` returns to the owner's role for the private table.
    let mut tx = identity::begin(&app.pool, &who, Access::ReadWrite).await?;
    let row = mark(&mut tx, id, "connected").await?;
    sqlx::query(
        "insert into private.integration_secrets (integration_id, ciphertext) values ($1, $2) \
         on conflict (integration_id) do update set ciphertext = excluded.ciphertext, updated_at = now()",
    )
    .bind(id)
    .bind(&sealed)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Json(with_credentials(row, true)))
}

/// `DELETE /functions/v1/integrations/{id}/credentials`.
pub async fn delete(
    State(app): State<AppState>,
    Path(id): Path<String>,
    bearer: Bearer,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let who = bearer.signed_in("manage integrations")?;
    let mut tx = identity::begin(&app.pool, &who, Access::ReadWrite).await?;
    let row = mark(&mut tx, id, "disconnected").await?;
    sqlx::query("delete from private.integration_secrets where integration_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Json(with_credentials(row, false)))
}

fn with_credentials(mut row: Value, stored: bool) -> Value {
    row["has_credentials"] = json!(stored);
    row
}

/// Encrypts `credentials` for integration `id`.
pub fn seal(cipher: &Cipher, id: Uuid, credentials: &Value) -> AppResult<Vec<u8>> {
    let doc = serde_json::to_vec(&json!({"integration_id": id, "credentials": credentials}))
        .map_err(anyhow::Error::from)?;
    if doc.len() > MAX_BYTES {
        return Err(AppError::PayloadTooLarge);
    }
    Ok(cipher.encrypt(&doc)?)
}

/// The decrypted credentials of integration `id`, if stored. Fails when the ciphertext was
/// altered, sealed under another key, or belongs to another integration.
pub async fn load(pool: &PgPool, cipher: &Cipher, id: Uuid) -> anyhow::Result<Option<Value>> {
    let sealed: Option<Vec<u8>> = sqlx::query_scalar(
        "select ciphertext from private.integration_secrets where integration_id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let doc: Value = serde_json::from_slice(&cipher.decrypt(&sealed)?)?;
    if doc.get("integration_id") != Some(&json!(id)) {
        anyhow::bail!("the stored credentials belong to another integration");
    }
    Ok(doc.get("credentials").cloned())
}
