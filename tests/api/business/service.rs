//! Tickets: numbers per org without gaps or duplicates under concurrent inserts, SLA due times
//! from the org's policy or the defaults, and the first public agent reply stamping the first
//! response.

use reqwest::Method;
use serde_json::json;

use super::{World, call};

#[sqlx::test]
async fn concurrent_tickets_get_distinct_consecutive_numbers_per_org(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let opened = (0..24).map(|i| {
        let rb = w
            .returning(Method::POST, "/tickets", w.token("customer_service"))
            .json(&json!({"org_id": w.a, "subject": format!("parallel {i}")}));
        call(rb)
    });
    let answers = futures_join(opened).await;

    let mut numbers: Vec<i64> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            let number = body[0]["number"].as_i64().unwrap();
            assert_eq!(body[0]["ticket_number"], format!("T-{number}"));
            number
        })
        .collect();
    numbers.sort();
    // The fixture opened T-1001 and T-1002 in each org.
    assert_eq!(numbers, (1003..1027).collect::<Vec<i64>>());
    let b_next: i32 = sqlx::query_scalar(
        "insert into public.tickets (org_id, subject) values ($1, 'b') returning number",
    )
    .bind(w.b)
    .fetch_one(&w.app.pool)
    .await
    .unwrap();
    assert_eq!(b_next, 1003, "each org counts on its own");
}

/// Runs the futures concurrently on the test's runtime.
pub(super) async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[sqlx::test]
async fn sla_due_times_follow_the_priority_and_the_first_reply_is_stamped(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let token = w.token("customer_service");
    let open = |priority: &'static str| {
        call(
            w.returning(Method::POST, "/tickets", token)
                .json(&json!({"org_id": w.a, "subject": priority, "priority": priority})),
        )
    };
    let minutes = |row: &serde_json::Value, column: &str| -> i64 {
        let at = |c: &str| chrono::DateTime::parse_from_rfc3339(row[c].as_str().unwrap()).unwrap();
        (at(column) - at("created_at")).num_minutes()
    };

    let (_, urgent) = open("urgent").await; // the fixture's org policy: 30 min / 120 min
    let (_, low) = open("low").await; // the defaults: 24 h / 96 h
    let ticket = urgent[0]["id"].as_str().unwrap().to_owned();
    let internal = call(w.rest(Method::POST, "/ticket_messages", token).json(
        &json!({"org_id": w.a, "ticket_id": ticket, "body": "note to self", "internal": true}),
    ))
    .await;
    let (_, after_note) =
        call(w.rest(Method::GET, &format!("/tickets?id=eq.{ticket}"), token)).await;
    let reply = call(
        w.rest(Method::POST, "/ticket_messages", token)
            .json(&json!({"org_id": w.a, "ticket_id": ticket, "body": "We are on it"})),
    )
    .await;
    let (_, after_reply) =
        call(w.rest(Method::GET, &format!("/tickets?id=eq.{ticket}"), token)).await;
    let (_, solved) = call(
        w.returning(Method::PATCH, &format!("/tickets?id=eq.{ticket}"), token)
            .json(&json!({"status": "solved", "number": 1})),
    )
    .await;

    assert_eq!(minutes(&urgent[0], "first_response_due_at"), 30);
    assert_eq!(minutes(&urgent[0], "resolution_due_at"), 120);
    assert_eq!(minutes(&low[0], "first_response_due_at"), 24 * 60);
    assert_eq!(minutes(&low[0], "resolution_due_at"), 96 * 60);
    assert_eq!(internal.0, 201);
    assert_eq!(
        after_note[0]["first_responded_at"],
        json!(null),
        "an internal note is no response"
    );
    assert_eq!(reply.0, 201);
    assert!(after_reply[0]["first_responded_at"].is_string());
    assert!(
        solved[0]["resolved_at"].is_string(),
        "solving stamps the resolution"
    );
    assert_eq!(
        solved[0]["number"], urgent[0]["number"],
        "the number cannot be changed"
    );
}
