//! `POST /signup` (§2.7 "Sign-up").

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{NEW_PASSWORD, NO_WAITING, PASSWORD, str_of, user_id};
use crate::harness::{TestApp, assert_error, claims_of, json, latest_otp, mails_to};

async fn users_with_email(pool: &PgPool, email: &str) -> i64 {
    sqlx::query_scalar("select count(*) from auth.users where email = $1")
        .bind(email)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn with_confirmations_on_signup_returns_the_user_and_mails_a_code(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = app
        .signup(json!({ "email": "Ann@Example.com", "password": PASSWORD, "data": { "full_name": "Ann" } }))
        .await;

    assert_eq!(r.status(), 200);
    let user = json(r).await;
    assert!(user.get("access_token").is_none(), "no session: {user}");
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["user_metadata"]["full_name"], "Ann");
    assert!(user.get("email_confirmed_at").is_none());
    assert!(user["confirmation_sent_at"].is_string());
    assert_eq!(user["identities"].as_array().unwrap().len(), 1);
    assert_eq!(user["identities"][0]["provider"], "email");
    let code = latest_otp(&pool, "ann@example.com", "confirmation").await;
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
}

#[sqlx::test]
async fn the_mailed_code_confirms_the_address_and_signs_in(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    let code = latest_otp(&pool, "ann@example.com", "confirmation").await;

    let r = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "signup", "email": "ann@example.com", "token": code }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    let session = json(r).await;
    assert!(session["access_token"].is_string());
    assert!(session["user"]["email_confirmed_at"].is_string());
    assert_eq!(
        session["user"]["identities"][0]["identity_data"]["email_verified"],
        true
    );
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn with_autoconfirm_signup_returns_a_session_and_mails_nothing(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_AUTOCONFIRM", "true")]).await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    assert_eq!(r.status(), 200);
    let session = json(r).await;
    assert_eq!(session["token_type"], "bearer");
    assert!(session["access_token"].is_string());
    assert!(session["refresh_token"].is_string());
    assert!(session["user"]["email_confirmed_at"].is_string());
    assert_eq!(mails_to(&pool, "ann@example.com").await, 0);
}

#[sqlx::test]
async fn a_short_password_is_weak(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": "short" }))
        .await;

    let body = assert_error(r, 422, "weak_password").await;
    assert_eq!(body["weak_password"]["reasons"], json!(["length"]));
}

#[sqlx::test]
async fn a_password_without_the_required_characters_is_weak(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[("AUTH_PASSWORD_REQUIRED_CHARACTERS", "upper,digit")],
    )
    .await;

    let weak = app
        .signup(json!({ "email": "ann@example.com", "password": "only-lower-case" }))
        .await;
    let strong = app
        .signup(json!({ "email": "bob@example.com", "password": "Upper-and-digit-9" }))
        .await;

    let body = assert_error(weak, 422, "weak_password").await;
    assert_eq!(body["weak_password"]["reasons"], json!(["characters"]));
    assert_eq!(strong.status(), 200);
}

#[sqlx::test]
async fn a_missing_password_fails_validation(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = app.signup(json!({ "email": "ann@example.com" })).await;

    assert_error(r, 400, "validation_failed").await;
    assert_eq!(users_with_email(&pool, "ann@example.com").await, 0);
}

#[sqlx::test]
async fn an_invalid_email_fails_validation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .signup(json!({ "email": "not-an-address", "password": PASSWORD }))
        .await;

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn phone_and_anonymous_signups_are_disabled(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let phone = app
        .signup(json!({ "phone": "+15550100", "password": PASSWORD }))
        .await;
    let anonymous = app.signup(json!({ "data": {} })).await;

    assert_error(phone, 422, "phone_provider_disabled").await;
    assert_error(anonymous, 422, "anonymous_provider_disabled").await;
}

#[sqlx::test]
async fn phone_sign_ins_otps_and_verifications_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let post = |path: &'static str, body: serde_json::Value| {
        app.auth(Method::POST, path).json(&body).send()
    };

    let password = post(
        "/token?grant_type=password",
        json!({ "phone": "+15550100", "password": PASSWORD }),
    )
    .await
    .unwrap();
    let otp = post("/otp", json!({ "phone": "+15550100", "create_user": true }))
        .await
        .unwrap();
    let verify = post(
        "/verify",
        json!({ "type": "sms", "phone": "+15550100", "token": "123456" }),
    )
    .await
    .unwrap();

    assert_error(password, 400, "phone_provider_disabled").await;
    assert_error(otp, 400, "phone_provider_disabled").await;
    assert_error(verify, 400, "phone_provider_disabled").await;
    let users: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[sqlx::test]
async fn signups_can_be_disabled(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_DISABLE_SIGNUP", "true")]).await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    assert_error(r, 422, "signup_disabled").await;
    assert_eq!(users_with_email(&pool, "ann@example.com").await, 0);
}

