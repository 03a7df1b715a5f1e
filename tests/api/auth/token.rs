//! `POST /token?grant_type=password` (§2.3, §2.5, §2.7 "Password sign-in").

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{PASSWORD, str_of, user_id};
use crate::harness::{TestApp, assert_error, claims_of, json, now};

#[sqlx::test]
async fn a_password_grant_returns_a_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = app.password_grant("ann@example.com", PASSWORD).await;

    assert_eq!(r.status(), 200);
    let session = json(r).await;
    assert!(!str_of(&session, "access_token").is_empty());
    assert!(!str_of(&session, "refresh_token").is_empty());
    assert_eq!(session["token_type"], "bearer");
    assert_eq!(session["expires_in"], 3600);
    let expires_at = session["expires_at"].as_u64().unwrap();
    assert!((now() + 3590..=now() + 3610).contains(&expires_at));
    assert_eq!(session["user"]["email"], "ann@example.com");
    assert!(session["user"]["last_sign_in_at"].is_string());
}

#[sqlx::test]
async fn the_email_is_matched_case_insensitively(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = app.password_grant(" Ann@Example.COM ", PASSWORD).await;

    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn the_access_token_carries_gotrues_claims(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let claims = claims_of(str_of(&session, "access_token"));

    assert_eq!(
        claims["iss"],
        format!("{}/auth/v1", app.state.config.public_url)
    );
    assert!(str_of(&claims, "iss").ends_with("/auth/v1"));
    assert_eq!(claims["sub"], user_id(&session));
    assert_eq!(claims["aud"], "authenticated");
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["aal"], "aal1");
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["phone"], "");
    assert_eq!(claims["is_anonymous"], false);
    assert_eq!(claims["app_metadata"]["provider"], "email");
    assert_eq!(claims["app_metadata"]["orgs"], json!({}));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let amr = claims["amr"].as_array().unwrap();
    assert_eq!(amr.len(), 1);
    assert_eq!(amr[0]["method"], "password");
    assert!(amr[0]["timestamp"].as_i64().unwrap() > 0);
    let session_id = Uuid::parse_str(str_of(&claims, "session_id")).unwrap();
    let owner: Uuid = sqlx::query_scalar("select user_id from auth.sessions where id = $1")
        .bind(session_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(owner.to_string(), user_id(&session));
}

#[sqlx::test]
async fn a_wrong_password_and_an_unknown_email_get_identical_answers(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let wrong_password = app
        .password_grant("ann@example.com", "wrong-password")
        .await;
    let unknown_email = app.password_grant("bob@example.com", PASSWORD).await;

    let a = assert_error(wrong_password, 400, "invalid_credentials").await;
    let b = assert_error(unknown_email, 400, "invalid_credentials").await;
    assert_eq!(a, b);
}

#[sqlx::test]
async fn an_unconfirmed_user_cannot_sign_in(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let r = app.password_grant("ann@example.com", PASSWORD).await;

    assert_error(r, 400, "email_not_confirmed").await;
}

#[sqlx::test]
async fn a_banned_user_cannot_sign_in_until_unbanned(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let id = user_id(&session);
    let ban = |duration: &str| {
        app.admin(Method::PUT, &format!("/admin/users/{id}"))
            .json(&json!({ "ban_duration": duration }))
            .send()
    };

    let banned = ban("24h").await.unwrap();
    let refused = app.password_grant("ann@example.com", PASSWORD).await;
    let unbanned = ban("none").await.unwrap();
    let allowed = app.password_grant("ann@example.com", PASSWORD).await;

    assert!(json(banned).await["banned_until"].is_string());
    assert_error(refused, 400, "user_banned").await;
    assert!(json(unbanned).await.get("banned_until").is_none());
    assert_eq!(allowed.status(), 200);
}

