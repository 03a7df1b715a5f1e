//! The e-mailed codes and links: `/recover`, `/verify` (POST and GET), `/otp`, `/resend` and
//! `/reauthenticate` (§2.7).

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{NEW_PASSWORD, NO_WAITING, NO_WAITING_ONE_LEG, PASSWORD, str_of};
use crate::harness::{
    TestApp, assert_error, claims_of, json, latest_mail, latest_otp, mails_to,
    until_someone_waits_for_a_lock,
};

/// Sites the redirect tests use.
pub(super) const SITES: &[(&str, &str)] = &[
    ("SITE_URL", "https://app.example.com"),
    ("AUTH_REDIRECT_ALLOW_LIST", "https://admin.example.com"),
    ("AUTH_MAIL_FREQUENCY_SECS", "0"),
];

pub(super) async fn post(app: &TestApp, path: &str, body: Value) -> Response {
    app.auth(Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `token` (hash) of the verify link in a mail.
pub(super) fn token_hash_in(mail: &Value) -> String {
    let text = str_of(mail, "text");
    let link = text
        .split("Or follow this link: ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    let query = link.split_once('?').unwrap().1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap();
    pairs.into_iter().find(|(k, _)| k == "token").unwrap().1
}

/// `GET /auth/v1/verify` as a browser following the mailed link (no apikey).
pub(super) async fn follow_link(
    app: &TestApp,
    token_hash: &str,
    kind: &str,
    redirect_to: &str,
) -> Response {
    let query = serde_urlencoded::to_string([
        ("token", token_hash),
        ("type", kind),
        ("redirect_to", redirect_to),
    ])
    .unwrap();
    app.get(&format!("/auth/v1/verify?{query}")).await
}

pub(super) fn location(r: &Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The parameters in the fragment of a redirect.
pub(super) fn fragment(location: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(location.split_once('#').unwrap().1).unwrap()
}

pub(super) fn param<'a>(params: &'a [(String, String)], key: &str) -> &'a str {
    &params.iter().find(|(k, _)| k == key).unwrap().1
}

#[sqlx::test]
async fn recovering_an_unknown_address_answers_empty_and_mails_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = post(&app, "/recover", json!({ "email": "nobody@example.com" })).await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await, json!({}));
    let queued: i64 = sqlx::query_scalar("select count(*) from private.outbox")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
}

