//! `/auth/v1`: every flow and error of Supabase Auth (GoTrue) as bizbase serves it
//! (`reference/supabase-api.md` §1–§2), against the real router and a fresh database per test.

mod admin;
mod audit;
mod cleanup;
mod gateway;
mod hooks;
mod jwks;
mod mfa;
mod pkce;
mod pwned;
mod rate_limits;
mod recover;
mod refresh;
mod session_limits;
mod sessions_rpc;
mod signup;
mod smtp;
mod templates;
mod tenancy;
mod token;
mod user;

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::{TestApp, json, now, totp_code};

/// A password that passes the default policy.
pub const PASSWORD: &str = "correct-horse-42";

/// Another one, for password changes.
pub const NEW_PASSWORD: &str = "battery-staple-77";

/// Settings of flow tests that send several mails to one address or refresh in quick succession.
pub const NO_WAITING: &[(&str, &str)] = &[
    ("AUTH_MAIL_FREQUENCY_SECS", "0"),
    ("AUTH_REFRESH_REUSE_INTERVAL_SECS", "0"),
];

/// [`NO_WAITING`], and e-mail changes confirmed from the new address alone (secure e-mail change,
/// the default, off).
pub const NO_WAITING_ONE_LEG: &[(&str, &str)] = &[
    ("AUTH_MAIL_FREQUENCY_SECS", "0"),
    ("AUTH_REFRESH_REUSE_INTERVAL_SECS", "0"),
    ("AUTH_SECURE_EMAIL_CHANGE", "false"),
];

/// The string at `key` of a JSON object.
pub fn str_of<'a>(body: &'a Value, key: &str) -> &'a str {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {body}"))
}

/// The user id of a session or user body.
pub fn user_id(session_or_user: &Value) -> String {
    let user = if session_or_user.get("user").is_some() {
        &session_or_user["user"]
    } else {
        session_or_user
    };
    str_of(user, "id").to_owned()
}

/// A TOTP factor as `POST /factors` answers it.
pub struct Enrolled {
    /// The factor id.
    pub id: String,
    /// The base32 secret.
    pub secret: String,
    /// The whole answer.
    pub body: Value,
}

/// Enrolls a TOTP factor for the holder of `token`.
pub async fn enroll(app: &TestApp, token: &str) -> Enrolled {
    let r = app
        .as_user(Method::POST, "/factors", token)
        .json(&json!({ "factor_type": "totp" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "enrolment failed");
    let body = json(r).await;
    Enrolled {
        id: str_of(&body, "id").to_owned(),
        secret: str_of(&body["totp"], "secret").to_owned(),
        body,
    }
}

/// Starts a challenge of `factor` and returns its id.
pub async fn challenge(app: &TestApp, token: &str, factor: &str) -> String {
    let r = app
        .as_user(Method::POST, &format!("/factors/{factor}/challenge"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "challenge failed");
    str_of(&json(r).await, "id").to_owned()
}

/// Answers `challenge` of `factor` with `code`.
pub async fn verify_factor(
    app: &TestApp,
    token: &str,
    factor: &str,
    challenge: &str,
    code: &str,
) -> Response {
    app.as_user(Method::POST, &format!("/factors/{factor}/verify"), token)
        .json(&json!({ "challenge_id": challenge, "code": code }))
        .send()
        .await
        .unwrap()
}

/// A 6-digit code that is not the TOTP code of `secret` anywhere in the accepted window.
pub fn wrong_code(secret: &str) -> String {
    let valid: Vec<String> = [now() - 30, now(), now() + 30]
        .into_iter()
        .map(|t| totp_code(secret, t))
        .collect();
    ["000000", "111111", "222222", "333333"]
        .into_iter()
        .find(|c| !valid.iter().any(|v| v == c))
        .unwrap()
        .to_owned()
}

/// Passes the second factor with the TOTP code of `unix_time` (±30 s of now are accepted, and
/// each time step only once); returns the aal2 session.
pub async fn step_up_at(app: &TestApp, token: &str, factor: &Enrolled, unix_time: u64) -> Value {
    let challenge = challenge(app, token, &factor.id).await;
    let r = verify_factor(
        app,
        token,
        &factor.id,
        &challenge,
        &totp_code(&factor.secret, unix_time),
    )
    .await;
    assert_eq!(r.status(), 200, "MFA verification failed");
    json(r).await
}

/// Passes the second factor with the current TOTP code.
pub async fn step_up(app: &TestApp, token: &str, factor: &Enrolled) -> Value {
    step_up_at(app, token, factor, now()).await
}

/// Signs `email` up (confirmed), enrolls and verifies a TOTP factor; returns the aal2 session
/// and the factor.
pub async fn user_with_mfa(app: &TestApp, email: &str) -> (Value, Enrolled) {
    let session = app.signup_confirmed(email, PASSWORD).await;
    let token = str_of(&session, "access_token");
    let factor = enroll(app, token).await;
    let aal2 = step_up(app, token, &factor).await;
    (aal2, factor)
}
