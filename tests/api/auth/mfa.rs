//! MFA with TOTP and recovery codes: enroll, challenge, verify, unenroll (§2.9).

use reqwest::{Method, Response};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Enrolled, NEW_PASSWORD, PASSWORD, challenge, enroll, step_up, step_up_at, str_of,
    user_with_mfa, verify_factor, wrong_code,
};
use crate::harness::{TestApp, assert_error, base32_decode, claims_of, json, now, totp_code};

fn access(session: &Value) -> &str {
    str_of(session, "access_token")
}

fn methods(session: &Value) -> Vec<String> {
    claims_of(access(session))["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| str_of(a, "method").to_owned())
        .collect()
}

async fn get_user(app: &TestApp, token: &str) -> Response {
    app.as_user(Method::GET, "/user", token)
        .send()
        .await
        .unwrap()
}

async fn unenroll(app: &TestApp, token: &str, factor: &str) -> Response {
    app.as_user(Method::DELETE, &format!("/factors/{factor}"), token)
        .send()
        .await
        .unwrap()
}

#[sqlx::test]
async fn enrolment_returns_a_qr_code_secret_uri_and_ten_recovery_codes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let factor = enroll(&app, access(&session)).await;

    let body = &factor.body;
    assert_eq!(body["type"], "totp");
    assert!(str_of(&body["totp"], "qr_code").contains("<svg"));
    assert_eq!(base32_decode(&factor.secret).len(), 20);
    let uri = str_of(&body["totp"], "uri");
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={}", factor.secret)), "{uri}");
    let codes = body["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::HashSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);
    let user = json(get_user(&app, access(&session)).await).await;
    assert_eq!(user["factors"][0]["id"], factor.id.as_str());
    assert_eq!(user["factors"][0]["status"], "unverified");
}

#[sqlx::test]
async fn only_totp_factors_can_be_enrolled(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let enroll_as = |factor_type: &str| {
        app.as_user(Method::POST, "/factors", access(&session))
            .json(&json!({ "factor_type": factor_type }))
            .send()
    };

    let phone = enroll_as("phone").await.unwrap();
    let webauthn = enroll_as("webauthn").await.unwrap();
    let nonsense = enroll_as("carrier-pigeon").await.unwrap();

    assert_error(phone, 422, "mfa_phone_enroll_not_enabled").await;
    assert_error(webauthn, 422, "mfa_webauthn_enroll_not_enabled").await;
    assert_error(nonsense, 400, "validation_failed").await;
}

#[sqlx::test]
async fn a_challenge_expires_in_five_minutes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;

    let r = app
        .as_user(
            Method::POST,
            &format!("/factors/{}/challenge", factor.id),
            access(&session),
        )
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), 200);
    let body = json(r).await;
    assert_eq!(body["type"], "totp");
    assert!(Uuid::parse_str(str_of(&body, "id")).is_ok());
    let expires_at = body["expires_at"].as_u64().unwrap();
    assert!((now() + 290..=now() + 310).contains(&expires_at));
}

