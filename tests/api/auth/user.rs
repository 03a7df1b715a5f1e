//! `GET /user`, `PUT /user` and `POST /logout` (§2.7).

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{NEW_PASSWORD, NO_WAITING_ONE_LEG, PASSWORD, str_of, user_id};
use crate::harness::{TestApp, assert_error, claims_of, json, latest_otp, sign_hs256};

async fn get_user(app: &TestApp, token: &str) -> Response {
    app.as_user(Method::GET, "/user", token)
        .send()
        .await
        .unwrap()
}

async fn put_user(app: &TestApp, token: &str, body: Value) -> Response {
    app.as_user(Method::PUT, "/user", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn logout(app: &TestApp, token: &str, scope: &str) -> Response {
    app.as_user(Method::POST, &format!("/logout{scope}"), token)
        .send()
        .await
        .unwrap()
}

fn access(session: &Value) -> &str {
    str_of(session, "access_token")
}

#[sqlx::test]
async fn get_user_returns_the_signed_in_user_with_identities(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = get_user(&app, access(&session)).await;

    assert_eq!(r.status(), 200);
    let user = json(r).await;
    assert_eq!(user["id"], user_id(&session));
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["aud"], "authenticated");
    assert_eq!(user["identities"][0]["provider"], "email");
    assert_eq!(user["identities"][0]["id"], user_id(&session));
    assert!(
        user.get("factors").is_none(),
        "factors are omitted when empty"
    );
}

#[sqlx::test]
async fn an_authorization_that_is_not_a_bearer_token_is_unauthorized(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .auth(Method::GET, "/user")
        .header("authorization", "Basic YW5uOnNlY3JldA==")
        .send()
        .await
        .unwrap();

    assert_error(r, 401, "no_authorization").await;
}

/// GoTrue's words, which apps match on (`getUser()` with a key in an edge function).
#[sqlx::test]
async fn the_anon_key_alone_is_not_a_user(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app.auth(Method::GET, "/user").send().await.unwrap();

    let body = assert_error(r, 403, "bad_jwt").await;
    assert_eq!(body["message"], "invalid claim: missing sub claim");
}

#[sqlx::test]
async fn a_token_whose_sub_or_session_is_not_a_uuid_is_a_bad_jwt(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let with = |name: &str, value: &str| {
        let mut claims = claims_of(access(&session));
        claims[name] = json!(value);
        sign_hs256(&claims)
    };

    let sub = get_user(&app, &with("sub", "ann")).await;
    let session_id = get_user(&app, &with("session_id", "one")).await;
    let missing_user = get_user(&app, &with("sub", &Uuid::new_v4().to_string())).await;

    let body = assert_error(sub, 400, "bad_jwt").await;
    assert_eq!(body["message"], "invalid claim: sub claim must be a UUID");
    let body = assert_error(session_id, 403, "bad_jwt").await;
    assert_eq!(
        body["message"],
        "invalid claim: session_id claim must be a UUID"
    );
    assert_error(missing_user, 403, "user_not_found").await;
}

#[sqlx::test]
async fn a_malformed_or_foreign_jwt_is_a_bad_jwt(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let foreign = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims_of(access(&session)),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-secret-not-the-secret-not"),
    )
    .unwrap();

    for token in ["not.a.jwt", foreign.as_str()] {
        let r = get_user(&app, token).await;

        let body = assert_error(r, 403, "bad_jwt").await;
        assert_eq!(
            body["message"],
            "invalid JWT: unable to parse or verify signature, signature is invalid"
        );
    }
}

#[sqlx::test]
async fn a_token_for_another_audience_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let mut claims = claims_of(access(&session));
    for aud in [
        json!("other"),
        json!(["other", "authenticated"]),
        Value::Null,
    ] {
        claims["aud"] = aud.clone();
        let r = get_user(&app, &sign_hs256(&claims)).await;
        let body = assert_error(r, 400, "validation_failed").await;
        assert_eq!(
            body["message"], "Token audience doesn't match request audience",
            "{aud}"
        );
    }
    claims["aud"] = json!(["authenticated"]);
    assert_eq!(get_user(&app, &sign_hs256(&claims)).await.status(), 200);
}

