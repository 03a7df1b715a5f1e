//! Session management through the data API: `rpc('my_sessions')` lists the caller's sessions and
//! `rpc('revoke_session', {session_id})` ends one of them.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;

use super::{NEW_PASSWORD, PASSWORD, str_of, user_id};
use crate::harness::{TestApp, claims_of, json};

async fn rpc(app: &TestApp, name: &str, token: &str, body: Value) -> Response {
    app.client
        .request(Method::POST, app.url(&format!("/rest/v1/rpc/{name}")))
        .header("apikey", &app.anon_key)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn access(session: &Value) -> &str {
    str_of(session, "access_token")
}

fn session_id(session: &Value) -> String {
    str_of(&claims_of(access(session)), "session_id").to_owned()
}

#[sqlx::test]
async fn a_user_lists_their_sessions_and_revokes_another_one(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let laptop = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let phone = app.sign_in("ann@example.com", PASSWORD).await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;

    let listed = rpc(&app, "my_sessions", access(&phone), json!({})).await;
    assert_eq!(listed.status(), 200);
    let rows = json(listed).await;
    let ids: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| str_of(r, "id"))
        .collect();
    assert_eq!(
        ids,
        vec![session_id(&phone), session_id(&laptop)],
        "newest first, only ann's"
    );
    assert_eq!(rows[0]["current"], true);
    assert_eq!(rows[1]["current"], false);
    assert_eq!(rows[0]["aal"], "aal1");

    let revoked = rpc(
        &app,
        "revoke_session",
        access(&phone),
        json!({ "session_id": session_id(&laptop) }),
    )
    .await;
    let someone_elses = rpc(
        &app,
        "revoke_session",
        access(&phone),
        json!({ "session_id": session_id(&bob) }),
    )
    .await;

    assert_eq!(json(revoked).await, json!(true));
    assert_eq!(json(someone_elses).await, json!(false));
    assert_ne!(
        app.refresh(str_of(&laptop, "refresh_token")).await.status(),
        200
    );
    assert_eq!(
        app.refresh(str_of(&bob, "refresh_token")).await.status(),
        200
    );
    let me = app
        .as_user(Method::GET, "/user", access(&laptop))
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.status(),
        403,
        "the revoked session's token no longer passes Auth"
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from auth.audit_log_entries where action = 'session_revoked' \
         and payload->>'session_id' = $1",
    )
    .bind(session_id(&laptop))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test]
async fn anonymous_callers_cannot_list_or_revoke_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let anon = app.anon_key.clone();

    let listed = rpc(&app, "my_sessions", &anon, json!({})).await;
    let revoked = rpc(
        &app,
        "revoke_session",
        &anon,
        json!({ "session_id": uuid::Uuid::new_v4() }),
    )
    .await;

    assert!(listed.status().is_client_error(), "{}", listed.status());
    assert!(revoked.status().is_client_error(), "{}", revoked.status());
}

/// Asserts that `caller`'s token can neither list the sessions nor revoke `target`'s: 403 PT403
/// with `message`.
async fn refused_both(app: &TestApp, caller: &Value, target: &Value, message: &str) {
    let listed = rpc(app, "my_sessions", access(caller), json!({})).await;
    let revoked = rpc(
        app,
        "revoke_session",
        access(caller),
        json!({ "session_id": session_id(target) }),
    )
    .await;
    for r in [listed, revoked] {
        assert_eq!(r.status(), 403);
        let body = json(r).await;
        assert_eq!(
            (&body["code"], &body["message"]),
            (&json!("PT403"), &json!(message)),
            "{body}"
        );
    }
}

#[sqlx::test]
async fn the_token_of_an_ended_session_can_neither_list_nor_revoke_sessions(pool: PgPool) {
    // An attacker evicted by a new password must not be able to watch the owner's new sessions
    // (addresses, user agents) and revoke them with the access token that has not expired yet.
    let app = TestApp::spawn(pool).await;
    let attacker = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let owner = app.sign_in("ann@example.com", PASSWORD).await;
    let r = app
        .as_user(Method::PUT, "/user", access(&owner))
        .json(&json!({ "password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    refused_both(
        &app,
        &attacker,
        &owner,
        "Session from session_id claim in JWT does not exist",
    )
    .await;
    let mine = rpc(&app, "my_sessions", access(&owner), json!({})).await;
    let ids: Vec<String> = json(mine)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|r| str_of(r, "id").to_owned())
        .collect();
    assert_eq!(
        ids,
        vec![session_id(&owner)],
        "the owner's session survives"
    );
}

#[sqlx::test]
async fn a_banned_user_can_neither_list_nor_revoke_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let laptop = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let phone = app.sign_in("ann@example.com", PASSWORD).await;
    let r = app
        .admin(Method::PUT, &format!("/admin/users/{}", user_id(&laptop)))
        .json(&json!({ "ban_duration": "24h" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    refused_both(&app, &laptop, &phone, "User is banned").await;
}