#[sqlx::test]
async fn the_recovery_code_signs_in_and_allows_a_new_password(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = post(&app, "/recover", json!({ "email": "ann@example.com" })).await;

    assert_eq!(json(r).await, json!({}));
    let code = latest_otp(&pool, "ann@example.com", "recovery").await;
    let verified = post(
        &app,
        "/verify",
        json!({ "type": "recovery", "email": "ann@example.com", "token": code }),
    )
    .await;
    assert_eq!(verified.status(), 200);
    let session = json(verified).await;
    // GoTrue records every e-mailed code or link verified here as `otp`.
    assert_eq!(
        claims_of(str_of(&session, "access_token"))["amr"][0]["method"],
        "otp"
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
async fn the_token_hash_of_the_link_verifies_too(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(&app, "/recover", json!({ "email": "ann@example.com" })).await;
    let mail = latest_mail(&pool, "ann@example.com", "recovery")
        .await
        .unwrap();

    let r = post(
        &app,
        "/verify",
        json!({ "type": "recovery", "token_hash": token_hash_in(&mail) }),
    )
    .await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["user"]["email"], "ann@example.com");
}

#[sqlx::test]
async fn a_code_works_only_once(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(&app, "/recover", json!({ "email": "ann@example.com" })).await;
    let code = latest_otp(&pool, "ann@example.com", "recovery").await;
    let body = json!({ "type": "recovery", "email": "ann@example.com", "token": code });
    assert_eq!(post(&app, "/verify", body.clone()).await.status(), 200);

    let again = post(&app, "/verify", body).await;

    assert_error(again, 403, "otp_expired").await;
}

#[sqlx::test]
async fn a_code_does_not_verify_as_another_type(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(&app, "/recover", json!({ "email": "ann@example.com" })).await;
    let code = latest_otp(&pool, "ann@example.com", "recovery").await;

    let as_signup = post(
        &app,
        "/verify",
        json!({ "type": "signup", "email": "ann@example.com", "token": code }),
    )
    .await;
    let as_nonsense = post(
        &app,
        "/verify",
        json!({ "type": "nonsense", "email": "ann@example.com", "token": code }),
    )
    .await;

    assert_error(as_signup, 403, "otp_expired").await;
    assert_error(as_nonsense, 400, "validation_failed").await;
    let as_recovery = post(
        &app,
        "/verify",
        json!({ "type": "recovery", "email": "ann@example.com", "token": code }),
    )
    .await;
    assert_eq!(as_recovery.status(), 200, "the code is still valid");
}

#[sqlx::test]
async fn verify_without_a_token_fails_validation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = post(
        &app,
        "/verify",
        json!({ "type": "signup", "email": "ann@example.com" }),
    )
    .await;

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn a_token_hash_comes_alone(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(&app, "/recover", json!({ "email": "ann@example.com" })).await;
    let mail = latest_mail(&pool, "ann@example.com", "recovery")
        .await
        .unwrap();
    let hash = token_hash_in(&mail);

    let with_email = post(
        &app,
        "/verify",
        json!({ "type": "recovery", "token_hash": hash, "email": "ann@example.com" }),
    )
    .await;

    let body = assert_error(with_email, 400, "validation_failed").await;
    assert_eq!(
        body["message"],
        "Only the token_hash and type should be provided"
    );
    let alone = post(
        &app,
        "/verify",
        json!({ "type": "recovery", "token_hash": hash }),
    )
    .await;
    assert_eq!(alone.status(), 200, "the refused request spent nothing");
}

#[sqlx::test]
async fn an_expired_code_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(&app, "/recover", json!({ "email": "ann@example.com" })).await;
    let code = latest_otp(&pool, "ann@example.com", "recovery").await;
    sqlx::query("update auth.one_time_tokens set created_at = now() - interval '2 hours'")
        .execute(&pool)
        .await
        .unwrap();

    let r = post(
        &app,
        "/verify",
        json!({ "type": "recovery", "email": "ann@example.com", "token": code }),
    )
    .await;

    assert_error(r, 403, "otp_expired").await;
}

#[sqlx::test]
async fn the_mailed_link_redirects_with_the_session_in_the_fragment(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    let mail = latest_mail(&pool, "ann@example.com", "confirmation")
        .await
        .unwrap();

    let r = follow_link(
        &app,
        &token_hash_in(&mail),
        "signup",
        "https://app.example.com/welcome",
    )
    .await;

    assert_eq!(r.status(), 303);
    let location = location(&r);
    assert!(
        location.starts_with("https://app.example.com/welcome#access_token="),
        "{location}"
    );
    let params = fragment(&location);
    assert_eq!(param(&params, "token_type"), "bearer");
    assert_eq!(param(&params, "type"), "signup");
    assert_eq!(param(&params, "expires_in"), "3600");
    assert!(!param(&params, "refresh_token").is_empty());
    let me = app
        .as_user(Method::GET, "/user", param(&params, "access_token"))
        .send()
        .await
        .unwrap();
    assert!(json(me).await["email_confirmed_at"].is_string());
}

#[sqlx::test]
async fn a_used_link_redirects_with_the_error_in_the_fragment(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SITES).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    let mail = latest_mail(&pool, "ann@example.com", "confirmation")
        .await
        .unwrap();
    let hash = token_hash_in(&mail);
    follow_link(&app, &hash, "signup", "https://app.example.com/welcome").await;

    let r = follow_link(&app, &hash, "signup", "https://app.example.com/welcome").await;

    assert_eq!(r.status(), 303);
    let location = location(&r);
    assert!(
        location.starts_with("https://app.example.com/welcome#"),
        "{location}"
    );
    let params = fragment(&location);
    assert_eq!(param(&params, "error_code"), "otp_expired");
    assert_eq!(param(&params, "error"), "access_denied");
    assert!(!param(&params, "error_description").is_empty());
    assert!(!location.contains("access_token"));
}

