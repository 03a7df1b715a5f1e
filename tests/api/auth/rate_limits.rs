//! Per-IP rate limits (§2.12): the burst is allowed, the next request gets 429
//! `over_request_rate_limit` with `Retry-After`, and other IPs are unaffected.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{PASSWORD, enroll, str_of};
use crate::harness::{TestApp, assert_error, json};

/// The client IP comes from `X-Forwarded-For`, so a test can play several clients.
const IP_HEADER: (&str, &str) = ("RATE_LIMIT_IP_HEADER", "x-forwarded-for");

async fn post_from(app: &TestApp, ip: &str, path: &str, body: &Value) -> Response {
    app.auth(Method::POST, path)
        .header("x-forwarded-for", ip)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Sends `limit` requests from one IP (none limited), then one more (limited), then one from
/// another IP (not limited).
async fn assert_limited_after(app: &TestApp, limit: usize, path: &str, body: Value) {
    for i in 0..limit {
        let r = post_from(app, "203.0.113.1", path, &body).await;
        assert_ne!(r.status(), 429, "request {} of {limit} to {path}", i + 1);
    }

    let over = post_from(app, "203.0.113.1", path, &body).await;
    let other_ip = post_from(app, "203.0.113.2", path, &body).await;

    let retry_after: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body = assert_error(over, 429, "over_request_rate_limit").await;
    assert_eq!(body["message"], "Request rate limit reached");
    assert_ne!(other_ip.status(), 429, "another IP is not limited");
}

#[sqlx::test]
async fn token_requests_are_limited_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_TOKEN", "3")]).await;

    assert_limited_after(
        &app,
        3,
        "/token?grant_type=password",
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
}

#[sqlx::test]
async fn refreshes_count_against_the_token_limit(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_TOKEN", "2")]).await;

    assert_limited_after(
        &app,
        2,
        "/token?grant_type=refresh_token",
        json!({ "refresh_token": "garbage" }),
    )
    .await;
}

#[sqlx::test]
async fn signups_are_limited_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_SIGNUP", "2")]).await;

    assert_limited_after(
        &app,
        2,
        "/signup",
        json!({ "email": "not-an-address", "password": PASSWORD }),
    )
    .await;
}

#[sqlx::test]
async fn anonymous_sign_ins_have_their_own_hourly_limit(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            IP_HEADER,
            ("AUTH_ANONYMOUS_USERS", "true"),
            ("RATE_LIMIT_ANONYMOUS", "2"),
        ],
    )
    .await;

    assert_limited_after(&app, 2, "/signup", json!({})).await;
    let users: i64 = sqlx::query_scalar("select count(*) from auth.users where is_anonymous")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 3, "two from the first IP, one from the other");
    let r = post_from(
        &app,
        "203.0.113.1",
        "/signup",
        &json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status(), 200, "e-mail sign-ups are not held back");
}

#[sqlx::test]
async fn verifications_are_limited_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_VERIFY", "2")]).await;

    assert_limited_after(
        &app,
        2,
        "/verify",
        json!({ "type": "signup", "token_hash": "guess" }),
    )
    .await;
}

#[sqlx::test]
async fn a_limited_verify_link_redirects_with_the_error(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_VERIFY", "1")]).await;
    let follow = || {
        app.client
            .get(app.url("/auth/v1/verify?token=guess&type=signup"))
            .header("x-forwarded-for", "203.0.113.1")
            .send()
    };
    follow().await.unwrap();

    let r = follow().await.unwrap();

    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap();
    assert!(
        location.contains("error_code=over_request_rate_limit"),
        "{location}"
    );
}

#[sqlx::test]
async fn recovery_mails_are_limited_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_OTP", "2")]).await;

    assert_limited_after(
        &app,
        2,
        "/recover",
        json!({ "email": "nobody@example.com" }),
    )
    .await;
}

#[sqlx::test]
async fn mail_endpoints_sharing_the_otp_count_have_a_bucket_each(pool: PgPool) {
    // As GoTrue: the count is the same, the buckets are not — using up recovery from an address
    // leaves magic links (and the rest) to it.
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_OTP", "1")]).await;
    let nobody = json!({ "email": "nobody@example.com" });
    assert_ne!(
        post_from(&app, "203.0.113.1", "/recover", &nobody)
            .await
            .status(),
        429
    );
    let again = post_from(&app, "203.0.113.1", "/recover", &nobody).await;
    assert_error(again, 429, "over_request_rate_limit").await;

    for path in ["/otp", "/resend"] {
        let body = json!({ "email": "nobody@example.com", "type": "signup" });
        let r = post_from(&app, "203.0.113.1", path, &body).await;
        assert_ne!(r.status(), 429, "{path}");
        let r = post_from(&app, "203.0.113.1", path, &body).await;
        assert_error(r, 429, "over_request_rate_limit").await;
    }
}

