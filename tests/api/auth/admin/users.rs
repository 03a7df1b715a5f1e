//! Users by the admin API: read, updated (password, address, bans), deleted, and the routes'
//! refusals.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::super::{
    NEW_PASSWORD, NO_WAITING_ONE_LEG, PASSWORD, recover::token_hash_in, str_of, user_id,
};
use super::{create, verify};
use crate::harness::{TestApp, assert_error, json, latest_mail, latest_otp};

#[sqlx::test]
async fn admin_routes_refuse_the_anon_key_and_user_tokens(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let id = user_id(&session);

    let with_anon_key = app
        .auth(Method::POST, "/admin/users")
        .json(&json!({ "email": "bob@example.com" }))
        .send()
        .await
        .unwrap();
    let with_user_token = app
        .as_user(
            Method::GET,
            &format!("/admin/users/{id}"),
            str_of(&session, "access_token"),
        )
        .send()
        .await
        .unwrap();
    let invite_with_anon_key = app
        .auth(Method::POST, "/invite")
        .json(&json!({ "email": "bob@example.com" }))
        .send()
        .await
        .unwrap();

    assert_error(with_anon_key, 403, "not_admin").await;
    assert_error(with_user_token, 403, "not_admin").await;
    assert_error(invite_with_anon_key, 403, "not_admin").await;
}

#[sqlx::test]
async fn user_routes_refuse_ids_that_are_not_uuids(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = app
            .admin(method.clone(), "/admin/users/not-a-uuid")
            .json(&json!({}))
            .send()
            .await
            .unwrap();

        let body = assert_error(r, 404, "validation_failed").await;
        assert!(body["message"].is_string(), "{method}");
    }
}

#[sqlx::test]
async fn user_routes_answer_not_found_for_unknown_users(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let unknown = Uuid::new_v4();

    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = app
            .admin(method.clone(), &format!("/admin/users/{unknown}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();

        let body = assert_error(r, 404, "user_not_found").await;
        assert!(body["message"].is_string(), "{method}");
    }
}

#[sqlx::test]
async fn admin_gets_and_updates_a_user(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let created = json(
        create(
            &app,
            json!({
                "email": "ann@example.com",
                "user_metadata": { "a": 1, "gone": true },
                "app_metadata": { "tier": "gold" },
            }),
        )
        .await,
    )
    .await;
    let id = user_id(&created);

    let updated = app
        .admin(Method::PUT, &format!("/admin/users/{id}"))
        .json(&json!({
            "email": "ann@new.example",
            "password": PASSWORD,
            "email_confirm": true,
            "user_metadata": { "b": 2, "gone": null },
            "app_metadata": { "plan": "pro", "tier": null },
        }))
        .send()
        .await
        .unwrap();
    let fetched = app
        .admin(Method::GET, &format!("/admin/users/{id}"))
        .send()
        .await
        .unwrap();

    assert_eq!(updated.status(), 200);
    let user = json(fetched).await;
    assert_eq!(user["email"], "ann@new.example");
    // As GoTrue (and `PUT /user`): keys set to null are removed.
    assert_eq!(user["user_metadata"], json!({ "a": 1, "b": 2 }));
    assert_eq!(user["app_metadata"]["plan"], "pro");
    assert!(user["app_metadata"].get("tier").is_none(), "{user}");
    assert!(user["email_confirmed_at"].is_string());
    // The e-mail identity follows the address.
    let identity = &user["identities"][0];
    assert_eq!(identity["email"], "ann@new.example");
    assert_eq!(identity["identity_data"]["email"], "ann@new.example");
    assert_eq!(identity["identity_data"]["email_verified"], true);
    app.sign_in("ann@new.example", PASSWORD).await;
}

#[sqlx::test]
async fn updating_to_a_taken_email_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create(&app, json!({ "email": "bob@example.com" })).await;
    let ann = json(create(&app, json!({ "email": "ann@example.com" })).await).await;

    let r = app
        .admin(Method::PUT, &format!("/admin/users/{}", user_id(&ann)))
        .json(&json!({ "email": "bob@example.com" }))
        .send()
        .await
        .unwrap();

    assert_error(r, 422, "email_exists").await;
}