#[sqlx::test]
async fn a_redirect_on_the_allow_list_is_followed(pool: PgPool) {
    let app = TestApp::spawn_with(pool, SITES).await;

    let r = follow_link(&app, "unknown", "signup", "https://admin.example.com/back").await;

    assert!(location(&r).starts_with("https://admin.example.com/back#error="));
}

#[sqlx::test]
async fn a_redirect_off_the_allow_list_falls_back_to_the_site_url(pool: PgPool) {
    let app = TestApp::spawn_with(pool, SITES).await;

    let r = follow_link(&app, "unknown", "signup", "https://evil.example.net/steal").await;

    assert!(
        location(&r).starts_with("https://app.example.com#"),
        "{}",
        location(&r)
    );
}

/// A line break or NUL in an allowed URL would be carried into the `Location` header (a 500, after
/// the link was spent): such a redirect is not allowed.
#[sqlx::test]
async fn a_redirect_with_control_characters_falls_back_to_the_site_url(pool: PgPool) {
    let app = TestApp::spawn_with(pool, SITES).await;

    for target in [
        "https://app.example.com/a\nb",
        "https://app.example.com/a\r\nSet-Cookie: x=1",
        "https://app.example.com/a\0b",
    ] {
        let r = follow_link(&app, "unknown", "signup", target).await;

        assert_eq!(r.status(), 303, "{target:?}");
        assert!(
            location(&r).starts_with("https://app.example.com#"),
            "{}",
            location(&r)
        );
    }
}

#[sqlx::test]
async fn a_lookalike_of_the_site_url_is_not_on_the_allow_list(pool: PgPool) {
    let app = TestApp::spawn_with(pool, SITES).await;

    for lookalike in [
        "https://app.example.com.evil.net/steal",
        "https://app.example.com@evil.net/steal",
        "https://admin.example.com.evil.net/steal",
    ] {
        let r = follow_link(&app, "unknown", "signup", lookalike).await;

        assert!(
            location(&r).starts_with("https://app.example.com#"),
            "{lookalike} → {}",
            location(&r)
        );
    }
}

#[sqlx::test]
async fn using_one_mailed_link_voids_the_others_that_sign_in(pool: PgPool) {
    // As GoTrue: once a user is back in through one mail, the other code still in their mailbox
    // (or in a forwarded copy) no longer opens the account — whichever of the two was used.
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    for (email, used, left) in [
        ("ann@example.com", "recovery", "magiclink"),
        ("bob@example.com", "magiclink", "recovery"),
    ] {
        app.signup_confirmed(email, PASSWORD).await;
        post(&app, "/recover", json!({ "email": email })).await;
        post(&app, "/otp", json!({ "email": email })).await;
        let code = |kind: &'static str| latest_otp(&pool, email, kind);
        let (used_code, left_code) = (code(used).await, code(left).await);

        let r = post(
            &app,
            "/verify",
            json!({ "type": used, "email": email, "token": used_code }),
        )
        .await;

        assert_eq!(r.status(), 200, "{used}");
        let r = post(
            &app,
            "/verify",
            json!({ "type": left, "email": email, "token": left_code }),
        )
        .await;
        assert_error(r, 403, "otp_expired").await;
    }
}

#[sqlx::test]
async fn otp_mails_an_existing_user_a_magic_link_code(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = post(&app, "/otp", json!({ "email": "ann@example.com" })).await;

    assert_eq!(json(r).await, json!({}));
    let code = latest_otp(&pool, "ann@example.com", "magiclink").await;
    let verified = post(
        &app,
        "/verify",
        json!({ "type": "magiclink", "email": "ann@example.com", "token": code }),
    )
    .await;
    assert_eq!(verified.status(), 200);
    let session = json(verified).await;
    // GoTrue records every e-mailed code or link verified here as `otp`.
    assert_eq!(
        claims_of(str_of(&session, "access_token"))["amr"][0]["method"],
        "otp"
    );
}

