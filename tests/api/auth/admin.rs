//! The admin endpoints (service role): users, generated links, invitations, factors (§2.8).

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    NEW_PASSWORD, NO_WAITING_ONE_LEG, PASSWORD, enroll, recover::token_hash_in, str_of, user_id,
    user_with_mfa,
};
use crate::harness::{TestApp, assert_error, claims_of, json, latest_mail, latest_otp, mails_to};

async fn create(app: &TestApp, body: Value) -> Response {
    app.admin(Method::POST, "/admin/users")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn invite(app: &TestApp, email: &str) -> Response {
    app.admin(Method::POST, "/invite")
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

async fn generate_link(app: &TestApp, body: Value) -> Value {
    let r = app
        .admin(Method::POST, "/admin/generate_link")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "generate_link {body}");
    json(r).await
}

async fn verify(app: &TestApp, body: Value) -> Response {
    app.auth(Method::POST, "/verify")
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn queued_mails(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from private.outbox")
        .fetch_one(pool)
        .await
        .unwrap()
}

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
async fn users_are_listed_in_pages_with_a_total_and_links(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for i in 0..5 {
        create(&app, json!({ "email": format!("user{i}@example.com") })).await;
    }

    let first = app
        .admin(Method::GET, "/admin/users?page=1&per_page=2")
        .send()
        .await
        .unwrap();
    let last = app
        .admin(Method::GET, "/admin/users?page=3&per_page=2")
        .send()
        .await
        .unwrap();

    assert_eq!(first.headers()["x-total-count"], "5");
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    assert!(
        link.contains(r#"</admin/users?page=2&per_page=2>; rel="next""#),
        "{link}"
    );
    assert!(
        link.contains(r#"</admin/users?page=3&per_page=2>; rel="last""#),
        "{link}"
    );
    let body = json(first).await;
    assert_eq!(body["aud"], "authenticated");
    assert_eq!(body["users"].as_array().unwrap().len(), 2);
    let last_link = last.headers()["link"].to_str().unwrap().to_owned();
    assert!(!last_link.contains("rel=\"next\""), "{last_link}");
    assert_eq!(json(last).await["users"].as_array().unwrap().len(), 1);
}

/// `GET /admin/users?{query}`: the status, `X-Total-Count`, `Link` and the listed addresses.
async fn listed(app: &TestApp, query: &str) -> (u16, String, String, Vec<String>) {
    let page = app.admin_page(&format!("/admin/users?{query}")).await;
    let emails = page.body["users"]
        .as_array()
        .map(|users| {
            users
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    (page.status, page.total, page.link, emails)
}

#[sqlx::test]
async fn users_are_found_by_address_or_full_name_and_sorted_by_creation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for (email, name) in [
        ("ann@example.com", "Ann Lee"),
        ("bob@example.com", "Robert Smith"),
        ("carol_x@example.com", "Carol"),
        ("dan@example.com", "Dan Smithers"),
    ] {
        let r = create(
            &app,
            json!({ "email": email, "user_metadata": { "full_name": name } }),
        )
        .await;
        assert_eq!(r.status(), 200);
    }

    let by_address = listed(&app, "filter=ANN").await;
    let by_name = listed(&app, "filter=smith&per_page=1").await;
    let literal = listed(&app, "filter=_").await;
    let oldest_first = listed(&app, "sort=created_at%20asc").await;
    let newest_first = listed(&app, "sort=created_at").await;
    let bad_field = listed(&app, "sort=email").await;
    let bad_direction = listed(&app, "sort=created_at%20sideways").await;

    assert_eq!((by_address.0, by_address.1.as_str()), (200, "1"));
    assert_eq!(by_address.3, ["ann@example.com"]);
    assert_eq!(by_name.1, "2", "the total counts the matching users");
    assert_eq!(by_name.3, ["dan@example.com"], "newest first by default");
    assert!(
        by_name
            .2
            .contains(r#"</admin/users?page=2&per_page=1&filter=smith>; rel="next""#),
        "the links keep the filter: {}",
        by_name.2
    );
    assert_eq!(literal.3, ["carol_x@example.com"], "`_` is no wildcard");
    assert_eq!(
        oldest_first.3,
        [
            "ann@example.com",
            "bob@example.com",
            "carol_x@example.com",
            "dan@example.com"
        ]
    );
    assert!(
        oldest_first.2.contains("&sort=created_at+asc>"),
        "{}",
        oldest_first.2
    );
    assert_eq!(
        newest_first.3.first().map(String::as_str),
        Some("dan@example.com")
    );
    assert_eq!((bad_field.0, bad_direction.0), (400, 400));
}

#[sqlx::test]
async fn listed_users_carry_their_identities_and_factors(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, factor) = user_with_mfa(&app, "mfa@example.com").await;
    create(&app, json!({ "email": "plain@example.com" })).await;

    let r = app
        .admin(Method::GET, "/admin/users?sort=created_at%20asc")
        .send()
        .await
        .unwrap();

    let body = json(r).await;
    let users = body["users"].as_array().unwrap();
    assert_eq!(users[0]["email"], "mfa@example.com");
    assert_eq!(users[0]["identities"][0]["provider"], "email");
    assert_eq!(users[0]["factors"][0]["id"], factor.id.as_str());
    assert_eq!(users[0]["factors"][0]["status"], "verified");
    assert_eq!(users[1]["email"], "plain@example.com");
    assert!(
        users[1]
            .get("factors")
            .is_none_or(|f| f.as_array().is_some_and(Vec::is_empty))
    );
}

#[sqlx::test]
async fn the_list_defaults_to_fifty_per_page(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    create(&app, json!({ "email": "ann@example.com" })).await;

    let r = app.admin(Method::GET, "/admin/users").send().await.unwrap();

    assert_eq!(r.headers()["x-total-count"], "1");
    assert!(
        r.headers()["link"]
            .to_str()
            .unwrap()
            .contains(r#"</admin/users?page=1&per_page=50>; rel="last""#)
    );
    assert_eq!(json(r).await["users"][0]["email"], "ann@example.com");
}

#[sqlx::test]
async fn pages_that_are_not_whole_numbers_are_refused_not_read_as_the_default(pool: PgPool) {
    // As GoTrue ("Bad Pagination Parameters"): a client sending `page=-1` or `per_page=0` learns
    // of its mistake instead of silently getting the first fifty.
    let app = TestApp::spawn(pool).await;
    create(&app, json!({ "email": "ann@example.com" })).await;

    for list in ["/admin/users", "/admin/audit"] {
        for query in [
            "page=-1",
            "page=abc",
            "page=1.5",
            "page=+2",
            "per_page=0",
            "per_page=-5",
            "per_page=ten",
        ] {
            let r = app
                .admin(Method::GET, &format!("{list}?{query}"))
                .send()
                .await
                .unwrap();
            let body = assert_error(r, 400, "validation_failed").await;
            let message = str_of(&body, "message");
            assert!(
                message.starts_with("Bad Pagination Parameters: "),
                "{list}?{query}: {body}"
            );
        }
        // Page 0 is the first page, as in GoTrue; a size past 1,000 is served as 1,000.
        let first = app
            .admin_page(&format!("{list}?page=0&per_page=5000"))
            .await;
        assert_eq!(first.status, 200, "{list}: {}", first.body);
        assert!(
            first.link.contains("per_page=1000>"),
            "{list}: {}",
            first.link
        );
    }
    let (status, _, _, emails) = listed(&app, "page=0").await;
    assert_eq!((status, emails), (200, vec!["ann@example.com".to_owned()]));
    let (status, _, _, emails) = listed(&app, "page=99999999999999999999").await;
    assert_eq!((status, emails), (200, vec![]));
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
