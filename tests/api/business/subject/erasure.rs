//! Erasure: the person anonymized while their financial records stay and their account and its
//! traces go, by the operator or by an org admin within their org only (whose log never names an
//! account outside it), and without deadlocking with an MFA write in progress.

use bizbase::ops::{audit, subject};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::super::{World, call};
use super::{CUSTOMER, count, invite};
use crate::auth::PASSWORD;

#[sqlx::test]
async fn an_erasure_in_an_org_the_person_is_not_in_does_not_name_their_account(pool: sqlx::PgPool) {
    let w = World::build(pool).await;

    let (status, done) = call(
        w.rest(Method::POST, "/rpc/subject_erase", &w.admin_b.token)
            .json(&json!({"org": w.b, "email": CUSTOMER})),
    )
    .await;

    assert_eq!(status, 200, "{done}");
    assert_eq!(done["user_id"], Value::Null);
    assert_eq!(done["erased"]["account"], false);
    // Nor does the entry the erasure leaves in org B's audit log, which B's admins read: it names
    // the address's digest, as for an address without an account.
    let (status, entries) = call(
        w.rest(Method::POST, "/rpc/audit_entries", &w.admin_b.token)
            .json(&json!({"org": w.b, "table_filter": "data_subject"})),
    )
    .await;
    assert_eq!(status, 200, "{entries}");
    let erase = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["op"] == "ERASE")
        .unwrap_or_else(|| panic!("no ERASE entry: {entries}"));
    let customer = w.members["customer"].id.to_string();
    assert!(!erase.to_string().contains(&customer), "{erase}");
    assert_eq!(erase["row_id"], erase["changes"]["email_digest"], "{erase}");
}

