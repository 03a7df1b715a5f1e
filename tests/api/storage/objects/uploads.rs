//! Uploads: raw and multipart bodies (read back with their headers and info), a duplicate key
//! unless upserted, size and media-type limits that leave neither row nor file, and an upload size
//! limit of their own rather than the API's body limit.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{
    assert_storage_error, blobs, call, create_bucket, form, replace_text, rows, upload,
};
use crate::harness::{TestApp, json};

#[sqlx::test]
async fn a_raw_upload_downloads_with_its_headers(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;

    let r = upload(
        &app,
        &app.service_key,
        "files",
        "dir/hello.txt",
        b"hello world",
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(body["Key"], "files/dir/hello.txt");
    assert!(body["Id"].as_str().is_some());

    let got = call(
        &app,
        Method::GET,
        "/object/files/dir/hello.txt",
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(got.status(), 200);
    let h = got.headers().clone();
    assert_eq!(h["content-type"], "text/plain");
    assert_eq!(h["cache-control"], "max-age=60");
    assert_eq!(h["accept-ranges"], "bytes");
    let version: String =
        sqlx::query_scalar("select version from storage.objects where name = 'dir/hello.txt'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        h["etag"].to_str().unwrap(),
        format!("\"{}\"", version.replace('-', "")),
        "the ETag names the immutable blob version"
    );
    assert!(h.contains_key("last-modified"));
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"hello world");
    let same = call(
        &app,
        Method::GET,
        "/object/authenticated/files/dir/hello.txt",
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(same.bytes().await.unwrap().as_ref(), b"hello world");
}

#[sqlx::test]
async fn a_multipart_upload_takes_the_empty_field_and_its_form_fields(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    let (content_type, body) = form(b"\x89PNG bytes", "image/png");

    let r = call(
        &app,
        Method::POST,
        "/object/files/pic.png",
        &app.service_key,
    )
    .header("content-type", content_type)
    .body(body)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);

    let info = json(
        call(
            &app,
            Method::GET,
            "/object/info/files/pic.png",
            &app.service_key,
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(info["content_type"], "image/png");
    assert_eq!(info["cache_control"], "max-age=120");
    assert_eq!(info["size"], 10);
    assert_eq!(info["metadata"], json!({ "k": "v" }));
    assert_eq!(info["bucket_id"], "files");
    assert_eq!(info["name"], "pic.png");
    let got = call(&app, Method::GET, "/object/files/pic.png", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"\x89PNG bytes");
}

#[sqlx::test]
async fn an_existing_key_is_a_duplicate_unless_upserted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    upload(
        &app,
        &app.service_key,
        "files",
        "a.txt",
        b"one",
        "text/plain",
    )
    .await;

    let again = upload(
        &app,
        &app.service_key,
        "files",
        "a.txt",
        b"two",
        "text/plain",
    )
    .await;
    let body = assert_storage_error(again, "409", "KeyAlreadyExists").await;
    assert_eq!(body["error"], "Duplicate");
    assert_eq!(body["message"], "The resource already exists");
    let upserted = call(&app, Method::POST, "/object/files/a.txt", &app.service_key)
        .header("x-upsert", "true")
        .header("content-type", "text/plain")
        .body("two")
        .send()
        .await
        .unwrap();
    assert_eq!(upserted.status(), 200);
    let updated = replace_text(&app, &app.service_key, "files/a.txt", "three").await;
    assert_eq!(updated.status(), 200);

    let got = call(&app, Method::GET, "/object/files/a.txt", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.text().await.unwrap(), "three");
    assert_eq!(
        (rows(&app).await, blobs(&app)),
        (1, 1),
        "old versions are deleted"
    );
}

#[sqlx::test]
async fn size_and_mime_limits_refuse_and_leave_neither_row_nor_file(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(
        &app,
        "small",
        json!({ "file_size_limit": 10, "allowed_mime_types": ["text/*"] }),
    )
    .await;

    let big = upload(
        &app,
        &app.service_key,
        "small",
        "big.txt",
        &[b'x'; 11],
        "text/plain",
    )
    .await;
    let body = assert_storage_error(big, "413", "EntityTooLarge").await;
    assert_eq!(
        body["message"],
        "The object exceeded the maximum allowed size"
    );
    let (ct, big_form) = form(&[b'x'; 11], "text/plain");
    let streamed = call(
        &app,
        Method::POST,
        "/object/small/big2.txt",
        &app.service_key,
    )
    .header("content-type", ct)
    .body(big_form)
    .send()
    .await
    .unwrap();
    assert_storage_error(streamed, "413", "EntityTooLarge").await;
    let pdf = upload(
        &app,
        &app.service_key,
        "small",
        "a.pdf",
        b"%PDF",
        "application/pdf",
    )
    .await;
    let body = assert_storage_error(pdf, "415", "InvalidMimeType").await;
    assert_eq!(
        body["message"],
        "mime type application/pdf is not supported"
    );
    // A list of types is not one of them, whatever comes first (browsers honour the last).
    for listed in [
        "text/plain, text/html",
        "text/plain,application/pdf",
        "text",
        "text/",
    ] {
        let r = upload(&app, &app.service_key, "small", "l.txt", b"x", listed).await;
        assert_storage_error(r, "415", "InvalidMimeType").await;
    }
    let bad_key = upload(&app, &app.service_key, "small", "a%23b", b"x", "text/plain").await;
    assert_storage_error(bad_key, "400", "InvalidKey").await;
    let no_bucket = upload(&app, &app.service_key, "nope", "a.txt", b"x", "text/plain").await;
    assert_storage_error(no_bucket, "404", "NoSuchBucket").await;

    assert_eq!((rows(&app).await, blobs(&app)), (0, 0));
    let fits = upload(
        &app,
        &app.service_key,
        "small",
        "ok.txt",
        b"0123456789",
        "text/plain",
    )
    .await;
    assert_eq!(fits.status(), 200);
}

#[sqlx::test]
async fn uploads_have_their_own_size_limit_not_the_api_body_limit(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("MAX_BODY_BYTES", "4096"),
            ("STORAGE_FILE_SIZE_LIMIT", "65536"),
        ],
    )
    .await;
    create_bucket(&app, "big", json!({})).await;
    let file = vec![7u8; 32 * 1024];

    let raw = upload(
        &app,
        &app.service_key,
        "big",
        "raw.bin",
        &file,
        "application/octet-stream",
    )
    .await;
    let (content_type, body) = form(&file, "application/octet-stream");
    let multipart = call(&app, Method::POST, "/object/big/form.bin", &app.service_key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let too_big = upload(
        &app,
        &app.service_key,
        "big",
        "huge.bin",
        &vec![7u8; 70 * 1024],
        "application/octet-stream",
    )
    .await;
    let api = app
        .auth(Method::POST, "/signup")
        .json(&json!({"email": "a@example.com", "password": "x".repeat(8 * 1024)}))
        .send()
        .await
        .unwrap();
    // Storage's JSON routes (list, remove, sign, move, copy, buckets) are no uploads: before, they
    // too read (and parsed) bodies up to the upload limit.
    let listing = call(&app, Method::POST, "/object/list/big", &app.service_key)
        .json(&json!({"prefix": "", "search": "x".repeat(8 * 1024)}))
        .send()
        .await
        .unwrap();

    assert_storage_error(listing, "413", "EntityTooLarge").await;
    assert_eq!(
        raw.status(),
        200,
        "a 32 KiB file under a 4 KiB API body limit"
    );
    assert_eq!(multipart.status(), 200);
    assert_storage_error(too_big, "413", "EntityTooLarge").await;
    assert_eq!(api.status(), 413, "the API keeps its own limit");
}
