//! Leaked-password protection (`BIZBASE_AUTH_PASSWORD_HIBP`) against a local server speaking
//! Have I Been Pwned's k-anonymity range API: passwords in the corpus are `weak_password` with the
//! reason `pwned`, only five hex digits of a SHA-1 leave bizbase, and an unreachable service lets
//! passwords through unless the check fails closed.

use std::sync::{Arc, Mutex};

use axum::{Router, extract::Path, http::HeaderMap, routing::get};
use reqwest::Method;
use serde_json::json;
use sha1::{Digest, Sha1};
use sqlx::PgPool;

use super::{PASSWORD, str_of};
use crate::harness::{TestApp, assert_error};

const LEAKED: &str = "Summer2024!";

fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// What the fake range API was asked: (path prefix, whether padding was requested).
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

/// Serves `/range/{prefix}` for a corpus of one leaked password (plus a padding line with count 0,
/// as the real API pads); returns its base URL and what it saw.
async fn hibp_server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/range/{prefix}",
        get(move |Path(prefix): Path<String>, headers: HeaderMap| {
            let log = log.clone();
            async move {
                let padded = headers.get("add-padding").is_some_and(|v| v == "true");
                log.lock().unwrap().push((prefix.clone(), padded));
                let leaked = sha1_hex(LEAKED);
                let mut body = String::from("0018A45C4D1DEF81644B54AB7F969B88D65:0\r\n");
                if leaked.starts_with(&prefix.to_ascii_uppercase()) {
                    body.push_str(&format!("{}:52\r\n", &leaked[5..]));
                }
                body
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

#[sqlx::test]
async fn a_leaked_password_is_refused_and_only_a_hash_prefix_leaves(pool: PgPool) {
    let (url, seen) = hibp_server().await;
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("AUTH_PASSWORD_HIBP", "true"),
            ("AUTH_PASSWORD_HIBP_URL", &url),
        ],
    )
    .await;

    let leaked = app
        .signup(json!({ "email": "ann@example.com", "password": LEAKED }))
        .await;
    let fresh = app
        .signup(json!({ "email": "bob@example.com", "password": PASSWORD }))
        .await;

    let body = assert_error(leaked, 422, "weak_password").await;
    assert_eq!(body["weak_password"]["reasons"], json!(["pwned"]));
    assert_eq!(fresh.status(), 200);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (sha1_hex(LEAKED)[..5].to_owned(), true),
            (sha1_hex(PASSWORD)[..5].to_owned(), true)
        ]
    );
    let users: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

#[sqlx::test]
async fn a_password_change_to_a_leaked_password_is_refused(pool: PgPool) {
    let (url, _) = hibp_server().await;
    let app = TestApp::spawn_with(
        pool,
        &[
            ("AUTH_PASSWORD_HIBP", "true"),
            ("AUTH_PASSWORD_HIBP_URL", &url),
        ],
    )
    .await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = app
        .as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "password": LEAKED }))
        .send()
        .await
        .unwrap();

    let body = assert_error(r, 422, "weak_password").await;
    assert_eq!(body["weak_password"]["reasons"], json!(["pwned"]));
}

#[sqlx::test]
async fn an_unreachable_service_lets_passwords_through_unless_failing_closed(pool: PgPool) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let open = TestApp::spawn_with(
        pool.clone(),
        &[
            ("AUTH_PASSWORD_HIBP", "true"),
            ("AUTH_PASSWORD_HIBP_URL", &dead),
        ],
    )
    .await;
    let closed = TestApp::spawn_with(
        pool,
        &[
            ("AUTH_PASSWORD_HIBP", "true"),
            ("AUTH_PASSWORD_HIBP_URL", &dead),
            ("AUTH_PASSWORD_HIBP_FAIL_CLOSED", "true"),
        ],
    )
    .await;

    let through = open
        .signup(json!({ "email": "ann@example.com", "password": LEAKED }))
        .await;
    let refused = closed
        .signup(json!({ "email": "bob@example.com", "password": LEAKED }))
        .await;

    assert_eq!(through.status(), 200);
    let body = assert_error(refused, 503, "service_unavailable").await;
    assert_eq!(body["message"], "the leaked-password check is unavailable");
}