#[sqlx::test]
async fn otp_creates_a_new_user_whose_code_confirms_and_signs_in(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = post(
        &app,
        "/otp",
        json!({ "email": "new@example.com", "data": { "full_name": "New" }, "create_user": true }),
    )
    .await;

    assert_eq!(json(r).await, json!({}));
    let code = latest_otp(&pool, "new@example.com", "magiclink").await;
    let verified = post(
        &app,
        "/verify",
        json!({ "type": "email", "email": "new@example.com", "token": code }),
    )
    .await;
    assert_eq!(verified.status(), 200);
    let user = &json(verified).await["user"];
    assert!(user["email_confirmed_at"].is_string());
    assert_eq!(user["user_metadata"]["full_name"], "New");
}

#[sqlx::test]
async fn otp_without_create_user_refuses_unknown_addresses(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = post(
        &app,
        "/otp",
        json!({ "email": "new@example.com", "create_user": false }),
    )
    .await;

    assert_error(r, 422, "otp_disabled").await;
    let users: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
    assert_eq!(mails_to(&pool, "new@example.com").await, 0);
}

#[sqlx::test]
async fn otp_for_an_existing_user_within_the_mail_frequency_is_rate_limited(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(&app, "/otp", json!({ "email": "ann@example.com" })).await;

    let r = post(&app, "/otp", json!({ "email": "ann@example.com" })).await;

    assert_error(r, 429, "over_email_send_rate_limit").await;
}

#[sqlx::test]
async fn resend_mails_a_new_confirmation_code_and_voids_the_old_one(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    let old = latest_otp(&pool, "ann@example.com", "confirmation").await;

    let r = post(
        &app,
        "/resend",
        json!({ "type": "signup", "email": "ann@example.com" }),
    )
    .await;

    assert_eq!(json(r).await, json!({}));
    assert_eq!(mails_to(&pool, "ann@example.com").await, 2);
    let new = latest_otp(&pool, "ann@example.com", "confirmation").await;
    let verify = |token: String| {
        post(
            &app,
            "/verify",
            json!({ "type": "signup", "email": "ann@example.com", "token": token }),
        )
    };
    if old != new {
        assert_error(verify(old).await, 403, "otp_expired").await;
    }
    assert_eq!(verify(new).await.status(), 200);
}

#[sqlx::test]
async fn resend_needs_a_type(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = post(&app, "/resend", json!({ "email": "ann@example.com" })).await;

    assert_error(r, 400, "validation_failed").await;
}

/// Asks for a reauthentication nonce for ann (holding `token`) and reads it from her mail.
async fn mailed_nonce(app: &TestApp, pool: &PgPool, token: &str) -> String {
    let sent = app
        .as_user(Method::GET, "/reauthenticate", token)
        .send()
        .await
        .unwrap();
    assert_eq!(json(sent).await, json!({}));
    latest_otp(pool, "ann@example.com", "reauthentication").await
}