#[sqlx::test]
async fn erasure_anonymizes_the_person_and_keeps_the_financial_records(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let contact = w.id("contact");
    invite(&w).await;
    // A contact that carried their address and was deleted before the erasure: no live row leads
    // to its entries.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "insert into public.contacts (org_id, first_name, email) values ('{a}', 'Carl', '{CUSTOMER}'); \
         delete from public.contacts where org_id = '{a}' and first_name = 'Carl'",
        a = w.a
    )))
    .execute(pool)
    .await
    .unwrap();
    // Org B's fixture holds another Carla with the same address: what refers to this one is in
    // org A's chain and the org-less one (their profile).
    let personal = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from private.audit_log where (org_id = $1 or org_id is null) \
             and (changes::text like '%carla@example.test%' or changes::text like '%customer@a.test%' \
                  or changes::text like '%Cannot log in%' or changes::text like '%Help please%' \
                  or changes::text like '%\"first_name\": \"Carla\"%' or changes::text like '%Website rebuild%')",
        )
        .bind(w.a)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let before = personal().await;
    let traces = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from auth.audit_log_entries where actor_id = $1 and (ip is not null or user_agent is not null)",
        )
        .bind(w.members["customer"].id)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    let traces_before = traces().await;

    let done = subject::erase(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();
    let after = subject::export(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();
    let (first_name, email): (Option<String>, Option<String>) =
        sqlx::query_as("select first_name, email from public.contacts where id = $1")
            .bind(contact)
            .fetch_one(pool)
            .await
            .unwrap();
    let body: String = sqlx::query_scalar("select body from public.ticket_messages where id = $1")
        .bind(w.id("message_own"))
        .fetch_one(pool)
        .await
        .unwrap();
    let payment: (String, f64) =
        sqlx::query_as("select transaction_id, amount::float8 from public.payments where id = $1")
            .bind(w.id("payment_own"))
            .fetch_one(pool)
            .await
            .unwrap();
    let sign_in = w.app.password_grant(CUSTOMER, PASSWORD).await;
    let leaked = personal().await;
    let erase_entries = || async {
        sqlx::query_scalar::<_, Value>(
            "select changes from private.audit_log where op = 'ERASE' and org_id = $1 order by seq",
        )
        .bind(w.a)
        .fetch_all(pool)
        .await
        .unwrap()
    };
    let erase_entry = erase_entries().await.remove(0);
    // Erasing again finds their kept billing rows once more, but nothing left to redact; the first
    // erasure's records stay.
    let again = subject::erase(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();
    let erase_entries_after = erase_entries().await;
    let sign_in_traces = traces().await;
    let (keyed, plain): (String, String) = sqlx::query_as(
        "select private.subject_email_digest($1), encode(sha256(convert_to($1, 'UTF8')), 'hex')",
    )
    .bind(CUSTOMER)
    .fetch_one(pool)
    .await
    .unwrap();

    assert_eq!(done["erased"]["contacts"], 1, "{done}");
    assert_eq!(done["erased"]["org_invitations"], 1);
    assert_eq!(count(&after, "invitations"), 0);
    assert_eq!(done["erased"]["account"], true);
    assert_eq!((first_name, email), (None, None));
    assert_eq!(body, "[erased]");
    assert!(
        payment.0.starts_with("tx-") && payment.1 == 20.0,
        "kept: {payment:?}"
    );
    assert_eq!(sign_in.status(), 400, "the account is gone");
    assert_eq!(after["account"], Value::Null);
    assert_eq!(count(&after, "contacts"), 0);
    assert!(
        before > 0,
        "the entries written before the erasure held their data"
    );
    assert_eq!(leaked, 0, "no audit entry holds their data any more");
    assert!(traces_before > 0, "their sign-in events held their IP");
    assert_eq!(
        sign_in_traces, 0,
        "their sign-in events keep no IP or user agent"
    );
    assert!(done["audit_redacted"].as_u64().unwrap() > 0, "{done}");
    assert_eq!(done["audit_unredactable"], 0);
    assert_eq!(again["audit_redacted"], 0, "{again}");
    assert_eq!(
        erase_entries_after,
        std::slice::from_ref(&erase_entry),
        "org A no longer knows them: no second entry there"
    );
    assert!(
        !erase_entry["redacted"].as_object().unwrap().is_empty(),
        "the erasure names what it redacted: {erase_entry}"
    );
    assert_eq!(erase_entry["erased"]["tickets"], 1);
    assert!(!erase_entry.to_string().contains(CUSTOMER), "{erase_entry}");
    assert_eq!(erase_entry["email_digest"], json!(keyed), "{erase_entry}");
    assert_ne!(
        keyed, plain,
        "keyed: a reader of the log cannot match a guess"
    );
    assert!(!erase_entry.to_string().contains(&plain), "{erase_entry}");
    assert!(audit::verify(pool).await.unwrap().intact());
}

#[sqlx::test]
async fn an_org_admin_erases_within_their_org_only(pool: sqlx::PgPool) {
    let w = World::build(pool).await;

    let (status, done) = call(
        w.rest(Method::POST, "/rpc/subject_erase", w.token("admin"))
            .json(&json!({"org": w.a, "email": CUSTOMER})),
    )
    .await;
    let (denied, _) = call(
        w.rest(
            Method::POST,
            "/rpc/subject_erase",
            w.token("customer_service"),
        )
        .json(&json!({"org": w.a, "email": CUSTOMER})),
    )
    .await;
    let sign_in = w.app.password_grant(CUSTOMER, PASSWORD).await;
    // (org, redacted entries) of the chains holding redactions.
    let redacted: Vec<(Option<Uuid>, i64)> = sqlx::query_as(
        "select org_id, count(*) from private.audit_log where changes_leaves is not null group by org_id",
    )
    .fetch_all(&w.app.pool)
    .await
    .unwrap();
    let profile: i64 = sqlx::query_scalar(
        "select count(*) from private.audit_log where table_name = 'profiles' and changes::text like '%customer@a.test%'",
    )
    .fetch_one(&w.app.pool)
    .await
    .unwrap();

    assert_eq!(status, 200, "{done}");
    assert_eq!(done["erased"]["contacts"], 1);
    assert_eq!(done["erased"]["account"], false);
    assert_eq!(redacted.len(), 1, "only org A's entries: {redacted:?}");
    assert_eq!(redacted[0].0, Some(w.a));
    assert_eq!(redacted[0].1, done["audit_redacted"].as_i64().unwrap());
    assert!(profile > 0, "their profile is theirs, not org A's to erase");
    assert_eq!(done["files"], json!([]), "they have no files in org A");
    assert_eq!(denied, 403);
    assert_eq!(
        sign_in.status(),
        200,
        "the account belongs to the person, not the org"
    );
}

#[sqlx::test]
async fn an_account_erasure_waits_for_an_mfa_write_in_progress_instead_of_deadlocking(
    pool: sqlx::PgPool,
) {
    // An MFA verification locks the user row, then writes the factor. An erasure that deleted the
    // factors first and then waited for the user row deadlocked with it (one of the two failed).
    let w = World::build(pool).await;
    let customer = w.members["customer"].id;
    sqlx::query("insert into auth.mfa_factors (user_id, factor_type, status, secret) values ($1, 'totp', 'verified', '\\x00')")
        .bind(customer)
        .execute(&w.app.pool)
        .await
        .unwrap();
    let mut verification = w.app.pool.begin().await.unwrap();
    sqlx::query("select from auth.users where id = $1 for no key update")
        .bind(customer)
        .execute(&mut *verification)
        .await
        .unwrap();

    let config = w.app.state.config.clone();
    let erase_pool = w.app.pool.clone();
    let erasure =
        tokio::spawn(async move { subject::erase(&config, &erase_pool, CUSTOMER, None).await });
    crate::harness::until_someone_waits_for_a_lock(&w.app.pool).await;
    let factor_write =
        sqlx::query("update auth.mfa_factors set last_used_step = 1 where user_id = $1")
            .bind(customer)
            .execute(&mut *verification)
            .await;
    let committed = verification.commit().await;
    let erased = erasure.await.unwrap();

    assert!(factor_write.is_ok(), "{factor_write:?}");
    assert!(committed.is_ok(), "{committed:?}");
    assert!(erased.is_ok(), "{erased:?}");
    let factors: i64 =
        sqlx::query_scalar("select count(*) from auth.mfa_factors where user_id = $1")
            .bind(customer)
            .fetch_one(&w.app.pool)
            .await
            .unwrap();
    assert_eq!(
        factors, 0,
        "the erasure went through once the verification was done"
    );
}
