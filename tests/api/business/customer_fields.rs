//! What a customer writes: their own ticket and messages without the staff's fields, and their
//! own site project's name and settings only.

use reqwest::Method;
use serde_json::json;

use super::{World, assert_refused, call};

/// `row` with the keys of `extra` added.
fn with(mut row: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(row), serde_json::Value::Object(extra)) = (row.as_object_mut(), extra) {
        row.extend(extra);
    }
    row
}

#[sqlx::test]
async fn a_customers_ticket_carries_none_of_the_staffs_fields(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let customer = w.token("customer");
    let ticket = |extra: serde_json::Value| {
        w.rest(Method::POST, "/tickets", customer)
            .header("Prefer", "return=representation")
            .json(&with(
                json!({"org_id": w.a, "subject": "Printer on fire"}),
                extra,
            ))
    };

    let plain = call(ticket(json!({}))).await;
    for extra in [
        json!({"contact_id": w.id("contact")}),
        json!({"first_responded_at": "2020-01-01T00:00:00Z"}),
        json!({"sentiment": "positive"}),
        json!({"created_at": "2020-01-01T00:00:00Z"}),
    ] {
        let (status, body) = call(ticket(extra.clone())).await;
        assert_refused(status, &body, 403, "42501");
    }
    let staff = call(
        w.rest(Method::POST, "/tickets", w.token("customer_service"))
            .header("Prefer", "return=representation")
            .json(&json!({"org_id": w.a, "subject": "Called in", "contact_id": w.id("contact")})),
    )
    .await;

    assert_eq!(plain.0, 201, "{}", plain.1);
    assert_eq!(
        staff.0, 201,
        "staff file tickets for a contact: {}",
        staff.1
    );
}

#[sqlx::test]
async fn a_customers_message_carries_no_sentiment_and_no_date_of_their_choosing(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let message = |token: &str, extra: serde_json::Value| {
        let row = json!({"org_id": w.a, "ticket_id": w.id("ticket_own"), "body": "Still broken"});
        w.rest(Method::POST, "/ticket_messages", token)
            .header("Prefer", "return=representation")
            .json(&with(row, extra))
    };
    let customer = w.token("customer");

    let plain = call(message(customer, json!({"author_kind": "customer"}))).await;
    assert_eq!(plain.0, 201, "{}", plain.1);
    for extra in [
        json!({"sentiment": 0.99}),
        json!({"sentiment_label": "positive"}),
        json!({"created_at": "2020-01-01T00:00:00Z"}),
    ] {
        let mut extra = extra;
        extra["author_kind"] = json!("customer");
        let (status, body) = call(message(customer, extra)).await;
        assert_refused(status, &body, 403, "42501");
    }
    // Staff label messages (the sentiment analysis runs as them or as the service).
    let labelled = call(message(
        w.token("customer_service"),
        json!({"sentiment": -0.4, "sentiment_label": "negative"}),
    ))
    .await;
    assert_eq!(labelled.0, 201, "{}", labelled.1);
}

#[sqlx::test]
async fn a_customer_customizes_only_the_name_and_settings_of_their_site_project(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let path = format!("/site_projects?id=eq.{}", w.id("project_own"));
    let patch = |token: &str, body: serde_json::Value| {
        w.rest(Method::PATCH, &path, token)
            .header("Prefer", "return=representation")
            .json(&body)
    };

    let customized = call(patch(
        w.token("customer"),
        json!({"name": "My shop", "settings": {"colour": "teal"}}),
    ))
    .await;
    let mut refused = Vec::new();
    for body in [
        json!({"status": "live"}),
        json!({"domain": "evil.example"}),
        json!({"template_id": null}),
        json!({"contact_id": w.id("contact")}),
        json!({"created_at": "2000-01-01T00:00:00Z"}),
        json!({"id": uuid::Uuid::new_v4()}),
    ] {
        refused.push(call(patch(w.token("customer"), body)).await);
    }
    let by_staff = call(patch(w.token("admin"), json!({"status": "live"}))).await;

    assert_eq!(customized.0, 200, "{}", customized.1);
    assert_eq!(customized.1[0]["name"], "My shop");
    for (status, body) in refused {
        assert_refused(status, &body, 403, "42501");
    }
    assert_eq!(by_staff.0, 200, "{}", by_staff.1);
    assert_eq!(by_staff.1[0]["status"], "live");
}