#[sqlx::test]
async fn a_reauthentication_nonce_allows_a_password_change(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let nonce = mailed_nonce(&app, &pool, token).await;

    let r = app
        .as_user(Method::PUT, "/user", token)
        .json(&json!({ "password": NEW_PASSWORD, "nonce": nonce }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    app.sign_in("ann@example.com", NEW_PASSWORD).await;
}

#[sqlx::test]
async fn a_wrong_reauthentication_nonce_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let nonce = mailed_nonce(&app, &pool, token).await;
    let wrong = if nonce == "000000" {
        "111111"
    } else {
        "000000"
    };

    let r = app
        .as_user(Method::PUT, "/user", token)
        .json(&json!({ "password": NEW_PASSWORD, "nonce": wrong }))
        .send()
        .await
        .unwrap();

    assert_error(r, 400, "reauthentication_not_valid").await;
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn otp_cannot_create_users_while_signups_are_disabled(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_DISABLE_SIGNUP", "true")]).await;

    let r = post(&app, "/otp", json!({ "email": "new@example.com" })).await;

    assert_error(r, 422, "otp_disabled").await;
    assert_eq!(mails_to(&pool, "new@example.com").await, 0);
}

#[sqlx::test]
async fn a_second_recovery_within_the_mail_frequency_sends_nothing_but_answers_the_same(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    post(&app, "/recover", json!({ "email": "ann@example.com" })).await;

    let r = post(&app, "/recover", json!({ "email": "ann@example.com" })).await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await, json!({}));
    assert_eq!(mails_to(&pool, "ann@example.com").await, 1);
}

#[sqlx::test]
async fn the_magiclink_route_is_an_alias_of_otp(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = post(&app, "/magiclink", json!({ "email": "ann@example.com" })).await;

    assert_eq!(json(r).await, json!({}));
    assert!(
        latest_mail(&pool, "ann@example.com", "magiclink")
            .await
            .is_some()
    );
}

#[sqlx::test]
async fn resending_a_confirmed_signup_answers_the_same_and_sends_nothing(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = post(
        &app,
        "/resend",
        json!({ "type": "signup", "email": "ann@example.com" }),
    )
    .await;

    assert_eq!(json(r).await, json!({}));
    assert_eq!(mails_to(&pool, "ann@example.com").await, 0);
}

#[sqlx::test]
async fn resend_mails_a_new_email_change_code(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING_ONE_LEG).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    app.as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "email": "ann@new.example" }))
        .send()
        .await
        .unwrap();

    let r = post(
        &app,
        "/resend",
        json!({ "type": "email_change", "email": "ann@new.example" }),
    )
    .await;

    assert_eq!(json(r).await, json!({}));
    assert_eq!(mails_to(&pool, "ann@new.example").await, 2);
    let code = latest_otp(&pool, "ann@new.example", "email_change").await;
    let verified = post(
        &app,
        "/verify",
        json!({ "type": "email_change", "email": "ann@new.example", "token": code }),
    )
    .await;
    assert_eq!(json(verified).await["user"]["email"], "ann@new.example");
}

/// Makes the session of `access_token` look a day and a minute old.
async fn age_session(pool: &PgPool, access_token: &str) {
    sqlx::query(
        "update auth.sessions set created_at = now() - interval '1441 minutes' where id = $1::uuid",
    )
    .bind(str_of(&claims_of(access_token), "session_id"))
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test]
async fn with_secure_password_change_an_old_session_needs_a_nonce(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_SECURE_PASSWORD_CHANGE", "true")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    age_session(&pool, token).await;

    let without = app
        .as_user(Method::PUT, "/user", token)
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_error(without, 400, "reauthentication_needed").await;
    let nonce = mailed_nonce(&app, &pool, token).await;
    let with = app
        .as_user(Method::PUT, "/user", token)
        .json(&json!({ "password": NEW_PASSWORD, "nonce": nonce }))
        .send()
        .await
        .unwrap();

    assert_eq!(with.status(), 200);
    app.sign_in("ann@example.com", NEW_PASSWORD).await;
}