/// Signs ann in twice (two devices), has a recovery code mailed to her and starts a change of
/// her address; returns both sessions and the code.
async fn two_sessions_and_a_recovery_code(app: &TestApp, pool: &PgPool) -> (Value, Value, String) {
    let first = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let second = app.sign_in("ann@example.com", PASSWORD).await;
    let r = app
        .auth(Method::POST, "/recover")
        .json(&json!({ "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let code = latest_otp(pool, "ann@example.com", "recovery").await;
    let r = app
        .as_user(Method::PUT, "/user", str_of(&first, "access_token"))
        .json(&json!({ "email": "ann@elsewhere.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await["new_email"], "ann@elsewhere.example");
    (first, second, code)
}

/// Whether the user `id` has an address change pending (`new_email`), as the admin sees them.
async fn changing_address(app: &TestApp, id: &str) -> bool {
    let r = app
        .admin(Method::GET, &format!("/admin/users/{id}"))
        .send()
        .await
        .unwrap();
    json(r).await.get("new_email").is_some()
}

#[sqlx::test]
async fn a_password_set_by_an_admin_ends_every_session_and_voids_mailed_codes(pool: PgPool) {
    // As GoTrue: whoever knew the old password may hold a session or a mailed code, so an
    // admin resetting a compromised account's password (or importing a hash) ends them all.
    let app = TestApp::spawn(pool.clone()).await;
    let new_hash = bcrypt::hash(NEW_PASSWORD, 4).unwrap();
    for body in [
        json!({ "password": NEW_PASSWORD }),
        json!({ "password_hash": new_hash }),
    ] {
        let (first, second, code) = two_sessions_and_a_recovery_code(&app, &pool).await;
        let id = user_id(&first);

        let r = app
            .admin(Method::PUT, &format!("/admin/users/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();

        assert_eq!(r.status(), 200, "{body}");
        for session in [&first, &second] {
            let me = app
                .as_user(Method::GET, "/user", str_of(session, "access_token"))
                .send()
                .await
                .unwrap();
            assert_error(me, 403, "session_not_found").await;
            let refreshed = app.refresh(str_of(session, "refresh_token")).await;
            assert_error(refreshed, 400, "refresh_token_not_found").await;
        }
        let r = verify(
            &app,
            json!({ "type": "recovery", "email": "ann@example.com", "token": code }),
        )
        .await;
        assert_error(r, 403, "otp_expired").await;
        assert!(!changing_address(&app, &id).await, "{body}");
        app.sign_in("ann@example.com", NEW_PASSWORD).await;
        let r = app
            .admin(Method::DELETE, &format!("/admin/users/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[sqlx::test]
async fn an_admin_moving_a_user_to_another_address_drops_the_change_she_had_asked_for(
    pool: PgPool,
) {
    // She asked to move to ann@elsewhere.example (confirmed from the new address alone); the
    // admin moves her to ann@new.example meanwhile. Her link must not undo the admin's move.
    let app = TestApp::spawn_with(pool.clone(), NO_WAITING_ONE_LEG).await;
    let (session, _, _) = two_sessions_and_a_recovery_code(&app, &pool).await;
    let id = user_id(&session);
    let change = latest_otp(&pool, "ann@elsewhere.example", "email_change").await;

    let r = app
        .admin(Method::PUT, &format!("/admin/users/{id}"))
        .json(&json!({ "email": "ann@new.example" }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    let r = verify(
        &app,
        json!({ "type": "email_change", "email": "ann@elsewhere.example", "token": change }),
    )
    .await;
    assert_error(r, 403, "otp_expired").await;
    assert!(!changing_address(&app, &id).await);
    // Her sessions are hers still (only a new password ends them), at the admin's address.
    let me = app
        .as_user(Method::GET, "/user", str_of(&session, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(json(me).await["email"], "ann@new.example");
    // What was mailed to her old address is void too (verification refused it before already).
    let mail = latest_mail(&pool, "ann@example.com", "recovery")
        .await
        .unwrap();
    let r = verify(
        &app,
        json!({ "type": "recovery", "token_hash": token_hash_in(&mail) }),
    )
    .await;
    assert_error(r, 403, "otp_expired").await;
}

#[sqlx::test]
async fn a_hard_delete_removes_the_user_and_their_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let id = user_id(&session);

    let r = app
        .admin(Method::DELETE, &format!("/admin/users/{id}"))
        .json(&json!({ "should_soft_delete": false }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await, json!({}));
    let fetched = app
        .admin(Method::GET, &format!("/admin/users/{id}"))
        .send()
        .await
        .unwrap();
    assert_error(fetched, 404, "user_not_found").await;
    let sessions: i64 = sqlx::query_scalar("select count(*) from auth.sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
}

#[sqlx::test]
async fn a_delete_without_a_body_is_a_hard_delete(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let created = json(create(&app, json!({ "email": "ann@example.com" })).await).await;

    let r = app
        .admin(
            Method::DELETE,
            &format!("/admin/users/{}", user_id(&created)),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    let again = app
        .admin(Method::GET, &format!("/admin/users/{}", user_id(&created)))
        .send()
        .await
        .unwrap();
    assert_error(again, 404, "user_not_found").await;
}

#[sqlx::test]
async fn a_soft_delete_anonymizes_the_user_who_can_no_longer_sign_in(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let id = user_id(&session);
    let uid = Uuid::parse_str(&id).unwrap();
    sqlx::query(
        "update auth.users set raw_app_meta_data = raw_app_meta_data || '{\"plan\": \"pro\"}' \
         where id = $1",
    )
    .bind(uid)
    .execute(&pool)
    .await
    .unwrap();

    let r = app
        .admin(Method::DELETE, &format!("/admin/users/{id}"))
        .json(&json!({ "should_soft_delete": true }))
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    let (email, deleted): (Option<String>, bool) =
        sqlx::query_as("select email, deleted_at is not null from auth.users where id = $1")
            .bind(Uuid::parse_str(&id).unwrap())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(email, None);
    assert!(deleted);
    assert_error(
        app.password_grant("ann@example.com", PASSWORD).await,
        400,
        "invalid_credentials",
    )
    .await;
    let me = app
        .as_user(Method::GET, "/user", str_of(&session, "access_token"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 403);
    let refreshed = app.refresh(str_of(&session, "refresh_token")).await;
    assert_eq!(refreshed.status(), 400);
    // Nothing of hers stays in the row's metadata (GoTrue empties both).
    let app_metadata: Value =
        sqlx::query_scalar("select raw_app_meta_data from auth.users where id = $1")
            .bind(uid)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(app_metadata, json!({}));
}

#[sqlx::test]
async fn an_invalid_ban_duration_fails_validation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let created = json(create(&app, json!({ "email": "ann@example.com" })).await).await;

    let r = app
        .admin(Method::PUT, &format!("/admin/users/{}", user_id(&created)))
        .json(&json!({ "ban_duration": "5 days" }))
        .send()
        .await
        .unwrap();

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn rejected_query_and_path_parameters_are_readable_json_for_gzip_clients(pool: PgPool) {
    // Browsers and Node send `Accept-Encoding: gzip`; the rejection's plain text was compressed,
    // then re-rendered as JSON that kept the `Content-Encoding: gzip` of the text it replaced.
    let app = TestApp::spawn(pool).await;
    for path in [
        "/admin/users?page=abc",
        "/admin/users?per_page=1.5",
        "/admin/users/%FF%FE",
    ] {
        let r = app
            .admin(Method::GET, path)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert!(status == 400 || status == 404, "{path}: {status}");
        assert!(
            r.headers().get("content-encoding").is_none(),
            "{path}: {:?}",
            r.headers()
        );
        let body: Value = serde_json::from_slice(&r.bytes().await.unwrap())
            .unwrap_or_else(|e| panic!("{path}: the body is not JSON: {e}"));
        assert!(
            body["code"].is_string() && body["message"].is_string(),
            "{path}: {body}"
        );
    }
}

#[sqlx::test]
async fn huge_pages_and_ban_durations_are_refused_not_crashed_on(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let id = str_of(
        &json(create(&app, json!({ "email": "ann@example.com" })).await).await,
        "id",
    )
    .to_owned();

    let r = app
        .admin(
            Method::GET,
            "/admin/users?page=9223372036854775807&per_page=1000",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a page past the end is empty");
    assert_eq!(json(r).await["users"], json!([]));

    for ban in ["9999999999999999h", "10000000000h", "99999999999999999999s"] {
        let r = app
            .admin(Method::PUT, &format!("/admin/users/{id}"))
            .json(&json!({ "ban_duration": ban }))
            .send()
            .await
            .unwrap();
        assert_error(r, 400, "validation_failed").await;
    }
    let r = app
        .admin(Method::GET, &format!("/admin/users/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(r).await["banned_until"],
        Value::Null,
        "nothing was half-applied"
    );
}