#[sqlx::test]
async fn the_right_code_raises_the_session_to_aal2_and_ends_other_aal1_sessions(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let elsewhere = app.sign_in("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let challenge = challenge(&app, access(&session), &factor.id).await;

    let r = verify_factor(
        &app,
        access(&session),
        &factor.id,
        &challenge,
        &totp_code(&factor.secret, now()),
    )
    .await;

    assert_eq!(r.status(), 200);
    let aal2 = json(r).await;
    let claims = claims_of(access(&aal2));
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(
        claims["session_id"],
        claims_of(access(&session))["session_id"]
    );
    let methods = methods(&aal2);
    assert!(methods.contains(&"totp".to_owned()), "{methods:?}");
    assert!(methods.contains(&"password".to_owned()), "{methods:?}");
    assert_ne!(aal2["refresh_token"], session["refresh_token"]);
    assert_eq!(aal2["user"]["factors"][0]["status"], "verified");
    assert_error(
        get_user(&app, access(&elsewhere)).await,
        403,
        "session_not_found",
    )
    .await;
    let refreshed = json(app.refresh(str_of(&aal2, "refresh_token")).await).await;
    assert_eq!(claims_of(access(&refreshed))["aal"], "aal2");
}

#[sqlx::test]
async fn a_wrong_code_fails_and_leaves_the_factor_unverified(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let challenge = challenge(&app, access(&session), &factor.id).await;
    let wrong = wrong_code(&factor.secret);

    let r = verify_factor(&app, access(&session), &factor.id, &challenge, &wrong).await;

    assert_error(r, 422, "mfa_verification_failed").await;
    let user = json(get_user(&app, access(&session)).await).await;
    assert_eq!(user["factors"][0]["status"], "unverified");
}

#[sqlx::test]
async fn an_empty_code_fails_validation(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let challenge = challenge(&app, access(&session), &factor.id).await;

    let r = verify_factor(&app, access(&session), &factor.id, &challenge, "").await;

    assert_error(r, 400, "validation_failed").await;
}

#[sqlx::test]
async fn a_used_code_cannot_be_replayed_for_a_new_challenge(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let code = totp_code(&factor.secret, now());
    let first = challenge(&app, access(&session), &factor.id).await;
    let used = verify_factor(&app, access(&session), &factor.id, &first, &code).await;
    assert_eq!(used.status(), 200);
    let later = app.sign_in("ann@example.com", PASSWORD).await;
    let second = challenge(&app, access(&later), &factor.id).await;

    let r = verify_factor(&app, access(&later), &factor.id, &second, &code).await;

    assert_error(r, 422, "mfa_verification_failed").await;
    assert_eq!(claims_of(access(&later))["aal"], "aal1");
}

#[sqlx::test]
async fn a_challenge_is_verified_only_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let challenge = challenge(&app, access(&session), &factor.id).await;
    let verified = verify_factor(
        &app,
        access(&session),
        &factor.id,
        &challenge,
        &totp_code(&factor.secret, now()),
    )
    .await;
    let aal2 = json(verified).await;

    let r = verify_factor(
        &app,
        access(&aal2),
        &factor.id,
        &challenge,
        &totp_code(&factor.secret, now() + 30),
    )
    .await;

    assert_error(r, 422, "mfa_ip_address_mismatch").await;
}

#[sqlx::test]
async fn an_unknown_challenge_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;

    let r = verify_factor(
        &app,
        access(&session),
        &factor.id,
        &Uuid::new_v4().to_string(),
        &totp_code(&factor.secret, now()),
    )
    .await;

    assert_error(r, 422, "mfa_factor_not_found").await;
}

#[sqlx::test]
async fn an_expired_challenge_is_refused(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let challenge = challenge(&app, access(&session), &factor.id).await;
    sqlx::query("update auth.mfa_challenges set created_at = now() - interval '6 minutes'")
        .execute(&pool)
        .await
        .unwrap();

    let r = verify_factor(
        &app,
        access(&session),
        &factor.id,
        &challenge,
        &totp_code(&factor.secret, now()),
    )
    .await;

    assert_error(r, 422, "mfa_challenge_expired").await;
}

#[sqlx::test]
async fn a_challenge_answered_from_another_ip_is_refused(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RATE_LIMIT_IP_HEADER", "x-forwarded-for")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let challenge = app
        .as_user(
            Method::POST,
            &format!("/factors/{}/challenge", factor.id),
            access(&session),
        )
        .header("x-forwarded-for", "10.0.0.1")
        .send()
        .await
        .unwrap();
    let challenge_id = str_of(&json(challenge).await, "id").to_owned();

    let r = app
        .as_user(
            Method::POST,
            &format!("/factors/{}/verify", factor.id),
            access(&session),
        )
        .header("x-forwarded-for", "10.0.0.2")
        .json(&json!({ "challenge_id": challenge_id, "code": totp_code(&factor.secret, now()) }))
        .send()
        .await
        .unwrap();

    assert_error(r, 422, "mfa_ip_address_mismatch").await;
}

#[sqlx::test]
async fn another_users_factor_is_not_found(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&ann)).await;
    let anns_challenge = challenge(&app, access(&ann), &factor.id).await;

    let challenged = app
        .as_user(
            Method::POST,
            &format!("/factors/{}/challenge", factor.id),
            access(&bob),
        )
        .send()
        .await
        .unwrap();
    let verified = verify_factor(
        &app,
        access(&bob),
        &factor.id,
        &anns_challenge,
        &totp_code(&factor.secret, now()),
    )
    .await;
    let unenrolled = unenroll(&app, access(&bob), &factor.id).await;

    assert_error(challenged, 404, "mfa_factor_not_found").await;
    assert_error(verified, 404, "mfa_factor_not_found").await;
    assert_error(unenrolled, 404, "mfa_factor_not_found").await;
}

