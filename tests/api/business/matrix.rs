//! The role × table × operation matrix: every member of org A reads, inserts, updates and deletes
//! in every business table through `/rest/v1` with their own token, and gets exactly what the
//! preset permissions of the issue say — and nothing of org B. Writes use `Prefer: tx=rollback`,
//! so every case starts from the same rows.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, PgPool};
use uuid::Uuid;

use super::{ROLES, World, call, ids_of};

/// What each role of org A may do with each table (columns in the order of [`ROLES`]):
/// `-` nothing; `r` read the org's rows; `rw` read and write them; `own` read only the
/// customer's own rows; `own+i` that and create their own; `own+u` that and change their own;
/// `ticket` read the rows of customers who opened a ticket.
const MATRIX: &[(&str, [&str; 5])] = &[
    //  table                   admin  sales  service   marketing customer
    ("companies", ["rw", "rw", "-", "-", "-"]),
    ("contacts", ["rw", "rw", "rw", "r", "-"]),
    ("pipelines", ["rw", "r", "-", "-", "-"]),
    ("pipeline_stages", ["rw", "r", "-", "-", "-"]),
    ("leads", ["rw", "rw", "-", "-", "-"]),
    ("lead_scores", ["rw", "rw", "-", "-", "-"]),
    ("deals", ["rw", "rw", "-", "-", "-"]),
    ("sales_transactions", ["rw", "r", "-", "-", "-"]),
    ("activities", ["rw", "rw", "-", "-", "-"]),
    ("sla_policies", ["rw", "-", "r", "-", "-"]),
    ("tickets", ["rw", "-", "rw", "-", "own+i"]),
    ("ticket_messages", ["rw", "-", "rw", "-", "own+i"]),
    ("canned_replies", ["rw", "-", "rw", "-", "-"]),
    ("segments", ["rw", "-", "-", "rw", "-"]),
    ("campaigns", ["rw", "-", "-", "rw", "-"]),
    ("campaign_metrics", ["rw", "-", "-", "rw", "-"]),
    ("marketing_events", ["rw", "-", "-", "rw", "-"]),
    ("site_templates", ["rw", "-", "-", "-", "r"]),
    ("site_projects", ["rw", "-", "-", "-", "own+u"]),
    ("site_versions", ["rw", "-", "-", "-", "own+i"]),
    ("products", ["rw", "r", "-", "-", "-"]),
    ("prices", ["rw", "r", "-", "-", "-"]),
    ("billing_customers", ["rw", "-", "-", "-", "own"]),
    ("subscriptions", ["rw", "-", "-", "-", "own"]),
    ("usage_events", ["rw", "-", "-", "-", "-"]),
    ("invoices", ["rw", "-", "-", "-", "own"]),
    ("payments", ["rw", "-", "ticket", "-", "own"]),
    ("refunds", ["rw", "-", "-", "-", "-"]),
    ("integrations", ["rw", "-", "-", "-", "-"]),
    ("sync_runs", ["rw", "-", "-", "-", "-"]),
    ("webhook_endpoints", ["rw", "-", "-", "-", "-"]),
    ("webhook_deliveries", ["rw", "-", "-", "-", "-"]),
];

/// The customer's own rows of a table, as SQL (`{c}` the customer, `{o}` the org).
fn own_rows(table: &str) -> &'static str {
    match table {
        "tickets" | "billing_customers" | "subscriptions" | "invoices" | "payments" => {
            "user_id = '{c}'"
        }
        "ticket_messages" => {
            "not internal and ticket_id in (select id from public.tickets where user_id = '{c}')"
        }
        "site_projects" => "client_id = '{c}'",
        "site_versions" => {
            "project_id in (select id from public.site_projects where client_id = '{c}')"
        }
        other => panic!("no ownership rule for {other}"),
    }
}

