//! The S3 backend: the same Storage API with the bytes in an S3-compatible service — moto's
//! server mode (from PyPI; `scripts/test` installs it) on a free loopback port.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{blobs, call, create_bucket, form, rows, upload};
use crate::{
    harness::{TestApp, json},
    moto,
};

const S3_BUCKET: &str = "bizbase-objects";

#[sqlx::test]
async fn objects_live_in_s3_when_it_is_configured(pool: PgPool) {
    let moto = moto::start(&[S3_BUCKET]).await;
    let app = TestApp::spawn_with(
        pool,
        &[
            ("STORAGE_S3_BUCKET", S3_BUCKET),
            ("STORAGE_S3_ENDPOINT", &moto.endpoint),
            ("STORAGE_S3_ACCESS_KEY_ID", "test"),
            ("STORAGE_S3_SECRET_ACCESS_KEY", "test"),
        ],
    )
    .await;
    create_bucket(&app, "docs", json!({})).await;
    let big: Vec<u8> = (0..12_000_000u32).map(|i| (i % 251) as u8).collect();

    let raw = upload(
        &app,
        &app.service_key,
        "docs",
        "a/report.txt",
        b"hello s3",
        "text/plain",
    )
    .await;
    let (content_type, body) = form(&big, "application/octet-stream");
    let multipart = call(&app, Method::POST, "/object/docs/big.bin", &app.service_key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let keys_after_upload = moto.keys(S3_BUCKET).await;
    let range = call(&app, Method::GET, "/object/docs/big.bin", &app.service_key)
        .header("range", "bytes=1000000-1000009")
        .send()
        .await
        .unwrap();
    let moved = call(&app, Method::POST, "/object/move", &app.service_key)
        .json(&json!({"bucketId": "docs", "sourceKey": "a/report.txt", "destinationKey": "b/report.txt"}))
        .send()
        .await
        .unwrap();
    let copied = call(&app, Method::POST, "/object/copy", &app.service_key)
        .json(&json!({"bucketId": "docs", "sourceKey": "b/report.txt", "destinationKey": "c/report.txt"}))
        .send()
        .await
        .unwrap();
    let copy = call(
        &app,
        Method::GET,
        "/object/docs/c/report.txt",
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    let removed = call(&app, Method::DELETE, "/object/docs", &app.service_key)
        .json(&json!({"prefixes": ["big.bin", "b/report.txt", "c/report.txt"]}))
        .send()
        .await
        .unwrap();

    assert_eq!(raw.status(), 200);
    assert_eq!(multipart.status(), 200);
    assert_eq!(
        keys_after_upload.len(),
        2,
        "both blobs are in S3: {keys_after_upload:?}"
    );
    assert_eq!(blobs(&app), 0, "nothing on the local disk");
    assert_eq!(range.status(), 206);
    assert_eq!(
        range.bytes().await.unwrap().to_vec(),
        big[1_000_000..1_000_010].to_vec()
    );
    assert_eq!(moved.status(), 200);
    assert_eq!(copied.status(), 200);
    assert_eq!(copy.bytes().await.unwrap().as_ref(), b"hello s3");
    assert_eq!(removed.status(), 200);
    assert_eq!(json(removed).await.as_array().unwrap().len(), 3);
    assert_eq!(rows(&app).await, 0);
    assert!(
        moto.keys(S3_BUCKET).await.is_empty(),
        "removing deletes the S3 objects"
    );
}
