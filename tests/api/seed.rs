//! `bizbase seed demo`: the volumes the issue asks for, one member per role, idempotence, the
//! refusal to seed a database holding other data, RPC figures worth a dashboard, and demo users
//! who sign in with their printed passwords and see what their role allows.

use std::collections::BTreeSet;

use bizbase::{
    Config,
    config::{Sources, auth::AuthConfig},
    seed::demo::{self, Outcome, Seeded},
};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::{PgPool, Row};

use crate::harness::{TestApp, claims_of, json};

/// The auth settings of the test apps (cheap argon2, default password policy).
fn auth_config() -> AuthConfig {
    let mut src = Sources::default();
    src.set("ARGON2_MEMORY_KIB", "64");
    src.set("ARGON2_ITERATIONS", "1");
    Config::from_sources(&src).unwrap().auth
}

async fn seed(pool: &PgPool) -> Seeded {
    match demo::seed(pool, &auth_config(), false).await.unwrap() {
        Outcome::Created(seeded) => seeded,
        other => panic!("expected the demo to be created, got {other:?}"),
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Runs `sql` (one value, bound to the org and pipeline) as service_role, as the data API would.
async fn as_service(pool: &PgPool, sql: &str, seeded: &Seeded) -> Value {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("set local role service_role")
        .execute(&mut *tx)
        .await
        .unwrap();
    let value: Value = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(seeded.org_id)
        .bind(seeded.pipeline_id)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    value
}

fn password_of<'a>(seeded: &'a Seeded, role: &str) -> (&'static str, &'a str) {
    let u = seeded.users.iter().find(|u| u.role == role).unwrap();
    (u.email, u.password.expose_secret())
}

#[sqlx::test]
async fn seed_demo_creates_the_volumes_the_issue_asks_for(pool: PgPool) {
    let started = std::time::Instant::now();
    let seeded = seed(&pool).await;
    eprintln!(
        "seeded in {:?}: {}",
        started.elapsed(),
        seeded.counts_line()
    );

    let counts: std::collections::HashMap<_, _> = seeded.counts.iter().copied().collect();
    assert_eq!(counts["contacts"], 500);
    assert_eq!(counts["leads"], 2000);
    assert_eq!(counts["tickets"], 300);
    assert!(counts["companies"] >= 100);
    assert!(counts["deals"] >= 300, "{counts:?}");
    assert!(counts["ticket_messages"] >= 900, "{counts:?}");
    assert!(counts["campaign_metrics"] >= 300, "{counts:?}");
    assert!(counts["marketing_events"] >= 500, "{counts:?}");
    assert!(counts["payments"] >= 150, "{counts:?}");
    let customer = seeded
        .users
        .iter()
        .find(|u| u.role == "customer")
        .unwrap()
        .id;
    for table in [
        "tickets",
        "site_projects",
        "payments",
        "invoices",
        "subscriptions",
    ] {
        let own: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select count(*) from public.{table} where {} = $1",
            if table == "site_projects" {
                "client_id"
            } else {
                "user_id"
            }
        )))
        .bind(customer)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(own > 0, "the demo customer has no {table}");
    }
    let prices: Vec<String> = sqlx::query_scalar(
        "select distinct kind || ':' || coalesce(billing_interval, '-') from public.prices order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        prices,
        [
            "metered:month",
            "one_time:-",
            "recurring:month",
            "recurring:year"
        ]
    );
    let ticket_numbers = count(&pool, "select count(distinct ticket_number) from public.tickets where ticket_number ~ '^T-1[0-9]{3}$'").await;
    assert_eq!(ticket_numbers, 300);
    // The next invoice of the org continues after the seeded ones instead of colliding with them.
    let highest = count(
        &pool,
        "select max(substr(number, 5)::bigint) from public.invoices where number ~ '^INV-[0-9]+$'",
    )
    .await;
    let next: String = sqlx::query_scalar(
        "insert into public.invoices (org_id, customer_id, amount_due) \
         select org_id, customer_id, 1 from public.invoices limit 1 returning number",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(next, format!("INV-{:05}", highest + 1));
    assert!(count(&pool, "select count(*) from public.refunds").await > 0);
    assert_eq!(
        count(&pool, "select count(*) from public.integrations").await,
        4
    );
    assert_eq!(
        count(&pool, "select count(*) from private.integration_secrets").await,
        0
    );
    let leads_of_rep = count(&pool, "select count(*) from public.leads l join auth.users u on u.id = l.user_id where u.email = 'sales@acme.test' and l.lead_details ? 'need'").await;
    assert_eq!(leads_of_rep, 2000);
    let inconsistent_deals = count(
        &pool,
        "select count(*) from public.deals d join public.pipeline_stages s on s.id = d.stage_id where s.kind <> d.status",
    )
    .await;
    assert_eq!(inconsistent_deals, 0);
    let spread_days = count(
        &pool,
        "select extract(day from now() - min(created_at))::bigint from public.tickets",
    )
    .await;
    assert!(
        (150..=180).contains(&spread_days),
        "tickets span {spread_days} days"
    );
    let audited = count(
        &pool,
        "select count(*) from private.audit_log where table_name = 'leads' and actor_role = 'service_role' \
         and request_id = 'bizbase seed demo'",
    )
    .await;
    assert_eq!(audited, 2000);
}