/// The fixture row each table's update and delete aim at (the customer's own where there is one).
fn target(table: &str) -> &'static str {
    match table {
        "companies" => "company",
        "contacts" => "contact",
        "pipelines" => "pipeline",
        "pipeline_stages" => "stage",
        "leads" => "lead",
        "lead_scores" => "lead_score",
        "deals" => "deal",
        "sales_transactions" => "sales_transaction",
        "activities" => "activity",
        "sla_policies" => "sla_policy",
        "tickets" => "ticket_own",
        "ticket_messages" => "message_own",
        "canned_replies" => "canned_reply",
        "segments" => "segment",
        "campaigns" => "campaign",
        "campaign_metrics" => "campaign_metric",
        "marketing_events" => "marketing_event",
        "site_templates" => "template",
        "site_projects" => "project_own",
        "site_versions" => "version_own",
        "products" => "product",
        "prices" => "price",
        "billing_customers" => "billing_customer_own",
        "subscriptions" => "subscription",
        "usage_events" => "usage_event",
        "invoices" => "invoice",
        "payments" => "payment_own",
        "refunds" => "refund",
        "integrations" => "integration",
        "sync_runs" => "sync_run",
        "webhook_endpoints" => "webhook_endpoint",
        "webhook_deliveries" => "webhook_delivery",
        other => panic!("no target for {other}"),
    }
}

/// A valid new row of `table` in `org`, referring to that org's fixture rows (so what refuses a
/// row for another org is its policies, not the org-boundary check of references).
fn new_row(w: &World, table: &str, org: Uuid) -> Value {
    let ids = if org == w.b { &w.ids_b } else { &w.ids };
    let id = |name: &str| json!(ids[name]);
    let extra = match table {
        "companies" => json!({"name": "Globex"}),
        "contacts" => json!({"first_name": "Nina"}),
        "pipelines" => json!({"name": "Renewals"}),
        "pipeline_stages" => json!({"pipeline_id": id("pipeline"), "name": "Won", "position": 9}),
        "leads" => json!({"title": "New lead"}),
        "lead_scores" => json!({"lead_id": id("lead"), "score": 50, "model": "manual"}),
        "deals" => {
            json!({"pipeline_id": id("pipeline"), "stage_id": id("stage"), "name": "Upsell"})
        }
        "sales_transactions" => json!({"amount": 10}),
        "activities" => json!({"kind": "note", "subject": "Met"}),
        "sla_policies" => {
            json!({"priority": "low", "first_response_minutes": 60, "resolution_minutes": 600})
        }
        "tickets" => json!({"subject": "Printer on fire"}),
        "ticket_messages" => {
            json!({"ticket_id": id("ticket_own"), "body": "Any news?", "author_kind": "customer"})
        }
        "canned_replies" => json!({"title": "Thanks", "body": "Thank you"}),
        "segments" => json!({"name": "VIP"}),
        "campaigns" => json!({"name": "Autumn", "channel": "email"}),
        "campaign_metrics" => {
            json!({"campaign_id": id("campaign"), "day": "2020-01-01", "channel": "email"})
        }
        "marketing_events" => json!({"kind": "click"}),
        "site_templates" => json!({"name": "Portfolio"}),
        "site_projects" => json!({"name": "New site"}),
        "site_versions" => json!({"project_id": id("project_own"), "version": 7, "settings": {}}),
        "products" => json!({"name": "Support plan"}),
        "prices" => json!({"product_id": id("product"), "kind": "one_time", "unit_amount": 5}),
        "billing_customers" => json!({"email": "new@example.test"}),
        "subscriptions" => json!({
            "customer_id": id("billing_customer_own"), "price_id": id("price"), "status": "active"
        }),
        "usage_events" => json!({
            "subscription_id": id("subscription"), "metric": "api_calls", "quantity": 1,
            "idempotency_key": "matrix"
        }),
        "invoices" => json!({
            "customer_id": id("billing_customer_own"), "number": "INV-NEW", "amount_due": 5
        }),
        "payments" => {
            json!({"transaction_id": "tx-matrix", "amount": 5, "payment_type": "one_time"})
        }
        "refunds" => json!({"payment_id": id("payment_other"), "amount": 1}),
        "integrations" => json!({"provider": "salesforce"}),
        "sync_runs" => json!({"integration_id": id("integration"), "direction": "pull"}),
        "webhook_endpoints" => json!({"url": "https://hooks.example.test/new"}),
        "webhook_deliveries" => json!({
            "endpoint_id": id("webhook_endpoint"), "event": "deal.won", "payload": {}
        }),
        other => panic!("no new row for {other}"),
    };
    let mut row = extra;
    row["org_id"] = json!(org);
    row
}