/// As GoTrue: a ban refuses the user's sessions with `user_banned` (so an app can say why), and
/// lifting it lets them go on.
#[sqlx::test]
async fn a_ban_refuses_the_users_sessions_until_lifted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let ban = |duration: &str| {
        app.admin(Method::PUT, &format!("/admin/users/{}", user_id(&session)))
            .json(&json!({ "ban_duration": duration }))
            .send()
    };
    let me = || {
        app.as_user(Method::GET, "/user", str_of(&session, "access_token"))
            .send()
    };

    assert_eq!(ban("1h30m").await.unwrap().status(), 200);
    assert_error(me().await.unwrap(), 403, "user_banned").await;
    let refused = app.refresh(str_of(&session, "refresh_token")).await;
    assert_error(refused, 400, "user_banned").await;

    assert_eq!(ban("none").await.unwrap().status(), 200);
    assert_eq!(me().await.unwrap().status(), 200);
    let refreshed = app.refresh(str_of(&session, "refresh_token")).await;
    assert_eq!(refreshed.status(), 200);
}

/// As GoTrue: a banned user can still sign out — everywhere, to throw out whoever had taken over
/// the account before the ban is lifted and the sessions from before it could refresh again.
#[sqlx::test]
async fn a_banned_user_can_still_sign_out_everywhere(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let owner = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let intruder = app.sign_in("ann@example.com", PASSWORD).await;
    let id = user_id(&owner);
    let ban = |duration: &str| {
        app.admin(Method::PUT, &format!("/admin/users/{id}"))
            .json(&json!({ "ban_duration": duration }))
            .send()
    };
    assert_eq!(ban("24h").await.unwrap().status(), 200);

    let r = app
        .as_user(
            Method::POST,
            "/logout?scope=global",
            str_of(&owner, "access_token"),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 204);
    assert_eq!(ban("none").await.unwrap().status(), 200);
    for session in [&owner, &intruder] {
        let r = app.refresh(str_of(session, "refresh_token")).await;
        assert_error(r, 400, "refresh_token_not_found").await;
    }
}

