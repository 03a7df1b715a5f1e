//! PKCE (`flowType: 'pkce'`, §2.7): mailed links that hand out an auth code instead of a session,
//! and `POST /token?grant_type=pkce` that exchanges the code with its verifier.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::recover::{
    SITES, answer_beside_a_user_write, follow_link, fragment, location, param, post, token_hash_in,
};
use super::{NEW_PASSWORD, PASSWORD, str_of};
use crate::harness::{TestApp, assert_error, claims_of, json, latest_mail};

const VERIFIER: &str = "verifier-of-at-least-forty-three-characters-0123456789";
const CALLBACK: &str = "https://app.example.com/auth/callback?sb_flow_id=flow-1";

/// The S256 challenge of `verifier`, as supabase-js sends it.
fn challenge_of(verifier: &str) -> Value {
    json!({
        "code_challenge": URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
        "code_challenge_method": "s256",
    })
}

/// `body` with the PKCE fields of `verifier` added.
fn with_challenge(mut body: Value, verifier: &str) -> Value {
    if let (Some(map), Value::Object(fields)) = (body.as_object_mut(), challenge_of(verifier)) {
        map.extend(fields);
    }
    body
}

async fn exchange(app: &TestApp, auth_code: &str, verifier: &str) -> Response {
    app.auth(Method::POST, "/token?grant_type=pkce")
        .json(&json!({ "auth_code": auth_code, "code_verifier": verifier }))
        .send()
        .await
        .unwrap()
}

