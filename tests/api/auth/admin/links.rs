//! `POST /admin/generate_link` and `POST /invite`: links of every type, and what following them
//! does.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::super::{PASSWORD, str_of, user_id};
use super::{create, generate_link, invite, verify};
use crate::harness::{TestApp, assert_error, claims_of, json, latest_otp, mails_to};

/// Generates a link, checks its shape and that no mail was sent, then verifies its e-mailed
/// code as `verification_type` for `address`; returns the session. The answer's
/// `verification_type` is that type, or `answered` when given (GoTrue names an e-mail change's
/// leg there).
async fn generated_link_verifies(
    app: &TestApp,
    request: Value,
    (verification_type, answered): (&str, Option<&str>),
    address: &str,
) -> Value {
    let link = generate_link(app, request).await;

    assert_eq!(
        link["verification_type"],
        answered.unwrap_or(verification_type)
    );
    let hashed = str_of(&link, "hashed_token");
    let action_link = str_of(&link, "action_link");
    assert!(
        action_link.starts_with(&format!(
            "{}/auth/v1/verify?token={hashed}&type={verification_type}&redirect_to=",
            app.state.config.public_url
        )),
        "{action_link}"
    );
    assert_eq!(str_of(&link, "email_otp").len(), 6);
    assert!(link["redirect_to"].is_string());
    assert_eq!(mails_to(&app.pool, address).await, 0, "no mail is sent");
    let r = verify(
        app,
        json!({ "type": verification_type, "email": address, "token": link["email_otp"] }),
    )
    .await;
    assert_eq!(
        r.status(),
        200,
        "verifying the generated {verification_type} code"
    );
    json(r).await
}