#[sqlx::test]
async fn signing_up_a_confirmed_address_again_answers_with_a_fake_user(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let existing = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": "another-password-1", "data": { "x": 1 } }))
        .await;

    assert_eq!(r.status(), 200);
    let fake = json(r).await;
    assert_eq!(fake["identities"], json!([]));
    assert_eq!(fake["email"], "ann@example.com");
    assert_eq!(fake["user_metadata"], json!({ "x": 1 }));
    assert_ne!(user_id(&fake), user_id(&existing));
    assert_eq!(users_with_email(&pool, "ann@example.com").await, 1);
    let total: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(mails_to(&pool, "ann@example.com").await, 0);
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn with_autoconfirm_an_existing_address_is_refused(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("AUTH_AUTOCONFIRM", "true")]).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    assert_error(r, 422, "user_already_exists").await;
}

#[sqlx::test]
async fn signing_up_an_unconfirmed_address_again_within_the_mail_frequency_is_rate_limited(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool.clone()).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    assert!(r.headers().get("retry-after").is_some());
    assert_error(r, 429, "over_email_send_rate_limit").await;
    assert_eq!(mails_to(&pool, "ann@example.com").await, 1);
}

/// `POST /verify` of the latest sign-up confirmation mailed to `email`.
async fn confirm_latest(app: &TestApp, pool: &PgPool, email: &str) -> reqwest::Response {
    let code = latest_otp(pool, email, "confirmation").await;
    app.auth(Method::POST, "/verify")
        .json(&json!({ "type": "signup", "email": email, "token": code }))
        .send()
        .await
        .unwrap()
}

/// The `password_removed` of every `user_repeated_signup` audit entry, oldest first.
async fn repeated_signups(pool: &PgPool) -> Vec<bool> {
    sqlx::query_scalar(
        "select (payload ->> 'password_removed')::bool from auth.audit_log_entries \
         where action = 'user_repeated_signup' order by created_at",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test]
async fn signing_up_an_unconfirmed_address_again_resends_the_confirmation(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    let first = json(
        app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
            .await,
    )
    .await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    assert_eq!(r.status(), 200);
    let again = json(r).await;
    assert_eq!(user_id(&again), user_id(&first));
    assert!(again.get("access_token").is_none(), "no session: {again}");
    assert_eq!(mails_to(&pool, "ann@example.com").await, 2);
    assert_eq!(
        confirm_latest(&app, &pool, "ann@example.com")
            .await
            .status(),
        200
    );
    // The same password twice: nothing disputed, it stays.
    app.sign_in("ann@example.com", PASSWORD).await;
    assert_eq!(repeated_signups(&pool).await, [false]);
}

#[sqlx::test]
async fn a_repeated_sign_up_with_another_password_leaves_the_account_with_neither(pool: PgPool) {
    // Pre-account takeover: someone signs up with Ann's address and a password of their own; Ann
    // signs up herself (or the other way round: the two are alike here) and confirms the mail she
    // gets. Nothing tells which sign-up was hers, so no password may survive: the confirmation
    // signs her in, and she sets her own.
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    let r = app
        .signup(json!({ "email": "ann@example.com", "password": NEW_PASSWORD }))
        .await;
    assert_eq!(r.status(), 200);

    let confirmed = confirm_latest(&app, &pool, "ann@example.com").await;

    assert_eq!(confirmed.status(), 200);
    let session = json(confirmed).await;
    for password in [PASSWORD, NEW_PASSWORD] {
        let r = app.password_grant("ann@example.com", password).await;
        assert_error(r, 400, "invalid_credentials").await;
    }
    assert_eq!(repeated_signups(&pool).await, [true]);
    let set = app
        .as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "password": "annes-very-own-1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    app.sign_in("ann@example.com", "annes-very-own-1").await;
}

#[sqlx::test]
async fn a_repeated_sign_up_refused_for_the_mail_frequency_still_leaves_neither_password(
    pool: PgPool,
) {
    // Whoever signed up first cannot keep their password by having the confirmation re-sent every
    // minute, so that the owner's own sign-up is always refused as too soon.
    let app = TestApp::spawn(pool.clone()).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let r = app
        .signup(json!({ "email": "ann@example.com", "password": NEW_PASSWORD }))
        .await;

    assert_error(r, 429, "over_email_send_rate_limit").await;
    assert_eq!(mails_to(&pool, "ann@example.com").await, 1);
    assert_eq!(
        confirm_latest(&app, &pool, "ann@example.com")
            .await
            .status(),
        200
    );
    for password in [PASSWORD, NEW_PASSWORD] {
        let r = app.password_grant("ann@example.com", password).await;
        assert_error(r, 400, "invalid_credentials").await;
    }
    assert_eq!(repeated_signups(&pool).await, [true]);
}

#[sqlx::test]
async fn settings_report_the_signup_policy(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("AUTH_AUTOCONFIRM", "true"),
            ("AUTH_DISABLE_SIGNUP", "true"),
        ],
    )
    .await;

    let r = app.auth(Method::GET, "/settings").send().await.unwrap();

    assert_eq!(r.status(), 200);
    let settings = json(r).await;
    assert_eq!(settings["external"]["email"], true);
    assert_eq!(settings["external"]["phone"], false);
    assert_eq!(settings["disable_signup"], true);
    assert_eq!(settings["mailer_autoconfirm"], true);
    assert_eq!(settings["anonymous_users"], false);
}

