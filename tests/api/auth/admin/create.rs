//! `POST /admin/users`: confirmed or not, metadata, and ids and password hashes brought from
//! another system.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::super::{PASSWORD, str_of};
use super::{create, queued_mails};
use crate::harness::{TestApp, assert_error, claims_of, json};

#[sqlx::test]
async fn admin_creates_a_confirmed_user_with_metadata_and_no_mail(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;

    let r = create(
        &app,
        json!({
            "email": "ann@example.com",
            "password": PASSWORD,
            "email_confirm": true,
            "user_metadata": { "full_name": "Ann" },
            "app_metadata": { "plan": "pro" },
        }),
    )
    .await;

    assert_eq!(r.status(), 200);
    let user = json(r).await;
    assert_eq!(user["email"], "ann@example.com");
    assert!(user["email_confirmed_at"].is_string());
    assert_eq!(user["user_metadata"]["full_name"], "Ann");
    assert_eq!(user["app_metadata"]["plan"], "pro");
    assert_eq!(user["app_metadata"]["provider"], "email");
    assert_eq!(queued_mails(&pool).await, 0);
    let session = app.sign_in("ann@example.com", PASSWORD).await;
    assert_eq!(
        claims_of(str_of(&session, "access_token"))["app_metadata"]["plan"],
        "pro"
    );
}

#[sqlx::test]
async fn admin_creating_without_email_confirm_leaves_the_user_unconfirmed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = create(
        &app,
        json!({ "email": "ann@example.com", "password": PASSWORD }),
    )
    .await;

    assert!(json(r).await.get("email_confirmed_at").is_none());
    assert_error(
        app.password_grant("ann@example.com", PASSWORD).await,
        400,
        "email_not_confirmed",
    )
    .await;
}

#[sqlx::test]
async fn creating_a_duplicate_email_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create(&app, json!({ "email": "ann@example.com" })).await;

    let r = create(&app, json!({ "email": "ANN@example.com" })).await;

    assert_error(r, 422, "email_exists").await;
}

#[sqlx::test]
async fn a_password_and_a_password_hash_together_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = create(
        &app,
        json!({ "email": "ann@example.com", "password": PASSWORD, "password_hash": bcrypt::hash(PASSWORD, 4).unwrap() }),
    )
    .await;

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn creating_without_an_email_fails_validation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = create(&app, json!({ "password": PASSWORD })).await;

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn admin_can_create_users_while_signups_are_disabled(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("AUTH_DISABLE_SIGNUP", "true")]).await;

    let r = create(
        &app,
        json!({ "email": "ann@example.com", "password": PASSWORD, "email_confirm": true }),
    )
    .await;

    assert_eq!(r.status(), 200);
    app.sign_in("ann@example.com", PASSWORD).await;
}

#[sqlx::test]
async fn admin_created_passwords_follow_the_policy(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = create(
        &app,
        json!({ "email": "ann@example.com", "password": "short" }),
    )
    .await;

    assert_error(r, 422, "weak_password").await;
}

#[sqlx::test]
async fn created_users_may_bring_their_id_from_another_system(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = "6b0f2d3e-8a6c-4c1e-9a39-0d7c1f3b2a11";

    let r = create(
        &app,
        json!({ "id": id, "email": "ann@example.com", "email_confirm": true }),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["id"], id);
    let r = app
        .admin(Method::GET, &format!("/admin/users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["identities"][0]["user_id"], id);

    let again = create(&app, json!({ "id": id, "email": "bob@example.com" })).await;
    assert_error(again, 422, "user_already_exists").await;
    let bad = create(
        &app,
        json!({ "id": "not-a-uuid", "email": "cy@example.com" }),
    )
    .await;
    assert_error(bad, 400, "validation_failed").await;
    let total: i64 = sqlx::query_scalar("select count(*) from auth.users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(total, 1, "the refused ones left nothing behind");
}

#[sqlx::test]
async fn imported_hashes_must_be_well_formed_and_cheap_enough_to_check(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let costly_bcrypt = bcrypt::hash(PASSWORD, 4)
        .unwrap()
        .replacen("$04$", "$31$", 1);
    for (i, hash) in [
        "$2garbage",
        costly_bcrypt.as_str(),
        "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$nonsense",
    ]
    .into_iter()
    .enumerate()
    {
        let r = create(
            &app,
            json!({ "email": format!("u{i}@example.com"), "password_hash": hash }),
        )
        .await;
        let body = assert_error(r, 400, "validation_failed").await;
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("hash"),
            "{hash}: {body}"
        );
    }
    // A bcrypt hash of cost 10 (Supabase's) is taken.
    let hash = bcrypt::hash(PASSWORD, 10).unwrap();
    let r = create(
        &app,
        json!({ "email": "ok@example.com", "password_hash": hash }),
    )
    .await;
    assert_eq!(r.status(), 200);
}
