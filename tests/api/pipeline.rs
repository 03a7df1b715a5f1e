//! The request pipeline: request ids, JSON errors for unknown routes, methods and oversized
//! bodies, CORS, security headers, timeouts and compression.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Body,
    routing::{get, post},
};
use bizbase::{
    config::CorsOrigins,
    http::{
        drain::DrainLimits,
        layers::{self, PipelineSettings},
    },
};
use sqlx::PgPool;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tower::ServiceExt;

use crate::harness::{TestApp, json};

#[sqlx::test]
async fn a_request_id_is_generated_and_echoed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let a = app.get("/health").await;
    let b = app.get("/health").await;

    let id_a = a.headers()["x-request-id"].to_str().unwrap().to_owned();
    let id_b = b.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id_a.len(), 36);
    assert_ne!(id_a, id_b);
}

#[sqlx::test]
async fn a_sane_caller_request_id_is_kept_and_a_malicious_one_replaced(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let kept = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-42.a")
        .send()
        .await
        .unwrap();
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "x y\tz")
        .send()
        .await
        .unwrap();

    assert_eq!(kept.headers()["x-request-id"], "trace-42.a");
    assert_ne!(replaced.headers()["x-request-id"], "x y\tz");
}

#[sqlx::test]
async fn an_unknown_route_gets_a_json_404_with_a_code(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.get("/no/such/thing").await;

    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body = json(r).await;
    assert_eq!(body["code"], "not_found");
    assert!(body["message"].as_str().unwrap().contains("/no/such/thing"));
}

#[sqlx::test]
async fn unknown_routes_under_compatible_prefixes_use_their_surface_shape(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let rest = json(app.get("/rest/v1/x/y/z").await).await;
    let storage = app.get("/storage/v1/nowhere").await;
    let auth = app
        .client
        .get(app.url("/auth/v1/nowhere"))
        .header("x-supabase-api-version", "2024-01-01")
        .send()
        .await
        .unwrap();

    assert_eq!(rest["code"], "PGRST125");
    assert!(rest.get("hint").is_some());
    assert_eq!(storage.status(), 404);
    assert_eq!(json(storage).await["statusCode"], "404");
    assert_eq!(auth.headers()["x-supabase-api-version"], "2024-01-01");
    assert_eq!(json(auth).await["code"], "not_found");
}

#[sqlx::test]
async fn a_wrong_method_gets_a_json_405(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.client.post(app.url("/health")).send().await.unwrap();

    assert_eq!(r.status(), 405);
    assert!(r.headers().contains_key("allow"));
    assert_eq!(json(r).await["code"], "method_not_allowed");
}

#[sqlx::test]
async fn an_oversized_body_gets_413_with_a_code(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("MAX_BODY_BYTES", "1024")]).await;

    let r = app
        .client
        .post(app.url("/health"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 413);
    assert_eq!(json(r).await["code"], "payload_too_large");
}

#[sqlx::test]
async fn cors_preflight_allows_the_supabase_headers(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/rest/v1/leads"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "apikey, authorization, prefer, x-client-info",
        )
        .send()
        .await
        .unwrap();

    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for h in [
        "apikey",
        "authorization",
        "prefer",
        "x-client-info",
        "x-supabase-api-version",
        "content-profile",
    ] {
        assert!(allowed.contains(h), "{h} not in {allowed}");
    }
}

#[sqlx::test]
async fn cors_origins_can_be_restricted(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("CORS_ORIGINS", "https://app.example.com")]).await;

    let allowed = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    let other = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();

    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let exposed = allowed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        exposed.contains("content-range") && exposed.contains("x-supabase-api-version"),
        "{exposed}"
    );
}

#[sqlx::test]
async fn responses_carry_security_headers(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.get("/health").await;

    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["referrer-policy"], "no-referrer");
}

fn settings(timeout: Duration) -> PipelineSettings {
    PipelineSettings {
        cors_origins: CorsOrigins::Any,
        request_timeout: timeout,
        drain: DrainLimits {
            cap: 4 << 20,
            wait: timeout,
            deadline: timeout,
        },
    }
}