#[sqlx::test]
async fn an_expired_jwt_is_a_bad_jwt(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let mut claims = claims_of(access(&session));
    claims["exp"] = json!(chrono::Utc::now().timestamp() - 120);
    let expired = sign_hs256(&claims);

    let r = get_user(&app, &expired).await;

    let body = assert_error(r, 403, "bad_jwt").await;
    assert_eq!(
        body["message"],
        "invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired"
    );
}

#[sqlx::test]
async fn a_token_of_a_deleted_session_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    sqlx::query("delete from auth.sessions")
        .execute(&pool)
        .await
        .unwrap();

    let r = get_user(&app, access(&session)).await;

    assert_error(r, 403, "session_not_found").await;
}

#[sqlx::test]
async fn put_user_merges_metadata_and_null_deletes_keys(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    put_user(
        &app,
        access(&session),
        json!({ "data": { "a": 1, "b": { "nested": true } } }),
    )
    .await;

    let r = put_user(
        &app,
        access(&session),
        json!({ "data": { "b": null, "c": "x" } }),
    )
    .await;

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["user_metadata"], json!({ "a": 1, "c": "x" }));
    let me = json(get_user(&app, access(&session)).await).await;
    assert_eq!(me["user_metadata"], json!({ "a": 1, "c": "x" }));
}

#[sqlx::test]
async fn changing_the_password_ends_the_other_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let here = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let elsewhere = app.sign_in("ann@example.com", PASSWORD).await;

    let r = put_user(&app, access(&here), json!({ "password": NEW_PASSWORD })).await;

    assert_eq!(r.status(), 200);
    assert_eq!(get_user(&app, access(&here)).await.status(), 200);
    assert_error(
        get_user(&app, access(&elsewhere)).await,
        403,
        "session_not_found",
    )
    .await;
    assert_error(
        app.password_grant("ann@example.com", PASSWORD).await,
        400,
        "invalid_credentials",
    )
    .await;
    app.sign_in("ann@example.com", NEW_PASSWORD).await;
}

#[sqlx::test]
async fn the_same_password_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = put_user(&app, access(&session), json!({ "password": PASSWORD })).await;

    assert_error(r, 422, "same_password").await;
}

/// PostgreSQL stores no NUL character in text or `jsonb`: a request carrying one is refused as
/// invalid (it was a 500), wherever the value goes.
#[sqlx::test]
async fn a_nul_character_in_sent_text_is_a_validation_error(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let data = put_user(
        &app,
        access(&session),
        json!({ "data": { "x": "a\u{0}b" } }),
    )
    .await;
    let key = put_user(&app, access(&session), json!({ "data": { "a\u{0}": 1 } })).await;
    let signup = app
        .signup(
            json!({ "email": "bob@example.com", "password": PASSWORD, "data": { "x": "\u{0}" } }),
        )
        .await;
    let factor = app
        .as_user(Method::POST, "/factors", access(&session))
        .json(&json!({ "factor_type": "totp", "friendly_name": "phone\u{0}" }))
        .send()
        .await
        .unwrap();

    for r in [data, key, signup, factor] {
        let body = assert_error(r, 400, "validation_failed").await;
        assert!(body["message"].as_str().unwrap().contains("NUL"), "{body}");
    }
}

