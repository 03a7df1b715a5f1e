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

/// `GET /admin/audit?{query}` with the service role: status, `X-Total-Count`, `Link`, body.
async fn trail(app: &TestApp, query: &str) -> (u16, String, String, serde_json::Value) {
    let page = app.admin_page(&format!("/admin/audit?{query}")).await;
    (page.status, page.total, page.link, page.body)
}

/// The actions of a listed page, in order.
fn actions(body: &serde_json::Value) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|e| e["payload"]["action"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test]
async fn the_admin_reads_the_trail_newest_first_in_gotrue_shape(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let created = app
        .admin(Method::POST, "/admin/users")
        .json(&json!({
            "email": "ann@example.com",
            "password": PASSWORD,
            "email_confirm": true,
            "user_metadata": { "full_name": "Ann Lee" },
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let ann = user_id(&app.sign_in("ann@example.com", PASSWORD).await).to_owned();
    traced(
        app.auth(Method::POST, "/token?grant_type=password"),
        "req-wrong",
    )
    .json(&json!({ "email": "ann@example.com", "password": "wrong-password" }))
    .send()
    .await
    .unwrap();
    let recorded: i64 = sqlx::query_scalar("select count(*) from auth.audit_log_entries")
        .fetch_one(&pool)
        .await
        .unwrap();

    let (status, total, link, body) = trail(&app, "per_page=2").await;
    let (_, _, _, second_page) = trail(&app, "per_page=2&page=2").await;

    assert_eq!(status, 200);
    assert_eq!(total, recorded.to_string());
    assert!(
        link.contains(r#"</admin/audit?page=2&per_page=2>; rel="next""#),
        "{link}"
    );
    assert_eq!(actions(&body), ["login_failed", "login"], "newest first");
    let failed = &body[0];
    assert_eq!(failed["payload"]["actor_id"], ann.as_str());
    assert_eq!(failed["payload"]["actor_username"], "ann@example.com");
    assert_eq!(failed["payload"]["actor_name"], "Ann Lee");
    assert_eq!(failed["payload"]["log_type"], "account");
    assert_eq!(failed["payload"]["traits"]["provider"], "email");
    assert_eq!(failed["ip_address"], "127.0.0.1");
    assert_eq!(failed["user_agent"], USER_AGENT);
    assert_eq!(failed["request_id"], "req-wrong");
    assert!(
        failed["id"]
            .as_str()
            .is_some_and(|id| Uuid::parse_str(id).is_ok())
    );
    assert!(failed["created_at"].is_string());
    assert_eq!(actions(&second_page)[0], "user_created_by_admin");
    assert_eq!(
        second_page[0]["payload"]["actor_id"], "00000000-0000-0000-0000-000000000000",
        "made with the service role, as GoTrue names it"
    );
    assert_eq!(second_page[0]["payload"]["actor_username"], "service_role");
    assert_eq!(second_page[0]["payload"]["traits"]["user_id"], ann.as_str());
    assert_eq!(second_page[0]["payload"]["log_type"], "team");
}

#[sqlx::test]
async fn the_trail_is_searched_by_author_action_and_type(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    app.signup_confirmed("bob@example.com", PASSWORD).await;
    let changed = app
        .as_user(Method::PUT, "/user", str_of(&ann, "access_token"))
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    app.as_user(Method::POST, "/logout", str_of(&ann, "access_token"))
        .send()
        .await
        .unwrap();
    let factor = enroll(
        &app,
        str_of(
            &app.sign_in("bob@example.com", PASSWORD).await,
            "access_token",
        ),
    )
    .await;
    assert!(!factor.id.is_empty());

    let by_author = trail(&app, "query=author:ANN@").await;
    let by_admin = trail(&app, "query=author:service_ROLE").await;
    let by_action = trail(&app, "query=action:log").await;
    let accounts = trail(&app, "query=type:account").await;
    let users = trail(&app, "query=type:user").await;
    let literal = trail(&app, "query=author:%25").await;
    let unknown_scope = trail(&app, "query=actor:ann").await;
    let anon = app.auth(Method::GET, "/admin/audit").send().await.unwrap();

    let every = |body: &serde_json::Value, check: &dyn Fn(&serde_json::Value) -> bool| {
        let entries = body.as_array().unwrap();
        !entries.is_empty() && entries.iter().all(check)
    };
    assert!(
        every(&by_author.3, &|e| e["payload"]["actor_username"]
            == "ann@example.com"),
        "{}",
        by_author.3
    );
    assert_eq!(
        by_author.1,
        by_author.3.as_array().unwrap().len().to_string()
    );
    assert_eq!(
        actions(&by_admin.3),
        ["user_created_by_admin", "user_created_by_admin"],
        "the two users were created with the service role"
    );
    assert!(
        by_action
            .3
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["payload"]["action"] == "logout")
    );
    assert!(every(&by_action.3, &|e| e["payload"]["action"]
        .as_str()
        .unwrap()
        .contains("log")));
    assert!(every(&accounts.3, &|e| e["payload"]["log_type"] == "account"));
    assert!(every(&users.3, &|e| e["payload"]["log_type"] == "user"));
    assert!(
        actions(&users.3).contains(&"user_updated_password".to_owned()),
        "uncategorised actions are `user` ones: {}",
        users.3
    );
    assert_eq!(
        (literal.0, literal.1.as_str()),
        (200, "0"),
        "`%` is no wildcard"
    );
    assert_eq!(unknown_scope.0, 400);
    assert_eq!(unknown_scope.3["code"], "validation_failed");
    assert_eq!(anon.status(), 403);
}

#[sqlx::test]
async fn entries_written_in_one_transaction_are_listed_in_their_order(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let mut tx = pool.begin().await.unwrap();
    for step in ["step_1", "step_2", "step_3", "step_4", "step_5"] {
        sqlx::query("insert into auth.audit_log_entries (action) values ($1)")
            .bind(step)
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    let (_, _, _, body) = trail(&app, "query=action:step_").await;

    assert_eq!(
        actions(&body),
        ["step_5", "step_4", "step_3", "step_2", "step_1"],
        "newest first, though all five share a transaction"
    );
}