#[tokio::test]
async fn a_request_past_the_timeout_gets_504_with_a_code_and_its_handler_still_finishes() {
    let metrics = bizbase::http::metrics::handle().expect("the Prometheus recorder");
    let finished = Arc::new(AtomicBool::new(false));
    let done = finished.clone();
    let router = Router::new().route(
        "/slow-but-finishing",
        get(move || async move {
            tokio::time::sleep(Duration::from_millis(400)).await;
            done.store(true, Ordering::SeqCst);
            "late"
        }),
    );
    let app = layers::apply(router, &settings(Duration::from_millis(100)));

    let r = app
        .oneshot(
            axum::http::Request::get("/slow-but-finishing")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();

    assert_eq!(r.status(), 504);
    let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "request_timeout");
    assert!(!finished.load(Ordering::SeqCst));
    // The handler is not cancelled by the timeout: it runs to its end.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(finished.load(Ordering::SeqCst));
    // And the 504 is counted under its route.
    assert!(
        metrics.render().contains(
            r#"http_requests_total{method="GET",route="/slow-but-finishing",status="504"}"#
        )
    );
}

async fn boom() -> &'static str {
    panic!("secret detail")
}

#[tokio::test]
async fn a_panicking_handler_gets_a_500_with_only_the_request_id() {
    let router = Router::new().route("/boom", get(boom));
    let app = layers::apply(router, &settings(Duration::from_secs(5)));

    let r = app
        .oneshot(
            axum::http::Request::get("/boom")
                .header("x-request-id", "rid-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();

    assert_eq!(r.status(), 500);
    let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"code": "internal", "message": "internal error", "error_id": "rid-1"})
    );
}

