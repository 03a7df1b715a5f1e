//! The audit trail: `auth.audit_log_entries` records each auth event with its actor, the client's
//! IP and user agent, and the request id.

use reqwest::{Method, RequestBuilder};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::{NEW_PASSWORD, PASSWORD, challenge, enroll, str_of, user_id};
use crate::harness::{TestApp, json, now, totp_code};

const USER_AGENT: &str = "bizbase-tests/1.0";

/// One audit entry, as a test checks it.
#[derive(Debug, sqlx::FromRow)]
struct Entry {
    action: String,
    actor_id: Option<Uuid>,
    target_id: Option<Uuid>,
    ip: Option<String>,
    user_agent: Option<String>,
}

/// Sends the request with a known request id and user agent.
fn traced(request: RequestBuilder, request_id: &str) -> RequestBuilder {
    request
        .header("x-request-id", request_id)
        .header("user-agent", USER_AGENT)
}

/// The entries recorded by the request with `request_id`.
async fn entries(pool: &PgPool, request_id: &str) -> Vec<Entry> {
    sqlx::query_as(
        "select action, actor_id, target_id, host(ip) as ip, user_agent from auth.audit_log_entries \
         where request_id = $1 order by created_at",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The single entry of a request, checked for the client details.
async fn the_entry(pool: &PgPool, request_id: &str) -> Entry {
    let mut all = entries(pool, request_id).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let entry = all.remove(0);
    assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(entry.user_agent.as_deref(), Some(USER_AGENT));
    entry
}

fn uuid(text: &str) -> Option<Uuid> {
    Some(Uuid::parse_str(text).unwrap())
}

#[sqlx::test]
async fn a_signup_is_audited_with_actor_ip_user_agent_and_request_id(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = traced(app.auth(Method::POST, "/signup"), "req-signup")
        .json(&json!({ "email": "ann@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();

    let user = json(r).await;
    let entry = the_entry(&pool, "req-signup").await;
    assert_eq!(entry.action, "user_signedup");
    assert_eq!(entry.actor_id, uuid(&user_id(&user)));
    assert_eq!(entry.target_id, uuid(&user_id(&user)));
}

#[sqlx::test]
async fn logins_and_failed_logins_are_audited(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let login = |request_id: &str, email: &str, password: &str| {
        traced(
            app.auth(Method::POST, "/token?grant_type=password"),
            request_id,
        )
        .json(&json!({ "email": email, "password": password }))
        .send()
    };

    login("req-wrong", "ann@example.com", "wrong-password")
        .await
        .unwrap();
    login("req-unknown", "bob@example.com", PASSWORD)
        .await
        .unwrap();
    login("req-login", "ann@example.com", PASSWORD)
        .await
        .unwrap();

    let wrong = the_entry(&pool, "req-wrong").await;
    assert_eq!(wrong.action, "login_failed");
    assert_eq!(wrong.actor_id, uuid(&user_id(&session)));
    let unknown = the_entry(&pool, "req-unknown").await;
    assert_eq!(unknown.action, "login_failed");
    assert_eq!(unknown.actor_id, None);
    let ok = the_entry(&pool, "req-login").await;
    assert_eq!(ok.action, "login");
    assert_eq!(ok.actor_id, uuid(&user_id(&session)));
}

#[sqlx::test]
async fn password_changes_and_logouts_are_audited(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");

    traced(app.as_user(Method::PUT, "/user", token), "req-password")
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    traced(app.as_user(Method::POST, "/logout", token), "req-logout")
        .send()
        .await
        .unwrap();

    let changed = the_entry(&pool, "req-password").await;
    assert_eq!(changed.action, "user_updated_password");
    assert_eq!(changed.actor_id, uuid(&user_id(&session)));
    let logout = the_entry(&pool, "req-logout").await;
    assert_eq!(logout.action, "logout");
    assert_eq!(logout.actor_id, uuid(&user_id(&session)));
}

#[sqlx::test]
async fn mfa_enrolment_verification_and_failures_are_audited(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let actor = uuid(&user_id(&session));

    let enrolled = traced(app.as_user(Method::POST, "/factors", token), "req-enroll")
        .json(&json!({ "factor_type": "totp" }))
        .send()
        .await
        .unwrap();
    let factor = str_of(&json(enrolled).await, "id").to_owned();
    let challenge_id = challenge(&app, token, &factor).await;
    traced(
        app.as_user(Method::POST, &format!("/factors/{factor}/verify"), token),
        "req-mfa-failed",
    )
    .json(&json!({ "challenge_id": challenge_id, "code": "abcdef" }))
    .send()
    .await
    .unwrap();

    let enrolment = the_entry(&pool, "req-enroll").await;
    assert_eq!(enrolment.action, "factor_enrolled");
    assert_eq!(enrolment.actor_id, actor);
    let failed = the_entry(&pool, "req-mfa-failed").await;
    assert_eq!(failed.action, "mfa_verification_failed");
    assert_eq!(failed.actor_id, actor);
}

#[sqlx::test]
async fn a_passed_second_factor_is_audited(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let factor = enroll(&app, token).await;
    let challenge_id = challenge(&app, token, &factor.id).await;

    let r = traced(
        app.as_user(
            Method::POST,
            &format!("/factors/{}/verify", factor.id),
            token,
        ),
        "req-mfa",
    )
    .json(&json!({ "challenge_id": challenge_id, "code": totp_code(&factor.secret, now()) }))
    .send()
    .await
    .unwrap();

    assert_eq!(r.status(), 200);
    let entry = the_entry(&pool, "req-mfa").await;
    assert_eq!(entry.action, "mfa_verified");
    assert_eq!(entry.actor_id, uuid(&user_id(&session)));
}

#[sqlx::test]
async fn a_user_created_by_an_admin_is_audited_as_the_target(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = traced(app.admin(Method::POST, "/admin/users"), "req-admin-create")
        .json(&json!({ "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();

    let user = json(r).await;
    let entry = the_entry(&pool, "req-admin-create").await;
    assert_eq!(entry.action, "user_created_by_admin");
    assert_eq!(entry.actor_id, None);
    assert_eq!(entry.target_id, uuid(&user_id(&user)));
}

#[sqlx::test]
async fn without_a_caller_request_id_a_generated_one_is_recorded(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let recorded = entries(&pool, &generated).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].action, "user_signedup");
}
