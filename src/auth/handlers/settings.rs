//! `GET /settings`, `GET /health`, `GET /.well-known/jwks.json`.

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::app::AppState;

/// `GET /settings`: which sign-in methods are on.
pub async fn get_settings(State(app): State<AppState>) -> Json<Value> {
    let off = [
        "apple",
        "azure",
        "bitbucket",
        "discord",
        "facebook",
        "figma",
        "github",
        "gitlab",
        "google",
        "keycloak",
        "linkedin_oidc",
        "notion",
        "spotify",
        "slack_oidc",
        "twitch",
        "twitter",
        "workos",
        "zoom",
    ];
    let mut external = serde_json::Map::new();
    external.insert("email".into(), json!(true));
    external.insert("phone".into(), json!(false));
    external.insert(
        "anonymous_users".into(),
        json!(app.config.auth.anonymous_users),
    );
    for p in off {
        external.insert(p.into(), json!(false));
    }
    Json(json!({
        "external": external,
        "disable_signup": app.config.auth.disable_signup,
        "mailer_autoconfirm": app.config.auth.autoconfirm,
        "phone_autoconfirm": false,
        "sms_provider": "",
        "saml_enabled": false,
        "anonymous_users": app.config.auth.anonymous_users,
    }))
}

/// `GET /health`.
pub async fn get_health() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "name": "bizbase-auth",
        "description": "bizbase's Supabase Auth (GoTrue) compatible API",
    }))
}

/// `GET /.well-known/jwks.json`: the public signing keys (empty with HS256 only).
pub async fn get_jwks(State(app): State<AppState>) -> Json<Value> {
    Json(serde_json::to_value(app.auth.signer.jwks()).unwrap_or_else(|_| json!({ "keys": [] })))
}
