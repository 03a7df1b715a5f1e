//! Sentiment of customer messages (migration 0051, `jobs::sentiment`): scored with the model's
//! name and terms, never over what staff set, again after an edit, never once erased; the
//! ticket's label follows the weighted mean of its customer messages; customers cannot set any of
//! it.

use bizbase::{ai::sentiment::analyze, jobs::sentiment::score_batch};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{World, call};

const ANGRY: &str = "This is terrible. I am very angry, nothing works!";
const ANGRIER: &str = "Still broken. Worst support ever, I hate this.";
const THANKS: &str = "Thanks, that fixed it. Great help!";

/// A message's sentiment columns: score, label, model, terms.
async fn scored(
    pool: &PgPool,
    id: Uuid,
) -> (Option<f64>, Option<String>, Option<String>, Option<Value>) {
    sqlx::query_as(
        "select sentiment::float8, sentiment_label, sentiment_model, sentiment_terms \
         from public.ticket_messages where id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Posts a customer message on `ticket` as org A's customer; returns its id.
async fn say(w: &World, ticket: Uuid, body: &str) -> Uuid {
    let (status, rows) = call(
        w.returning(Method::POST, "/ticket_messages", w.token("customer"))
            .json(&json!({"org_id": w.a, "ticket_id": ticket, "author_kind": "customer", "body": body})),
    )
    .await;
    assert_eq!(status, 201, "{rows}");
    Uuid::parse_str(rows[0]["id"].as_str().unwrap()).unwrap()
}

/// Runs the worker's rounds until nothing is left; returns how many messages they wrote.
async fn score_all(pool: &PgPool) -> usize {
    let mut total = 0;
    loop {
        match score_batch(pool).await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[sqlx::test]
async fn customer_messages_are_scored_and_the_ticket_follows_them(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let (status, ticket) = call(
        w.returning(Method::POST, "/tickets", w.token("customer"))
            .json(&json!({"org_id": w.a, "subject": "Export fails"})),
    )
    .await;
    assert_eq!(status, 201, "{ticket}");
    let ticket = Uuid::parse_str(ticket[0]["id"].as_str().unwrap()).unwrap();
    let angry = say(&w, ticket, ANGRY).await;
    let angrier = say(&w, ticket, ANGRIER).await;
    let thanks = say(&w, ticket, THANKS).await;
    // An agent's reply is not the customer's mood; a label staff set is theirs.
    let reply: Uuid = sqlx::query_scalar(
        "insert into public.ticket_messages (org_id, ticket_id, author_kind, body) \
         values ($1, $2, 'agent', 'Terrible news, sorry!') returning id",
    )
    .bind(w.a)
    .bind(ticket)
    .fetch_one(pool)
    .await
    .unwrap();
    let staff_set: Uuid = sqlx::query_scalar(
        "insert into public.ticket_messages (org_id, ticket_id, author_kind, body, sentiment_label) \
         values ($1, $2, 'customer', 'Wonderful, thanks!', 'negative') returning id",
    )
    .bind(w.a)
    .bind(w.id("ticket_own"))
    .fetch_one(pool)
    .await
    .unwrap();

    let n = score_all(pool).await;

    assert!(n >= 3, "scored {n}");
    let mut compounds = Vec::new();
    for (id, text, label) in [
        (angry, ANGRY, "negative"),
        (angrier, ANGRIER, "negative"),
        (thanks, THANKS, "positive"),
    ] {
        let (score, got_label, model, terms) = scored(pool, id).await;
        let expected = analyze(text);
        assert_eq!(score, Some(round3(expected.compound)), "{text}");
        assert_eq!(got_label.as_deref(), Some(label), "{text}");
        assert_eq!(model.as_deref(), Some("vader-3.3.2"));
        let terms = terms.unwrap();
        assert_eq!(terms, json!(expected.terms), "{text}");
        assert!(!terms.as_array().unwrap().is_empty(), "{text}: no terms");
        compounds.push(expected.compound);
    }
    assert_eq!(scored(pool, reply).await, (None, None, None, None));
    let (actor, request): (Option<Uuid>, Option<String>) = sqlx::query_as(
        "select actor_id, request_id from private.audit_log \
         where table_name = 'ticket_messages' and row_id = $1::text and op = 'UPDATE'",
    )
    .bind(angry)
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((actor, request.as_deref()), (None, Some("job:sentiment")));
    assert_eq!(
        scored(pool, staff_set).await,
        (None, Some("negative".into()), None, None)
    );

    // Newest ½, the one before ¼, the oldest the remaining ¼: a thanks after two angry messages
    // evens the ticket out — neither the plain mean (negative) nor the last message (positive).
    let mean = 0.25 * compounds[0] + 0.25 * compounds[1] + 0.5 * compounds[2];
    let expected = if mean >= 0.05 {
        "positive"
    } else if mean <= -0.05 {
        "negative"
    } else {
        "neutral"
    };
    let label: Option<String> =
        sqlx::query_scalar("select sentiment from public.tickets where id = $1")
            .bind(ticket)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(label.as_deref(), Some(expected), "weighted mean {mean}");
    assert_eq!(
        expected, "neutral",
        "the texts no longer make the point: {compounds:?}"
    );
}

#[sqlx::test]
async fn an_e_mail_reply_is_scored_on_its_own_words_not_the_history_it_quotes(pool: PgPool) {
    let w = World::build(pool).await;
    let reply = format!(
        "{THANKS}\n\nOn Mon, 3 Jan 2026 at 10:00, Support <help@a.test> wrote:\n> {ANGRY}\n> {ANGRIER}\n"
    );
    assert_eq!(
        analyze(&reply).label.as_str(),
        "negative",
        "the quote must matter"
    );
    let id = say(&w, w.id("ticket_own"), &reply).await;

    score_all(&w.app.pool).await;

    let (score, label, _, terms) = scored(&w.app.pool, id).await;
    let own = analyze(&format!("{THANKS}\n\n"));
    assert_eq!(
        (score, label.as_deref(), terms),
        (
            Some(round3(own.compound)),
            Some("positive"),
            Some(json!(own.terms))
        )
    );
}

#[sqlx::test]
async fn an_edited_message_is_scored_again_and_an_erased_one_never(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = &w.app.pool;
    let id = say(&w, w.id("ticket_own"), ANGRY).await;
    score_all(pool).await;
    assert_eq!(scored(pool, id).await.1.as_deref(), Some("negative"));

    sqlx::query("update public.ticket_messages set body = $2 where id = $1")
        .bind(id)
        .bind(THANKS)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        scored(pool, id).await,
        (None, None, None, None),
        "the old score went with the old text"
    );
    score_all(pool).await;
    assert_eq!(scored(pool, id).await.1.as_deref(), Some("positive"));

    // As an erasure does it: the text and the score go, and the terms with them.
    sqlx::query(
        "update public.ticket_messages set body = '[erased]', sentiment = null, sentiment_label = null \
         where id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    score_all(pool).await;
    assert_eq!(scored(pool, id).await, (None, None, None, None));

    // Staff correcting the text and the label together keep their label.
    let other = say(&w, w.id("ticket_own"), ANGRY).await;
    score_all(pool).await;
    sqlx::query(
        "update public.ticket_messages set body = 'fine', sentiment_label = 'neutral', sentiment = null \
         where id = $1",
    )
    .bind(other)
    .execute(pool)
    .await
    .unwrap();
    score_all(pool).await;
    assert_eq!(
        scored(pool, other).await,
        (None, Some("neutral".into()), None, None)
    );
}

#[sqlx::test]
async fn the_worker_never_deadlocks_with_a_writer_of_the_same_org(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = w.app.pool.clone();
    let message = say(&w, w.id("ticket_own"), ANGRY).await;
    // A staff transaction holds the org's audit chain (its ticket update appended to it) ...
    let mut staff = pool.begin().await.unwrap();
    sqlx::query("update public.tickets set priority = 'high' where id = $1")
        .bind(w.id("ticket_own"))
        .execute(&mut *staff)
        .await
        .unwrap();
    let worker = tokio::spawn({
        let pool = pool.clone();
        async move { score_batch(&pool).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // ... and then edits a message of the worker's batch: the worker, waiting for the chain,
    // holds no row it wants.
    sqlx::query("update public.ticket_messages set body = $2 where id = $1")
        .bind(message)
        .bind(THANKS)
        .execute(&mut *staff)
        .await
        .unwrap();
    staff.commit().await.unwrap();

    worker.await.unwrap().unwrap();
    score_all(&pool).await;
    let (_, label, _, _) = scored(&pool, message).await;
    assert_eq!(
        label.as_deref(),
        Some("positive"),
        "scored on the edited text"
    );
}

#[sqlx::test]
async fn a_message_held_by_a_long_transaction_does_not_stall_the_other_orgs(pool: PgPool) {
    let w = World::build(pool).await;
    let pool = w.app.pool.clone();
    score_all(&pool).await;
    let held = say(&w, w.id("ticket_own"), ANGRY).await;
    let other: Uuid = sqlx::query_scalar(
        "insert into public.ticket_messages (org_id, ticket_id, author_kind, body) \
         values ($1, $2, 'customer', $3) returning id",
    )
    .bind(w.b)
    .bind(w.ids_b["ticket_own"])
    .bind(ANGRIER)
    .fetch_one(&pool)
    .await
    .unwrap();
    // Org A's only unscored message, the oldest of all, is in the middle of someone's update.
    let mut writer = pool.begin().await.unwrap();
    sqlx::query("update public.ticket_messages set internal = false where id = $1")
        .bind(held)
        .execute(&mut *writer)
        .await
        .unwrap();

    let written = score_batch(&pool).await.unwrap();

    assert_eq!(written, 1, "org B's message is scored meanwhile");
    assert_eq!(scored(&pool, other).await.1.as_deref(), Some("negative"));
    writer.commit().await.unwrap();
    score_all(&pool).await;
    assert_eq!(scored(&pool, held).await.1.as_deref(), Some("negative"));
}

#[sqlx::test]
async fn a_customer_cannot_write_the_scorers_columns(pool: PgPool) {
    let w = World::build(pool).await;
    for extra in [
        json!({"sentiment_model": "vader-3.3.2"}),
        json!({"sentiment_terms": [["great", 3.1]]}),
    ] {
        let mut body = json!({"org_id": w.a, "ticket_id": w.id("ticket_own"), "author_kind": "customer", "body": "hello"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, answer) = call(
            w.rest(Method::POST, "/ticket_messages", w.token("customer"))
                .json(&body),
        )
        .await;
        assert_eq!(status, 403, "{extra}: {answer}");
        assert_eq!(answer["code"], "42501");
    }
}

#[sqlx::test]
async fn signed_in_callers_score_a_text_on_demand(pool: PgPool) {
    let w = World::build(pool).await;
    let post = |token: &str, body: Value| {
        w.app
            .client
            .post(w.app.url("/functions/v1/sentiment"))
            .header("apikey", &w.app.anon_key)
            .bearer_auth(token)
            .json(&body)
    };

    let (status, answer) = call(post(w.token("customer_service"), json!({"text": ANGRY}))).await;

    assert_eq!(status, 200, "{answer}");
    let expected = analyze(ANGRY);
    assert_eq!(answer["compound"], json!(expected.compound));
    assert_eq!(answer["label"], "negative");
    assert_eq!(answer["terms"], json!(expected.terms));
    assert_eq!(answer["model"], "vader-3.3.2");
    for key in ["pos", "neu", "neg"] {
        assert!(answer[key].is_number(), "{key}: {answer}");
    }

    let (status, anon) = call(post(&w.app.anon_key, json!({"text": "hi"}))).await;
    assert_eq!(
        (status, anon["code"].as_str()),
        (401, Some("no_authorization")),
        "{anon}"
    );
    let long = "a".repeat(100_001);
    let (status, refused) = call(post(w.token("customer"), json!({"text": long}))).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (400, Some("validation_failed")),
        "{refused}"
    );
    let (status, unknown) = call(post(
        w.token("customer"),
        json!({"text": "x", "lang": "en"}),
    ))
    .await;
    assert_eq!(status, 400, "{unknown}");
    assert!(
        unknown["message"].as_str().unwrap().contains("lang"),
        "{unknown}"
    );
}
