//! Mail templates (`BIZBASE_MAIL_TEMPLATES_DIR`): GoTrue's variables, so a Supabase template — such
//! as the Next.js server-side confirm link — carries over.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;

use super::recover::post;
use super::{PASSWORD, str_of};
use crate::harness::{TestApp, json, latest_mail};

/// A template directory with a confirmation mail as the Next.js server-side guide writes it.
pub(super) fn nextjs_templates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("confirmation.subject"),
        "Welcome to Acme, {{ .Data.name }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("confirmation.txt"),
        "Confirm: {{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email\nCode: {{ .Token }}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("confirmation.html"),
        "<p>Hi {{ .Data.name }}</p><a href=\"{{ .SiteURL }}/auth/confirm?token_hash={{ .TokenHash }}&type=email\">Confirm</a>",
    )
    .unwrap();
    dir
}

/// The `token_hash` of the app's own confirm link in a templated mail.
fn app_token_hash(mail: &Value) -> String {
    let text = str_of(mail, "text");
    let after = text.split("token_hash=").nth(1).unwrap();
    after.split('&').next().unwrap().to_owned()
}

#[sqlx::test]
async fn templated_mails_carry_the_apps_own_link_whose_token_hash_verifies(pool: PgPool) {
    let dir = nextjs_templates();
    let app = TestApp::spawn_with(
        pool.clone(),
        &[
            ("SITE_URL", "https://app.example.com"),
            ("MAIL_TEMPLATES_DIR", dir.path().to_str().unwrap()),
        ],
    )
    .await;
    app.signup(
        json!({ "email": "ann@example.com", "password": PASSWORD, "data": { "name": "Ann <3" } }),
    )
    .await;

    let mail = latest_mail(&pool, "ann@example.com", "confirmation")
        .await
        .unwrap();

    assert_eq!(mail["subject"], "Welcome to Acme, Ann <3");
    let text = str_of(&mail, "text");
    assert!(
        text.starts_with("Confirm: https://app.example.com/auth/confirm?token_hash="),
        "{text}"
    );
    let html = str_of(&mail, "html");
    assert!(
        html.starts_with(
            "<p>Hi Ann &lt;3</p><a href=\"https://app.example.com/auth/confirm?token_hash="
        ),
        "{html}"
    );
    let verified = post(
        &app,
        "/verify",
        json!({ "type": "email", "token_hash": app_token_hash(&mail) }),
    )
    .await;
    assert_eq!(verified.status(), 200);
    assert!(json(verified).await["user"]["email_confirmed_at"].is_string());
}

#[sqlx::test]
async fn a_pkce_sign_up_puts_the_pkce_token_in_the_template(pool: PgPool) {
    let dir = nextjs_templates();
    let app = TestApp::spawn_with(
        pool.clone(),
        &[("MAIL_TEMPLATES_DIR", dir.path().to_str().unwrap())],
    )
    .await;
    app.signup(json!({
        "email": "ann@example.com", "password": PASSWORD,
        "code_challenge": "x".repeat(43), "code_challenge_method": "plain"
    }))
    .await;
    let mail = latest_mail(&pool, "ann@example.com", "confirmation")
        .await
        .unwrap();

    let token_hash = app_token_hash(&mail);
    let verified = post(
        &app,
        "/verify",
        json!({ "type": "email", "token_hash": token_hash }),
    )
    .await;

    assert!(token_hash.starts_with("pkce_"), "{token_hash}");
    assert_eq!(verified.status(), 200);
}

#[sqlx::test]
async fn kinds_without_a_template_keep_the_built_in_mail(pool: PgPool) {
    let dir = nextjs_templates();
    let app = TestApp::spawn_with(
        pool.clone(),
        &[("MAIL_TEMPLATES_DIR", dir.path().to_str().unwrap())],
    )
    .await;
    app.signup_confirmed("ann@example.com", PASSWORD).await;

    app.auth(Method::POST, "/recover")
        .json(&json!({ "email": "ann@example.com" }))
        .send()
        .await
        .unwrap();

    let mail = latest_mail(&pool, "ann@example.com", "recovery")
        .await
        .unwrap();
    assert_eq!(mail["subject"], "Reset your password");
    assert!(str_of(&mail, "text").contains("Your code: "));
    assert!(mail.get("html").is_none());
}