/// Follows the newest mail of `template` to `to` and returns the query of the redirect.
async fn follow_mail(
    app: &TestApp,
    pool: &PgPool,
    to: &str,
    template: &str,
    kind: &str,
) -> Vec<(String, String)> {
    let mail = latest_mail(pool, to, template).await.unwrap();
    let token = token_hash_in(&mail);
    assert!(token.starts_with("pkce_"), "{token}");
    let r = follow_link(app, &token, kind, CALLBACK).await;
    assert_eq!(r.status(), 303);
    let location = location(&r);
    assert!(
        !location.contains("access_token"),
        "a PKCE link signs nobody in: {location}"
    );
    let query = location.split_once('?').unwrap().1;
    serde_urlencoded::from_str(query.split('#').next().unwrap()).unwrap()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Signs ann up over PKCE (with [`VERIFIER`]); returns her confirmation mail.
async fn pkce_signup(app: &TestApp, pool: &PgPool) -> Value {
    let r = app
        .signup(with_challenge(
            json!({ "email": "ann@example.com", "password": PASSWORD }),
            VERIFIER,
        ))
        .await;
    assert_eq!(r.status(), 200);
    latest_mail(pool, "ann@example.com", "confirmation")
        .await
        .unwrap()
}

/// Signs ann up over PKCE and follows her confirmation link; returns the auth code.
async fn signed_up_code(app: &TestApp, pool: &PgPool) -> String {
    pkce_signup(app, pool).await;
    let query = follow_mail(app, pool, "ann@example.com", "confirmation", "signup").await;
    param(&query, "code").to_owned()
}

#[sqlx::test]
async fn a_sign_up_link_confirms_and_redirects_with_a_code_the_verifier_exchanges(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let r = app
        .signup(with_challenge(
            json!({ "email": "ann@example.com", "password": PASSWORD }),
            VERIFIER,
        ))
        .await;
    assert!(json(r).await["access_token"].is_null());

    let query = follow_mail(&app, &pool, "ann@example.com", "confirmation", "signup").await;

    assert_eq!(
        param(&query, "sb_flow_id"),
        "flow-1",
        "the client's flow id survives"
    );
    let code = param(&query, "code");
    assert_eq!(
        count(
            &pool,
            "select count(*) from auth.users where email_confirmed_at is not null"
        )
        .await,
        1
    );
    assert_eq!(
        count(&pool, "select count(*) from auth.sessions").await,
        0,
        "no session before the exchange"
    );
    let stored: String = sqlx::query_scalar("select auth_code_hash from auth.flow_state")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(stored, code, "only the code's hash is kept");
    let r = exchange(&app, code, VERIFIER).await;
    assert_eq!(r.status(), 200);
    let session = json(r).await;
    assert_eq!(session["user"]["email"], "ann@example.com");
    assert!(session["user"]["email_confirmed_at"].is_string());
    assert!(!str_of(&session, "refresh_token").is_empty());
    let claims = claims_of(str_of(&session, "access_token"));
    assert_eq!(claims["amr"][0]["method"], "email/signup");
    assert_eq!(claims["aal"], "aal1");
}

#[sqlx::test]
async fn an_auth_code_is_spent_by_its_exchange(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let code = signed_up_code(&app, &pool).await;
    assert_eq!(exchange(&app, &code, VERIFIER).await.status(), 200);

    let again = exchange(&app, &code, VERIFIER).await;

    let body = assert_error(again, 404, "flow_state_not_found").await;
    assert_eq!(
        body["message"],
        "invalid flow state, no valid flow state found"
    );
    assert_eq!(
        count(&pool, "select count(*) from auth.flow_state").await,
        0
    );
}

#[sqlx::test]
async fn a_wrong_verifier_is_refused_and_spends_the_code(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let code = signed_up_code(&app, &pool).await;

    let wrong = exchange(&app, &code, &format!("{VERIFIER}x")).await;

    assert_error(wrong, 400, "bad_code_verifier").await;
    assert_eq!(count(&pool, "select count(*) from auth.sessions").await, 0);
    assert_error(
        exchange(&app, &code, VERIFIER).await,
        404,
        "flow_state_not_found",
    )
    .await;
}

#[sqlx::test]
async fn the_challenge_itself_is_no_verifier(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let code = signed_up_code(&app, &pool).await;

    let as_challenge = exchange(
        &app,
        &code,
        str_of(&challenge_of(VERIFIER), "code_challenge"),
    )
    .await;

    assert_error(as_challenge, 400, "bad_code_verifier").await;
}

#[sqlx::test]
async fn exchanges_without_a_code_or_verifier_or_with_an_unknown_code_fail(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;

    let no_verifier = exchange(&app, "some-code", "").await;
    let no_code = exchange(&app, "", VERIFIER).await;
    let unknown = exchange(&app, "8a1d7a2e-5a46-4b8e-9d0c-2f7f1c6b3e10", VERIFIER).await;

    assert_error(no_verifier, 400, "validation_failed").await;
    assert_error(no_code, 400, "validation_failed").await;
    assert_error(unknown, 404, "flow_state_not_found").await;
}

#[sqlx::test]
async fn an_auth_code_expires(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let code = signed_up_code(&app, &pool).await;
    sqlx::query(
        "update auth.flow_state set auth_code_issued_at = now() - interval '301 seconds', \
         created_at = now() - interval '301 seconds'",
    )
    .execute(&pool)
    .await
    .unwrap();

    let late = exchange(&app, &code, VERIFIER).await;

    let body = assert_error(late, 422, "flow_state_expired").await;
    assert_eq!(
        body["message"],
        "invalid flow state, flow state has expired"
    );
    assert_error(
        exchange(&app, &code, VERIFIER).await,
        404,
        "flow_state_not_found",
    )
    .await;
    assert_eq!(count(&pool, "select count(*) from auth.sessions").await, 0);
}

#[sqlx::test]
async fn a_recovery_link_gives_a_code_for_a_recovery_session_that_may_set_a_password(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    let r = post(
        &app,
        "/recover",
        with_challenge(json!({ "email": "ann@example.com" }), VERIFIER),
    )
    .await;
    assert_eq!(json(r).await, json!({}));

    let query = follow_mail(&app, &pool, "ann@example.com", "recovery", "recovery").await;
    let session = json(exchange(&app, param(&query, "code"), VERIFIER).await).await;

    assert_eq!(
        claims_of(str_of(&session, "access_token"))["amr"][0]["method"],
        "recovery"
    );
    let changed = app
        .as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    app.sign_in("ann@example.com", NEW_PASSWORD).await;
}

#[sqlx::test]
async fn a_password_change_voids_pending_flows(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(
        &app,
        "/recover",
        with_challenge(json!({ "email": "ann@example.com" }), VERIFIER),
    )
    .await;
    let query = follow_mail(&app, &pool, "ann@example.com", "recovery", "recovery").await;

    let changed = app
        .as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();

    assert_eq!(changed.status(), 200);
    assert_error(
        exchange(&app, param(&query, "code"), VERIFIER).await,
        404,
        "flow_state_not_found",
    )
    .await;
}

#[sqlx::test]
async fn a_magic_link_gives_a_code_for_a_magiclink_session(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(
        &app,
        "/otp",
        with_challenge(json!({ "email": "ann@example.com" }), VERIFIER),
    )
    .await;

    let query = follow_mail(&app, &pool, "ann@example.com", "magiclink", "magiclink").await;
    let r = exchange(&app, param(&query, "code"), VERIFIER).await;

    assert_eq!(r.status(), 200);
    assert_eq!(
        claims_of(str_of(&json(r).await, "access_token"))["amr"][0]["method"],
        "magiclink"
    );
}

#[sqlx::test]
async fn an_email_change_link_gives_a_code_and_changes_the_address(pool: PgPool) {
    let one_leg: Vec<(&str, &str)> = SITES
        .iter()
        .copied()
        .chain([("AUTH_SECURE_EMAIL_CHANGE", "false")])
        .collect();
    let app = TestApp::spawn_with(pool.clone(), &one_leg).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let r = app
        .as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&with_challenge(
            json!({ "email": "ann@example.org" }),
            VERIFIER,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let query = follow_mail(
        &app,
        &pool,
        "ann@example.org",
        "email_change",
        "email_change",
    )
    .await;
    let r = exchange(&app, param(&query, "code"), VERIFIER).await;

    assert_eq!(r.status(), 200);
    let session = json(r).await;
    assert_eq!(session["user"]["email"], "ann@example.org");
    assert_eq!(
        claims_of(str_of(&session, "access_token"))["amr"][0]["method"],
        "email_change"
    );
}

#[sqlx::test]
async fn the_token_hash_of_a_pkce_link_verifies_with_post_and_ends_the_flow(pool: PgPool) {
    // What a server-side confirm route does (`verifyOtp({type, token_hash})`).
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let mail = pkce_signup(&app, &pool).await;

    let r = post(
        &app,
        "/verify",
        json!({ "type": "signup", "token_hash": token_hash_in(&mail) }),
    )
    .await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["user"]["email"], "ann@example.com");
    assert_eq!(
        count(&pool, "select count(*) from auth.flow_state").await,
        0
    );
}

#[sqlx::test]
async fn a_half_or_malformed_challenge_is_refused_before_anything_is_written(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;

    let half = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD, "code_challenge": "x".repeat(43) }))
        .await;
    let short = post(
        &app,
        "/otp",
        json!({ "email": "bob@example.com", "code_challenge": "short", "code_challenge_method": "s256" }),
    )
    .await;
    let method = post(
        &app,
        "/recover",
        json!({ "email": "bob@example.com", "code_challenge": "x".repeat(43), "code_challenge_method": "md5" }),
    )
    .await;

    assert_error(half, 400, "validation_failed").await;
    assert_error(short, 400, "validation_failed").await;
    assert_error(method, 400, "validation_failed").await;
    assert_eq!(count(&pool, "select count(*) from auth.users").await, 0);
    assert_eq!(count(&pool, "select count(*) from private.outbox").await, 0);
}