#[sqlx::test]
async fn generate_link_for_signup_creates_the_user(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let session = generated_link_verifies(
        &app,
        json!({ "type": "signup", "email": "ann@example.com", "password": PASSWORD }),
        ("signup", None),
        "ann@example.com",
    )
    .await;

    assert!(session["user"]["email_confirmed_at"].is_string());
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn generate_link_for_signup_needs_a_password(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .admin(Method::POST, "/admin/generate_link")
        .json(&json!({ "type": "signup", "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn generate_link_for_a_magic_link(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let session = generated_link_verifies(
        &app,
        json!({ "type": "magiclink", "email": "ann@example.com" }),
        ("magiclink", None),
        "ann@example.com",
    )
    .await;

    assert_eq!(session["user"]["email"], "ann@example.com");
}

#[sqlx::test]
async fn generate_link_for_a_magic_link_to_an_unknown_address_becomes_a_signup(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let session = generated_link_verifies(
        &app,
        json!({ "type": "magiclink", "email": "new@example.com" }),
        ("signup", None),
        "new@example.com",
    )
    .await;

    assert!(session["user"]["email_confirmed_at"].is_string());
}

#[sqlx::test]
async fn generate_link_for_recovery(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let session = generated_link_verifies(
        &app,
        json!({ "type": "recovery", "email": "ann@example.com" }),
        ("recovery", None),
        "ann@example.com",
    )
    .await;

    assert_eq!(
        claims_of(str_of(&session, "access_token"))["amr"][0]["method"],
        "otp"
    );
}

#[sqlx::test]
async fn generate_link_for_an_invite(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let session = generated_link_verifies(
        &app,
        json!({ "type": "invite", "email": "new@example.com", "data": { "full_name": "New" } }),
        ("invite", None),
        "new@example.com",
    )
    .await;

    assert!(session["user"]["email_confirmed_at"].is_string());
    assert_eq!(session["user"]["user_metadata"]["full_name"], "New");
}

#[sqlx::test]
async fn generate_link_for_an_email_change(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let session = generated_link_verifies(
        &app,
        json!({ "type": "email_change_new", "email": "ann@example.com", "new_email": "ann@new.example" }),
        ("email_change", Some("email_change_new")),
        "ann@new.example",
    )
    .await;

    assert_eq!(session["user"]["email"], "ann@new.example");
}

#[sqlx::test]
async fn generated_links_for_both_legs_of_an_email_change_are_each_needed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    let body = |kind: &str| json!({ "type": kind, "email": "ann@example.com", "new_email": "ann@new.example" });
    let new_leg = generate_link(&app, body("email_change_new")).await;
    let current_leg = generate_link(&app, body("email_change_current")).await;
    assert_eq!(new_leg["verification_type"], "email_change_new");
    assert_eq!(current_leg["verification_type"], "email_change_current");

    let first = verify(
        &app,
        json!({ "type": "email_change", "token_hash": current_leg["hashed_token"] }),
    )
    .await;
    let second = verify(
        &app,
        json!({ "type": "email_change", "token_hash": new_leg["hashed_token"] }),
    )
    .await;

    assert_eq!(first.status(), 200);
    let first = json(first).await;
    assert!(
        first["msg"]
            .as_str()
            .unwrap()
            .starts_with("Confirmation link accepted"),
        "{first}"
    );
    assert_eq!(second.status(), 200);
    assert_eq!(json(second).await["user"]["email"], "ann@new.example");
}

#[sqlx::test]
async fn the_hashed_token_of_a_generated_link_verifies(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;
    let link = generate_link(
        &app,
        json!({ "type": "recovery", "email": "ann@example.com" }),
    )
    .await;

    let r = verify(
        &app,
        json!({ "type": "recovery", "token_hash": link["hashed_token"] }),
    )
    .await;

    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn generate_link_refuses_an_unknown_type(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .admin(Method::POST, "/admin/generate_link")
        .json(&json!({ "type": "teleport", "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn an_invitation_mail_confirms_the_invited_user(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = invite(&app, "new@example.com").await;

    assert_eq!(r.status(), 200);
    let user = json(r).await;
    assert!(user["invited_at"].is_string());
    // As GoTrue: the invitation is the user's confirmation mail.
    assert_eq!(user["confirmation_sent_at"], user["invited_at"]);
    assert!(user.get("email_confirmed_at").is_none());
    let code = latest_otp(&pool, "new@example.com", "invite").await;
    let verified = verify(
        &app,
        json!({ "type": "invite", "email": "new@example.com", "token": code }),
    )
    .await;
    assert_eq!(verified.status(), 200);
    let session = json(verified).await;
    assert!(session["user"]["email_confirmed_at"].is_string());
    let set_password = app
        .as_user(Method::PUT, "/user", str_of(&session, "access_token"))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(set_password.status(), 200);
    app.sign_in("new@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn an_invitation_keeps_the_metadata_supabase_js_sends_as_data(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .admin(Method::POST, "/invite")
        .json(&json!({ "email": "new@example.com", "data": { "full_name": "New" } }))
        .send()
        .await
        .unwrap();

    assert_eq!(json(r).await["user_metadata"]["full_name"], "New");
}

#[sqlx::test]
async fn inviting_a_confirmed_user_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = invite(&app, "ann@example.com").await;

    assert_error(r, 422, "email_exists").await;
}

#[sqlx::test]
async fn metadata_must_be_objects_and_a_link_needs_its_type(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for field in ["user_metadata", "app_metadata"] {
        let r = create(&app, json!({ "email": "ann@example.com", field: "x" })).await;
        assert_error(r, 400, "validation_failed").await;
    }
    for (path, body) in [
        (
            "/invite",
            json!({ "email": "ann@example.com", "data": [1] }),
        ),
        (
            "/invite",
            json!({ "email": "ann@example.com", "user_metadata": "x" }),
        ),
        (
            "/admin/generate_link",
            json!({ "type": "magiclink", "email": "ann@example.com", "data": "x" }),
        ),
    ] {
        let r = app
            .admin(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(r, 400, "validation_failed").await;
    }
    let nobody: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(nobody, 0, "a refused invitation or link creates no user");
    let r = app
        .admin(Method::POST, "/admin/generate_link")
        .json(&json!({ "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn an_invitation_to_an_address_someone_signed_up_unconfirmed_drops_their_password(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool.clone()).await;
    let r = app
        .signup(json!({ "email": "new@example.com", "password": "the-intruders-own-1" }))
        .await;
    assert_eq!(r.status(), 200);
    let r = invite(&app, "new@example.com").await;
    assert_eq!(r.status(), 200);
    let code = latest_otp(&pool, "new@example.com", "invite").await;

    let accepted = verify(
        &app,
        json!({ "type": "invite", "email": "new@example.com", "token": code }),
    )
    .await;

    assert_eq!(accepted.status(), 200);
    let intruder = app
        .password_grant("new@example.com", "the-intruders-own-1")
        .await;
    assert_error(intruder, 400, "invalid_credentials").await;
}

/// Ann signs up (unconfirmed); then an admin sends `update` to her account. Returns her sign-up
/// code, mailed before the update.
async fn sign_up_then_admin_update(app: &TestApp, pool: &PgPool, update: Value) -> String {
    let r = app
        .signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(r.status(), 200);
    let ann = json(r).await;
    let code = latest_otp(pool, "ann@example.com", "confirmation").await;
    let r = app
        .admin(Method::PUT, &format!("/admin/users/{}", user_id(&ann)))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    code
}

#[sqlx::test]
async fn an_admins_confirmation_voids_the_sign_up_link(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let code = sign_up_then_admin_update(&app, &pool, json!({ "email_confirm": true })).await;

    let r = verify(
        &app,
        json!({ "type": "signup", "email": "ann@example.com", "token": code }),
    )
    .await;

    assert_error(r, 403, "otp_expired").await;
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn a_link_mailed_to_an_address_the_admin_changed_confirms_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let code = sign_up_then_admin_update(&app, &pool, json!({ "email": "bob@example.com" })).await;

    let r = verify(
        &app,
        json!({ "type": "signup", "email": "ann@example.com", "token": code }),
    )
    .await;

    assert_error(r, 403, "otp_expired").await;
    let confirmed: bool = sqlx::query_scalar(
        "select email_confirmed_at is not null from auth.users where email = 'bob@example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(!confirmed, "Ann's mailbox does not confirm Bob's address");
}