/// `same_password` tells whether a guess is the current password, so it is said only of a request
/// that would otherwise have gone through: one bound to fail anyway answers its own error, the
/// same for a right and a wrong guess, and changes nothing.
#[sqlx::test]
async fn a_request_bound_to_fail_does_not_say_whether_a_guess_is_the_password(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    app.signup_confirmed("bob@example.com", PASSWORD).await;
    let failing = [
        (
            json!({ "nonce": "000000" }),
            400,
            "reauthentication_not_valid",
        ),
        (json!({ "data": [] }), 400, "validation_failed"),
        (json!({ "email": "bob@example.com" }), 422, "email_exists"),
    ];

    for (rest, status, code) in failing {
        for guess in [PASSWORD, NEW_PASSWORD] {
            let mut body = rest.clone();
            body["password"] = json!(guess);
            let r = put_user(&app, access(&session), body).await;
            assert_error(r, status, code).await;
        }
    }
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn a_weak_new_password_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = put_user(&app, access(&session), json!({ "password": "short" })).await;

    let body = assert_error(r, 422, "weak_password").await;
    assert_eq!(body["weak_password"]["reasons"], json!(["length"]));
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn app_metadata_can_only_be_set_by_an_admin(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = put_user(
        &app,
        access(&session),
        json!({ "app_metadata": { "plan": "pro" } }),
    )
    .await;

    assert_error(r, 403, "not_admin").await;
    let me = json(get_user(&app, access(&session)).await).await;
    assert!(me["app_metadata"].get("plan").is_none());
}

#[sqlx::test]
async fn changing_the_email_mails_a_code_to_the_new_address(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING_ONE_LEG).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = put_user(
        &app,
        access(&session),
        json!({ "email": "ann@new.example" }),
    )
    .await;

    assert_eq!(r.status(), 200);
    let user = json(r).await;
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["new_email"], "ann@new.example");
    assert!(user["email_change_sent_at"].is_string());
    let code = latest_otp(&pool, "ann@new.example", "email_change").await;
    let verified = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "email_change", "email": "ann@new.example", "token": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200);
    let session = json(verified).await;
    assert_eq!(session["user"]["email"], "ann@new.example");
    assert!(session["user"].get("new_email").is_none());
    app.sign_in("ann@new.example", PASSWORD).await;
    assert_error(
        app.password_grant("ann@example.com", PASSWORD).await,
        400,
        "invalid_credentials",
    )
    .await;
}

#[sqlx::test]
async fn after_an_email_change_the_email_identity_carries_the_new_address(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING_ONE_LEG).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    put_user(
        &app,
        access(&session),
        json!({ "email": "ann@new.example" }),
    )
    .await;
    let code = latest_otp(&pool, "ann@new.example", "email_change").await;

    let verified = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "email_change", "email": "ann@new.example", "token": code }))
        .send()
        .await
        .unwrap();

    let user = &json(verified).await["user"];
    assert_eq!(
        user["identities"][0]["identity_data"]["email"],
        "ann@new.example"
    );
    assert_eq!(user["identities"][0]["email"], "ann@new.example");
}

#[sqlx::test]
async fn changing_to_a_taken_email_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("bob@example.com", PASSWORD).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = put_user(
        &app,
        access(&session),
        json!({ "email": "Bob@Example.com" }),
    )
    .await;

    assert_error(r, 422, "email_exists").await;
}

#[sqlx::test]
async fn logout_without_a_scope_ends_every_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let here = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let elsewhere = app.sign_in("ann@example.com", PASSWORD).await;

    let r = logout(&app, access(&here), "").await;

    assert_eq!(r.status(), 204);
    for session in [&here, &elsewhere] {
        assert_error(
            get_user(&app, access(session)).await,
            403,
            "session_not_found",
        )
        .await;
    }
}

#[sqlx::test]
async fn logout_global_ends_every_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let here = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let elsewhere = app.sign_in("ann@example.com", PASSWORD).await;

    let r = logout(&app, access(&here), "?scope=global").await;

    assert_eq!(r.status(), 204);
    for session in [&here, &elsewhere] {
        assert_error(
            get_user(&app, access(session)).await,
            403,
            "session_not_found",
        )
        .await;
    }
}

