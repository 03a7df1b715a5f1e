//! A bucket's `allowed_mime_types` (well-formed media types, stored normalised).

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{assert_storage_error, call, create_bucket, upload};
use crate::harness::{TestApp, json};

async fn bucket(app: &TestApp, id: &str) -> Value {
    json(
        call(app, Method::GET, &format!("/bucket/{id}"), &app.service_key)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn update_bucket(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    call(app, Method::PUT, &format!("/bucket/{id}"), &app.service_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[sqlx::test]
async fn mime_lists_are_validated_and_stored_normalised(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = create_bucket(
        &app,
        "docs",
        json!({ "allowed_mime_types": ["Text/Plain; charset=utf-8", "image/*", "IMAGE/*"] }),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        bucket(&app, "docs").await["allowed_mime_types"],
        json!(["text/plain", "image/*"])
    );
    for content_type in ["text/plain", "text/plain;charset=UTF-8", "image/webp"] {
        let r = upload(&app, &app.service_key, "docs", "a", b"x", content_type).await;
        assert_eq!(r.status(), 200, "{content_type}");
        call(&app, Method::DELETE, "/object/docs/a", &app.service_key)
            .send()
            .await
            .unwrap();
    }

    for bad in [
        "garbage*",
        "*/*",
        "image/png*",
        "*/png",
        "text",
        "text/plain; charset",
        "image/png, text/html",
        "",
    ] {
        let r = create_bucket(
            &app,
            "bad",
            json!({ "allowed_mime_types": ["image/png", bad] }),
        )
        .await;
        let body = assert_storage_error(r, "415", "InvalidMimeType").await;
        assert_eq!(body["message"], format!("mime type {bad} is not supported"));
        let r = update_bucket(&app, "docs", json!({ "allowed_mime_types": [bad] })).await;
        assert_storage_error(r, "415", "InvalidMimeType").await;
    }
    assert_eq!(
        bucket(&app, "docs").await["allowed_mime_types"],
        json!(["text/plain", "image/*"])
    );

    let r = create_bucket(&app, "any", json!({ "allowed_mime_types": [] })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(bucket(&app, "any").await["allowed_mime_types"], json!([]));
    let r = upload(
        &app,
        &app.service_key,
        "any",
        "a.pdf",
        b"x",
        "application/pdf",
    )
    .await;
    assert_eq!(r.status(), 200, "an empty list allows every type");
}