#[sqlx::test]
async fn a_second_factor_needs_aal2_once_one_is_verified(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, _) = user_with_mfa(&app, "ann@example.com").await;
    let aal1 = app.sign_in("ann@example.com", PASSWORD).await;

    let at_aal1 = app
        .as_user(Method::POST, "/factors", access(&aal1))
        .json(&json!({ "factor_type": "totp", "friendly_name": "second" }))
        .send()
        .await
        .unwrap();
    let at_aal2 = app
        .as_user(Method::POST, "/factors", access(&aal2))
        .json(&json!({ "factor_type": "totp", "friendly_name": "second" }))
        .send()
        .await
        .unwrap();

    assert_error(at_aal1, 403, "insufficient_aal").await;
    assert_eq!(at_aal2.status(), 200);
}

#[sqlx::test]
async fn friendly_names_are_unique_per_user(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let ann = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let bob = app.signup_confirmed("bob@example.com", PASSWORD).await;
    let named = |session: &Value| {
        app.as_user(Method::POST, "/factors", access(session))
            .json(&json!({ "factor_type": "totp", "friendly_name": "phone" }))
            .send()
    };
    assert_eq!(named(&ann).await.unwrap().status(), 200);

    let again = named(&ann).await.unwrap();
    let other_user = named(&bob).await.unwrap();

    assert_error(again, 422, "mfa_factor_name_conflict").await;
    assert_eq!(other_user.status(), 200);
}

#[sqlx::test]
async fn a_recovery_code_passes_the_second_factor_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    step_up(&app, access(&session), &factor).await;
    let code = factor.body["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let later = app.sign_in("ann@example.com", PASSWORD).await;
    let first = challenge(&app, access(&later), &factor.id).await;

    let r = verify_factor(&app, access(&later), &factor.id, &first, &code).await;

    assert_eq!(r.status(), 200);
    let aal2 = json(r).await;
    assert_eq!(claims_of(access(&aal2))["aal"], "aal2");
    assert!(methods(&aal2).contains(&"recovery".to_owned()));
    let again = app.sign_in("ann@example.com", PASSWORD).await;
    let second = challenge(&app, access(&again), &factor.id).await;
    let reused = verify_factor(&app, access(&again), &factor.id, &second, &code).await;
    assert_error(reused, 422, "mfa_verification_failed").await;
}

#[sqlx::test]
async fn a_recovery_code_cannot_verify_a_new_factor(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;
    let code = factor.body["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let challenge = challenge(&app, access(&session), &factor.id).await;

    let r = verify_factor(&app, access(&session), &factor.id, &challenge, &code).await;

    assert_error(r, 422, "mfa_verification_failed").await;
}

fn recovery_code(factor: &Enrolled, index: usize) -> String {
    factor.body["recovery_codes"][index]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Signs `email` in again (aal1) and answers a new challenge of `factor` with `code`.
async fn recover_with(app: &TestApp, email: &str, factor: &str, code: &str) -> Response {
    let session = app.sign_in(email, PASSWORD).await;
    let challenge = challenge(app, access(&session), factor).await;
    verify_factor(app, access(&session), factor, &challenge, code).await
}

/// Through `via` (a factor id): the codes `old`'s enrolment returned are refused, `new`'s pass.
async fn assert_codes_replaced(app: &TestApp, via: &str, old: &Enrolled, new: &Enrolled) {
    let refused = recover_with(app, "ann@example.com", via, &recovery_code(old, 0)).await;
    assert_error(refused, 422, "mfa_verification_failed").await;
    let passed = recover_with(app, "ann@example.com", via, &recovery_code(new, 0)).await;
    assert_eq!(passed.status(), 200);
}

#[sqlx::test]
async fn an_abandoned_second_enrolment_leaves_the_saved_recovery_codes_working(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, first) = user_with_mfa(&app, "ann@example.com").await;
    let saved = recovery_code(&first, 0);

    enroll(&app, access(&aal2)).await;

    let r = recover_with(&app, "ann@example.com", &first.id, &saved).await;
    assert_eq!(r.status(), 200);
    let reused = recover_with(&app, "ann@example.com", &first.id, &saved).await;
    assert_error(reused, 422, "mfa_verification_failed").await;
}

#[sqlx::test]
async fn an_unenrolled_second_enrolment_leaves_the_saved_recovery_codes_working(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, first) = user_with_mfa(&app, "ann@example.com").await;
    let saved = recovery_code(&first, 0);
    let second = enroll(&app, access(&aal2)).await;

    let removed = unenroll(&app, access(&aal2), &second.id).await;

    assert_eq!(removed.status(), 200);
    let r = recover_with(&app, "ann@example.com", &first.id, &saved).await;
    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn the_recovery_codes_of_an_unverified_enrolment_are_not_accepted(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, first) = user_with_mfa(&app, "ann@example.com").await;
    let second = enroll(&app, access(&aal2)).await;

    let r = recover_with(
        &app,
        "ann@example.com",
        &first.id,
        &recovery_code(&second, 0),
    )
    .await;

    assert_error(r, 422, "mfa_verification_failed").await;
}

