//! Object keys: any UTF-8 text but controls, S3's "avoid" characters and invisible code points;
//! folder placeholders (`.emptyFolderPlaceholder`).

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{assert_storage_error, call, create_bucket, rows, upload};
use crate::harness::{TestApp, json};

/// `path` relative to `/storage/v1`, percent-encoded the way a browser's `fetch` (and
/// supabase-js's `encodeURI`) sends it.
fn absolute(app: &TestApp, path: &str) -> reqwest::Url {
    reqwest::Url::parse(&app.url(&format!("/storage/v1{path}"))).unwrap()
}

async fn service_post(app: &TestApp, path: &str, body: Value) -> Value {
    let r = call(app, Method::POST, path, &app.service_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    json(r).await
}

#[sqlx::test]
async fn a_unicode_key_uploads_downloads_lists_signs_moves_and_copies(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    let key = "café/résumé 履歴書 😀.pdf";

    let r = upload(
        &app,
        &app.service_key,
        "files",
        key,
        b"%PDF-1",
        "application/pdf",
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["Key"], format!("files/{key}"));

    let got = app
        .client
        .get(absolute(&app, &format!("/object/files/{key}")))
        .header("apikey", &app.anon_key)
        .bearer_auth(&app.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"%PDF-1");
    let root = service_post(&app, "/object/list/files", json!({ "prefix": "" })).await;
    assert_eq!(root[0]["name"], "café");
    assert_eq!(root[0]["id"], Value::Null);
    let folder = service_post(&app, "/object/list/files", json!({ "prefix": "café" })).await;
    assert_eq!(folder[0]["name"], "résumé 履歴書 😀.pdf");

    // The signed URL names the key as text; the client percent-encodes it (supabase-js runs
    // `encodeURI` over it), and that URL works as it is.
    let signed = service_post(
        &app,
        &format!("/object/sign/files/{key}"),
        json!({ "expiresIn": 60 }),
    )
    .await;
    let signed_url = signed["signedURL"].as_str().unwrap();
    assert!(
        signed_url.starts_with(&format!("/object/sign/files/{key}?token=")),
        "{signed_url}"
    );
    let named = format!("{signed_url}&download=résumé final.pdf");
    let fetched = app.client.get(absolute(&app, &named)).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.headers()["content-disposition"],
        "attachment; filename=\"r_sum_ final.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20final.pdf"
    );
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), b"%PDF-1");
    let many = service_post(
        &app,
        "/object/sign/files",
        json!({ "expiresIn": 60, "paths": [key] }),
    )
    .await;
    let one = many[0]["signedURL"].as_str().unwrap();
    let fetched = app.client.get(absolute(&app, one)).send().await.unwrap();
    assert_eq!(fetched.status(), 200);

    let moved_key = "déplacé/ファイル.pdf";
    let moved = service_post(
        &app,
        "/object/move",
        json!({ "bucketId": "files", "sourceKey": key, "destinationKey": moved_key }),
    )
    .await;
    assert_eq!(moved["Key"], format!("files/{moved_key}"));
    let copied = service_post(
        &app,
        "/object/copy",
        json!({ "bucketId": "files", "sourceKey": moved_key, "destinationKey": "copie/ü.pdf" }),
    )
    .await;
    assert_eq!(copied["Key"], "files/copie/ü.pdf");
    let info = call(
        &app,
        Method::GET,
        "/object/info/files/copie/ü.pdf",
        &app.service_key,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(json(info).await["name"], "copie/ü.pdf");
}

#[sqlx::test]
async fn controls_avoided_characters_invisible_code_points_and_empty_segments_are_refused(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;

    for bad in [
        "a%23b",             // '#'
        "a%25b",             // '%'
        "a%5Bb%5D",          // '[' ']'
        "a%7Bb%7D",          // '{' '}'
        "a%5Eb",             // '^'
        "a%60b",             // '`'
        "a%22b",             // '"'
        "a%3Cb%3E",          // '<' '>'
        "a%5Cb",             // '\'
        "a%7Cb",             // '|'
        "a~b",               // '~'
        "a%09b",             // tab
        "a%7Fb",             // DEL
        "a%C2%85b",          // U+0085, a C1 control
        "a%E2%80%8Bb",       // U+200B zero-width space
        "a%E2%80%AEgpj.exe", // U+202E right-to-left override
        "a%EF%BB%BFb",       // U+FEFF
        "a//b",
        "a/",
    ] {
        let r = upload(&app, &app.service_key, "files", bad, b"x", "text/plain").await;
        assert_storage_error(r, "400", "InvalidKey").await;
    }
    let long = "é".repeat(513);
    let r = upload(&app, &app.service_key, "files", &long, b"x", "text/plain").await;
    assert_storage_error(r, "400", "InvalidKey").await;
    assert_eq!(rows(&app).await, 0);
    let fits = "é".repeat(512);
    let r = upload(&app, &app.service_key, "files", &fits, b"x", "text/plain").await;
    assert_eq!(r.status(), 200, "1024 UTF-8 bytes fit");
    // URLs lose dot segments on the way; a body does not.
    for bad in ["a/./b", "a/../b", "..", "/a"] {
        let r = call(&app, Method::POST, "/object/copy", &app.service_key)
            .json(&json!({ "bucketId": "files", "sourceKey": fits, "destinationKey": bad }))
            .send()
            .await
            .unwrap();
        assert_storage_error(r, "400", "InvalidKey").await;
    }
}

#[sqlx::test]
async fn a_folder_placeholder_skips_the_mime_list_and_must_be_empty(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "images", json!({ "allowed_mime_types": ["image/*"] })).await;

    let placeholder = upload(
        &app,
        &app.service_key,
        "images",
        "folder/.emptyFolderPlaceholder",
        b"",
        "application/octet-stream",
    )
    .await;
    assert_eq!(placeholder.status(), 200);
    let folders = service_post(&app, "/object/list/images", json!({ "prefix": "" })).await;
    assert_eq!(folders[0]["name"], "folder");
    let not_empty = upload(
        &app,
        &app.service_key,
        "images",
        "other/.emptyFolderPlaceholder",
        b"x",
        "application/octet-stream",
    )
    .await;
    assert_storage_error(not_empty, "413", "EntityTooLarge").await;
    let ordinary = upload(&app, &app.service_key, "images", "a.txt", b"", "text/plain").await;
    assert_storage_error(ordinary, "415", "InvalidMimeType").await;
}
