//! Data-subject rights: one JSON document with everything that refers to a person, and erasure
//! that anonymizes them while keeping the financial records, recorded in the audit log without
//! the personal data — by the operator (`bizbase subject …`) or by an org admin at aal2.

use std::process::Command;

use bizbase::ops::{audit, subject};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{World, call, ids_of};
use crate::auth::PASSWORD;
use crate::storage::{blobs, upload};

const CUSTOMER: &str = "customer@a.test";

fn count(doc: &Value, key: &str) -> usize {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not a list: {}", doc[key]))
        .len()
}

/// An invitation to org A sent to the person's address.
async fn invite(w: &World) {
    sqlx::query("insert into public.org_invitations (org_id, email, role, token_hash) values ($1, $2, 'sales_rep', 'h')")
        .bind(w.a)
        .bind(CUSTOMER)
        .execute(&w.app.pool)
        .await
        .unwrap();
}

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

/// The audit entries about a ticket: (op, changes, whether the seed or salt is kept).
async fn ticket_entries(w: &World, ticket: Uuid) -> Vec<(String, Value, bool)> {
    sqlx::query_as(
        "select op, changes, changes_seed is not null or changes_salt is not null from private.audit_log \
         where table_name = 'tickets' and row_id = $1 order by seq",
    )
    .bind(ticket.to_string())
    .fetch_all(&w.app.pool)
    .await
    .unwrap()
}

/// The fixture, with the person's ticket moved to `pending` (a change holding nothing of theirs).
async fn with_status_change(pool: sqlx::PgPool) -> (World, Uuid) {
    let w = World::build(pool).await;
    let ticket = w.id("ticket_own");
    sqlx::query("update public.tickets set status = 'pending' where id = $1")
        .bind(ticket)
        .execute(&w.app.pool)
        .await
        .unwrap();
    (w, ticket)
}