#[sqlx::test]
async fn verifying_another_factor_replaces_the_recovery_codes_with_its_own(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, first) = user_with_mfa(&app, "ann@example.com").await;
    let second = enroll(&app, access(&aal2)).await;

    step_up(&app, access(&aal2), &second).await;

    assert_codes_replaced(&app, &first.id, &first, &second).await;
}

#[sqlx::test]
async fn an_enrolment_says_whether_its_codes_will_replace_unused_ones(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let first = enroll(&app, access(&session)).await;
    let aal2 = step_up(&app, access(&session), &first).await;
    let second = enroll(&app, access(&aal2)).await;

    assert_eq!(first.body["replaces_recovery_codes"], false);
    assert_eq!(second.body["replaces_recovery_codes"], true);
}

#[sqlx::test]
async fn removing_the_only_factor_deletes_its_recovery_codes(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (aal2, factor) = user_with_mfa(&app, "ann@example.com").await;

    let removed = unenroll(&app, access(&aal2), &factor.id).await;

    assert_eq!(removed.status(), 200);
    let left: i64 = sqlx::query_scalar("select count(*) from auth.mfa_recovery_codes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test]
async fn removing_the_last_verified_factor_keeps_the_codes_of_a_pending_enrolment(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, first) = user_with_mfa(&app, "ann@example.com").await;
    let second = enroll(&app, access(&aal2)).await;
    assert_eq!(unenroll(&app, access(&aal2), &first.id).await.status(), 200);

    step_up(&app, access(&aal2), &second).await;

    assert_codes_replaced(&app, &second.id, &first, &second).await;
}

#[sqlx::test]
async fn the_verification_that_activates_recovery_codes_is_audited(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (_, factor) = user_with_mfa(&app, "ann@example.com").await;

    let r = recover_with(
        &app,
        "ann@example.com",
        &factor.id,
        &recovery_code(&factor, 0),
    )
    .await;

    assert_eq!(r.status(), 200);
    let activated: Vec<(String, bool)> = sqlx::query_as(
        "select payload->>'method', (payload->>'recovery_codes_activated')::boolean \
         from auth.audit_log_entries where action = 'mfa_verified' order by created_at",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        activated,
        [("totp".to_owned(), true), ("recovery".to_owned(), false)]
    );
}

#[sqlx::test]
async fn erasing_the_person_removes_their_active_and_pending_recovery_codes(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (aal2, _) = user_with_mfa(&app, "ann@example.com").await;
    enroll(&app, access(&aal2)).await;
    let codes = "select count(*) from auth.mfa_recovery_codes";
    let before: i64 = sqlx::query_scalar(codes).fetch_one(&pool).await.unwrap();

    sqlx::query("select private.subject_erase('ann@example.com')")
        .execute(&pool)
        .await
        .unwrap();

    let after: i64 = sqlx::query_scalar(codes).fetch_one(&pool).await.unwrap();
    assert_eq!((before, after), (20, 0));
}

#[sqlx::test]
async fn a_recovery_code_used_at_once_on_two_factors_passes_only_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, first) = user_with_mfa(&app, "ann@example.com").await;
    let second = enroll(&app, access(&aal2)).await;
    // Two aal2 sessions, so that neither verification ends the other (it ends aal1 sessions).
    let a = step_up(&app, access(&aal2), &second).await;
    let b = json(
        recover_with(
            &app,
            "ann@example.com",
            &first.id,
            &recovery_code(&second, 1),
        )
        .await,
    )
    .await;
    let code = recovery_code(&second, 0);
    let on_first = challenge(&app, access(&a), &first.id).await;
    let on_second = challenge(&app, access(&b), &second.id).await;

    let (ra, rb) = tokio::join!(
        verify_factor(&app, access(&a), &first.id, &on_first, &code),
        verify_factor(&app, access(&b), &second.id, &on_second, &code),
    );

    let mut statuses = [ra.status().as_u16(), rb.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 422]);
    let failed = if ra.status() == 422 { ra } else { rb };
    assert_error(failed, 422, "mfa_verification_failed").await;
}

