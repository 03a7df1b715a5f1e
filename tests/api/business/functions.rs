//! The data-logic RPCs on known data: `pipeline_summary`, `ticket_stats`, `kpi_snapshot` and
//! `customer_history`, each under the caller's row-level security.

use reqwest::Method;
use serde_json::{Value, json};

use super::{World, call};

async fn rpc(w: &World, role: &str, name: &str, args: Value) -> Value {
    let (status, body) = call(
        w.rest(Method::POST, &format!("/rpc/{name}"), w.token(role))
            .json(&args),
    )
    .await;
    assert_eq!(status, 200, "{role} calling {name}: {body}");
    body
}

#[sqlx::test]
async fn pipeline_summary_counts_values_and_weights_each_stage(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    // The fixture has stage "Qualified" (position 1, 20 %) with one deal of 5000.
    sqlx::query(
        "with s as (insert into public.pipeline_stages (org_id, pipeline_id, name, position, probability, kind) \
           values ($1, $2, 'Proposal', 2, 50, 'open'), ($1, $2, 'Won', 3, 100, 'won') returning id, name) \
         insert into public.deals (org_id, pipeline_id, stage_id, name, amount) \
         select $1, $2, s.id, 'd' || a, a from s, unnest(array[1000, 3000]) a where s.name = 'Proposal'",
    )
    .bind(w.a)
    .bind(w.id("pipeline"))
    .execute(&w.app.pool)
    .await
    .unwrap();
    let args = json!({"org_id": w.a, "pipeline_id": w.id("pipeline")});

    let rep = rpc(&w, "sales_rep", "pipeline_summary", args.clone()).await;
    let marketing = rpc(&w, "marketing_manager", "pipeline_summary", args).await;

    let rows: Vec<(String, i64, f64, f64)> = rep
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["stage"].as_str().unwrap().to_owned(),
                r["deals"].as_i64().unwrap(),
                r["value"].as_f64().unwrap(),
                r["weighted_value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("Qualified".to_owned(), 1, 5000.0, 1000.0),
            ("Proposal".to_owned(), 2, 4000.0, 2000.0),
            ("Won".to_owned(), 0, 0.0, 0.0),
        ]
    );
    assert_eq!(marketing, json!([]), "no deals.read, no stages");
}

#[sqlx::test]
async fn ticket_stats_measure_volume_times_breaches_and_sentiment(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    // Three tickets opened ten days ago (SLA: high 4 h / 24 h, normal 8 h / 48 h, urgent 1 h / 4 h):
    // high answered after 1 h and solved after 20 h; normal answered after 10 h (late) and still
    // open (late); urgent never answered (late) and closed after 2 h.
    sqlx::query(
        "with t as (insert into public.tickets (org_id, subject, priority, status, created_at, first_responded_at, resolved_at) values \
           ($1, 'high', 'high', 'solved', now() - interval '10 days', now() - interval '10 days' + interval '1 hour', now() - interval '10 days' + interval '20 hours'), \
           ($1, 'normal', 'normal', 'open', now() - interval '10 days', now() - interval '10 days' + interval '10 hours', null), \
           ($1, 'urgent', 'urgent', 'closed', now() - interval '10 days', null, now() - interval '10 days' + interval '2 hours') \
           returning id, subject) \
         insert into public.ticket_messages (org_id, ticket_id, author_kind, body, sentiment_label) \
         select $1, t.id, 'customer', 'm', l from t join (values ('high', 'positive'), ('normal', 'negative'), \
           ('normal', 'negative'), ('urgent', 'neutral')) v(s, l) on v.s = t.subject",
    )
    .bind(w.a)
    .execute(&w.app.pool)
    .await
    .unwrap();
    let args = json!({
        "org_id": w.a,
        "from": chrono::Utc::now() - chrono::Duration::days(11),
        "to": chrono::Utc::now() - chrono::Duration::days(9),
    });

    let stats = rpc(&w, "customer_service", "ticket_stats", args.clone()).await;
    let rep = rpc(&w, "sales_rep", "ticket_stats", args).await;

    assert_eq!(stats["tickets"], 3);
    assert_eq!(
        stats["by_status"],
        json!({"open": 1, "solved": 1, "closed": 1})
    );
    assert_eq!(
        stats["by_priority"],
        json!({"high": 1, "normal": 1, "urgent": 1})
    );
    assert_eq!(
        stats["first_response_minutes"],
        json!({"avg": 330.0, "median": 330.0, "responded": 2})
    );
    assert_eq!(
        stats["resolution_minutes"],
        json!({"avg": 660.0, "median": 660.0, "resolved": 2})
    );
    assert_eq!(
        stats["sla_breaches"],
        json!({"first_response": 2, "resolution": 1})
    );
    assert_eq!(
        stats["sentiment"],
        json!({"negative": 2, "neutral": 1, "positive": 1})
    );
    assert_eq!(rep["tickets"], 0, "a sales rep sees no tickets: {rep}");
}

