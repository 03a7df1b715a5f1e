//! Requests that break off or go wrong: an upload cut off half way leaves neither row nor file, a
//! slow one holds no database connection while its bytes arrive, and a NUL character anywhere is a
//! 400 that leaves no bytes behind.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{assert_storage_error, blobs, call, create_bucket, rows};
use crate::harness::TestApp;

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