#[tokio::test]
async fn large_responses_are_compressed_when_the_client_accepts_gzip() {
    let router = Router::new().route("/big", get(|| async { "x".repeat(100_000) }));
    let app = layers::apply(router, &settings(Duration::from_secs(5)));

    let r = app
        .oneshot(
            axum::http::Request::get("/big")
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();

    assert_eq!(r.headers()["content-encoding"], "gzip");
}

/// Serves `router` behind the pipeline on a loopback port, over real HTTP/1.1 connections.
async fn serve_pipeline(router: Router, settings: &PipelineSettings) -> std::net::SocketAddr {
    let app = layers::apply(router, settings);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn key_taken() -> bizbase::error::AppError {
    bizbase::error::AppError::bad_request("key_taken", "the key is taken")
}

/// A route that refuses without reading the body (as an upload to a taken key does), one that
/// refuses after the body's first chunk (as a multipart upload does after its form fields), and
/// one that answers 200.
fn refusing_router() -> Router {
    Router::new()
        .route("/refuse", post(|| async { Err::<(), _>(key_taken()) }))
        .route(
            "/refuse-later",
            post(|body: Body| async move {
                let mut body = body.into_data_stream();
                let _first = futures_util::StreamExt::next(&mut body).await;
                Err::<(), _>(key_taken())
            }),
        )
        .route("/ok", get(|| async { "fine" }))
        .route(
            "/read-all",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
}

/// The next answer on `conn` (within five seconds), which must come: (status line, body).
async fn next_answer(conn: &mut TcpStream, what: &str) -> (String, String) {
    tokio::time::timeout(Duration::from_secs(5), read_answer(conn))
        .await
        .unwrap_or_else(|_| panic!("no {what} within 5 s"))
        .unwrap_or_else(|| panic!("the connection ended before {what}"))
}

/// Sends the `rest` of a refused body and then a request for `/ok`, which must be answered on the
/// same connection: the server read the rest instead of closing.
async fn assert_serves_on_after(conn: &mut TcpStream, rest: usize) {
    conn.write_all(&vec![b'a'; rest]).await.unwrap();
    conn.write_all(b"GET /ok HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let (status, body) = next_answer(conn, "the next request's answer (the connection was closed after the refusal instead of reading the body's rest)").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "fine");
}

/// Reads one HTTP/1.1 answer with a `content-length` body: (status line, body). `None` when the
/// connection ends (or is reset) first.
async fn read_answer(conn: &mut TcpStream) -> Option<(String, String)> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&seen[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while seen.len() < end + 4 + length {
                let n = conn.read(&mut buf).await.ok()?;
                if n == 0 {
                    return None;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            let body = String::from_utf8_lossy(&seen[end + 4..end + 4 + length]).to_string();
            return Some((head.lines().next().unwrap_or("").to_owned(), body));
        }
        let n = conn.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn a_body_the_handler_left_unread_is_read_after_the_answer_and_the_connection_serves_on() {
    let addr = serve_pipeline(refusing_router(), &settings(Duration::from_secs(5))).await;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let size = 1 << 20;
    conn.write_all(
        format!("POST /refuse HTTP/1.1\r\nhost: test\r\ncontent-length: {size}\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    conn.write_all(&vec![b'a'; 64 << 10]).await.unwrap();

    // The refusal comes while most of the body is still to be sent.
    let (status, body) = next_answer(&mut conn, "the refusal").await;
    assert!(status.contains("400"), "{status} {body}");
    assert!(body.contains("key_taken"), "{body}");

    // The client finishes sending; the server reads it, and the connection serves the next request.
    assert_serves_on_after(&mut conn, size - (64 << 10)).await;
}

#[tokio::test]
async fn a_body_declared_larger_than_any_route_accepts_is_not_read_after_a_refusal() {
    // A drain would wait a minute for the rest: the connection must close long before.
    let addr = serve_pipeline(refusing_router(), &settings(Duration::from_secs(60))).await;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    // Over the cap of the pipeline's settings (4 MiB): answering and closing beats reading it.
    conn.write_all(
        format!(
            "POST /refuse HTTP/1.1\r\nhost: test\r\ncontent-length: {}\r\n\r\n",
            64 << 20
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    conn.write_all(&vec![b'a'; 16 << 10]).await.unwrap();

    let (status, body) = next_answer(&mut conn, "the refusal").await;
    assert!(status.contains("400"), "{status} {body}");
    assert_closes(&mut conn).await;
}

/// Asserts the server closes `conn` within two seconds.
async fn assert_closes(conn: &mut TcpStream) {
    let mut rest = [0u8; 1024];
    let after = tokio::time::timeout(Duration::from_secs(2), conn.read(&mut rest))
        .await
        .expect("the server must close the connection, not wait for the body");
    assert!(matches!(after, Ok(0) | Err(_)), "{after:?}");
}

#[tokio::test]
async fn a_client_awaiting_100_continue_gets_the_refusal_instead_and_is_not_waited_for() {
    let addr = serve_pipeline(refusing_router(), &settings(Duration::from_secs(60))).await;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        b"POST /refuse HTTP/1.1\r\nhost: test\r\nexpect: 100-continue\r\ncontent-length: 1048576\r\n\r\n",
    )
    .await
    .unwrap();

    let (status, _) = next_answer(&mut conn, "the refusal").await;
    assert!(status.contains("400"), "{status}");
    // The client sent no body and will send none: nothing to drain.
    assert_closes(&mut conn).await;
}

#[tokio::test]
async fn a_body_begun_after_100_continue_and_then_refused_is_read_to_its_end() {
    let addr = serve_pipeline(refusing_router(), &settings(Duration::from_secs(5))).await;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let size = 1 << 20;
    conn.write_all(
        format!(
            "POST /refuse-later HTTP/1.1\r\nhost: test\r\nexpect: 100-continue\r\ncontent-length: {size}\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (status, _) = next_answer(&mut conn, "the go-ahead").await;
    assert!(status.contains("100"), "{status}");
    conn.write_all(&vec![b'a'; 64 << 10]).await.unwrap();

    let (status, body) = next_answer(&mut conn, "the refusal").await;
    assert!(status.contains("400"), "{status} {body}");
    assert_serves_on_after(&mut conn, size - (64 << 10)).await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_by_the_request_timeout_loses_its_connection() {
    // The client sends a byte of its body every 100 ms — never idle, never done. Before, the
    // handler waited for the rest, and the connection stayed open, for as long as the client
    // kept it up.
    let addr = serve_pipeline(refusing_router(), &settings(Duration::from_millis(300))).await;
    let conn = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = conn.into_split();
    writer
        .write_all(b"POST /read-all HTTP/1.1\r\nhost: test\r\ncontent-length: 1000\r\n\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let started = tokio::time::Instant::now();
    let mut answer = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(3), reader.read_to_end(&mut answer)).await;
    trickle.abort();

    assert!(ended.is_ok(), "the connection is still open after 3 s");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
}
