//! Columns that say who wrote a row (migration 0039): messages, site versions, canned replies,
//! campaigns, refunds, invitations, orgs: a signed-in writer is always the one named,
//! and the name never changes afterwards; the service role may name anyone (imports).

use reqwest::Method;
use serde_json::json;

use super::{World, assert_refused, call};

#[sqlx::test]
async fn a_staff_message_is_written_in_the_writers_name_only(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let agent = &w.members["customer_service"];
    let colleague = w.members["admin"].id;
    let message = |author: serde_json::Value| {
        let mut row =
            json!({"org_id": w.a, "ticket_id": w.id("ticket_own"), "body": "We are on it"});
        if !author.is_null() {
            row["author_id"] = author;
        }
        w.returning(Method::POST, "/ticket_messages", &agent.token)
            .json(&row)
    };

    let (plain, written) = call(message(serde_json::Value::Null)).await;
    let own = call(message(json!(agent.id))).await;
    let (forged, refusal) = call(message(json!(colleague))).await;
    let (hidden, _) = call(
        w.returning(Method::POST, "/ticket_messages", &agent.token)
            .json(&json!({"org_id": w.a, "ticket_id": w.id("ticket_own"), "body": "anonymous", "author_id": null})),
    )
    .await;

    assert_eq!(plain, 201, "{written}");
    assert_eq!(written[0]["author_id"], json!(agent.id));
    assert_eq!(own.0, 201, "{}", own.1);
    assert_refused(forged, &refusal, 403, "42501");
    assert!(
        refusal["message"]
            .as_str()
            .unwrap()
            .contains(r#"column "author_id" of table "ticket_messages""#),
        "{refusal}"
    );
    assert_eq!(hidden, 403, "an explicit null hides the author too");

    let path = format!(
        "/ticket_messages?id=eq.{}",
        written[0]["id"].as_str().unwrap()
    );
    let (moved, body) = call(
        w.returning(Method::PATCH, &path, &agent.token)
            .json(&json!({"author_id": colleague})),
    )
    .await;
    let (edited, body_edit) = call(
        w.returning(Method::PATCH, &path, &agent.token)
            .json(&json!({"body": "We are on it (edited)"})),
    )
    .await;
    assert_refused(moved, &body, 403, "42501");
    assert_eq!(edited, 200, "other columns stay editable: {body_edit}");
    assert_eq!(body_edit[0]["author_id"], json!(agent.id));
}

#[sqlx::test]
async fn versions_replies_campaigns_refunds_invitations_and_orgs_name_their_writer(
    pool: sqlx::PgPool,
) {
    let w = World::build(pool).await;
    let customer = &w.members["customer"];
    let admin = &w.members["admin"];
    let someone_else = w.members["sales_rep"].id;

    let tries = [
        (
            &customer.token,
            "/site_versions",
            json!({"org_id": w.a, "project_id": w.id("project_own"), "version": 2, "settings": {}, "created_by": admin.id}),
        ),
        (
            &admin.token,
            "/canned_replies",
            json!({"org_id": w.a, "title": "Hi", "body": "Hello", "created_by": someone_else}),
        ),
        (
            &w.members["marketing_manager"].token,
            "/campaigns",
            json!({"org_id": w.a, "segment_id": w.id("segment"), "name": "Spring", "channel": "email", "created_by": someone_else}),
        ),
        (
            &admin.token,
            "/refunds",
            json!({"org_id": w.a, "payment_id": w.id("payment_own"), "amount": 5, "reason": "other", "created_by": someone_else}),
        ),
        (
            &admin.token,
            "/org_invitations",
            json!({"org_id": w.a, "email": "new@a.test", "role": "sales_rep", "invited_by": someone_else}),
        ),
    ];
    for (token, path, row) in tries {
        let (status, body) = call(w.returning(Method::POST, path, token).json(&row)).await;
        assert_refused(status, &body, 403, "42501");

        let mut own = row.clone();
        let column = ["created_by", "invited_by"]
            .into_iter()
            .find(|c| own.get(*c).is_some())
            .unwrap();
        own.as_object_mut().unwrap().remove(column);
        let (status, body) = call(w.returning(Method::POST, path, token).json(&own)).await;
        assert_eq!(status, 201, "{path}: {body}");
        assert_ne!(body[0][column], json!(someone_else), "{path}");
        assert!(!body[0][column].is_null(), "{path}: {body}");
    }

    let org = format!("/orgs?id=eq.{}", w.a);
    let (status, body) = call(
        w.returning(Method::PATCH, &org, &admin.token)
            .json(&json!({"created_by": someone_else})),
    )
    .await;
    assert_refused(status, &body, 403, "42501");
    let (status, body) = call(
        w.returning(Method::PATCH, &org, &admin.token)
            .json(&json!({"name": "Org A, renamed"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[sqlx::test]
async fn the_service_role_may_name_any_author(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let colleague = w.members["admin"].id;
    let service = w.app.service_key.clone();

    let (status, body) = call(
        w.app
            .client
            .post(w.app.url("/rest/v1/ticket_messages"))
            .header("apikey", &service)
            .bearer_auth(&service)
            .header("prefer", "return=representation")
            .json(&json!({"org_id": w.a, "ticket_id": w.id("ticket_own"), "body": "Imported", "author_id": colleague})),
    )
    .await;

    assert_eq!(status, 201, "{body}");
    assert_eq!(body[0]["author_id"], json!(colleague));
}