#[sqlx::test]
async fn seed_demo_makes_one_confirmed_member_per_role(pool: PgPool) {
    let seeded = seed(&pool).await;

    let rows = sqlx::query(
        "select m.role, u.email, u.email_confirmed_at is not null as confirmed, u.encrypted_password, p.full_name, \
                (select count(*) from auth.identities i where i.user_id = u.id and i.provider = 'email') as identities \
         from public.org_members m join auth.users u on u.id = m.user_id join public.profiles p on p.id = u.id \
         where m.org_id = $1 order by m.role",
    )
    .bind(seeded.org_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    let roles: Vec<String> = rows.iter().map(|r| r.get("role")).collect();
    assert_eq!(
        roles,
        [
            "admin",
            "customer",
            "customer_service",
            "marketing_manager",
            "sales_rep"
        ]
    );
    for r in &rows {
        let email: String = r.get("email");
        assert!(r.get::<bool, _>("confirmed"), "{email} is not confirmed");
        assert!(
            r.get::<String, _>("encrypted_password")
                .starts_with("$argon2id$")
        );
        assert!(r.get::<Option<String>, _>("full_name").is_some());
        assert_eq!(r.get::<i64, _>("identities"), 1, "{email}");
    }
    let passwords: BTreeSet<&str> = seeded
        .users
        .iter()
        .map(|u| u.password.expose_secret())
        .collect();
    assert_eq!(passwords.len(), 5);
    let table = seeded.credentials_table();
    for u in &seeded.users {
        assert!(table.contains(u.email) && table.contains(u.password.expose_secret()));
    }
    assert!(!format!("{seeded:?}").contains(password_of(&seeded, "admin").1));
}

#[sqlx::test]
async fn seeding_twice_changes_nothing(pool: PgPool) {
    let seeded = seed(&pool).await;
    let audit_before = count(&pool, "select count(*) from private.audit_log").await;
    let users_before = count(&pool, "select count(*) from auth.users").await;

    let again = demo::seed(&pool, &auth_config(), true).await.unwrap();

    let Outcome::AlreadyPresent { org_id } = again else {
        panic!("expected AlreadyPresent, got {again:?}");
    };
    assert_eq!(org_id, seeded.org_id);
    assert_eq!(
        count(&pool, "select count(*) from private.audit_log").await,
        audit_before
    );
    assert_eq!(
        count(&pool, "select count(*) from auth.users").await,
        users_before
    );
    assert_eq!(count(&pool, "select count(*) from public.orgs").await, 1);
    let text = demo::report(&again, std::time::Duration::ZERO).unwrap();
    assert!(text.contains("exists already"), "{text}");
}

#[sqlx::test]
async fn seed_refuses_a_database_with_other_data_unless_forced(pool: PgPool) {
    sqlx::query("insert into auth.users (email) values ('someone@example.com')")
        .execute(&pool)
        .await
        .unwrap();

    let refused = demo::seed(&pool, &auth_config(), false).await.unwrap();

    assert!(
        matches!(refused, Outcome::Refused { orgs: 0, users: 1 }),
        "{refused:?}"
    );
    let message = demo::report(&refused, std::time::Duration::ZERO).unwrap_err();
    assert!(message.to_string().contains("--force"), "{message}");
    assert_eq!(count(&pool, "select count(*) from public.orgs").await, 0);
    assert_eq!(count(&pool, "select count(*) from auth.users").await, 1);

    let forced = demo::seed(&pool, &auth_config(), true).await.unwrap();

    assert!(matches!(forced, Outcome::Created(_)), "{forced:?}");
    assert_eq!(count(&pool, "select count(*) from auth.users").await, 6);
}

#[sqlx::test]
async fn dashboard_rpcs_return_interesting_figures_on_the_demo(pool: PgPool) {
    let seeded = seed(&pool).await;

    let pipeline = as_service(
        &pool,
        "select json_agg(s order by position) from public.pipeline_summary($1, $2) s",
        &seeded,
    )
    .await;
    let tickets = as_service(
        &pool,
        "select public.ticket_stats($1, now() - interval '180 days', now()) where $2::uuid is not null",
        &seeded,
    )
    .await;
    let kpi = as_service(
        &pool,
        "select public.kpi_snapshot($1) where $2::uuid is not null",
        &seeded,
    )
    .await;

    let stages = pipeline.as_array().unwrap();
    assert_eq!(stages.len(), 6, "{pipeline}");
    let with_value = stages
        .iter()
        .filter(|s| s["deals"].as_i64() > Some(0) && s["weighted_value"].as_f64() > Some(0.0))
        .count();
    assert!(with_value >= 5, "{pipeline}");
    assert!(
        stages.iter().all(|s| s["deals"].as_i64() > Some(0)),
        "{pipeline}"
    );
    assert_eq!(tickets["tickets"], 300, "{tickets}");
    assert!(
        tickets["resolution_minutes"]["resolved"].as_i64() > Some(100),
        "{tickets}"
    );
    assert!(
        tickets["first_response_minutes"]["median"].as_f64() > Some(0.0),
        "{tickets}"
    );
    assert!(
        tickets["sla_breaches"]["first_response"].as_i64() > Some(0),
        "{tickets}"
    );
    assert!(
        tickets["sla_breaches"]["resolution"].as_i64() > Some(0),
        "{tickets}"
    );
    for label in ["negative", "neutral", "positive"] {
        assert!(tickets["sentiment"][label].as_i64() > Some(0), "{tickets}");
    }
    for status in ["open", "pending", "solved", "closed"] {
        assert!(tickets["by_status"][status].as_i64() > Some(0), "{tickets}");
    }
    for figure in ["revenue_30d", "revenue_total", "mrr", "open_pipeline_value"] {
        assert!(kpi[figure].as_f64() > Some(0.0), "{figure}: {kpi}");
    }
    for figure in ["open_deals", "open_tickets", "active_campaigns"] {
        assert!(kpi[figure].as_i64() > Some(0), "{figure}: {kpi}");
    }
    let history = as_service(
        &pool,
        "select json_agg(distinct h.kind) from public.contacts c, public.customer_history(c.id) h \
         where c.org_id = $1 and c.email = 'customer@acme.test' and $2::uuid is not null",
        &seeded,
    )
    .await;
    for kind in ["ticket", "ticket_message", "payment", "campaign"] {
        assert!(
            history.as_array().unwrap().contains(&Value::from(kind)),
            "{history}"
        );
    }
}

#[sqlx::test]
async fn demo_users_sign_in_with_the_printed_passwords_and_see_their_share(pool: PgPool) {
    let seeded = seed(&pool).await;
    let app = TestApp::spawn(pool).await;
    let (sales_email, sales_password) = password_of(&seeded, "sales_rep");
    let (customer_email, customer_password) = password_of(&seeded, "customer");

    let sales = app.sign_in(sales_email, sales_password).await;
    let customer = app.sign_in(customer_email, customer_password).await;
    let wrong = app.password_grant(sales_email, "not-the-password").await;

    assert_eq!(wrong.status(), 400);
    let claims = claims_of(sales["access_token"].as_str().unwrap());
    assert_eq!(
        claims["app_metadata"]["orgs"][seeded.org_id.to_string()],
        "sales_rep"
    );
    let rest = |token: &str, path: &str| {
        app.client
            .request(Method::GET, app.url(&format!("/rest/v1{path}")))
            .header("apikey", &app.anon_key)
            .header("prefer", "count=exact")
            .bearer_auth(token.to_owned())
    };
    let total = |r: &reqwest::Response| {
        let range = r.headers()["content-range"].to_str().unwrap().to_owned();
        range.rsplit('/').next().unwrap().parse::<i64>().unwrap()
    };
    let sales_token = sales["access_token"].as_str().unwrap();
    let customer_token = customer["access_token"].as_str().unwrap();
    let leads = rest(sales_token, "/leads?select=id&limit=1")
        .send()
        .await
        .unwrap();
    let own_tickets = rest(customer_token, "/tickets?select=id&limit=1")
        .send()
        .await
        .unwrap();
    let customer_leads = rest(customer_token, "/leads?select=id")
        .send()
        .await
        .unwrap();

    assert_eq!(
        (leads.status(), total(&leads)),
        (reqwest::StatusCode::PARTIAL_CONTENT, 2000)
    );
    let expected = count(
        &app.pool,
        "select count(*) from public.tickets t join auth.users u on u.id = t.user_id where u.email = 'customer@acme.test'",
    )
    .await;
    assert!(expected > 0);
    assert_eq!(total(&own_tickets), expected);
    assert_eq!(json(customer_leads).await, serde_json::json!([]));
}
