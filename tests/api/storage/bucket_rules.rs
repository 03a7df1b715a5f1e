//! A bucket's `file_size_limit` (decimal units, never above the global limit) and
//! `allowed_mime_types` (well-formed media types, stored normalised).

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
async fn size_limit_strings_use_decimal_units_and_numbers_are_bytes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    for (id, limit, bytes) in [
        ("a", json!("1MB"), 1_000_000),
        ("b", json!("1.5mb"), 1_500_000),
        ("c", json!("2KB"), 2_000),
        ("d", json!("10b"), 10),
        ("e", json!("0.05GB"), 50_000_000),
        ("f", json!(1024), 1024),
    ] {
        let r = create_bucket(&app, id, json!({ "file_size_limit": limit })).await;
        assert_eq!(r.status(), 200, "{limit}");
        assert_eq!(bucket(&app, id).await["file_size_limit"], bytes, "{limit}");
    }
    let r = update_bucket(&app, "a", json!({ "file_size_limit": "2.25MB" })).await;
    assert_eq!(r.status(), 200);
    assert_eq!(bucket(&app, "a").await["file_size_limit"], 2_250_000);

    for bad in ["1TB", "MB", "1024", "1 MB", "1.2345KB", "-1MB", ""] {
        let r = create_bucket(&app, "x", json!({ "file_size_limit": bad })).await;
        assert_storage_error(r, "400", "InvalidRequest").await;
    }
}

#[sqlx::test]
async fn a_size_limit_above_the_global_limit_is_entity_too_large(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("STORAGE_FILE_SIZE_LIMIT", "10MB")]).await;

    for too_big in [json!("11MB"), json!("1GB"), json!(10 * 1024 * 1024 + 1)] {
        let r = create_bucket(&app, "big", json!({ "file_size_limit": too_big })).await;
        let body = assert_storage_error(r, "413", "EntityTooLarge").await;
        assert_eq!(body["error"], "Payload too large");
    }
    // The global setting keeps its binary units: 10MB there is 10 MiB, so 10.4 decimal MB fit.
    let r = create_bucket(&app, "fits", json!({ "file_size_limit": "10.4MB" })).await;
    assert_eq!(r.status(), 200);
    let r = update_bucket(&app, "fits", json!({ "file_size_limit": "20MB" })).await;
    assert_storage_error(r, "413", "EntityTooLarge").await;
    assert_eq!(bucket(&app, "fits").await["file_size_limit"], 10_400_000);
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

#[sqlx::test]
async fn an_update_keeps_what_it_leaves_out_and_null_clears_a_rule(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let r = create_bucket(
        &app,
        "docs",
        json!({ "allowed_mime_types": ["image/png"], "file_size_limit": "1MB" }),
    )
    .await;
    assert_eq!(r.status(), 200);

    let public_only = update_bucket(&app, "docs", json!({ "public": true })).await;
    let kept = bucket(&app, "docs").await;
    let cleared = update_bucket(
        &app,
        "docs",
        json!({ "allowed_mime_types": null, "file_size_limit": null }),
    )
    .await;
    let after = bucket(&app, "docs").await;
    let not_a_list =
        update_bucket(&app, "docs", json!({ "allowed_mime_types": "image/png" })).await;

    assert_eq!(public_only.status(), 200);
    assert_eq!(kept["allowed_mime_types"], json!(["image/png"]));
    assert_eq!(kept["file_size_limit"], 1_000_000);
    assert_eq!(cleared.status(), 200);
    assert_eq!(after["allowed_mime_types"], Value::Null);
    assert_eq!(after["file_size_limit"], Value::Null);
    assert_storage_error(not_a_list, "400", "InvalidRequest").await;
}
