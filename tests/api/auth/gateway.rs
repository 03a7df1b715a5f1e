//! The gateway rules in front of `/auth/v1` (§1.3) and the two error shapes (§2.2).

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{PASSWORD, str_of};
use crate::harness::{TestApp, assert_error, json, sign_hs256};

#[sqlx::test]
async fn a_request_without_an_apikey_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.get("/auth/v1/settings").await;

    assert_eq!(r.status(), 401);
    assert_eq!(
        json(r).await,
        json!({ "message": "No API key found in request" })
    );
}

#[sqlx::test]
async fn an_unknown_apikey_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "role": "anon", "exp": 4_000_000_000u64 }),
        &jsonwebtoken::EncodingKey::from_secret(b"some-other-secret-some-other-secret"),
    )
    .unwrap();

    for key in [
        "garbage",
        foreign.as_str(),
        str_of(&session, "access_token"),
    ] {
        let r = app
            .client
            .get(app.url("/auth/v1/settings"))
            .header("apikey", key)
            .send()
            .await
            .unwrap();

        assert_eq!(r.status(), 401, "{key}");
        assert_eq!(
            json(r).await,
            json!({ "message": "Invalid authentication credentials" })
        );
    }
}

#[sqlx::test]
async fn the_routes_browsers_reach_from_mails_need_no_apikey(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let jwks = app.get("/auth/v1/.well-known/jwks.json").await;
    let verify = app
        .get("/auth/v1/verify?token=nothing&type=signup&redirect_to=http://127.0.0.1:8080")
        .await;

    assert_eq!(jwks.status(), 200);
    assert_eq!(json(jwks).await, json!({ "keys": [] }));
    assert_eq!(verify.status(), 303);
}

#[sqlx::test]
async fn without_authorization_the_apikey_is_the_bearer(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .client
        .get(app.url("/auth/v1/admin/users"))
        .header("apikey", &app.service_key)
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["aud"], "authenticated");
}

#[sqlx::test]
async fn an_explicit_authorization_wins_over_the_apikey(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let as_user = app
        .admin(Method::GET, "/admin/users")
        .bearer_auth(str_of(&session, "access_token"))
        .send()
        .await
        .unwrap();
    let as_service = app
        .auth(Method::GET, "/admin/users")
        .bearer_auth(&app.service_key)
        .send()
        .await
        .unwrap();

    assert_error(as_user, 403, "not_admin").await;
    assert_eq!(as_service.status(), 200);
}

#[sqlx::test]
async fn opaque_sb_keys_in_authorization_are_replaced_by_the_apikey(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .admin(Method::GET, "/admin/users")
        .header("authorization", "Bearer sb_secret_whatever")
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn a_versioned_client_gets_code_and_message_and_the_version_echoed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.password_grant("nobody@example.com", PASSWORD).await;

    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["x-supabase-api-version"], "2024-01-01");
    assert_eq!(r.headers()["x-sb-error-code"], "invalid_credentials");
    assert_eq!(
        json(r).await,
        json!({ "code": "invalid_credentials", "message": "Invalid login credentials" })
    );
}

#[sqlx::test]
async fn a_legacy_client_gets_the_status_error_code_and_msg(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .client
        .post(app.url("/auth/v1/token?grant_type=password"))
        .header("apikey", &app.anon_key)
        .json(&json!({ "email": "nobody@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 400);
    assert!(r.headers().get("x-supabase-api-version").is_none());
    assert_eq!(r.headers()["x-sb-error-code"], "invalid_credentials");
    assert_eq!(
        json(r).await,
        json!({ "code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials" })
    );
}

#[sqlx::test]
async fn a_body_that_is_not_json_is_bad_json(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .auth(Method::POST, "/token?grant_type=password")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();

    assert_error(r, 400, "bad_json").await;
}

#[sqlx::test]
async fn an_api_key_minted_by_hand_with_the_secret_is_accepted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let key = sign_hs256(&json!({ "iss": "supabase", "role": "anon", "exp": 4_000_000_000u64 }));

    let r = app
        .client
        .get(app.url("/auth/v1/settings"))
        .header("apikey", key)
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["external"]["email"], true);
}
