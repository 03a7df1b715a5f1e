//! Admin endpoints on a user's MFA factors: list, rename, delete.

use axum::{
    Json,
    extract::{Path, State},
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{parse_id, user_not_found};
use crate::{
    app::AppState,
    auth::{
        audit,
        context::{ClientInfo, ServiceRole},
        user,
    },
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// `GET /admin/users/{id}/factors`: a bare array.
pub async fn list_factors(
    State(app): State<AppState>,
    _: ServiceRole,
    Path(id): Path<String>,
) -> AppResult<Json<Value>> {
    let id = parse_id(&id)?;
    let mut conn = app.pool.acquire().await?;
    user::find(&mut conn, id)
        .await?
        .ok_or_else(user_not_found)?;
    let factors = user::factors_of(&mut conn, id).await?;
    Ok(Json(Value::Array(
        factors.iter().map(user::FactorRow::to_json).collect(),
    )))
}

fn factor_not_found() -> AppError {
    AppError::NotFound {
        code: "mfa_factor_not_found",
        message: "Factor not found".into(),
    }
}

/// `DELETE /admin/users/{id}/factors/{factor_id}`: returns the deleted factor.
pub async fn delete_factor(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Path((id, factor_id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    let (id, factor_id) = factor_path(&id, &factor_id)?;
    let mut tx = app.pool.begin().await?;
    let factor =
        crate::auth::handlers::factors::remove_factor(&mut tx, id, factor_id, |_| Ok(())).await?;
    factor_answer(tx, &client, "factor_deleted_by_admin", id, &factor).await
}

/// The user and factor ids of a factor route; a malformed factor id is an unknown factor.
fn factor_path(id: &str, factor_id: &str) -> AppResult<(Uuid, Uuid)> {
    let id = parse_id(id)?;
    let factor_id = Uuid::parse_str(factor_id).map_err(|_| factor_not_found())?;
    Ok((id, factor_id))
}

/// Audits an admin's change to `factor`, commits, and answers with the factor.
async fn factor_answer(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    client: &ClientInfo,
    action: &str,
    user_id: Uuid,
    factor: &user::FactorRow,
) -> AppResult<Json<Value>> {
    audit::record(
        &mut tx,
        action,
        None,
        Some(user_id),
        client,
        json!({ "factor_id": factor.id }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(factor.to_json()))
}

/// `PUT /admin/users/{id}/factors/{factor_id}` body.
#[derive(Debug, Deserialize)]
pub struct FactorUpdate {
    friendly_name: Option<String>,
}

/// `PUT /admin/users/{id}/factors/{factor_id}`: renames a factor; returns it.
pub async fn update_factor(
    State(app): State<AppState>,
    _: ServiceRole,
    client: ClientInfo,
    Path((id, factor_id)): Path<(String, String)>,
    AppJson(body): AppJson<FactorUpdate>,
) -> AppResult<Json<Value>> {
    let (id, factor_id) = factor_path(&id, &factor_id)?;
    let name = body
        .friendly_name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AppError::validation("friendly_name is required"))?;
    let mut tx = app.pool.begin().await?;
    crate::auth::handlers::factors::ensure_name_free(&mut tx, id, &name, Some(factor_id)).await?;
    let factor: user::FactorRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update auth.mfa_factors set friendly_name = $3, updated_at = now() where id = $2 and user_id = $1 \
         returning {}",
        user::FACTOR_COLUMNS
    )))
    .bind(id)
    .bind(factor_id)
    .bind(&name)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(factor_not_found)?;
    factor_answer(tx, &client, "factor_updated_by_admin", id, &factor).await
}