#[sqlx::test]
async fn a_password_change_at_aal1_needs_the_second_factor(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (aal2, _) = user_with_mfa(&app, "ann@example.com").await;
    let aal1 = app.sign_in("ann@example.com", PASSWORD).await;
    let change = |session: &Value| {
        app.as_user(Method::PUT, "/user", access(session))
            .json(&json!({ "password": NEW_PASSWORD }))
            .send()
    };

    let at_aal1 = change(&aal1).await.unwrap();
    let at_aal2 = change(&aal2).await.unwrap();

    assert_error(at_aal1, 401, "insufficient_aal").await;
    assert_eq!(at_aal2.status(), 200);
}

#[sqlx::test]
async fn unenrolling_a_verified_factor_needs_aal2_and_downgrades_the_session(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (aal2, factor) = user_with_mfa(&app, "ann@example.com").await;
    let aal1 = app.sign_in("ann@example.com", PASSWORD).await;

    let refused = unenroll(&app, access(&aal1), &factor.id).await;
    let removed = unenroll(&app, access(&aal2), &factor.id).await;

    assert_error(refused, 422, "insufficient_aal").await;
    assert_eq!(removed.status(), 200);
    assert_eq!(json(removed).await, json!({ "id": factor.id }));
    let session_id = Uuid::parse_str(str_of(&claims_of(access(&aal2)), "session_id")).unwrap();
    let aal: String = sqlx::query_scalar("select aal from auth.sessions where id = $1")
        .bind(session_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(aal, "aal1");
    let refreshed = json(app.refresh(str_of(&aal2, "refresh_token")).await).await;
    assert_eq!(claims_of(access(&refreshed))["aal"], "aal1");
    assert!(!methods(&refreshed).contains(&"totp".to_owned()));
    let user = json(get_user(&app, access(&refreshed)).await).await;
    assert!(user.get("factors").is_none());
}

#[sqlx::test]
async fn an_unverified_factor_can_be_unenrolled_at_aal1(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;

    let r = unenroll(&app, access(&session), &factor.id).await;

    assert_eq!(r.status(), 200);
}

#[sqlx::test]
async fn a_later_code_passes_a_new_challenge(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, factor) = user_with_mfa(&app, "ann@example.com").await;
    let later = app.sign_in("ann@example.com", PASSWORD).await;

    let aal2 = step_up_at(&app, access(&later), &factor, now() + 30).await;

    assert_eq!(claims_of(access(&aal2))["aal"], "aal2");
}

#[sqlx::test]
async fn totp_secrets_are_stored_encrypted(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let factor = enroll(&app, access(&session)).await;

    let stored: Vec<u8> = sqlx::query_scalar("select secret from auth.mfa_factors where id = $1")
        .bind(Uuid::parse_str(&factor.id).unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();

    let secret = base32_decode(&factor.secret);
    assert!(stored.len() > secret.len());
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_slice()));
    assert!(
        !stored
            .windows(factor.secret.len())
            .any(|w| w == factor.secret.as_bytes())
    );
}

#[sqlx::test]
async fn verifying_a_factor_discards_the_other_unverified_factors(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    let abandoned = enroll(&app, access(&session)).await;
    let kept = enroll(&app, access(&session)).await;

    let aal2 = step_up(&app, access(&session), &kept).await;

    let factors = aal2["user"]["factors"].as_array().unwrap();
    assert_eq!(factors.len(), 1);
    assert_eq!(factors[0]["id"], kept.id.as_str());
    assert_ne!(abandoned.id, kept.id);
}

#[sqlx::test]
async fn at_most_ten_factors_can_be_enrolled(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;
    for _ in 0..10 {
        enroll(&app, access(&session)).await;
    }

    let r = app
        .as_user(Method::POST, "/factors", access(&session))
        .json(&json!({ "factor_type": "totp" }))
        .send()
        .await
        .unwrap();

    assert_error(r, 422, "too_many_enrolled_mfa_factors").await;
}

