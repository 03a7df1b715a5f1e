//! Signing keys: HS256 by default (nothing published), ES256 with a configured key, published at
//! `/.well-known/jwks.json` with its `kid` (§2.5).

use std::{path::Path, process::Command};

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{PASSWORD, str_of};
use crate::harness::{TestApp, claims_of, header_of, json};

/// Writes a new P-256 private key (PKCS#8 PEM) to `path` with openssl.
fn generate_p256_key(path: &Path) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out '{}'",
            path.display()
        ))
        .status()
        .expect("openssl is needed to generate an ES256 key");
    assert!(status.success(), "openssl failed");
}

async fn es256_app(pool: PgPool) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("es256.pem");
    generate_p256_key(&key);
    let app = TestApp::spawn_with(pool, &[("JWT_ES256_KEY_FILE", &key.to_string_lossy())]).await;
    (app, dir)
}

async fn jwks(app: &TestApp) -> Value {
    let r = app.get("/auth/v1/.well-known/jwks.json").await;
    assert_eq!(r.status(), 200);
    json(r).await
}

#[sqlx::test]
async fn an_hs256_instance_publishes_no_keys(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let body = jwks(&app).await;

    assert_eq!(body, json!({ "keys": [] }));
}

#[sqlx::test]
async fn an_hs256_instance_signs_access_tokens_with_hs256(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    assert_eq!(header_of(str_of(&session, "access_token"))["alg"], "HS256");
}

#[sqlx::test]
async fn an_es256_instance_publishes_its_public_key(pool: PgPool) {
    let (app, _key) = es256_app(pool).await;

    let body = jwks(&app).await;

    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    assert!(!str_of(key, "kid").is_empty());
    assert!(key["x"].is_string() && key["y"].is_string());
    assert!(
        key.get("d").is_none(),
        "the private part is never published"
    );
}

#[sqlx::test]
async fn an_es256_instance_signs_access_tokens_that_verify_with_the_published_key(pool: PgPool) {
    let (app, _key) = es256_app(pool).await;
    let published = jwks(&app).await["keys"][0].clone();

    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let token = str_of(&session, "access_token");
    let header = header_of(token);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], published["kid"]);
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(published).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["authenticated"]);
    let verified = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(verified.claims["email"], "ann@example.com");
    assert_eq!(verified.claims, claims_of(token));
    let me = app
        .as_user(Method::GET, "/user", token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let refreshed = app.refresh(str_of(&session, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
}

#[sqlx::test]
async fn an_es256_instance_refuses_a_token_with_another_kid(pool: PgPool) {
    let (app, _key) = es256_app(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut header = header_of(token);
    header["kid"] = json!("someone-elses-key");
    parts[0] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&header).unwrap(),
    );

    let r = app
        .as_user(Method::GET, "/user", &parts.join("."))
        .send()
        .await
        .unwrap();

    crate::harness::assert_error(r, 403, "bad_jwt").await;
}
