//! The hourly auth cleanup (`jobs::auth_cleanup`): what can no longer be used goes, nothing else.

use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

use super::{PASSWORD, enroll, str_of};
use crate::harness::{TestApp, claims_of};

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn age(pool: &PgPool, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test]
async fn a_sweep_removes_expired_tokens_flows_challenges_and_ended_sessions_only(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("AUTH_SESSIONS_INACTIVITY_TIMEOUT_SECS", "600"),
            ("AUTH_MAIL_FREQUENCY_SECS", "0"),
        ],
    )
    .await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let idle = app.sign_in("ann@example.com", PASSWORD).await;
    app.signup_confirmed("bob@example.com", PASSWORD).await;
    for (email, challenge) in [("ann@example.com", "a"), ("bob@example.com", "b")] {
        let r = app
            .auth(Method::POST, "/recover")
            .json(&json!({ "email": email, "code_challenge": challenge.repeat(43), "code_challenge_method": "plain" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let factor = enroll(&app, str_of(&ann, "access_token")).await;
    for _ in 0..2 {
        let r = app
            .as_user(
                Method::POST,
                &format!("/factors/{}/challenge", factor.id),
                str_of(&ann, "access_token"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // Ann's recovery mail and flow are old enough to be useless, Bob's are fresh; one challenge is
    // two days old; the second session of Ann has been idle for an hour.
    let ann_id = str_of(&ann["user"], "id").to_owned();
    age(&pool, &format!("update auth.one_time_tokens set created_at = now() - interval '2 hours' where user_id = '{ann_id}'")).await;
    age(&pool, &format!("update auth.flow_state set created_at = now() - interval '2 hours' where user_id = '{ann_id}'")).await;
    age(&pool, "update auth.mfa_challenges set created_at = now() - interval '2 days' where ctid = (select min(ctid) from auth.mfa_challenges)").await;
    let idle_session = str_of(&claims_of(str_of(&idle, "access_token")), "session_id").to_owned();
    age(&pool, &format!("update auth.sessions set created_at = now() - interval '1 hour', refreshed_at = null where id = '{idle_session}'")).await;
    let before = (
        count(&pool, "auth.one_time_tokens").await,
        count(&pool, "auth.flow_state").await,
        count(&pool, "auth.mfa_challenges").await,
        count(&pool, "auth.sessions").await,
    );

    let swept = bizbase::jobs::auth_cleanup::sweep(&pool, &app.state.config.auth)
        .await
        .unwrap();

    assert_eq!(before, (2, 2, 2, 3));
    assert_eq!(
        (swept.tokens, swept.flows, swept.challenges, swept.sessions),
        (1, 1, 1, 1)
    );
    let bob_left: i64 = sqlx::query_scalar(
        "select count(*) from auth.one_time_tokens t join auth.users u on u.id = t.user_id \
         where u.email = 'bob@example.com'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(bob_left, 1, "fresh tokens stay");
    assert_eq!(
        app.refresh(str_of(&ann, "refresh_token")).await.status(),
        200,
        "live sessions stay"
    );
    let again = bizbase::jobs::auth_cleanup::sweep(&pool, &app.state.config.auth)
        .await
        .unwrap();
    assert_eq!(again, bizbase::jobs::auth_cleanup::Swept::default());
}