#[sqlx::test]
async fn logout_local_ends_only_this_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let here = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let elsewhere = app.sign_in("ann@example.com", PASSWORD).await;

    let r = logout(&app, access(&here), "?scope=local").await;

    assert_eq!(r.status(), 204);
    assert_error(
        get_user(&app, access(&here)).await,
        403,
        "session_not_found",
    )
    .await;
    assert_eq!(get_user(&app, access(&elsewhere)).await.status(), 200);
}

#[sqlx::test]
async fn logout_others_keeps_only_this_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let here = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let elsewhere = app.sign_in("ann@example.com", PASSWORD).await;

    let r = logout(&app, access(&here), "?scope=others").await;

    assert_eq!(r.status(), 204);
    assert_eq!(get_user(&app, access(&here)).await.status(), 200);
    assert_error(
        get_user(&app, access(&elsewhere)).await,
        403,
        "session_not_found",
    )
    .await;
}

#[sqlx::test]
async fn an_unknown_logout_scope_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = logout(&app, access(&session), "?scope=everything").await;

    assert_error(r, 400, "validation_failed").await;
    assert_eq!(get_user(&app, access(&session)).await.status(), 200);
}

#[sqlx::test]
async fn a_password_change_voids_the_codes_mailed_before(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    app.auth(Method::POST, "/recover")
        .json(&json!({ "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();
    let code = latest_otp(&pool, "ann@example.com", "recovery").await;
    put_user(&app, access(&session), json!({ "password": NEW_PASSWORD })).await;

    let r = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "recovery", "email": "ann@example.com", "token": code }))
        .send()
        .await
        .unwrap();

    assert_error(r, 403, "otp_expired").await;
}

#[sqlx::test]
async fn with_autoconfirm_an_email_change_still_needs_the_new_address_confirmed(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_AUTOCONFIRM", "true")]).await;
    let session = json(
        app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
            .await,
    )
    .await;

    let r = put_user(
        &app,
        access(&session),
        json!({ "email": "ann@new.example" }),
    )
    .await;

    let user = json(r).await;
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["new_email"], "ann@new.example");
    assert!(
        latest_otp(&pool, "ann@new.example", "email_change")
            .await
            .len()
            == 6
    );
}

#[sqlx::test]
async fn confirming_an_email_change_to_an_address_taken_meanwhile_is_refused(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING_ONE_LEG).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    put_user(
        &app,
        access(&session),
        json!({ "email": "shared@example.com" }),
    )
    .await;
    let code = latest_otp(&pool, "shared@example.com", "email_change").await;
    app.signup_confirmed("shared@example.com", PASSWORD).await;

    let r = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "email_change", "email": "shared@example.com", "token": code }))
        .send()
        .await
        .unwrap();

    assert_error(r, 422, "email_exists").await;
}

#[sqlx::test]
async fn identities_cannot_be_linked_or_unlinked_by_hand(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let identity = str_of(&session["user"]["identities"][0], "identity_id").to_owned();
    let path = format!("/user/identities/{identity}");

    let unlink = app
        .as_user(Method::DELETE, &path, access(&session))
        .send()
        .await
        .unwrap();
    let link = app
        .as_user(
            Method::GET,
            "/user/identities/authorize?provider=github",
            access(&session),
        )
        .send()
        .await
        .unwrap();
    let anonymous = app.auth(Method::DELETE, &path).send().await.unwrap();

    assert_error(unlink, 404, "manual_linking_disabled").await;
    assert_error(link, 404, "manual_linking_disabled").await;
    assert_eq!(
        anonymous.status(),
        403,
        "the anon key is no user: {:?}",
        anonymous.text().await
    );
    let me = json(get_user(&app, access(&session)).await).await;
    assert_eq!(me["identities"].as_array().map(Vec::len), Some(1));
}

const SECURE_CHANGE: &[(&str, &str)] = &[
    ("AUTH_SECURE_EMAIL_CHANGE", "true"),
    ("AUTH_MAIL_FREQUENCY_SECS", "0"),
];

async fn verify_change(app: &TestApp, email: &str, code: &str) -> Response {
    app.auth(Method::POST, "/verify")
        .json(&json!({ "type": "email_change", "email": email, "token": code }))
        .send()
        .await
        .unwrap()
}