/// The ids of `table` in org A that `where` selects, as the database owner sees them.
async fn expected(pool: &PgPool, table: &str, org: Uuid, where_: &str) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = sqlx::query_scalar(AssertSqlSafe(format!(
        "select id from public.{table} where org_id = $1 and ({where_})"
    )))
    .bind(org)
    .fetch_all(pool)
    .await
    .unwrap();
    ids.sort();
    ids
}

/// What a write answered: allowed (a row came back, or a foreign key stopped it after the
/// policy let it through) or refused (no row, or 401/403).
fn written(table: &str, op: &str, (status, body): &(u16, Value)) -> bool {
    match status {
        200 | 201 => match body.as_array().map(Vec::len) {
            Some(1) => true,
            Some(0) => false,
            _ => panic!("{op} {table}: unexpected body {body}"),
        },
        409 if op == "delete" && body["code"] == "23503" => true,
        401 | 403 if body["code"] == "42501" => false,
        _ => panic!("{op} {table}: unexpected answer {status} {body}"),
    }
}

async fn insert(w: &World, token: &str, table: &str, row: &Value) -> bool {
    let r = call(
        w.rest(Method::POST, &format!("/{table}"), token)
            .header("prefer", "return=representation,tx=rollback")
            .json(row),
    )
    .await;
    written(table, "insert", &r)
}

async fn change(w: &World, token: &str, table: &str, id: Uuid, delete: bool) -> bool {
    let (method, op) = if delete {
        (Method::DELETE, "delete")
    } else {
        (Method::PATCH, "update")
    };
    let mut rb = w
        .rest(method, &format!("/{table}?id=eq.{id}"), token)
        .header("prefer", "return=representation,tx=rollback");
    if !delete {
        rb = rb.json(&json!({"updated_at": "2001-01-01T00:00:00Z"}));
    }
    written(table, op, &call(rb).await)
}

