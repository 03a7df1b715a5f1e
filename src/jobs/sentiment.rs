//! Scores the sentiment of customer messages in the background (`BIZBASE_SENTIMENT`, on by
//! default), with the offline model of [`crate::ai::sentiment`].
//!
//! A customer message without a score, a label or a model (migration 0051) is claimed with
//! `for update skip locked` (several bizbase processes share the work), scored off the async
//! runtime on its own words (without the history an e-mail reply quotes,
//! [`sentiment::own_words`]), and written back with the model's name and the terms that moved its
//! score most. A
//! score or label that staff set is never overwritten; an erased message is never scored. Each
//! ticket's own `sentiment` then follows its customer messages: the label of their exponentially
//! weighted mean, the newest weighing half, so one cheerful line after three angry ones does not
//! make the ticket positive.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::task::Task;
use crate::ai::sentiment;

/// How often the worker looks for new messages when idle.
const POLL: Duration = Duration::from_secs(1);
/// Messages claimed per round (and per transaction).
const BATCH: i64 = 200;

/// Starts the worker, unless sentiment scoring is switched off.
pub fn spawn(pool: PgPool, enabled: bool) -> Task {
    if !enabled {
        tracing::info!("BIZBASE_SENTIMENT is off: customer messages are not scored");
        return Task::idle();
    }
    Task::spawn(|mut stopped| async move {
        loop {
            match score_batch(&pool).await {
                // A full batch: more may be waiting.
                Ok(n) if i64::try_from(n) == Ok(BATCH) && !*stopped.borrow() => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "sentiment round failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(POLL) => {}
                _ = stopped.changed() => break,
            }
        }
    })
}

/// Scores up to [`BATCH`] unscored customer messages, oldest first, and updates their tickets'
/// sentiment, in one transaction; returns how many messages it scored.
pub async fn score_batch(pool: &PgPool) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "select id, body from public.ticket_messages \
         where author_kind = 'customer' and sentiment is null and sentiment_label is null \
           and sentiment_model is null and body <> '[erased]' \
         order by created_at limit $1 for update skip locked",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let (ids, bodies): (Vec<Uuid>, Vec<String>) = rows.into_iter().unzip();
    // A long e-mail takes milliseconds: keep the batch off the runtime's threads.
    let scores = tokio::task::spawn_blocking(move || {
        bodies
            .iter()
            .map(|b| sentiment::analyze(&sentiment::own_words(b)))
            .collect::<Vec<_>>()
    })
    .await?;
    let compounds: Vec<f64> = scores.iter().map(|s| s.compound).collect();
    let labels: Vec<&str> = scores.iter().map(|s| s.label.as_str()).collect();
    let terms: Vec<Value> = scores.iter().map(|s| json!(s.terms)).collect();
    let tickets: Vec<Uuid> = sqlx::query_scalar(
        "update public.ticket_messages m \
         set sentiment = s.compound, sentiment_label = s.label, sentiment_model = $5, \
             sentiment_terms = s.terms \
         from unnest($1::uuid[], $2::float8[], $3::text[], $4::jsonb[]) s(id, compound, label, terms) \
         where m.id = s.id returning m.ticket_id",
    )
    .bind(&ids)
    .bind(&compounds)
    .bind(&labels)
    .bind(&terms)
    .bind(sentiment::MODEL)
    .fetch_all(&mut *tx)
    .await?;
    follow_tickets(&mut tx, tickets).await?;
    tx.commit().await?;
    Ok(ids.len())
}

/// Sets each ticket's `sentiment` to the label of the weighted mean of its customer messages'
/// scores (weights ½, ¼, … from the newest; the oldest keeps the rest), where it changed. The
/// tickets are locked in id order first, so two workers never wait on each other in a circle.
async fn follow_tickets(
    tx: &mut sqlx::PgTransaction<'_>,
    mut tickets: Vec<Uuid>,
) -> sqlx::Result<()> {
    tickets.sort_unstable();
    tickets.dedup();
    sqlx::query("select 1 from public.tickets where id = any($1) order by id for update")
        .bind(&tickets)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "with w as ( \
             select ticket_id, sentiment, \
                    row_number() over (partition by ticket_id order by created_at desc, id desc) - 1 as k, \
                    count(*) over (partition by ticket_id) as n \
             from public.ticket_messages \
             where ticket_id = any($1) and author_kind = 'customer' and sentiment is not null), \
         mean as ( \
             select ticket_id, \
                    sum(sentiment * case when k = n - 1 then power(0.5, k) else power(0.5, k + 1) end) as score \
             from w group by ticket_id), \
         labelled as ( \
             select ticket_id, case when score >= 0.05 then 'positive' \
                                    when score <= -0.05 then 'negative' else 'neutral' end as label \
             from mean) \
         update public.tickets t set sentiment = l.label \
         from labelled l where t.id = l.ticket_id and t.sentiment is distinct from l.label",
    )
    .bind(&tickets)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
