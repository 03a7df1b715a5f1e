//! `POST /token?grant_type=refresh_token`: rotation, replay and reuse detection (§2.10).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{NO_WAITING, PASSWORD, str_of, user_id};
use crate::harness::{TestApp, assert_error, claims_of, json};

fn session_id(session: &Value) -> Uuid {
    Uuid::parse_str(str_of(
        &claims_of(str_of(session, "access_token")),
        "session_id",
    ))
    .unwrap()
}

async fn counter(pool: &PgPool, session: Uuid) -> i64 {
    sqlx::query_scalar("select refresh_counter from auth.sessions where id = $1")
        .bind(session)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn refreshed(app: &TestApp, token: &str) -> Value {
    let r = app.refresh(token).await;
    assert_eq!(r.status(), 200, "refresh failed");
    json(r).await
}

#[sqlx::test]
async fn refreshing_rotates_the_token_within_the_same_session(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let before = counter(&pool, session_id(&session)).await;

    let next = refreshed(&app, str_of(&session, "refresh_token")).await;

    assert_ne!(next["refresh_token"], session["refresh_token"]);
    assert_eq!(session_id(&next), session_id(&session));
    assert_eq!(counter(&pool, session_id(&session)).await, before + 1);
    assert_eq!(next["user"]["email"], "ann@example.com");
    assert_eq!(
        claims_of(str_of(&next, "access_token"))["amr"][0]["method"],
        "password"
    );
    let me = app
        .as_user(Method::GET, "/user", str_of(&next, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[sqlx::test]
async fn replaying_the_previous_token_returns_the_current_one(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let next = refreshed(&app, str_of(&session, "refresh_token")).await;

    let replayed = refreshed(&app, str_of(&session, "refresh_token")).await;

    assert_eq!(replayed["refresh_token"], next["refresh_token"]);
    assert_eq!(counter(&pool, session_id(&session)).await, 1);
}

#[sqlx::test]
async fn concurrent_refreshes_of_one_token_all_get_the_same_new_token(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "refresh_token");

    let pending: Vec<_> = (0..10)
        .map(|_| {
            tokio::spawn(
                app.auth(Method::POST, "/token?grant_type=refresh_token")
                    .json(&json!({ "refresh_token": token }))
                    .send(),
            )
        })
        .collect();
    let mut answers = Vec::new();
    for p in pending {
        answers.push(p.await.unwrap().unwrap());
    }

    let mut tokens = Vec::new();
    for r in answers {
        assert_eq!(r.status(), 200);
        tokens.push(str_of(&json(r).await, "refresh_token").to_owned());
    }
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
    assert_ne!(tokens[0], token);
    assert_eq!(counter(&pool, session_id(&session)).await, 1);
}

#[sqlx::test]
async fn a_token_two_generations_old_revokes_the_session(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let first = refreshed(&app, str_of(&session, "refresh_token")).await;
    let second = refreshed(&app, str_of(&first, "refresh_token")).await;

    let reused = app.refresh(str_of(&session, "refresh_token")).await;

    assert_error(reused, 400, "refresh_token_already_used").await;
    let remaining: i64 = sqlx::query_scalar("select count(*) from auth.sessions where id = $1")
        .bind(session_id(&session))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(remaining, 0);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from auth.audit_log_entries where action = 'token_refresh_reuse' and actor_id = $1",
    )
    .bind(Uuid::parse_str(&user_id(&session)).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    let current = app.refresh(str_of(&second, "refresh_token")).await;
    assert_error(current, 400, "refresh_token_not_found").await;
    let me = app
        .as_user(Method::GET, "/user", str_of(&second, "access_token"))
        .send()
        .await
        .unwrap();
    assert_error(me, 403, "session_not_found").await;
}

#[sqlx::test]
async fn within_the_reuse_interval_an_older_token_gets_the_current_one(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("AUTH_REFRESH_REUSE_INTERVAL_SECS", "10")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let first = refreshed(&app, str_of(&session, "refresh_token")).await;
    let second = refreshed(&app, str_of(&first, "refresh_token")).await;

    let late = refreshed(&app, str_of(&session, "refresh_token")).await;

    assert_eq!(late["refresh_token"], second["refresh_token"]);
}

#[sqlx::test]
async fn garbage_and_forged_tokens_are_not_found(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let mut bytes = URL_SAFE_NO_PAD
        .decode(str_of(&session, "refresh_token"))
        .unwrap();
    bytes[23] ^= 1; // a later counter, without the key to MAC it
    let forged = URL_SAFE_NO_PAD.encode(bytes);

    for token in ["garbage", forged.as_str()] {
        let r = app.refresh(token).await;

        assert_error(r, 400, "refresh_token_not_found").await;
    }
}

#[sqlx::test]
async fn a_missing_refresh_token_is_an_oauth_invalid_request(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let missing = app
        .auth(Method::POST, "/token?grant_type=refresh_token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let empty = app
        .auth(Method::POST, "/token?grant_type=refresh_token")
        .json(&json!({"refresh_token": ""}))
        .send()
        .await
        .unwrap();

    // GoTrue answers this one in the OAuth shape, whatever the API version (reference §2.2).
    assert_eq!(missing.status(), 400);
    assert_eq!(
        json(missing).await,
        json!({"error": "invalid_request", "error_description": "refresh_token required"})
    );
    assert_eq!(empty.status(), 400);
    assert_eq!(json(empty).await["error"], "invalid_request");
}

#[sqlx::test]
async fn after_logout_the_refresh_token_is_dead(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let logout = app
        .as_user(Method::POST, "/logout", str_of(&session, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);

    let r = app.refresh(str_of(&session, "refresh_token")).await;

    assert_error(r, 400, "refresh_token_not_found").await;
}