#[sqlx::test]
async fn mfa_verifications_are_limited_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_MFA", "4")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let factor = enroll(&app, token).await;
    let challenge_from = |ip: &'static str| {
        app.as_user(
            Method::POST,
            &format!("/factors/{}/challenge", factor.id),
            token,
        )
        .header("x-forwarded-for", ip)
        .send()
    };
    let verify_from = |ip: &'static str, challenge: String| {
        app.as_user(
            Method::POST,
            &format!("/factors/{}/verify", factor.id),
            token,
        )
        .header("x-forwarded-for", ip)
        .json(&json!({ "challenge_id": challenge, "code": "abcdef" }))
        .send()
    };
    let first = str_of(
        &json(challenge_from("203.0.113.1").await.unwrap()).await,
        "id",
    )
    .to_owned();
    // The challenge has a bucket of its own: all four verifications pass the limiter.
    for _ in 0..4 {
        let r = verify_from("203.0.113.1", first.clone()).await.unwrap();
        assert_ne!(r.status(), 429);
    }

    let over = verify_from("203.0.113.1", first).await.unwrap();
    let other = str_of(
        &json(challenge_from("203.0.113.2").await.unwrap()).await,
        "id",
    )
    .to_owned();
    let other_ip = verify_from("203.0.113.2", other).await.unwrap();

    assert!(over.headers().get("retry-after").is_some());
    assert_error(over, 429, "over_request_rate_limit").await;
    assert_ne!(other_ip.status(), 429);
}

#[sqlx::test]
async fn without_an_ip_header_the_socket_peer_is_limited(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RATE_LIMIT_TOKEN", "1")]).await;
    app.password_grant("ann@example.com", PASSWORD).await;

    let r = app.password_grant("ann@example.com", PASSWORD).await;

    assert_error(r, 429, "over_request_rate_limit").await;
}

#[sqlx::test]
async fn with_an_ip_header_a_request_without_it_counts_as_the_proxys_own(pool: PgPool) {
    // A header that is missing or unreadable must not mean "not limited": such requests share
    // the bucket of the address they came from (the proxy).
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_TOKEN", "1")]).await;
    app.password_grant("ann@example.com", PASSWORD).await;

    let r = app.password_grant("ann@example.com", PASSWORD).await;
    assert_error(r, 429, "over_request_rate_limit").await;
    let garbled = post_from(
        &app,
        "unknown",
        "/token?grant_type=password",
        &json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;
    assert_error(garbled, 429, "over_request_rate_limit").await;
}

#[sqlx::test]
async fn entries_a_client_puts_before_the_proxys_own_do_not_make_it_someone_else(pool: PgPool) {
    // A proxy appends the address it saw (`$proxy_add_x_forwarded_for`); whatever the client sent
    // stays on the left, so only the right-most entry names the client.
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_TOKEN", "2")]).await;
    let body = json!({ "email": "ann@example.com", "password": PASSWORD });
    for (i, spoofed) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .into_iter()
        .enumerate()
    {
        let r = post_from(
            &app,
            &format!("{spoofed}, 203.0.113.7"),
            "/token?grant_type=password",
            &body,
        )
        .await;
        if i < 2 {
            assert_ne!(r.status(), 429, "request {}", i + 1);
        } else {
            assert_error(r, 429, "over_request_rate_limit").await;
        }
    }
}

#[sqlx::test]
async fn challenges_count_against_the_mfa_limit(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_MFA", "1")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let factor = enroll(&app, token).await;
    let challenge_from = |ip: &'static str| {
        app.as_user(
            Method::POST,
            &format!("/factors/{}/challenge", factor.id),
            token,
        )
        .header("x-forwarded-for", ip)
        .send()
    };
    assert_eq!(challenge_from("203.0.113.1").await.unwrap().status(), 200);

    let r = challenge_from("203.0.113.1").await.unwrap();

    assert_error(r, 429, "over_request_rate_limit").await;
}

#[sqlx::test]
async fn user_updates_are_limited_per_ip_in_a_bucket_of_their_own(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            IP_HEADER,
            ("RATE_LIMIT_OTP", "2"),
            ("AUTH_MAIL_FREQUENCY_SECS", "0"),
        ],
    )
    .await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let update = |body: Value| {
        app.as_user(Method::PUT, "/user", str_of(&session, "access_token"))
            .header("x-forwarded-for", "203.0.113.1")
            .json(&body)
            .send()
    };
    let r = update(json!({ "data": { "n": 1 } })).await.unwrap();
    assert_eq!(r.status(), 200, "a profile save");
    let r = update(json!({ "email": "ann1@example.com" }))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "an address change");

    let r = update(json!({ "password": "a-wrong-guess", "nonce": "000000" }))
        .await
        .unwrap();
    assert_error(r, 429, "over_request_rate_limit").await;
    let recover = app
        .auth(Method::POST, "/recover")
        .header("x-forwarded-for", "203.0.113.1")
        .json(&json!({ "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(recover.status(), 200, "recovery has a bucket of its own");
}

#[sqlx::test]
async fn reauthentication_mails_are_limited_per_ip(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            IP_HEADER,
            ("RATE_LIMIT_OTP", "1"),
            ("AUTH_MAIL_FREQUENCY_SECS", "0"),
        ],
    )
    .await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let reauthenticate = || {
        app.as_user(
            Method::GET,
            "/reauthenticate",
            str_of(&session, "access_token"),
        )
        .header("x-forwarded-for", "203.0.113.1")
        .send()
    };
    assert_eq!(reauthenticate().await.unwrap().status(), 200);

    let r = reauthenticate().await.unwrap();

    assert_error(r, 429, "over_request_rate_limit").await;
}

