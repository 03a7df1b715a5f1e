//! Exports: one JSON document with everything that refers to a person, an org admin's part of it
//! (their account only where they are a member), and the two other ways in: the `bizbase subject`
//! CLI, which erases only when confirmed, and the edge functions, which refuse an address holding
//! a NUL character.

use std::process::Command;

use bizbase::ops::subject;
use reqwest::Method;
use serde_json::{Value, json};

use super::super::{World, call};
use super::{CUSTOMER, count, invite};

#[sqlx::test]
async fn an_export_holds_every_row_that_refers_to_the_person(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    invite(&w).await;

    let all = subject::export(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();
    let (status, org_a) = call(
        w.rest(Method::POST, "/rpc/subject_export", w.token("admin"))
            .json(&json!({"org": w.a, "email": CUSTOMER})),
    )
    .await;
    let (_, org_b) = call(
        w.rest(Method::POST, "/rpc/subject_export", &w.admin_b.token)
            .json(&json!({"org": w.b, "email": CUSTOMER})),
    )
    .await;
    let (denied, _) = call(
        w.rest(Method::POST, "/rpc/subject_export", w.token("sales_rep"))
            .json(&json!({"org": w.a, "email": CUSTOMER})),
    )
    .await;

    assert_eq!(all["account"]["email"], CUSTOMER);
    assert!(
        all["account"].get("encrypted_password").is_none(),
        "no password hash"
    );
    for (key, n) in [
        ("memberships", 1),
        ("contacts", 1),
        ("consents", 1),
        ("leads", 1),
        ("deals", 1),
        ("activities", 0),
        ("tickets", 1),
        ("ticket_messages", 1), // the internal note on their ticket is the org's, not theirs
        ("marketing_events", 1),
        ("billing_customers", 1),
        ("subscriptions", 1),
        ("invoices", 1),
        ("payments", 1),
        ("site_projects", 1),
        ("invitations", 1),
    ] {
        assert_eq!(count(&all, key), n, "{key}: {}", all[key]);
    }
    assert!(
        !all.to_string().contains("token_hash"),
        "no invitation token's hash, in the invitations or their audit entries"
    );
    assert!(
        all["audit"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["table"] == "org_invitations"),
        "the invitation's entries are theirs too"
    );
    assert!(
        count(&all, "audit") >= 10,
        "the inserts of their rows: {}",
        all["audit"]
    );
    assert_eq!(status, 200, "{org_a}");
    assert_eq!(count(&org_a, "tickets"), 1);
    assert_eq!(count(&org_a, "payments"), 1);
    assert_eq!(
        count(&org_b, "contacts"),
        0,
        "org B holds nothing about them"
    );
    assert_eq!(count(&org_b, "memberships"), 0);
    assert_eq!(denied, 403, "exports need data.export");
    // Their account is org A's business (they are a member) and not org B's: an admin of any org
    // could otherwise read any user's account, or learn that an address has one.
    assert_eq!(org_a["account"]["email"], CUSTOMER);
    assert_eq!(
        org_a["subject"]["user_id"],
        w.members["customer"].id.to_string()
    );
    for key in ["account", "identities", "profile"] {
        assert!(org_b.get(key).is_none(), "{key} in org B's export: {org_b}");
    }
    assert_eq!(org_b["subject"]["user_id"], Value::Null);
}

#[sqlx::test]
async fn the_cli_exports_and_refuses_to_erase_without_confirmation(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let url = super::super::database_url(&w.app.pool).await;
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_bizbase"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("BIZBASE_MIGRATE", "false")
            .env("BIZBASE_DATA_DIR", w.app.state.config.data_dir.as_os_str())
            .output()
            .unwrap()
    };

    let export = run(&["subject", "export", "--email", CUSTOMER]);
    let unconfirmed = run(&["subject", "erase", "--email", CUSTOMER]);

    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let doc: Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(count(&doc, "tickets"), 1);
    assert!(!unconfirmed.status.success());
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"));
}

#[sqlx::test]
async fn a_nul_character_in_the_address_is_a_bad_request(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    for name in ["subject-export", "subject-erase"] {
        let (status, body) = call(
            w.function(name, w.token("admin"))
                .json(&json!({"org": w.a, "email": "a\u{0}@b.test"})),
        )
        .await;
        assert_eq!(status, 400, "{name}: {body}");
    }
}