#[sqlx::test]
async fn an_email_change_at_aal1_needs_the_second_factor(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    user_with_mfa(&app, "ann@example.com").await;
    let aal1 = app.sign_in("ann@example.com", PASSWORD).await;

    let r = app
        .as_user(Method::PUT, "/user", access(&aal1))
        .json(&json!({ "email": "ann@new.example" }))
        .send()
        .await
        .unwrap();

    assert_error(r, 401, "insufficient_aal").await;
}

#[sqlx::test]
async fn the_issuer_and_the_account_appear_in_the_uri(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let r = app
        .as_user(Method::POST, "/factors", access(&session))
        .json(&json!({ "factor_type": "totp", "issuer": "Acme" }))
        .send()
        .await
        .unwrap();

    let body = json(r).await;
    let secret = str_of(&body["totp"], "secret");
    assert_eq!(
        str_of(&body["totp"], "uri"),
        format!(
            "otpauth://totp/Acme:ann@example.com?algorithm=SHA1&digits=6&issuer=Acme&period=30&secret={secret}"
        )
    );
}

#[sqlx::test]
async fn the_uri_names_the_site_host_as_issuer_and_the_qr_code_encodes_it(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("SITE_URL", "http://127.0.0.1:18402")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let factor = enroll(&app, access(&session)).await;

    // The Key Uri Format reads both ':' and '%3A' in the label as the issuer separator, so an
    // issuer with a port (GoTrue's default: the site URL's host) is named by the parameter only.
    let totp = &factor.body["totp"];
    let uri = str_of(totp, "uri");
    assert_eq!(
        uri,
        format!(
            "otpauth://totp/ann@example.com?algorithm=SHA1&digits=6&issuer=127.0.0.1%3A18402&period=30&secret={}",
            factor.secret
        )
    );
    assert_eq!(
        str_of(totp, "qr_code"),
        bizbase::auth::totp::qr_svg(uri).unwrap()
    );
}

#[sqlx::test]
async fn the_configured_issuer_is_percent_encoded_in_the_label_and_the_parameters(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("MFA_ISSUER", "Acme & Co")]).await;
    let session = app.signup_confirmed("ann@example.com", PASSWORD).await;

    let factor = enroll(&app, access(&session)).await;

    assert_eq!(
        str_of(&factor.body["totp"], "uri"),
        format!(
            "otpauth://totp/Acme%20%26%20Co:ann@example.com?algorithm=SHA1&digits=6&issuer=Acme%20%26%20Co&period=30&secret={}",
            factor.secret
        )
    );
}

/// The status of `r` and the `code` of its body, if any.
async fn status_and_code(r: Response) -> (u16, Option<String>) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().map(str::to_owned))
}

#[sqlx::test]
async fn two_factors_of_one_user_verified_at_once_take_turns_instead_of_deadlocking(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("RATE_LIMIT_MFA", "1000")]).await;
    let mut answers = Vec::new();

    for round in 0..10 {
        let email = format!("ann{round}@example.com");
        let first = app.signup_confirmed(&email, PASSWORD).await;
        // Even rounds verify both factors from one session, odd rounds from two devices (each
        // verification then also ends the other device's aal1 session).
        let second = if round % 2 == 0 {
            first.clone()
        } else {
            app.sign_in(&email, PASSWORD).await
        };
        let a = enroll(&app, access(&first)).await;
        let b = enroll(&app, access(&first)).await;
        let on_a = challenge(&app, access(&first), &a.id).await;
        let on_b = challenge(&app, access(&second), &b.id).await;
        let (code_a, code_b) = (totp_code(&a.secret, now()), totp_code(&b.secret, now()));

        let (ra, rb) = tokio::join!(
            verify_factor(&app, access(&first), &a.id, &on_a, &code_a),
            verify_factor(&app, access(&second), &b.id, &on_b, &code_b),
        );

        answers.push((round, status_and_code(ra).await, status_and_code(rb).await));
    }

    // Each verification discards the other's (unverified) factor, so exactly one wins a round;
    // the other is refused with a GoTrue code, never a 500.
    let wrong: Vec<_> = answers
        .iter()
        .filter(|(_, a, b)| {
            let refused = |(status, code): &(u16, Option<String>)| {
                (400..500).contains(status) && code.is_some()
            };
            !(a.0 == 200 && refused(b) || b.0 == 200 && refused(a))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}