#[sqlx::test]
async fn each_role_reads_and_writes_exactly_what_its_preset_allows(pool: PgPool) {
    let w = World::build(pool).await;
    let customer = w.members["customer"].id;
    let mut failures = Vec::new();
    for (table, cells) in MATRIX {
        for (role, cell) in ROLES.iter().zip(cells) {
            let token = w.token(role);
            let (status, rows) =
                call(w.rest(Method::GET, &format!("/{table}?select=id"), token)).await;
            assert_eq!(status, 200, "{role} reading {table}: {rows}");
            let sees = ids_of(&rows);
            let want = match *cell {
                "-" => vec![],
                "r" | "rw" => expected(&w.app.pool, table, w.a, "true").await,
                "ticket" => {
                    let rule =
                        "user_id in (select user_id from public.tickets where org_id = '{o}')";
                    expected(
                        &w.app.pool,
                        table,
                        w.a,
                        &rule.replace("{o}", &w.a.to_string()),
                    )
                    .await
                }
                _ => {
                    let rule = own_rows(table).replace("{c}", &customer.to_string());
                    expected(&w.app.pool, table, w.a, &rule).await
                }
            };
            let may_insert = matches!(*cell, "rw" | "own+i");
            let may_update = matches!(*cell, "rw" | "own+u");
            let may_delete = *cell == "rw";
            let id = w.id(target(table));
            let got = (
                sees.clone(),
                insert(&w, token, table, &new_row(&w, table, w.a)).await,
                change(&w, token, table, id, false).await,
                change(&w, token, table, id, true).await,
            );
            if got != (want.clone(), may_insert, may_update, may_delete) {
                failures.push(format!(
                    "{role} on {table} ({cell}): sees {} of {} expected rows{}, insert {}, update {}, delete {}",
                    sees.len(),
                    want.len(),
                    if sees == want { "" } else { " (different rows)" },
                    got.1,
                    got.2,
                    got.3
                ));
            }
            assert!(
                !want.is_empty() || *cell == "-",
                "{table}: the fixture has no row for {role} to see"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[sqlx::test]
async fn no_role_reaches_another_orgs_rows(pool: PgPool) {
    let w = World::build(pool).await;
    let mut failures = Vec::new();
    for (table, _) in MATRIX {
        let theirs = w.ids_b[target(table)];
        for role in ROLES {
            let token = w.token(role);
            let (_, rows) = call(w.rest(
                Method::GET,
                &format!("/{table}?select=id&org_id=eq.{}", w.b),
                token,
            ))
            .await;
            let leaked = !ids_of(&rows).is_empty();
            let inserted = insert(&w, token, table, &new_row(&w, table, w.b)).await;
            let updated = change(&w, token, table, theirs, false).await;
            let deleted = change(&w, token, table, theirs, true).await;
            if leaked || inserted || updated || deleted {
                failures.push(format!(
                    "{role} of org A on org B's {table}: read {leaked}, insert {inserted}, update {updated}, delete {deleted}"
                ));
            }
        }
        // Org B's own admin does see its row, so the rows exist and the check above means something.
        let (_, rows) = call(w.rest(
            Method::GET,
            &format!("/{table}?select=id&id=eq.{theirs}"),
            &w.admin_b.token,
        ))
        .await;
        assert_eq!(ids_of(&rows), vec![theirs], "org B's admin reading {table}");
    }
    assert!(
        failures.is_empty(),
        "cross-org access:\n{}",
        failures.join("\n")
    );
}

#[sqlx::test]
async fn an_admin_without_a_second_factor_has_no_permissions(pool: PgPool) {
    let w = World::build(pool).await;
    let session = w.app.sign_in("admin@a.test", crate::auth::PASSWORD).await;
    let aal1 = session["access_token"].as_str().unwrap();
    assert_eq!(crate::harness::claims_of(aal1)["aal"], "aal1");

    let (status, leads) = call(w.rest(Method::GET, "/leads?select=id", aal1)).await;
    let inserted = insert(&w, aal1, "leads", &new_row(&w, "leads", w.a)).await;
    let (_, with_mfa) = call(w.rest(Method::GET, "/leads?select=id", w.token("admin"))).await;

    assert_eq!(status, 200);
    assert_eq!(
        leads,
        json!([]),
        "admin is in require_mfa_roles: nothing at aal1"
    );
    assert!(!inserted, "and no writes at aal1");
    assert_eq!(
        ids_of(&with_mfa),
        vec![w.id("lead")],
        "the same admin at aal2 sees the lead"
    );
}

#[sqlx::test]
async fn permissions_are_data_an_admin_changes_through_the_api(pool: PgPool) {
    let w = World::build(pool).await;
    let before = call(w.rest(Method::GET, "/leads?select=id", w.token("sales_rep"))).await;

    let (status, removed) = call(
        w.rest(
            Method::DELETE,
            &format!(
                "/role_permissions?org_id=eq.{}&role=eq.sales_rep&permission=eq.leads.read",
                w.a
            ),
            w.token("admin"),
        )
        .header("prefer", "return=representation"),
    )
    .await;
    let after = call(w.rest(Method::GET, "/leads?select=id", w.token("sales_rep"))).await;
    let refused = call(
        w.rest(Method::POST, "/role_permissions", w.token("sales_rep"))
            .json(&json!({"org_id": w.a, "role": "sales_rep", "permission": "leads.read"})),
    )
    .await;

    assert_eq!(ids_of(&before.1), vec![w.id("lead")]);
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed.as_array().unwrap().len(), 1);
    assert_eq!(after.1, json!([]), "the rep no longer reads leads");
    assert_eq!(
        refused.0, 403,
        "a rep cannot grant permissions: {}",
        refused.1
    );
}