#[sqlx::test]
async fn settings_say_whether_anonymous_sign_ins_are_on(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("AUTH_ANONYMOUS_USERS", "true")]).await;

    let settings = json(app.auth(Method::GET, "/settings").send().await.unwrap()).await;

    assert_eq!(settings["anonymous_users"], true);
    assert_eq!(settings["external"]["anonymous_users"], true);
}

const ANONYMOUS: &[(&str, &str)] = &[
    ("AUTH_ANONYMOUS_USERS", "true"),
    ("AUTH_MAIL_FREQUENCY_SECS", "0"),
];

#[sqlx::test]
async fn an_anonymous_sign_in_gives_a_session_of_a_user_without_address(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), ANONYMOUS).await;

    let r = app.signup(json!({ "data": { "cart": 3 } })).await;

    assert_eq!(r.status(), 200);
    let session = json(r).await;
    let user = &session["user"];
    assert_eq!(user["is_anonymous"], true);
    assert_eq!(user["email"], "");
    assert_eq!(user["identities"], json!([]));
    assert_eq!(user["user_metadata"]["cart"], 3);
    assert_eq!(user["role"], "authenticated");
    let claims = claims_of(str_of(&session, "access_token"));
    assert_eq!(claims["is_anonymous"], true);
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["amr"][0]["method"], "anonymous");
    let refreshed = app.refresh(str_of(&session, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
    let settings = json(app.auth(Method::GET, "/settings").send().await.unwrap()).await;
    assert_eq!(settings["external"]["anonymous_users"], true);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from auth.audit_log_entries where action = 'user_signedup' \
         and payload->>'provider' = 'anonymous'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test]
async fn an_anonymous_user_becomes_permanent_by_confirming_an_address(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), ANONYMOUS).await;
    let session = json(app.signup(json!({})).await).await;
    let token = str_of(&session, "access_token");

    let r = app
        .as_user(Method::PUT, "/user", token)
        .json(&json!({ "email": "ann@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        json(r).await["is_anonymous"],
        true,
        "not before the address is confirmed"
    );
    let code = latest_otp(&pool, "ann@example.com", "email_change").await;
    let verified = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "email_change", "email": "ann@example.com", "token": code }))
        .send()
        .await
        .unwrap();

    assert_eq!(verified.status(), 200);
    let permanent = json(verified).await;
    let user = &permanent["user"];
    assert_eq!(user["is_anonymous"], false);
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["identities"][0]["provider"], "email");
    assert_eq!(
        user["identities"][0]["identity_data"]["email_verified"],
        true
    );
    assert_eq!(user["app_metadata"]["provider"], "email");
    assert_eq!(
        claims_of(str_of(&permanent, "access_token"))["is_anonymous"],
        false
    );
    let signed_in = app.sign_in("ann@example.com", PASSWORD).await;
    assert_eq!(signed_in["user"]["id"], session["user"]["id"]);
}

#[sqlx::test]
async fn an_anonymous_user_cannot_set_a_password_without_an_address(pool: PgPool) {
    // As GoTrue: a password with no address to sign in with is refused, before it is hashed.
    let app = TestApp::spawn_with(pool.clone(), ANONYMOUS).await;
    let session = json(app.signup(json!({})).await).await;
    let token = str_of(&session, "access_token");

    for body in [
        json!({ "password": PASSWORD }),
        json!({ "password": PASSWORD, "email": "" }),
    ] {
        let r = app
            .as_user(Method::PUT, "/user", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let refused = assert_error(r, 422, "validation_failed").await;
        assert_eq!(
            refused["message"],
            "Updating password of an anonymous user without an email or phone is not allowed"
        );
    }
    let stored: Option<String> =
        sqlx::query_scalar("select encrypted_password from auth.users where id = $1::uuid")
            .bind(str_of(&session["user"], "id"))
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, None);
    // Metadata alone is still theirs to change.
    let r = app
        .as_user(Method::PUT, "/user", token)
        .json(&json!({ "data": { "cart": 4 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn anonymous_sign_ins_stop_with_sign_ups(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("AUTH_ANONYMOUS_USERS", "true"),
            ("AUTH_DISABLE_SIGNUP", "true"),
        ],
    )
    .await;

    let r = app.signup(json!({})).await;

    assert_error(r, 422, "signup_disabled").await;
}
