//! Liveness (`/health`), readiness (`/ready`) and metrics (`/metrics`).

use std::time::Duration;

use axum::{
    Json,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use crate::{
    app::AppState,
    db,
    error::{AppError, AppResult},
    http::metrics,
};

/// How long the readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /health`: 200 while the process serves requests.
pub async fn get_health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// `GET /ready`: 200 only when the database answers and every migration is applied.
pub async fn get_ready(State(app): State<AppState>) -> AppResult<Json<Value>> {
    let check = async {
        answers(&app.pool).await?;
        answers(&app.api_pool).await?;
        db::migrations_pending(&app.pool).await
    };
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Err(_) => Err(AppError::Unavailable(
            "the database did not answer in time".into(),
        )),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            Err(AppError::Unavailable("the database is unavailable".into()))
        }
        Ok(Ok(Some(reason))) => Err(AppError::Unavailable(reason.into())),
        Ok(Ok(None)) => Ok(Json(json!({ "status": "ready" }))),
    }
}

/// Whether `pool` reaches the database. A connection used less than a second ago is not pinged
/// before use (`db::pool_options`), so those that died with a restart since are found dead here:
/// each is dropped and the next tried, until a live one (or a new one) answers.
async fn answers(pool: &sqlx::PgPool) -> Result<(), sqlx::Error> {
    let (mut dead, open) = (0, pool.size());
    loop {
        match sqlx::query("select 1").execute(pool).await {
            Err(e) if db::identity::connection_lost(&e) && dead < open => dead += 1,
            other => return other.map(drop),
        }
    }
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn get_metrics(State(app): State<AppState>) -> Response {
    let Some(handle) = metrics::handle() else {
        return AppError::Internal(anyhow::anyhow!("another metrics recorder is installed"))
            .into_response();
    };
    ::metrics::gauge!("db_pool_connections").set(f64::from(app.pool.size()));
    ::metrics::gauge!("db_pool_idle_connections").set(app.pool.num_idle() as f64);
    ::metrics::gauge!("db_pool_max_connections")
        .set(f64::from(app.pool.options().get_max_connections()));
    ::metrics::gauge!("db_api_pool_connections").set(f64::from(app.api_pool.size()));
    ::metrics::gauge!("db_api_pool_idle_connections").set(app.api_pool.num_idle() as f64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
