//! The `/auth/v1` routes (GoTrue-compatible; see `reference/supabase-api.md` §2).

mod admin;
mod factors;
mod recover;
mod settings;
mod signup;
mod token;
mod user;
mod verify;

use axum::{
    Router, middleware,
    routing::{delete, get, post},
};
use serde::Deserialize;

use super::{gateway, password, user::UserRow};
use crate::{
    app::AppState,
    error::{AppError, AppResult},
};

/// The `/auth/v1` router, behind the gateway rules.
pub fn router(state: AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/signup", post(signup::post_signup))
        .route("/token", post(token::post_token))
        .route("/user", get(user::get_user).put(user::put_user))
        .route("/logout", post(user::post_logout))
        .route(
            "/user/identities/authorize",
            get(user::manual_linking_disabled),
        )
        .route(
            "/user/identities/{id}",
            delete(user::manual_linking_disabled),
        )
        .route(
            "/reauthenticate",
            get(user::get_reauthenticate).post(user::get_reauthenticate),
        )
        .route("/recover", post(recover::post_recover))
        .route("/otp", post(recover::post_otp))
        .route("/magiclink", post(recover::post_otp))
        .route("/resend", post(recover::post_resend))
        .route("/verify", get(verify::get_verify).post(verify::post_verify))
        .route("/settings", get(settings::get_settings))
        .route("/health", get(settings::get_health))
        .route("/.well-known/jwks.json", get(settings::get_jwks))
        .route("/invite", post(admin::post_invite))
        .route(
            "/admin/users",
            get(admin::list_users).post(admin::create_user),
        )
        .route(
            "/admin/users/{id}",
            get(admin::get_user)
                .put(admin::update_user)
                .delete(admin::delete_user),
        )
        .route("/admin/users/{id}/factors", get(admin::list_factors))
        .route(
            "/admin/users/{id}/factors/{factor_id}",
            delete(admin::delete_factor).put(admin::update_factor),
        )
        .route("/admin/generate_link", post(admin::generate_link))
        .route("/admin/audit", get(admin::list_audit))
        .route("/factors", post(factors::post_factor))
        .route("/factors/{id}/challenge", post(factors::post_challenge))
        .route("/factors/{id}/verify", post(factors::post_verify))
        .route("/factors/{id}", delete(factors::delete_factor));
    Router::new()
        .nest("/auth/v1", routes)
        .layer(middleware::from_fn_with_state(
            state,
            gateway::require_apikey,
        ))
}

/// `?redirect_to=` on the mail-sending endpoints.
#[derive(Debug, Default, Deserialize)]
pub struct RedirectQuery {
    /// Where e-mailed links lead after verification.
    pub redirect_to: Option<String>,
}

/// Validates and normalizes an e-mail address (trimmed, lower-case).
pub fn parse_email(raw: Option<&str>) -> AppResult<String> {
    let email = raw.map(str::trim).unwrap_or_default().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(AppError::validation(
            "Unable to validate email address: invalid format",
        ))
    }
}

/// Checks a new password against the configured policy.
pub async fn check_password(app: &AppState, password: &str) -> AppResult<()> {
    let reasons = policy_weakness(app, password);
    if !reasons.is_empty() {
        return Err(AppError::WeakPassword { reasons });
    }
    if let Some(pwned) = &app.auth.pwned
        && pwned.is_pwned(password).await?
    {
        return Err(AppError::WeakPassword {
            reasons: vec!["pwned"],
        });
    }
    Ok(())
}

/// What the configured strength policy finds wrong with `password` (GoTrue's reasons; empty: none).
pub fn policy_weakness(app: &AppState, password: &str) -> Vec<&'static str> {
    let policy = &app.config.auth;
    password::weakness(
        password,
        policy.password_min_length,
        &policy.password_required_characters,
    )
}

/// Whether a user has at least one verified MFA factor.
pub async fn has_verified_factor(
    conn: &mut sqlx::PgConnection,
    user: &UserRow,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists(select 1 from auth.mfa_factors where user_id = $1 and status = 'verified')",
    )
    .bind(user.id)
    .fetch_one(conn)
    .await
}

/// Refuses a request that names a phone number: bizbase has no SMS provider, so phone sign-ins,
/// OTPs and verifications answer as GoTrue does with the phone provider off.
pub fn refuse_phone(phone: Option<&str>, message: &'static str) -> AppResult<()> {
    if phone.is_some_and(|p| !p.trim().is_empty()) {
        return Err(AppError::bad_request("phone_provider_disabled", message));
    }
    Ok(())
}

/// `insufficient_aal` unless the session passed its second factor (when the user has one).
pub async fn require_aal_for_user(
    conn: &mut sqlx::PgConnection,
    user: &UserRow,
    aal: &str,
    status: axum::http::StatusCode,
) -> AppResult<()> {
    if aal != "aal2" && has_verified_factor(conn, user).await? {
        return Err(AppError::client(
            status.as_u16(),
            "insufficient_aal",
            "AAL2 session is required to update email or password when MFA is enabled.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_email;

    #[test]
    fn emails_are_normalized_and_validated() {
        assert_eq!(
            parse_email(Some("  Ann@Example.COM ")).unwrap(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.com",
            "ann@example",
            "a b@example.com",
            "a@b@c.com",
            "ann@.com",
        ] {
            assert!(parse_email(Some(bad)).is_err(), "{bad}");
        }
        assert!(parse_email(None).is_err());
    }
}
