//! Uploads and downloads: raw and multipart bodies, upsert, limits, ranges, ETags, info.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{assert_storage_error, blobs, call, create_bucket, form, replace_text, rows, upload};
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

#[sqlx::test]
async fn an_upload_cut_off_half_way_leaves_neither_row_nor_file(pool: PgPool) {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;

    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /storage/v1/object/files/cut.bin HTTP/1.1\r\nhost: x\r\napikey: {0}\r\n\
         authorization: Bearer {0}\r\ncontent-type: application/octet-stream\r\n\
         content-length: 3000000\r\n\r\n",
        app.service_key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&vec![7u8; 1_500_000]).await.unwrap();
    socket.shutdown().await.unwrap();
    drop(socket);

    let mut settled = false;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if rows(&app).await == 0 && blobs(&app) == 0 {
            settled = true;
            break;
        }
    }
    assert!(settled, "a partial upload left something behind");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!((rows(&app).await, blobs(&app)), (0, 0));
    let got = call(&app, Method::GET, "/object/files/cut.bin", &app.service_key)
        .send()
        .await
        .unwrap();
    assert_storage_error(got, "404", "NoSuchKey").await;
}

#[sqlx::test]
async fn a_slow_upload_holds_no_database_connection_while_its_bytes_arrive(pool: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // One connection in all: if the upload kept its transaction open, nothing else could run.
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap();
    let app = TestApp::spawn(one).await;
    create_bucket(&app, "files", json!({})).await;

    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /storage/v1/object/files/slow.bin HTTP/1.1\r\nhost: x\r\napikey: {0}\r\n\
         authorization: Bearer {0}\r\ncontent-type: application/octet-stream\r\n\
         content-length: 2000000\r\nconnection: close\r\n\r\n",
        app.service_key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&vec![7u8; 1_000_000]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let listed = call(&app, Method::POST, "/object/list/files", &app.service_key)
        .json(&json!({"prefix": ""}))
        .send()
        .await
        .unwrap();
    let waited = started.elapsed();
    socket.write_all(&vec![7u8; 1_000_000]).await.unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();

    assert_eq!(listed.status(), 200, "{}", listed.text().await.unwrap());
    assert!(
        waited < std::time::Duration::from_secs(2),
        "the list waited {waited:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!((rows(&app).await, blobs(&app)), (1, 1));
    // The app's own pool: left open, its connection would keep sqlx from dropping the database.
    app.pool.close().await;
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

/// A NUL character (`%00` in a path, `\u0000` in JSON or metadata) cannot be stored by PostgreSQL:
/// it is the request's fault, a 400 on every route — before, most routes answered 500, and uploads
/// left their bytes behind.
#[sqlx::test]
async fn a_nul_character_anywhere_is_a_bad_request(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create_bucket(&app, "files", json!({})).await;
    let key = app.service_key.clone();
    let anon = app.anon_key.clone();
    let before = blobs(&app);
    let nul_metadata = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        br#"{"a":"\u0000"}"#,
    );
    let requests = [
        call(&app, Method::GET, "/object/%00/x", &anon),
        call(&app, Method::GET, "/object/files/a%00b", &key),
        call(&app, Method::GET, "/object/info/files/a%00b", &key),
        call(&app, Method::DELETE, "/object/files/a%00b", &key),
        call(&app, Method::POST, "/object/sign/files/a%00b", &key).json(&json!({"expiresIn": 60})),
        call(&app, Method::POST, "/object/sign/files", &key)
            .json(&json!({"expiresIn": 60, "paths": ["a\u{0}b"]})),
        call(&app, Method::DELETE, "/object/files", &key).json(&json!({"prefixes": ["a\u{0}b"]})),
        call(&app, Method::POST, "/object/list/files", &anon).json(&json!({"prefix": "\u{0}"})),
        call(&app, Method::POST, "/object/list/files", &key)
            .json(&json!({"prefix": "", "search": "\u{0}"})),
        call(&app, Method::POST, "/object/move", &key).json(&json!({
            "bucketId": "files", "sourceKey": "a\u{0}b", "destinationKey": "c"})),
        call(&app, Method::POST, "/object/copy", &key).json(&json!({
            "bucketId": "files", "sourceKey": "a\u{0}b", "destinationKey": "c"})),
        call(&app, Method::POST, "/object/files/meta.txt", &key)
            .header("content-type", "text/plain")
            .header("x-metadata", nul_metadata)
            .body("bytes"),
    ];
    for request in requests {
        let request = request.build().unwrap();
        let what = format!("{} {}", request.method(), request.url());
        let r = app.client.execute(request).await.unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!((400..500).contains(&status), "{what}: {status} {body}");
    }
    assert_eq!(blobs(&app), before, "no bytes left behind");
}