#[sqlx::test]
async fn the_instance_e_mail_budget_stops_mails_before_anything_is_written(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("RATE_LIMIT_EMAIL_SENT", "2")]).await;
    app.signup_confirmed("known@example.com", PASSWORD).await;
    for n in 1..=2 {
        let r = app
            .signup(json!({ "email": format!("user{n}@example.com"), "password": PASSWORD }))
            .await;
        assert_eq!(r.status(), 200);
    }

    let third = app
        .signup(json!({ "email": "user3@example.com", "password": PASSWORD }))
        .await;
    let recovery = app
        .auth(Method::POST, "/recover")
        .json(&json!({ "email": "known@example.com" }))
        .send()
        .await
        .unwrap();

    let body = assert_error(third, 429, "over_email_send_rate_limit").await;
    assert_eq!(body["message"], "Email rate limit exceeded");
    assert_eq!(recovery.status(), 200, "recovery stays enumeration-safe");
    assert_eq!(json(recovery).await, json!({}));
    let (users, mails): (i64, i64) = sqlx::query_as(
        "select (select count(*) from auth.users where email = 'user3@example.com'), \
                (select count(*) from private.outbox)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((users, mails), (0, 2));
}

#[sqlx::test]
async fn a_header_line_the_proxy_adds_after_the_clients_own_names_the_client(pool: PgPool) {
    // HAProxy's `option forwardfor` adds a line of its own instead of appending to the client's.
    let app = TestApp::spawn_with(pool, &[IP_HEADER, ("RATE_LIMIT_TOKEN", "1")]).await;
    let from = |spoofed: &'static str| {
        app.auth(Method::POST, "/token?grant_type=password")
            .header("x-forwarded-for", spoofed)
            .header("x-forwarded-for", "203.0.113.7")
            .json(&json!({ "email": "ann@example.com", "password": PASSWORD }))
            .send()
    };
    assert_ne!(from("198.51.100.1").await.unwrap().status(), 429);

    let r = from("198.51.100.2").await.unwrap();

    assert_error(r, 429, "over_request_rate_limit").await;
}

/// Two password grants from different clients, each header passed through a proxy at 10.9.9.9,
/// then a third from yet another client: whether that third one is limited (`RATE_LIMIT_TOKEN`
/// 2).
async fn third_client_through_a_proxy_limited(app: &TestApp) -> bool {
    let body = json!({ "email": "ann@example.com", "password": PASSWORD });
    let mut last = None;
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let header = format!("{client}, 10.9.9.9");
        last = Some(post_from(app, &header, "/token?grant_type=password", &body).await);
    }
    last.unwrap().status() == 429
}

#[sqlx::test]
async fn with_trusted_proxies_the_header_of_anyone_else_is_ignored(pool: PgPool) {
    // The tests connect from 127.0.0.1: not one of these proxies, so whatever it writes in the
    // header, every request is its own address's (even those naming the one listed proxy).
    let app = TestApp::spawn_with(
        pool,
        &[
            IP_HEADER,
            ("RATE_LIMIT_TOKEN", "2"),
            ("RATE_LIMIT_TRUSTED_PROXIES", "10.9.9.9"),
        ],
    )
    .await;

    assert!(third_client_through_a_proxy_limited(&app).await);
}

#[sqlx::test]
async fn a_trusted_proxys_header_names_the_client(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            IP_HEADER,
            ("RATE_LIMIT_TOKEN", "2"),
            ("RATE_LIMIT_TRUSTED_PROXIES", "127.0.0.0/8, ::1, 10.0.0.0/8"),
        ],
    )
    .await;

    assert!(!third_client_through_a_proxy_limited(&app).await);
}

#[sqlx::test]
async fn with_trusted_proxies_each_proxys_own_header_line_is_read(pool: PgPool) {
    // The client's request reaches bizbase through two proxies, the outer one adding a line of its
    // own: the client is on the first line, and is told apart from the others.
    let app = TestApp::spawn_with(
        pool,
        &[
            IP_HEADER,
            ("RATE_LIMIT_TOKEN", "1"),
            ("RATE_LIMIT_TRUSTED_PROXIES", "127.0.0.0/8, 10.0.0.0/8"),
        ],
    )
    .await;
    let body = json!({ "email": "ann@example.com", "password": PASSWORD });
    let mut statuses = Vec::new();
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.1"] {
        let r = app
            .auth(Method::POST, "/token?grant_type=password")
            .header("x-forwarded-for", client)
            .header("x-forwarded-for", "10.0.0.7")
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }

    assert_ne!(
        statuses[1], 429,
        "another client, its own bucket: {statuses:?}"
    );
    assert_eq!(statuses[2], 429, "the first client again: {statuses:?}");
}