#[sqlx::test]
async fn an_unsupported_grant_type_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;

    for path in ["/token?grant_type=magic", "/token"] {
        let r = app
            .auth(Method::POST, path)
            .json(&json!({ "email": "ann@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap();

        let body = assert_error(r, 400, "invalid_credentials").await;
        assert_eq!(body["message"], "unsupported_grant_type", "{path}");
    }
}

#[sqlx::test]
async fn an_imported_bcrypt_hash_signs_in_and_is_upgraded_to_argon2id(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let created = app
        .admin(Method::POST, "/admin/users")
        .json(&json!({ "email": "ann@example.com", "password_hash": hash, "email_confirm": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);

    let first = app.password_grant("ann@example.com", PASSWORD).await;

    assert_eq!(first.status(), 200);
    let stored: String =
        sqlx::query_scalar("select encrypted_password from auth.users where email = $1")
            .bind("ann@example.com")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    app.sign_in("ann@example.com", PASSWORD).await;
    let wrong = app
        .password_grant("ann@example.com", "not-the-password")
        .await;
    assert_error(wrong, 400, "invalid_credentials").await;
}

#[sqlx::test]
async fn each_sign_in_starts_a_new_session(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let first = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let second = app.sign_in("ann@example.com", PASSWORD).await;

    let session_of =
        |s: &Value| str_of(&claims_of(str_of(s, "access_token")), "session_id").to_owned();
    assert_ne!(session_of(&first), session_of(&second));
    let sessions: i64 = sqlx::query_scalar("select count(*) from auth.sessions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(sessions, 2);
}

#[sqlx::test]
async fn the_access_token_lifetime_follows_the_configuration(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("JWT_EXP_SECS", "120")]).await;

    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    assert_eq!(session["expires_in"], 120);
    let claims = claims_of(str_of(&session, "access_token"));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
}

/// Argon2 costs above the harness's cheap default, for the hashing tests.
const STRONGER_HASHING: &[(&str, &str)] =
    &[("ARGON2_MEMORY_KIB", "1024"), ("ARGON2_ITERATIONS", "2")];

async fn stored_hash(pool: &PgPool, email: &str) -> String {
    sqlx::query_scalar("select encrypted_password from auth.users where email = $1")
        .bind(email)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn passwords_are_stored_as_argon2id_with_the_configured_cost(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), STRONGER_HASHING).await;

    app.signup_confirmed("ann@example.com", PASSWORD).await;

    let hash = stored_hash(&pool, "ann@example.com").await;
    assert!(hash.starts_with("$argon2id$v=19$m=1024,t=2,p=1$"), "{hash}");
}

#[sqlx::test]
async fn a_hash_cheaper_than_the_configured_cost_is_upgraded_at_sign_in(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), STRONGER_HASHING).await;
    let cheap = bizbase::auth::password::Passwords::new(bizbase::config::auth::Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .hash_blocking(PASSWORD)
    .unwrap();
    app.admin(Method::POST, "/admin/users")
        .json(&json!({ "email": "ann@example.com", "password_hash": cheap, "email_confirm": true }))
        .send()
        .await
        .unwrap();

    app.sign_in("ann@example.com", PASSWORD).await;

    let hash = stored_hash(&pool, "ann@example.com").await;
    assert!(hash.starts_with("$argon2id$v=19$m=1024,t=2,p=1$"), "{hash}");
}

#[sqlx::test]
async fn a_sign_in_stamps_updated_at_and_so_does_any_other_update(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let id = Uuid::parse_str(&user_id(&session)).unwrap();
    let stale = || async {
        sqlx::query("update auth.users set updated_at = '2000-01-01Z' where id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    };
    // (updated_at = last_sign_in_at, updated_at is in the last minute)
    let stamps = || async {
        sqlx::query_as::<_, (bool, bool)>(
            "select updated_at = last_sign_in_at, updated_at > now() - interval '1 minute' \
             from auth.users where id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };

    stale().await;
    assert_eq!(stamps().await, (false, false), "an explicit value is kept");
    assert_eq!(
        app.password_grant("ann@example.com", PASSWORD)
            .await
            .status(),
        200
    );
    assert_eq!(
        stamps().await,
        (true, true),
        "the sign-in stamps updated_at"
    );

    stale().await;
    sqlx::query("update auth.users set raw_user_meta_data = '{\"a\": 1}' where id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        stamps().await.1,
        "an update not naming updated_at still stamps it"
    );
}

#[sqlx::test]
async fn a_password_the_policy_finds_weak_signs_in_and_says_so(pool: PgPool) {
    // PASSWORD passed the policy it was set under; the policy has since grown stricter.
    let app = TestApp::spawn_with(
        pool,
        &[
            ("AUTH_PASSWORD_MIN_LENGTH", "20"),
            ("AUTH_PASSWORD_REQUIRED_CHARACTERS", "upper"),
        ],
    )
    .await;
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    let long = "a-long-and-Upper-case-passphrase";
    for (email, hash) in [
        ("ann@example.com", hash),
        ("bob@example.com", bcrypt::hash(long, 4).unwrap()),
    ] {
        let r = app
            .admin(Method::POST, "/admin/users")
            .json(&json!({ "email": email, "password_hash": hash, "email_confirm": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    let weak = json(app.password_grant("ann@example.com", PASSWORD).await).await;
    let strong = json(app.password_grant("bob@example.com", long).await).await;

    assert!(weak["access_token"].is_string(), "{weak}");
    assert_eq!(
        weak["weak_password"]["reasons"],
        json!(["length", "characters"])
    );
    assert!(
        weak["weak_password"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too short")),
        "{weak}"
    );
    assert!(strong["access_token"].is_string(), "{strong}");
    assert!(strong.get("weak_password").is_none(), "{strong}");
}
