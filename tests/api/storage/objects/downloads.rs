//! Downloads: byte ranges and conditional requests (ETags), and public buckets serving without a
//! token while private ones do not.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{assert_storage_error, call, create_bucket, replace_text, upload};
use crate::harness::TestApp;

#[sqlx::test]
async fn ranges_and_conditional_requests_are_honoured(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    upload(
        &app,
        &app.service_key,
        "files",
        "digits",
        b"0123456789",
        "text/plain",
    )
    .await;
    let get = |range: &'static str| {
        call(&app, Method::GET, "/object/files/digits", &app.service_key)
            .header("range", range)
            .send()
    };

    let part = get("bytes=2-4").await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 2-4/10");
    assert_eq!(part.text().await.unwrap(), "234");
    let tail = get("bytes=-3").await.unwrap();
    assert_eq!(
        (tail.status().as_u16(), tail.text().await.unwrap()),
        (206, "789".to_owned())
    );
    let open = get("bytes=7-").await.unwrap();
    assert_eq!(open.text().await.unwrap(), "789");
    let beyond = get("bytes=20-30").await.unwrap();
    assert_eq!(beyond.headers()["content-range"], "bytes */10");
    assert_storage_error(beyond, "400", "InvalidRange").await;

    let etag = get("bytes=0-").await.unwrap().headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let cached = call(&app, Method::GET, "/object/files/digits", &app.service_key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let stale = call(&app, Method::GET, "/object/files/digits", &app.service_key)
        .header("if-none-match", "\"other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    let replaced = replace_text(&app, &app.service_key, "files/digits", "9876543210").await;
    assert_eq!(replaced.status(), 200);
    let after_replace = call(&app, Method::GET, "/object/files/digits", &app.service_key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(after_replace.status(), 200, "new bytes, new ETag");
    assert_ne!(after_replace.headers()["etag"].to_str().unwrap(), etag);
    assert_eq!(after_replace.text().await.unwrap(), "9876543210");
    let head = call(&app, Method::HEAD, "/object/files/digits", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            head.status().as_u16(),
            head.headers()["content-length"].to_str().unwrap()
        ),
        (200, "10")
    );
}

#[sqlx::test]
async fn public_buckets_serve_without_a_token_and_private_ones_do_not(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "pub", json!({ "public": true })).await;
    create_bucket(&app, "priv", json!({})).await;
    upload(
        &app,
        &app.service_key,
        "pub",
        "logo.txt",
        b"logo",
        "text/plain",
    )
    .await;
    upload(
        &app,
        &app.service_key,
        "priv",
        "secret.txt",
        b"secret",
        "text/plain",
    )
    .await;

    let open = app
        .get("/storage/v1/object/public/pub/logo.txt?download=my%20logo.txt")
        .await;
    assert_eq!(open.status(), 200);
    assert_eq!(
        open.headers()["content-disposition"],
        "attachment; filename=\"my logo.txt\"; filename*=UTF-8''my%20logo.txt",
        "RFC 6266: a quoted ASCII name, the exact one in filename*"
    );
    assert_eq!(open.text().await.unwrap(), "logo");
    let closed = app.get("/storage/v1/object/public/priv/secret.txt").await;
    assert_storage_error(closed, "404", "NoSuchBucket").await;
    let missing = app.get("/storage/v1/object/public/pub/nothing.txt").await;
    assert_storage_error(missing, "404", "NoSuchKey").await;
    let anon_private = call(&app, Method::GET, "/object/priv/secret.txt", &app.anon_key)
        .send()
        .await
        .unwrap();
    assert_storage_error(anon_private, "404", "NoSuchKey").await;
    let anon_public = call(&app, Method::GET, "/object/pub/logo.txt", &app.anon_key)
        .send()
        .await
        .unwrap();
    assert_eq!(anon_public.status(), 200);
}
