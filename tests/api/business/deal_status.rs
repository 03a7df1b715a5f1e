//! A deal's status follows its stage: a move to a won or lost stage closes the deal, a move back to
//! an open stage reopens it, an explicit status wins, and `closed_at` keeps up with the status.

use reqwest::Method;
use serde_json::{Value, json};

use super::{World, assert_refused, call};

/// Creates a stage of `kind` in the fixture's pipeline; returns its id.
async fn stage(w: &World, name: &str, kind: &str, position: i32) -> Value {
    let (status, body) = call(
        w.returning(Method::POST, "/pipeline_stages", w.token("admin"))
            .json(
                &json!({"org_id": w.a, "pipeline_id": w.id("pipeline"), "name": name,
                          "position": position, "kind": kind}),
            ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body[0]["id"].clone()
}

#[sqlx::test]
async fn moving_a_deal_between_stages_closes_and_reopens_it(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let rep = w.token("sales_rep");
    let won = stage(&w, "Closed won", "won", 8).await;
    let lost = stage(&w, "Closed lost", "lost", 9).await;
    let deal = format!("/deals?id=eq.{}", w.id("deal"));
    let (w, deal) = (&w, &deal);
    let patch = |body: Value| async move {
        let (status, rows) = call(w.returning(Method::PATCH, deal, rep).json(&body)).await;
        assert_eq!(status, 200, "{rows}");
        rows[0].clone()
    };

    // Dragged into "Closed won": won, with the time it closed.
    let row = patch(json!({"stage_id": won})).await;
    assert_eq!(row["status"], "won");
    assert!(row["closed_at"].is_string(), "{row}");

    // Back to an open stage: open again, no closing time.
    let row = patch(json!({"stage_id": w.id("stage")})).await;
    assert_eq!(
        (row["status"].as_str(), row["closed_at"].is_null()),
        (Some("open"), true)
    );

    // Into "Closed lost", then straight to "Closed won": the status follows each move.
    assert_eq!(patch(json!({"stage_id": lost})).await["status"], "lost");
    let row = patch(json!({"stage_id": won})).await;
    assert_eq!(row["status"], "won");
    assert!(row["closed_at"].is_string(), "{row}");

    // A status given in the same write wins over the stage's kind.
    let row = patch(json!({"stage_id": w.id("stage"), "status": "lost"})).await;
    assert_eq!(
        (row["status"].as_str(), row["stage_id"].as_str()),
        (Some("lost"), Some(w.id("stage").to_string().as_str()))
    );
    assert!(row["closed_at"].is_string(), "{row}");
}

#[sqlx::test]
async fn a_status_set_alone_keeps_the_stage_and_the_closing_time_consistent(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let rep = w.token("sales_rep");
    let deal = format!("/deals?id=eq.{}", w.id("deal"));

    // Marked lost where it stands: the stage stays, the closing time is stamped.
    let (status, rows) = call(
        w.returning(Method::PATCH, &deal, rep)
            .json(&json!({"status": "lost"})),
    )
    .await;
    assert_eq!(status, 200, "{rows}");
    assert_eq!(rows[0]["stage_id"], w.id("stage").to_string());
    assert!(rows[0]["closed_at"].is_string(), "{rows}");

    // Reopened: the closing time goes.
    let (status, rows) = call(
        w.returning(Method::PATCH, &deal, rep)
            .json(&json!({"status": "open"})),
    )
    .await;
    assert_eq!(status, 200, "{rows}");
    assert!(rows[0]["closed_at"].is_null(), "{rows}");

    // An open deal with a closing time is still refused by the table's check.
    let (status, body) = call(
        w.rest(Method::PATCH, &deal, rep)
            .json(&json!({"closed_at": "2026-01-01T00:00:00Z"})),
    )
    .await;
    assert_refused(status, &body, 400, "23514");
}

#[sqlx::test]
async fn a_deal_created_at_a_closed_stage_is_closed(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let won = stage(&w, "Closed won", "won", 8).await;
    let (status, rows) = call(
        w.returning(Method::POST, "/deals", w.token("sales_rep"))
            .json(&json!({
                "org_id": w.a, "pipeline_id": w.id("pipeline"), "stage_id": won,
                "name": "Signed on the spot", "amount": 900
            })),
    )
    .await;
    assert_eq!(status, 201, "{rows}");
    assert_eq!(rows[0]["status"], "won");
    assert!(rows[0]["closed_at"].is_string(), "{rows}");
}
