//! `/health`, `/ready` and `/metrics`.

use sqlx::PgPool;

use crate::harness::{TestApp, json};

#[sqlx::test]
async fn health_answers_200(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.get("/health").await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "ok");
}

#[sqlx::test]
async fn ready_answers_200_when_the_database_answers_and_migrations_are_current(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.get("/ready").await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "ready");
}

#[sqlx::test(migrations = false)]
async fn ready_answers_503_with_a_reason_before_migrations(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let before = app.get("/ready").await;
    assert_eq!(before.status(), 503);
    let body = json(before).await;
    assert_eq!(body["code"], "service_unavailable");
    assert_eq!(body["message"], "migrations have not been run");

    bizbase::db::migrate(&pool).await.unwrap();
    assert_eq!(app.get("/ready").await.status(), 200);
}

#[sqlx::test(migrations = false)]
async fn ready_names_pending_migrations(pool: PgPool) {
    bizbase::db::migrate(&pool).await.unwrap();
    let last = bizbase::db::MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap();
    sqlx::query("delete from _sqlx_migrations where version = $1")
        .bind(last)
        .execute(&pool)
        .await
        .unwrap();
    let app = TestApp::spawn(pool).await;

    let body = json(app.get("/ready").await).await;

    assert_eq!(
        body["message"],
        format!("1 migration(s) pending, first {last}")
    );
}