#[sqlx::test]
async fn with_secure_password_change_a_fresh_session_needs_no_nonce(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_SECURE_PASSWORD_CHANGE", "true")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = app
        .as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn without_secure_password_change_an_old_session_needs_no_nonce(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    age_session(&pool, token).await;

    let r = app
        .as_user(Method::PUT, "/user", token)
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
}

/// Ann asks for a sign-in code (`/otp`) and enters it (`verify` type `email`): the session answer.
async fn sign_in_by_email_code(app: &TestApp, pool: &PgPool) -> Value {
    post(app, "/otp", json!({ "email": "ann@example.com" })).await;
    let code = latest_otp(pool, "ann@example.com", "magiclink").await;
    let r = post(
        app,
        "/verify",
        json!({ "type": "email", "email": "ann@example.com", "token": code }),
    )
    .await;
    assert_eq!(r.status(), 200);
    json(r).await
}

#[sqlx::test]
async fn a_password_set_before_the_address_was_confirmed_does_not_outlive_a_magic_link(
    pool: PgPool,
) {
    // Pre-account takeover: someone signs up with another person's address and a password of
    // their own, and leaves it unconfirmed. When the owner later signs in by magic link (or
    // recovers), the address is confirmed — and that password must not let the someone in.
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    let r = app
        .signup(json!({ "email": "ann@example.com", "password": NEW_PASSWORD }))
        .await;
    assert_eq!(r.status(), 200);

    let owner = sign_in_by_email_code(&app, &pool).await;
    assert!(owner["user"]["email_confirmed_at"].is_string());

    let intruder = app.password_grant("ann@example.com", NEW_PASSWORD).await;
    assert_error(intruder, 400, "invalid_credentials").await;
    let logged: i64 = sqlx::query_scalar(
        "select count(*) from auth.audit_log_entries where action = 'user_unconfirmed_password_removed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(logged, 1);
}

#[sqlx::test]
async fn the_sign_up_confirmation_keeps_the_password_it_was_sent_for(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    // supabase-js verifies the sign-up code as type "email" too.
    let code = latest_otp(&pool, "ann@example.com", "confirmation").await;
    let r = post(
        &app,
        "/verify",
        json!({ "type": "email", "email": "ann@example.com", "token": code }),
    )
    .await;
    assert_eq!(r.status(), 200);

    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn once_the_address_is_confirmed_an_earlier_sign_up_link_no_longer_confirms(pool: PgPool) {
    // Someone signs up with Ann's address; Ann signs in by magic link (her password is removed,
    // above). The sign-up's own link, still unspent, must not now confirm anything or sign in.
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    let signup_code = latest_otp(&pool, "ann@example.com", "confirmation").await;
    sign_in_by_email_code(&app, &pool).await;

    let late = post(
        &app,
        "/verify",
        json!({ "type": "signup", "email": "ann@example.com", "token": signup_code }),
    )
    .await;

    assert_error(late, 403, "otp_expired").await;
}

/// Sends `request` while a transaction holds the row of user `id` (as an erasure or a password
/// change does before it touches the user's tokens and flows), waits until the request is held up
/// by a lock, then runs `write` (with `id` as `$1`) in that transaction and commits. Every auth
/// write takes the user's row first: one that took its token or flow first and then waited for the
/// row deadlocked with such a transaction. Returns the request's status, once the transaction
/// committed without a deadlock.
pub(super) async fn answer_beside_a_user_write(
    pool: &PgPool,
    id: &str,
    write: &'static str,
    request: reqwest::RequestBuilder,
) -> reqwest::StatusCode {
    let mut writer = pool.begin().await.unwrap();
    sqlx::query("select from auth.users where id = $1::uuid for no key update")
        .bind(id)
        .execute(&mut *writer)
        .await
        .unwrap();

    let in_flight = tokio::spawn(async move { request.send().await.unwrap().status() });
    until_someone_waits_for_a_lock(pool).await;
    let written = sqlx::query(write).bind(id).execute(&mut *writer).await;
    let committed = writer.commit().await;
    let answered = in_flight.await.unwrap();

    assert!(written.is_ok(), "{written:?}");
    assert!(committed.is_ok(), "{committed:?}");
    answered
}

/// What an erasure or a password change does to a user's e-mailed tokens.
const DELETE_TOKENS: &str = "delete from auth.one_time_tokens where user_id = $1::uuid";

#[sqlx::test]
async fn a_verification_waits_for_a_write_holding_the_user_instead_of_deadlocking(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let ann = json(
        app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
            .await,
    )
    .await;
    let code = latest_otp(&pool, "ann@example.com", "confirmation").await;
    let request = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "signup", "email": "ann@example.com", "token": code }));

    let answered =
        answer_beside_a_user_write(&pool, str_of(&ann, "id"), DELETE_TOKENS, request).await;

    assert_eq!(answered, 403, "the token went with the write before it");
}

#[sqlx::test]
async fn a_mailed_token_waits_for_a_write_holding_the_user_instead_of_deadlocking(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    // A recovery token to replace: its row is what a new one is written over.
    post(&app, "/recover", json!({ "email": "ann@example.com" })).await;
    let first = latest_otp(&pool, "ann@example.com", "recovery").await;
    let request = app
        .auth(Method::POST, "/recover")
        .json(&json!({ "email": "ann@example.com" }));

    let answered =
        answer_beside_a_user_write(&pool, str_of(&ann["user"], "id"), DELETE_TOKENS, request).await;

    assert_eq!(answered, 200);
    let second = latest_otp(&pool, "ann@example.com", "recovery").await;
    assert_ne!(
        second, first,
        "the second recovery mail went out after the write"
    );
}
