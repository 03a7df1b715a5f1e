//! An admin's view of a user's MFA factors: listing, renaming and deleting them.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::super::{PASSWORD, enroll, str_of, user_id, user_with_mfa};
use crate::harness::{TestApp, assert_error, json};

#[sqlx::test]
async fn admin_lists_and_deletes_a_users_factors(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, str_of(&session, "access_token")).await;
    let factors_path = format!("/admin/users/{}/factors", user_id(&session));

    let listed = json(app.admin(Method::GET, &factors_path).send().await.unwrap()).await;
    let deleted = app
        .admin(Method::DELETE, &format!("{factors_path}/{}", factor.id))
        .send()
        .await
        .unwrap();
    let after = json(app.admin(Method::GET, &factors_path).send().await.unwrap()).await;

    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], factor.id.as_str());
    assert_eq!(listed[0]["factor_type"], "totp");
    assert_eq!(listed[0]["status"], "unverified");
    assert!(
        listed[0].get("friendly_name").is_none(),
        "unnamed: left out, as in GoTrue"
    );
    assert_eq!(deleted.status(), 200);
    assert_eq!(json(deleted).await["id"], factor.id.as_str());
    assert_eq!(after, json!([]));
}

#[sqlx::test]
async fn admin_renames_a_factor_unless_the_name_is_taken(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let token = str_of(&session, "access_token");
    let phone = enroll(&app, token).await;
    let tablet = app
        .as_user(Method::POST, "/factors", token)
        .json(&json!({ "factor_type": "totp", "friendly_name": "Tablet" }))
        .send()
        .await
        .unwrap();
    assert_eq!(tablet.status(), 200);
    let path = format!("/admin/users/{}/factors/{}", user_id(&session), phone.id);
    let rename = |name: Value| {
        app.admin(Method::PUT, &path)
            .json(&json!({ "friendly_name": name }))
            .send()
    };

    let renamed = rename(json!("Work phone")).await.unwrap();
    let taken = rename(json!("Tablet")).await.unwrap();
    let empty = rename(json!(" ")).await.unwrap();
    let unknown = app
        .admin(
            Method::PUT,
            &format!(
                "/admin/users/{}/factors/{}",
                user_id(&session),
                Uuid::new_v4()
            ),
        )
        .json(&json!({ "friendly_name": "x" }))
        .send()
        .await
        .unwrap();

    assert_eq!(renamed.status(), 200);
    let body = json(renamed).await;
    assert_eq!(body["friendly_name"], "Work phone");
    assert_eq!(body["id"], phone.id.as_str());
    assert_error(taken, 422, "mfa_factor_name_conflict").await;
    assert_error(empty, 400, "validation_failed").await;
    assert_error(unknown, 404, "mfa_factor_not_found").await;
    let same_again = rename(json!("Work phone")).await.unwrap();
    assert_eq!(same_again.status(), 200, "its own name is no conflict");
}

#[sqlx::test]
async fn admin_deleting_a_verified_factor_downgrades_the_users_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (aal2, factor) = user_with_mfa(&app, "ann@example.com").await;

    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/users/{}/factors/{}", user_id(&aal2), factor.id),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    let aal: String = sqlx::query_scalar("select aal from auth.sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(aal, "aal1");
}

#[sqlx::test]
async fn admin_deleting_an_unknown_factor_is_not_found(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = app
        .admin(
            Method::DELETE,
            &format!(
                "/admin/users/{}/factors/{}",
                user_id(&session),
                Uuid::new_v4()
            ),
        )
        .send()
        .await
        .unwrap();

    assert_error(r, 404, "mfa_factor_not_found").await;
}

#[sqlx::test]
async fn the_factors_of_an_unknown_user_are_not_found(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    let r = app
        .admin(
            Method::GET,
            &format!("/admin/users/{}/factors", Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap();

    assert_error(r, 404, "user_not_found").await;
}