#[sqlx::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.get("/health").await;
    app.get("/definitely-unknown").await;
    // A made-up method is counted, under `other`: labels from the request as sent would grow the
    // series (and the server's memory) with every new word.
    let brew = reqwest::Method::from_bytes(b"BREWCOFFEE").unwrap();
    let made_up = app
        .client
        .request(brew, app.url("/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), 405);

    let r = app.get("/metrics").await;

    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"}"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(
        text.contains(r#"http_requests_total{method="other",route="/health",status="405"}"#),
        "{text}"
    );
    assert!(!text.contains("BREWCOFFEE"), "{text}");
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "{text}"
    );
    for gauge in [
        "db_pool_connections",
        "db_pool_idle_connections",
        "db_pool_max_connections ",
        "db_api_pool_connections ",
        "db_api_pool_idle_connections ",
    ] {
        assert!(text.contains(gauge), "{gauge} missing");
    }
}

#[sqlx::test]
async fn with_an_operations_address_metrics_leave_the_api_address(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("ADMIN_ADDR", "127.0.0.1:0")]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = listener.local_addr().unwrap();
    let serving = bizbase::http::server::serve(
        listener,
        bizbase::build_admin_app(app.state.clone()),
        bizbase::http::server::HEAD_TIMEOUT,
        std::future::pending(),
    );
    tokio::spawn(serving);
    let at_admin = |path: &str| app.client.get(format!("http://{admin}{path}")).send();
    app.get("/health").await;

    let on_api = app.get("/metrics").await;
    let probes = (app.get("/health").await, app.get("/ready").await);
    let metrics = at_admin("/metrics").await.unwrap();
    let admin_probes = (
        at_admin("/health").await.unwrap(),
        at_admin("/ready").await.unwrap(),
    );
    let api_route = at_admin("/auth/v1/settings").await.unwrap();
    let from_a_page = app
        .client
        .get(format!("http://{admin}/metrics"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let api_from_a_page = app
        .client
        .get(app.url("/health"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();

    assert_eq!(on_api.status(), 404);
    assert_eq!(
        (probes.0.status().as_u16(), probes.1.status().as_u16()),
        (200, 200)
    );
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/health",status="200"}"#),
        "the operations address serves the request metrics: {text}"
    );
    assert_eq!(
        (
            admin_probes.0.status().as_u16(),
            admin_probes.1.status().as_u16()
        ),
        (200, 200)
    );
    assert_eq!(
        api_route.status(),
        404,
        "the operations address serves no API"
    );
    assert!(api_route.headers().contains_key("x-request-id"));
    assert!(
        !from_a_page
            .headers()
            .contains_key("access-control-allow-origin"),
        "no browser page may read the operations address"
    );
    assert!(
        api_from_a_page
            .headers()
            .contains_key("access-control-allow-origin"),
        "the API's CORS is unchanged"
    );
}

/// Waits (up to a minute) until the `bizbase serve` at `base` answers `/ready` with 200.
async fn until_ready(client: &reqwest::Client, base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !client
        .get(format!("{base}/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "bizbase serve never became ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Two distinct free ports on loopback (both bound at once, then let go for `bizbase serve`).
fn two_free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

#[sqlx::test]
async fn bizbase_serve_answers_on_both_addresses_and_one_signal_stops_both(pool: PgPool) {
    let url = crate::business::database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let (api, admin) = two_free_ports();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_bizbase"))
        .arg("serve")
        .env("DATABASE_URL", &url)
        .env("BIZBASE_DATA_DIR", dir.path())
        .env("BIZBASE_ADDR", format!("127.0.0.1:{api}"))
        .env("BIZBASE_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("BIZBASE_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let get = |port: u16, path: &str| client.get(format!("http://127.0.0.1:{port}{path}")).send();
    until_ready(&client, &format!("http://127.0.0.1:{admin}")).await;

    let api_health = get(api, "/health").await.unwrap().status().as_u16();
    let api_metrics = get(api, "/metrics").await.unwrap().status().as_u16();
    let admin_metrics = get(admin, "/metrics").await.unwrap().status().as_u16();
    let pid = server.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let exit = tokio::time::timeout(std::time::Duration::from_secs(20), server.wait())
        .await
        .expect("bizbase serve stops on SIGTERM with the operations listener open")
        .unwrap();

    assert_eq!((api_health, api_metrics, admin_metrics), (200, 404, 200));
    assert!(signalled.success());
    assert!(exit.success(), "{exit:?}");
    assert!(
        get(admin, "/health").await.is_err(),
        "the operations listener is closed"
    );
}

/// `BIZBASE_LOG=debug` (what one turns on to chase a problem) must not write out callers' personal
/// data: the statement beginning a caller's transaction carries their claims — address included —
/// as literals, which sqlx logged at DEBUG.
#[sqlx::test]
async fn debug_logs_do_not_show_the_claims_of_callers(pool: PgPool) {
    let url = crate::business::database_url(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let (port, _) = two_free_ports();
    let log_path = dir.path().join("serve.log");
    let env = [
        ("DATABASE_URL", url),
        ("BIZBASE_DATA_DIR", dir.path().display().to_string()),
        ("BIZBASE_ADDR", format!("127.0.0.1:{port}")),
        ("BIZBASE_LOG", "debug".into()),
        ("BIZBASE_AUTH_AUTOCONFIRM", "true".into()),
        ("NO_COLOR", "1".into()),
    ];
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_bizbase"))
        .arg("serve")
        .envs(env.clone())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    until_ready(&client, &base).await;
    let keys = std::process::Command::new(env!("CARGO_BIN_EXE_bizbase"))
        .args(["keys", "--json"])
        .envs(env)
        .output()
        .unwrap();
    let keys: serde_json::Value = serde_json::from_slice(&keys.stdout).unwrap();
    let anon = keys["anon_key"].as_str().unwrap();

    let session: serde_json::Value = client
        .post(format!("{base}/auth/v1/signup"))
        .header("apikey", anon)
        .json(&serde_json::json!({ "email": "ann.logged@example.com", "password": "correct-horse-42" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let read = client
        .get(format!("{base}/rest/v1/orgs?select=id"))
        .header("apikey", anon)
        .bearer_auth(session["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let pid = server.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    server.wait().await.unwrap();

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("DEBUG"), "debug logging was on: {log}");
    assert!(log.contains("/rest/v1/orgs"), "the read was logged");
    assert!(
        !log.contains("ann.logged@example.com"),
        "a caller's address in the log:\n{}",
        log.lines()
            .filter(|l| l.contains("ann.logged@example.com"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