async fn email_of(pool: &PgPool, id: &str) -> Option<String> {
    sqlx::query_scalar("select email from auth.users where id = $1::uuid")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_secure_email_change_needs_both_addresses_to_confirm(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), SECURE_CHANGE).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let id = user_id(&session);
    let r = put_user(
        &app,
        access(&session),
        json!({ "email": "ann@new.example" }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let to_new = latest_otp(&pool, "ann@new.example", "email_change").await;
    let to_current = latest_otp(&pool, "ann@example.com", "email_change").await;

    let first = verify_change(&app, "ann@new.example", &to_new).await;

    assert_eq!(first.status(), 200);
    assert_eq!(
        json(first).await,
        json!({ "msg": "Confirmation link accepted. Please proceed to confirm link sent to the other email", "code": "200" })
    );
    assert_eq!(
        email_of(&pool, &id).await.as_deref(),
        Some("ann@example.com")
    );
    let second = verify_change(&app, "ann@example.com", &to_current).await;
    assert_eq!(second.status(), 200);
    let changed = json(second).await;
    assert_eq!(changed["user"]["email"], "ann@new.example");
    assert_eq!(
        email_of(&pool, &id).await.as_deref(),
        Some("ann@new.example")
    );
    app.sign_in("ann@new.example", PASSWORD).await;
}

#[sqlx::test]
async fn the_current_address_may_confirm_first_and_a_followed_link_says_so(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("AUTH_SECURE_EMAIL_CHANGE", "true"),
            ("SITE_URL", "https://app.example.com"),
        ],
    )
    .await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    put_user(
        &app,
        access(&session),
        json!({ "email": "ann@new.example" }),
    )
    .await;
    let mail = crate::harness::latest_mail(&pool, "ann@example.com", "email_change")
        .await
        .unwrap();
    let token = super::recover::token_hash_in(&mail);

    let followed =
        super::recover::follow_link(&app, &token, "email_change", "https://app.example.com").await;

    assert_eq!(followed.status(), 303);
    let location = followed.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://app.example.com#message=Confirmation+link+accepted"),
        "{location}"
    );
    assert!(!location.contains("access_token"));
    let to_new = latest_otp(&pool, "ann@new.example", "email_change").await;
    let last = verify_change(&app, "ann@new.example", &to_new).await;
    assert_eq!(json(last).await["user"]["email"], "ann@new.example");
}

#[sqlx::test]
async fn without_secure_email_change_only_the_new_address_is_asked(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING_ONE_LEG).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    put_user(
        &app,
        access(&session),
        json!({ "email": "ann@new.example" }),
    )
    .await;

    assert!(
        crate::harness::latest_mail(&pool, "ann@example.com", "email_change")
            .await
            .is_none()
    );
    let to_new = latest_otp(&pool, "ann@new.example", "email_change").await;
    let done = verify_change(&app, "ann@new.example", &to_new).await;
    assert_eq!(json(done).await["user"]["email"], "ann@new.example");
}

#[sqlx::test]
async fn an_aal1_session_learns_nothing_about_a_password_it_offers(pool: PgPool) {
    // Before, the current password got `same_password` (and a weak one `weak_password`) while
    // others got `insufficient_aal`: an aal1 session could test guesses without the rate limit
    // of `/token`. Now every password is refused alike before it is looked at.
    let app = TestApp::spawn(pool).await;
    let (_aal2, _) = super::user_with_mfa(&app, "ann@example.com").await;
    let aal1 = app.sign_in("ann@example.com", PASSWORD).await;
    for guess in [PASSWORD, "x", NEW_PASSWORD] {
        let r = app
            .as_user(Method::PUT, "/user", str_of(&aal1, "access_token"))
            .json(&json!({ "password": guess }))
            .send()
            .await
            .unwrap();
        assert_error(r, 401, "insufficient_aal").await;
    }
}
