//! `POST /functions/v1/subject-export` and `POST /functions/v1/subject-erase` with
//! `{"org": "<uuid>", "email": "…"}`: what `rpc('subject_export' | 'subject_erase')` do, run in
//! the caller's identity transaction (so they need `data.export` / `data.erase` in the org, and
//! with them a second factor), plus what SQL cannot do — the export carries the bytes of the
//! person's files, and the erasure deletes those bytes at once.

use axum::{Json, extract::State};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{embed_files, forget_files};
use crate::{
    app::AppState,
    auth::context::Bearer,
    db::identity::{self, Access},
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// The request body of both endpoints.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// The org whose records are exported or erased.
    pub org: Uuid,
    /// The person's e-mail address.
    pub email: String,
}

/// A refusal of the SQL function (SQLSTATE 42501) as 403 `insufficient_permissions`.
fn refused(e: sqlx::Error) -> AppError {
    match e.as_database_error() {
        Some(db) if db.code().as_deref() == Some("42501") => AppError::Forbidden {
            code: "insufficient_permissions",
            message: db.message().to_owned().into(),
        },
        _ => AppError::from(e),
    }
}

fn checked(body: &Subject) -> AppResult<()> {
    if body.email.trim().is_empty() || !body.email.contains('@') {
        return Err(AppError::Validation(
            "email must be an e-mail address".into(),
        ));
    }
    Ok(())
}

/// Runs `sql` (one of the two public functions, `$1` org and `$2` e-mail) in the caller's
/// identity transaction and returns its document; `action` completes "Sign in to …".
async fn call_as(
    app: &AppState,
    bearer: Bearer,
    body: &Subject,
    action: &str,
    access: Access,
    sql: &'static str,
) -> AppResult<Value> {
    checked(body)?;
    let who = bearer.signed_in(action)?;
    let mut tx = identity::begin(&app.api_pool, &who, access).await?;
    let document: Value = sqlx::query_scalar(sql)
        .bind(body.org)
        .bind(&body.email)
        .fetch_one(&mut *tx)
        .await
        .map_err(refused)?;
    tx.commit().await?;
    Ok(document)
}

/// `POST /functions/v1/subject-export`.
pub async fn export(
    State(app): State<AppState>,
    bearer: Bearer,
    AppJson(body): AppJson<Subject>,
) -> AppResult<Json<Value>> {
    let objects = app.objects()?;
    let sql = "select public.subject_export($1, $2)";
    let mut document = call_as(
        &app,
        bearer,
        &body,
        "export personal data",
        Access::ReadOnly,
        sql,
    )
    .await?;
    embed_files(objects.as_ref(), &mut document).await?;
    Ok(Json(document))
}

/// `POST /functions/v1/subject-erase`.
pub async fn erase(
    State(app): State<AppState>,
    bearer: Bearer,
    AppJson(body): AppJson<Subject>,
) -> AppResult<Json<Value>> {
    // Known to be there before anything is erased, so the files go with the rows.
    let objects = app.objects()?;
    let sql = "select public.subject_erase($1, $2)";
    let done = call_as(
        &app,
        bearer,
        &body,
        "erase personal data",
        Access::ReadWrite,
        sql,
    )
    .await?;
    Ok(Json(forget_files(objects.as_ref(), done).await))
}

/// The two routes, behind the gateway rules.
pub fn router(state: AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route("/functions/v1/subject-export", axum::routing::post(export))
        .route("/functions/v1/subject-erase", axum::routing::post(erase))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::gateway::require_apikey,
        ))
}