#[sqlx::test]
async fn kpi_snapshot_sums_what_the_caller_may_see(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    // Beside the fixture (payments of 20 and 99.50 today, a 20/month subscription, one open deal,
    // two open tickets, one running campaign): a payment of 40 sixty days ago with 5 refunded,
    // and two seats of a 120/year plan.
    sqlx::query(
        "insert into public.payments (org_id, transaction_id, amount, amount_refunded, payment_type, status, paid_at) \
         values ($1, 'tx-old-' || $1, 40, 5, 'one_time', 'partially_refunded', now() - interval '60 days'); \
         ",
    )
    .bind(w.a)
    .execute(&w.app.pool)
    .await
    .unwrap();
    sqlx::query(
        "with p as (insert into public.prices (org_id, product_id, kind, unit_amount, billing_interval) \
           values ($1, $2, 'recurring', 120, 'year') returning id) \
         insert into public.subscriptions (org_id, customer_id, price_id, status, quantity) \
         select $1, $3, p.id, 'active', 2 from p",
    )
    .bind(w.a)
    .bind(w.id("product"))
    .bind(w.id("billing_customer_other"))
    .execute(&w.app.pool)
    .await
    .unwrap();

    let admin = rpc(&w, "admin", "kpi_snapshot", json!({"org_id": w.a})).await;
    let rep = rpc(&w, "sales_rep", "kpi_snapshot", json!({"org_id": w.a})).await;

    assert_eq!(admin["revenue_30d"], json!(119.5));
    assert_eq!(admin["revenue_total"], json!(154.5));
    assert_eq!(admin["mrr"], json!(40.0));
    assert_eq!(admin["open_deals"], 1);
    assert_eq!(admin["open_pipeline_value"], json!(5000.0));
    assert_eq!(admin["open_tickets"], 2);
    assert_eq!(admin["active_campaigns"], 1);
    assert_eq!(rep["revenue_total"], json!(0), "no payments.read: {rep}");
    assert_eq!(rep["mrr"], json!(0));
    assert_eq!(rep["open_deals"], 1);
    assert_eq!(rep["open_tickets"], 0);
}

#[sqlx::test]
async fn customer_history_lists_every_touch_in_time_order(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let args = json!({"contact_id": w.id("contact")});

    let admin = rpc(&w, "admin", "customer_history", args.clone()).await;
    let service = rpc(&w, "customer_service", "customer_history", args).await;

    let kinds = |h: &Value| -> Vec<String> {
        let mut k: Vec<String> = h
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        k.sort();
        k
    };
    assert_eq!(
        kinds(&admin),
        vec![
            "campaign",
            "deal",
            "lead",
            "payment",
            "ticket",
            "ticket_message",
            "ticket_message"
        ]
    );
    let times: Vec<&str> = admin
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    assert_eq!(
        kinds(&service),
        vec!["payment", "ticket", "ticket_message", "ticket_message"],
        "customer service sees the tickets and the ticket customer's payments, not the sales side"
    );
}
