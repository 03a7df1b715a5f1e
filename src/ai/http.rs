//! `POST /functions/v1/sentiment` with `{"text": "…"}`: the text's sentiment by the model the
//! worker uses, scored as given (quoted history included) — for a front end that shows the tone
//! of a draft, or scores text of its own — answered with the model's name. Signed-in callers only
//! (a user's token or the service role), texts up to the length of a ticket message.

use axum::Json;
use serde::Deserialize;
use serde_json::{Value, json};

use super::sentiment;
use crate::{
    app::AppState,
    auth::context::Bearer,
    error::{AppError, AppResult},
    http::json::AppJson,
};

/// The longest text scored, in characters (a ticket message's limit).
pub const MAX_CHARS: usize = 100_000;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// The text to score.
    pub text: String,
}

/// `POST /functions/v1/sentiment`.
pub async fn post_sentiment(
    bearer: Bearer,
    AppJson(body): AppJson<ScoreRequest>,
) -> AppResult<Json<Value>> {
    bearer.signed_in("score sentiment")?;
    if body.text.chars().count() > MAX_CHARS {
        return Err(AppError::Validation(
            format!("text must be at most {MAX_CHARS} characters").into(),
        ));
    }
    // A long text takes milliseconds: off the runtime's threads.
    let scored = tokio::task::spawn_blocking(move || sentiment::analyze(&body.text))
        .await
        .map_err(anyhow::Error::from)?;
    let mut answer = json!(scored);
    answer["model"] = json!(sentiment::MODEL);
    Ok(Json(answer))
}

/// The route, behind the gateway rules.
pub fn router(state: AppState) -> axum::Router<AppState> {
    axum::Router::new()
        .route(
            "/functions/v1/sentiment",
            axum::routing::post(post_sentiment),
        )
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::auth::gateway::require_apikey,
        ))
}
