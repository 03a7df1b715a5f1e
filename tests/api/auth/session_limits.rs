//! Session limits (§2.10 step 4): time-box, inactivity timeout, one session per user, and the
//! low-AAL limit for users with a second factor — each a `session_expired` on refresh.

use serde_json::Value;
use sqlx::PgPool;

use super::{PASSWORD, enroll, step_up, str_of};
use crate::harness::{TestApp, assert_error, claims_of, json};

/// Moves the session of `session` (a sign-in answer) back in time: created `created` seconds ago,
/// last refreshed `refreshed` seconds ago.
async fn age(pool: &PgPool, session: &Value, created: i64, refreshed: i64) {
    sqlx::query(
        "update auth.sessions set created_at = now() - make_interval(secs => $2), \
         refreshed_at = now() - make_interval(secs => $3) where id = $1::uuid",
    )
    .bind(str_of(
        &claims_of(str_of(session, "access_token")),
        "session_id",
    ))
    .bind(created as f64)
    .bind(refreshed as f64)
    .execute(pool)
    .await
    .unwrap();
}

async fn refresh_fails(app: &TestApp, session: &Value, message: &str) {
    let r = app.refresh(str_of(session, "refresh_token")).await;
    let body = assert_error(r, 400, "session_expired").await;
    assert_eq!(body["message"], message);
}

async fn refresh_works(app: &TestApp, session: &Value) {
    let r = app.refresh(str_of(session, "refresh_token")).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
}

#[sqlx::test]
async fn a_time_boxed_session_ends_and_its_tokens_never_outlive_it(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("AUTH_SESSIONS_TIMEBOX_SECS", "1800"),
            ("JWT_EXP_SECS", "3600"),
        ],
    )
    .await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let claims = claims_of(str_of(&session, "access_token"));
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(
        (1790..=1800).contains(&lifetime),
        "capped at the time-box: {lifetime}"
    );
    assert!(session["expires_in"].as_i64().unwrap() <= 1800);
    refresh_works(&app, &session).await;
    let fresh = app.sign_in("ann@example.com", PASSWORD).await;
    age(&pool, &fresh, 1801, 0).await;

    refresh_fails(&app, &fresh, "Invalid Refresh Token: Session Expired").await;
}

#[sqlx::test]
async fn a_session_not_refreshed_for_the_inactivity_timeout_ends(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool.clone(),
        &[("AUTH_SESSIONS_INACTIVITY_TIMEOUT_SECS", "600")],
    )
    .await;
    let idle = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let active = app.sign_in("ann@example.com", PASSWORD).await;
    age(&pool, &idle, 3600, 601).await;
    age(&pool, &active, 3600, 30).await;

    refresh_fails(
        &app,
        &idle,
        "Invalid Refresh Token: Session Expired (Inactivity)",
    )
    .await;
    refresh_works(&app, &active).await;
}

#[sqlx::test]
async fn with_one_session_per_user_a_new_sign_in_ends_the_older_ones(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), &[("AUTH_SESSIONS_SINGLE_PER_USER", "true")]).await;
    let first = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let other_user = app.signup_confirmed("bob@example.com", PASSWORD).await;

    let second = app.sign_in("ann@example.com", PASSWORD).await;

    refresh_fails(
        &app,
        &first,
        "Invalid Refresh Token: Session Expired (Revoked by Newer Login)",
    )
    .await;
    refresh_works(&app, &second).await;
    refresh_works(&app, &other_user).await;
}

#[sqlx::test]
async fn a_low_aal_session_of_a_user_with_a_factor_refreshes_only_for_a_while(pool: PgPool) {
    let app =
        TestApp::spawn_with(pool.clone(), &[("AUTH_SESSIONS_ALLOW_LOW_AAL_SECS", "300")]).await;
    let first = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, str_of(&first, "access_token")).await;
    let aal2 = step_up(&app, str_of(&first, "access_token"), &factor).await;
    let aal1 = app.sign_in("ann@example.com", PASSWORD).await;
    let without_factor = app.signup_confirmed("bob@example.com", PASSWORD).await;
    let lifetime = |s: &Value| {
        let claims = claims_of(str_of(s, "access_token"));
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap()
    };
    assert!(lifetime(&aal1) <= 300, "capped: {}", lifetime(&aal1));
    assert_eq!(lifetime(&aal2), 3600);
    assert_eq!(lifetime(&without_factor), 3600);
    for s in [&aal2, &aal1, &without_factor] {
        age(&pool, s, 301, 0).await;
    }

    refresh_fails(
        &app,
        &aal1,
        "Invalid Refresh Token: Session Expired (Low AAL: User Needs MFA Verification)",
    )
    .await;
    refresh_works(&app, &aal2).await;
    refresh_works(&app, &without_factor).await;
}

#[sqlx::test]
async fn without_limits_old_and_idle_sessions_keep_refreshing(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    app.sign_in("ann@example.com", PASSWORD).await;
    age(&pool, &session, 90 * 86_400, 30 * 86_400).await;

    let r = app.refresh(str_of(&session, "refresh_token")).await;

    assert_eq!(r.status(), 200);
    let claims = claims_of(str_of(&json(r).await, "access_token"));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
}
