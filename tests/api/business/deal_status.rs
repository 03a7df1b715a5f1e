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

#[sqlx::test]
async fn a_stage_whose_kind_changes_takes_the_deals_that_followed_it(pool: sqlx::PgPool) {
    let w = World::build(pool).await;
    let rep = w.token("sales_rep");
    let admin = w.token("admin");
    let stage_path = format!("/pipeline_stages?id=eq.{}", w.id("stage"));
    let followed = w.id("deal");
    // A second deal in the same stage, marked lost where it stands.
    let (status, rows) = call(w.returning(Method::POST, "/deals", rep).json(&json!({
        "org_id": w.a, "pipeline_id": w.id("pipeline"), "stage_id": w.id("stage"),
        "name": "Went quiet", "amount": 100, "status": "lost"
    })))
    .await;
    assert_eq!(status, 201, "{rows}");
    let marked = rows[0]["id"].clone();
    let w = &w;
    let deal = |id: &Value| format!("/deals?id=eq.{}", id.as_str().unwrap_or_default());
    let read = |id: Value| {
        let path = deal(&id);
        async move {
            let (status, rows) = call(w.rest(Method::GET, &path, rep)).await;
            assert_eq!(status, 200, "{rows}");
            rows[0].clone()
        }
    };
    let set_kind = |kind: &'static str| {
        let path = stage_path.clone();
        async move {
            let (status, rows) = call(
                w.returning(Method::PATCH, &path, admin)
                    .json(&json!({ "kind": kind })),
            )
            .await;
            assert_eq!(status, 200, "{rows}");
        }
    };

    set_kind("won").await;
    let won = read(json!(followed)).await;
    assert_eq!(won["status"], "won");
    assert!(won["closed_at"].is_string(), "{won}");
    assert_eq!(
        read(marked.clone()).await["status"],
        "lost",
        "an explicit status stays"
    );

    set_kind("open").await;
    let reopened = read(json!(followed)).await;
    assert_eq!(
        (reopened["status"].as_str(), reopened["closed_at"].is_null()),
        (Some("open"), true)
    );
    assert_eq!(read(marked).await["status"], "lost");
}