#[sqlx::test]
async fn erasure_removes_only_the_values_it_anonymizes_from_the_audit_log(pool: sqlx::PgPool) {
    let (w, ticket) = with_status_change(pool).await;

    subject::erase(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();
    let entries = ticket_entries(&w, ticket).await;
    let (_, created, created_kept) = &entries[0];
    let (_, status, status_kept) = entries
        .iter()
        .find(|(op, c, _)| op == "UPDATE" && c["new"].get("status").is_some())
        .unwrap();
    let leaves: Value = sqlx::query_scalar(
        "select changes_leaves from private.audit_log where table_name = 'tickets' and row_id = $1 and op = 'INSERT'",
    )
    .bind(ticket.to_string())
    .fetch_one(&w.app.pool)
    .await
    .unwrap();

    assert_eq!(entries[0].0, "INSERT");
    assert!(!created_kept, "the creation was redacted");
    assert_eq!(created["new"]["status"], "open", "what is not theirs stays");
    assert_eq!(created["new"]["id"], ticket.to_string());
    assert!(created["new"].get("subject").is_none(), "{created}");
    assert!(created["new"].get("issue").is_none(), "{created}");
    assert!(
        leaves[r#"["new", "subject"]"#]["digest"].is_string(),
        "{leaves}"
    );
    assert!(
        leaves[r#"["new", "status"]"#]["salt"].is_string(),
        "{leaves}"
    );
    assert_eq!(
        (
            status["old"]["status"].as_str(),
            status["new"]["status"].as_str()
        ),
        (Some("open"), Some("pending"))
    );
    assert!(
        *status_kept,
        "a status change holds nothing of theirs: not redacted"
    );
    assert!(audit::verify(&w.app.pool).await.unwrap().intact());
}

#[sqlx::test]
async fn a_row_that_carried_their_address_once_loses_only_the_entries_holding_it(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    // Bea's contact had the person's address by mistake, then her own, then a new phone.
    let bea: Uuid = sqlx::query_scalar(
        "insert into public.contacts (org_id, first_name, email) values ($1, 'Bea', $2) returning id",
    )
    .bind(w.a)
    .bind(CUSTOMER)
    .fetch_one(pool)
    .await
    .unwrap();
    for change in ["email = 'bea@example.test'", "phone = '+1 555 0199'"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "update public.contacts set {change} where id = $1"
        )))
        .bind(bea)
        .execute(pool)
        .await
        .unwrap();
    }

    subject::erase(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();
    let entries: Vec<(String, Value, bool)> = sqlx::query_as(
        "select op, changes, changes_seed is not null from private.audit_log \
         where table_name = 'contacts' and row_id = $1 order by seq",
    )
    .bind(bea.to_string())
    .fetch_all(pool)
    .await
    .unwrap();
    let live: (Option<String>, Option<String>) =
        sqlx::query_as("select first_name, email from public.contacts where id = $1")
            .bind(bea)
            .fetch_one(pool)
            .await
            .unwrap();

    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(
        !entries.iter().any(|e| e.1.to_string().contains(CUSTOMER)),
        "{entries:?}"
    );
    assert!(
        !entries[0].2 && !entries[1].2,
        "the two entries holding their address are redacted"
    );
    assert_eq!(
        entries[2].1["new"]["phone"], "+1 555 0199",
        "Bea's own history stays"
    );
    assert!(entries[2].2);
    assert_eq!(
        live,
        (Some("Bea".into()), Some("bea@example.test".into())),
        "not theirs"
    );
    assert!(audit::verify(pool).await.unwrap().intact());
}

#[sqlx::test]
async fn entries_of_the_earlier_salted_form_are_redacted_whole(pool: sqlx::PgPool) {
    let (w, ticket) = with_status_change(pool).await;
    // Org A's chain rewritten in migration 20261127000026's form: one salted digest of the whole
    // changes per entry.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "do $$
         declare
             e private.audit_log;
             v_prev text := repeat('0', 64);
             v_salt bytea;
         begin
             perform set_config('bizbase.audit_upgrading', 'on', true);
             for e in select * from private.audit_log where chain = '{a}' order by seq loop
                 v_salt := uuid_send(gen_random_uuid());
                 e.prev_hash := v_prev;
                 v_prev := private.audit_hash(v_prev, e, private.audit_digest(v_salt, e.changes));
                 update private.audit_log set changes_seed = null, changes_salt = v_salt,
                     changes_digest = private.audit_digest(v_salt, e.changes), prev_hash = e.prev_hash, hash = v_prev
                  where id = e.id;
             end loop;
             update private.audit_chains set hash = v_prev where chain = '{a}';
         end $$",
        a = w.a
    )))
    .execute(&w.app.pool)
    .await
    .unwrap();
    let rewritten = audit::verify(&w.app.pool).await.unwrap();

    let done = subject::erase(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();
    let entries = ticket_entries(&w, ticket).await;
    let status_kept = entries
        .iter()
        .any(|(op, c, kept)| op == "UPDATE" && c["new"]["status"] == "pending" && *kept);
    let after = audit::verify(&w.app.pool).await.unwrap();

    assert!(rewritten.intact(), "{:?}", rewritten.breaks);
    assert_eq!(
        entries[0].1["redacted"]
            .as_array()
            .map(|c| c.iter().any(|c| c == "subject")),
        Some(true),
        "{entries:?}"
    );
    assert!(!entries[0].2);
    assert!(
        status_kept,
        "an entry holding nothing of theirs stays: {entries:?}"
    );
    assert_eq!(done["audit_unredactable"], 0);
    assert!(after.intact(), "{:?}", after.breaks);
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
async fn the_cli_exports_and_refuses_to_erase_without_confirmation(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let url = super::database_url(&w.app.pool).await;
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
async fn erasure_deletes_the_persons_files(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    crate::storage::create_bucket(&w.app, "uploads", json!({})).await;
    for name in ["carla/passport.png", "other/logo.png"] {
        let r = crate::storage::upload(
            &w.app,
            &w.app.service_key,
            "uploads",
            name,
            b"bytes",
            "image/png",
        )
        .await;
        assert_eq!(r.status(), 200);
    }
    sqlx::query("update storage.objects set owner = $1 where name like 'carla/%'")
        .bind(w.members["customer"].id)
        .execute(&w.app.pool)
        .await
        .unwrap();
    let exported = subject::export(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();
    let before = crate::storage::blobs(&w.app);

    let done = subject::erase(&w.app.state.config, &w.app.pool, CUSTOMER, None)
        .await
        .unwrap();

    assert_eq!(exported["files"][0]["name"], "carla/passport.png");
    assert_eq!(
        exported["files"][0]["content_base64"], "Ynl0ZXM=",
        "the bytes, base64"
    );
    assert_eq!(exported["files"][0]["size"], 5);
    assert_eq!(count(&exported, "files"), 1);
    assert_eq!(done["erased"]["files"], 1);
    assert_eq!(
        crate::storage::blobs(&w.app),
        before - 1,
        "their bytes are gone"
    );
    let left: Vec<String> = sqlx::query_scalar("select name from storage.objects")
        .fetch_all(&w.app.pool)
        .await
        .unwrap();
    assert_eq!(left, vec!["other/logo.png".to_owned()]);
}

/// Files a user keeps under their own id (`<bucket>/<user id>/…`, the per-user layout) are not an
/// org's even when the org's id is that user's id: org-scoped requests take owned files from the
/// per-org buckets only. Before, an admin of such an org exported the user's private files and could
/// erase them (signed-in callers can no longer choose an org's id either: auth::tenancy).
#[sqlx::test]
async fn an_org_whose_id_is_a_users_id_reaches_none_of_their_own_files(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let victim = w.members["customer"].id;
    crate::storage::create_bucket(&w.app, "documents", json!({})).await;
    let name = format!("{victim}/tax-return.txt");
    let r = upload(
        &w.app,
        &w.app.service_key,
        "documents",
        &name,
        b"private",
        "text/plain",
    )
    .await;
    assert_eq!(r.status(), 200);
    for sql in [
        "update storage.objects set owner = $1 where bucket_id = 'documents'",
        "insert into public.orgs (id, name) values ($1, 'Mirror')",
        "insert into public.org_members (org_id, user_id, role) values ($1, $2, 'admin')",
    ] {
        sqlx::query(sql)
            .bind(victim)
            .bind(w.admin_b.id)
            .execute(&w.app.pool)
            .await
            .unwrap();
    }
    let mut claims = crate::harness::claims_of(&w.admin_b.token);
    claims["app_metadata"]["orgs"][victim.to_string()] = json!("admin");
    let token = crate::harness::sign_hs256(&claims);
    let asked = json!({"org": victim, "email": CUSTOMER});

    let (status, exported) = call(
        w.rest(Method::POST, "/rpc/subject_export", &token)
            .json(&asked),
    )
    .await;
    let (erase_status, erased) = call(
        w.rest(Method::POST, "/rpc/subject_erase", &token)
            .json(&asked),
    )
    .await;

    assert_eq!(status, 200, "{exported}");
    assert_eq!(count(&exported, "files"), 0, "{exported}");
    assert_eq!(erase_status, 200, "{erased}");
    assert_eq!(erased["erased"]["files"], 0, "{erased}");
    let kept: i64 =
        sqlx::query_scalar("select count(*) from storage.objects where bucket_id = 'documents'")
            .fetch_one(&w.app.pool)
            .await
            .unwrap();
    assert_eq!(kept, 1);
}

impl World {
    fn function(&self, name: &str, token: &str) -> reqwest::RequestBuilder {
        self.app
            .client
            .post(self.app.url(&format!("/functions/v1/{name}")))
            .header("apikey", &self.app.anon_key)
            .bearer_auth(token)
    }
}

#[sqlx::test]
async fn an_org_admin_exports_and_erases_the_files_of_the_persons_tickets_through_functions(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let (a, ticket) = (w.a, w.id("ticket_own"));
    let scan = format!("{a}/{ticket}/scan.pdf");
    let other = format!("{a}/{}/notes.txt", w.id("ticket_other"));
    for (name, bytes) in [(&scan, &b"%PDF-1.7 scan"[..]), (&other, &b"not theirs"[..])] {
        let r = upload(
            &w.app,
            w.token("customer_service"),
            "ticket-attachments",
            name,
            bytes,
            "application/pdf",
        )
        .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let body = json!({"org": a, "email": CUSTOMER});
    let before = blobs(&w.app);

    let (status, exported) = call(w.function("subject-export", w.token("admin")).json(&body)).await;
    let (denied, refusal) = call(
        w.function("subject-export", w.token("customer_service"))
            .json(&body),
    )
    .await;
    let (anon, _) = call(w.function("subject-export", &w.app.anon_key).json(&body)).await;
    let (bad, invalid) = call(
        w.function("subject-export", w.token("admin"))
            .json(&json!({"org": a, "email": "nobody"})),
    )
    .await;
    let (erased_status, done) =
        call(w.function("subject-erase", w.token("admin")).json(&body)).await;
    let (erase_denied, _) = call(
        w.function("subject-erase", w.token("sales_rep"))
            .json(&body),
    )
    .await;
    let left: Vec<String> = sqlx::query_scalar(
        "select name from storage.objects where bucket_id = 'ticket-attachments'",
    )
    .fetch_all(&w.app.pool)
    .await
    .unwrap();

    assert_eq!(status, 200, "{exported}");
    assert_eq!(count(&exported, "files"), 1, "{}", exported["files"]);
    assert_eq!(exported["files"][0]["name"], scan.as_str());
    assert_eq!(
        exported["files"][0]["content_base64"], "JVBERi0xLjcgc2Nhbg==",
        "the attachment's bytes"
    );
    assert_eq!(count(&exported, "tickets"), 1);
    assert_eq!(denied, 403, "{refusal}");
    assert_eq!(refusal["code"], "insufficient_permissions");
    assert_eq!(anon, 401);
    assert_eq!(
        (bad, invalid["code"].as_str()),
        (400, Some("validation_failed"))
    );
    assert_eq!(erased_status, 200, "{done}");
    assert_eq!(done["erased"]["files"], 1);
    assert_eq!(
        done["files"],
        json!([{"bucket": "ticket-attachments", "name": scan}])
    );
    assert_eq!(erase_denied, 403);
    assert_eq!(left, [other], "the other ticket's file stays");
    assert_eq!(
        blobs(&w.app),
        before - 1,
        "the attachment's bytes are deleted at once"
    );
}

/// A person known only through a contact deleted before their request.
const DORA: &str = "dora@example.test";

/// In org A: Dora's contact with a lead, a lead deleted while hers, a lead moved to Bea's contact,
/// a ticket with one message kept and one deleted, and a marketing event — then the contact is
/// deleted (its lead and ticket are unlinked, its event deleted with it). Returns the ids by name.
async fn deleted_contact(w: &World) -> Value {
    sqlx::query_scalar(
        "with d as (insert into public.contacts (org_id, first_name, email) values ($1, 'Dora', $2) returning id), \
              b as (insert into public.contacts (org_id, first_name, email) values ($1, 'Bea', 'bea@example.test') returning id), \
              l as (insert into public.leads (org_id, contact_id, title) \
                    select $1, d.id, t from d, unnest(array['Roof repair for Dora', 'Garden plan', 'Old enquiry', \
                                                            'Orphaned', 'Hedge trimming']) t \
                    returning id, title), \
              t as (insert into public.tickets (org_id, contact_id, subject) select $1, d.id, 'Roof leaking' from d returning id), \
              e as (insert into public.marketing_events (org_id, contact_id, kind, properties) \
                    select $1, d.id, 'page_view', '{\"page\": \"/roofs/dora\"}' from d returning id) \
         select jsonb_build_object('contact', (select id from d), 'bea', (select id from b), 'ticket', (select id from t), \
                                   'event', (select id from e)) \
                || (select jsonb_object_agg(title, id) from l)",
    )
    .bind(w.a)
    .bind(DORA)
    .fetch_one(&w.app.pool)
    .await
    .unwrap()
}

fn uuid_of(ids: &Value, name: &str) -> Uuid {
    Uuid::parse_str(ids[name].as_str().unwrap()).unwrap()
}

#[sqlx::test]
async fn the_rows_of_a_contact_deleted_before_the_request_are_exported_and_erased(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let ids = deleted_contact(&w).await;
    let ticket = uuid_of(&ids, "ticket");
    let (kept, moved, gone) = (
        uuid_of(&ids, "Roof repair for Dora"),
        uuid_of(&ids, "Garden plan"),
        uuid_of(&ids, "Old enquiry"),
    );
    let (orphaned, hedge) = (uuid_of(&ids, "Orphaned"), uuid_of(&ids, "Hedge trimming"));
    let message: Uuid = sqlx::query_scalar(
        "with m as (insert into public.ticket_messages (org_id, ticket_id, author_kind, body) \
                    values ($1, $2, 'customer', 'Water everywhere'), ($1, $2, 'customer', 'Sent by mistake') \
                    returning id, body) \
         select id from m where body = 'Water everywhere'",
    )
    .bind(w.a)
    .bind(ticket)
    .fetch_one(pool)
    .await
    .unwrap();
    for step in [
        format!(
            "update public.leads set contact_id = '{}' where id = '{moved}'",
            uuid_of(&ids, "bea")
        ),
        format!("delete from public.leads where id = '{gone}'"),
        // Misfiled: put right by hand before the contact went.
        format!("update public.leads set contact_id = null where id = '{hedge}'"),
        "delete from public.ticket_messages where body = 'Sent by mistake'".to_owned(),
        format!(
            "delete from public.contacts where id = '{}'",
            uuid_of(&ids, "contact")
        ),
        // Unlinked by the deletion, then tidied away.
        format!("delete from public.leads where id = '{orphaned}'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(step))
            .execute(pool)
            .await
            .unwrap();
    }
    // The entries in org A's chain holding something of Dora's.
    let personal = || async {
        sqlx::query_scalar::<_, String>(
            "select table_name || ' ' || op from private.audit_log where org_id = $1 \
             and (changes::text ~ '(Dora|dora@example|Roof|Water everywhere|Sent by mistake|/roofs/|Old enquiry|Orphaned)') \
             order by id",
        )
        .bind(w.a)
        .fetch_all(pool)
        .await
        .unwrap()
    };
    let before = personal().await;

    let doc = subject::export(&w.app.state.config, pool, DORA, Some(w.a))
        .await
        .unwrap();
    let done = subject::erase(&w.app.state.config, pool, DORA, Some(w.a))
        .await
        .unwrap();
    let after = personal().await;
    let leads: Vec<(Uuid, String)> =
        sqlx::query_as("select id, title from public.leads where id = any ($1) order by title")
            .bind([kept, moved, hedge])
            .fetch_all(pool)
            .await
            .unwrap();
    let texts: (String, String) = sqlx::query_as(
        "select t.subject, m.body from public.tickets t, public.ticket_messages m where t.id = $1 and m.id = $2",
    )
    .bind(ticket)
    .bind(message)
    .fetch_one(pool)
    .await
    .unwrap();
    let audited = |table: &str| -> Vec<String> {
        doc["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["table"] == table)
            .map(|e| {
                format!(
                    "{} {}",
                    e["row_id"].as_str().unwrap(),
                    e["op"].as_str().unwrap()
                )
            })
            .collect()
    };

    assert_eq!(ids_of(&doc["leads"]), vec![kept], "{}", doc["leads"]);
    assert_eq!(ids_of(&doc["tickets"]), vec![ticket]);
    assert_eq!(ids_of(&doc["ticket_messages"]), vec![message]);
    let contact = uuid_of(&ids, "contact");
    assert_eq!(
        audited("contacts"),
        [format!("{contact} INSERT"), format!("{contact} DELETE")],
        "the deleted contact's entries are theirs"
    );
    for deleted in [gone, orphaned] {
        assert!(
            audited("leads").contains(&format!("{deleted} DELETE")),
            "{}",
            doc["audit"]
        );
    }
    assert!(
        !audited("leads")
            .iter()
            .any(|e| e.starts_with(&moved.to_string()))
    );
    assert_eq!(
        audited("marketing_events").len(),
        2,
        "the event's insert and delete"
    );
    assert_eq!(
        audited("ticket_messages").len(),
        3,
        "kept message's insert, the other's insert and delete"
    );

    assert_eq!(
        (
            done["erased"]["leads"].as_i64(),
            done["erased"]["tickets"].as_i64()
        ),
        (Some(1), Some(1)),
        "{done}"
    );
    assert_eq!(
        leads,
        vec![
            (moved, "Garden plan".to_owned()),
            (hedge, "Hedge trimming".to_owned()),
            (kept, "[erased]".to_owned())
        ],
        "the lead moved to Bea and the one unlinked by hand stay as they are"
    );
    assert_eq!(texts, ("[erased]".to_owned(), "[erased]".to_owned()));
    assert!(before.len() >= 10, "{before:?}");
    assert_eq!(
        after,
        Vec::<String>::new(),
        "nothing of Dora's is left in the log"
    );
    let garden: i64 = sqlx::query_scalar(
        "select count(*) from private.audit_log where table_name = 'leads' and row_id in ($1, $2) \
         and changes_seed is not null and changes::text ~ '(Garden plan|Hedge trimming)'",
    )
    .bind(moved.to_string())
    .bind(hedge.to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(garden, 2, "the two leads' histories are left alone");
    assert!(audit::verify(pool).await.unwrap().intact());
}

#[sqlx::test]
async fn rows_of_their_account_and_contacts_deleted_before_an_erasure_everywhere_leave_nothing_of_theirs(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let customer = w.members["customer"].id;
    // Their ticket (opened with their account, filed under someone else's contact) goes, and its
    // messages with it; a lead of their live contact is deleted, another unlinked from it by hand
    // (misfiled: not theirs); a contact carrying only their account goes, unlinking its lead.
    let ids: Value = sqlx::query_scalar(
        "with o as (insert into public.contacts (org_id, first_name) values ($1, 'Other') returning id), \
              t as (update public.tickets set contact_id = (select id from o) where id = $2), \
              k as (insert into public.contacts (org_id, user_id, first_name) values ($1, $4, 'Carlita') returning id), \
              l as (insert into public.leads (org_id, contact_id, title) \
                    values ($1, $3, 'Talked about pricing'), ($1, $3, 'Misfiled'), \
                           ($1, (select id from k), 'Via account') \
                    returning id, title) \
         select jsonb_object_agg(title, id) || jsonb_build_object('Carlita', (select id from k)) from l",
    )
    .bind(w.a)
    .bind(w.id("ticket_own"))
    .bind(w.id("contact"))
    .bind(customer)
    .fetch_one(pool)
    .await
    .unwrap();
    let (misfiled, via_account) = (uuid_of(&ids, "Misfiled"), uuid_of(&ids, "Via account"));
    for step in [
        format!(
            "delete from public.tickets where id = '{}'",
            w.id("ticket_own")
        ),
        format!(
            "delete from public.leads where id = '{}'",
            uuid_of(&ids, "Talked about pricing")
        ),
        format!("update public.leads set contact_id = null where id = '{misfiled}'"),
        format!(
            "delete from public.contacts where id = '{}'",
            uuid_of(&ids, "Carlita")
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(step))
            .execute(pool)
            .await
            .unwrap();
    }
    let theirs = || async {
        sqlx::query_scalar::<_, String>(
            "select table_name || ' ' || op from private.audit_log where org_id = $1 \
             and changes::text ~ '(Cannot log in|Help please|Talked about pricing|Via account|Carlita)' order by id",
        )
        .bind(w.a)
        .fetch_all(pool)
        .await
        .unwrap()
    };
    let before = theirs().await;
    let doc = subject::export(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();

    subject::erase(&w.app.state.config, pool, CUSTOMER, None)
        .await
        .unwrap();
    let exported: Vec<&str> = doc["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["row_id"] == w.id("ticket_own").to_string().as_str()
                || e["table"] == "ticket_messages"
        })
        .filter_map(|e| e["op"].as_str())
        .collect();
    let internal: String = sqlx::query_scalar(
        "select changes::text from private.audit_log where row_id = $1 and op = 'DELETE'",
    )
    .bind(w.id("message_internal").to_string())
    .fetch_one(pool)
    .await
    .unwrap();
    let leads: Vec<(Uuid, String)> =
        sqlx::query_as("select id, title from public.leads where id = any ($1) order by title")
            .bind([misfiled, via_account])
            .fetch_all(pool)
            .await
            .unwrap();
    let misfiled_kept: (i64, bool) = sqlx::query_as(
        "select count(*), bool_or(changes::text like '%Misfiled%') from private.audit_log \
         where row_id = $1 and changes_seed is not null",
    )
    .bind(misfiled.to_string())
    .fetch_one(pool)
    .await
    .unwrap();

    assert_eq!(
        before.len(),
        9,
        "ticket insert and delete, message insert and delete, two leads' inserts, the deleted \
         lead's delete, the contact's insert and delete: {before:?}"
    );
    assert_eq!(
        exported,
        ["INSERT", "INSERT", "UPDATE", "DELETE", "DELETE"],
        "the export holds the deleted ticket's and their message's entries"
    );
    let mut exported_leads = ids_of(&doc["leads"]);
    exported_leads.retain(|id| *id != w.id("lead"));
    assert_eq!(exported_leads, vec![via_account], "{}", doc["leads"]);
    assert_eq!(theirs().await, Vec::<String>::new());
    assert_eq!(
        leads,
        vec![
            (misfiled, "Misfiled".to_owned()),
            (via_account, "[erased]".to_owned())
        ],
        "a lead unlinked by hand from a live contact is not theirs"
    );
    assert_eq!(
        misfiled_kept,
        (2, true),
        "its insert and its unlink stay as they were"
    );
    assert!(
        internal.contains("Looks like a password issue"),
        "a staff note is not theirs: {internal}"
    );
    assert!(audit::verify(pool).await.unwrap().intact());
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