#[sqlx::test]
async fn a_pkce_link_without_its_flow_redirects_with_the_error_and_changes_nothing(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let mail = pkce_signup(&app, &pool).await;
    sqlx::query("delete from auth.flow_state")
        .execute(&pool)
        .await
        .unwrap();

    let r = follow_link(&app, &token_hash_in(&mail), "signup", CALLBACK).await;

    let location = location(&r);
    let (url, hash) = location.split_once('#').unwrap();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap();
    assert_eq!(param(&query, "error_code"), "flow_state_not_found");
    assert_eq!(param(&query, "sb_flow_id"), "flow-1");
    assert_eq!(
        param(&fragment(&format!("#{hash}")), "error_code"),
        "flow_state_not_found"
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from auth.users where email_confirmed_at is not null"
        )
        .await,
        0,
        "the failed verification is rolled back"
    );
    assert_eq!(
        count(&pool, "select count(*) from auth.one_time_tokens").await,
        1
    );
}

#[sqlx::test]
async fn a_resent_link_replaces_the_flow_of_the_earlier_one(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    pkce_signup(&app, &pool).await;
    let other = "another-verifier-of-at-least-forty-three-characters-42";

    let r = post(
        &app,
        "/resend",
        with_challenge(
            json!({ "type": "signup", "email": "ann@example.com" }),
            other,
        ),
    )
    .await;

    assert_eq!(r.status(), 200);
    assert_eq!(
        count(&pool, "select count(*) from auth.flow_state").await,
        1
    );
    let query = follow_mail(&app, &pool, "ann@example.com", "confirmation", "signup").await;
    assert_eq!(
        exchange(&app, param(&query, "code"), other).await.status(),
        200
    );
}

#[sqlx::test]
async fn implicit_flow_links_are_unchanged(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD, "code_challenge": null, "code_challenge_method": null }))
        .await;
    let mail = latest_mail(&pool, "ann@example.com", "confirmation")
        .await
        .unwrap();

    let token = token_hash_in(&mail);
    let r = follow_link(&app, &token, "signup", CALLBACK).await;

    assert!(!token.starts_with("pkce_"));
    assert!(location(&r).contains("#access_token="));
    assert_eq!(
        count(&pool, "select count(*) from auth.flow_state").await,
        0
    );
}

#[sqlx::test]
async fn an_exchange_waits_for_a_write_holding_the_user_instead_of_deadlocking(pool: PgPool) {
    // A password change holds the user's row, then deletes their PKCE flows; an exchange that
    // locked its flow first and then waited for the row deadlocked with it.
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    let code = signed_up_code(&app, &pool).await;
    let id: String = sqlx::query_scalar("select id::text from auth.users")
        .fetch_one(&pool)
        .await
        .unwrap();
    let request = app
        .auth(Method::POST, "/token?grant_type=pkce")
        .json(&json!({ "auth_code": code, "code_verifier": VERIFIER }));

    let answered = answer_beside_a_user_write(
        &pool,
        &id,
        "delete from auth.flow_state where user_id = $1::uuid",
        request,
    )
    .await;

    assert_eq!(answered, 404, "the flow went with the write before it");
}
