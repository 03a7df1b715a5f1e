//! Scores the sentiment of customer messages in the background (`BIZBASE_SENTIMENT`, on by
//! default), with the offline model of [`crate::ai::sentiment`].
//!
//! A customer message without a score, a label or a model (migration 0051) is scored off the async
//! runtime on its own words (without the history an e-mail reply quotes,
//! [`sentiment::own_words`]) and written back with the model's name and the terms that moved its
//! score most (see [`score_batch`] for how the writes stay clear of deadlocks). A score or label
//! that staff set is never overwritten; an erased message is never scored. Each ticket's own
//! `sentiment` then follows its customer messages: the label of their exponentially weighted mean,
//! the newest weighing half, so one cheerful line after three angry ones does not make the ticket
//! positive.

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

/// The request id of the worker's entries in the audit log.
pub const AUDIT_REQUEST_ID: &str = "job:sentiment";

/// Which customer messages still wait for a score (as the partial index of migration 0051).
const UNSCORED: &str = "m.author_kind = 'customer' and m.sentiment is null and m.sentiment_label is null \
     and m.sentiment_model is null and m.body <> '[erased]'";

/// Scores up to [`BATCH`] unscored customer messages of one org, oldest first, and updates their
/// tickets' sentiment; returns how many messages it wrote.
///
/// The org is that of the oldest message no writer holds at that moment (a share lock taken and
/// let go within the statement), so a long transaction holding one org's messages does not stall
/// the others. The messages are read and scored holding nothing (a long e-mail takes
/// milliseconds). The writes then run in one transaction that first takes the org's audit chain — which every write
/// below appends to — and then only rows nobody holds (`skip locked`): so the worker never waits
/// while holding something another writer waits for, and cannot deadlock with customers, staff or
/// another bizbase. A message changed since it was read, or held by another writer at that
/// moment, keeps waiting for the next round; a ticket held at that moment catches up with its next
/// scored message.
pub async fn score_batch(pool: &PgPool) -> anyhow::Result<usize> {
    let rows: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with next as (select m.org_id from public.ticket_messages m where {UNSCORED} \
                       order by m.created_at limit 1 for share of m skip locked) \
         select m.org_id, m.id, m.xmin::text, m.body from public.ticket_messages m, next \
         where m.org_id = next.org_id and {UNSCORED} order by m.created_at limit $1"
    )))
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    let Some(&(org, ..)) = rows.first() else {
        return Ok(0);
    };
    let (ids, versions, bodies): (Vec<Uuid>, Vec<String>, Vec<String>) = rows
        .into_iter()
        .map(|(_, id, version, body)| (id, version, body))
        .collect();
    let scores = tokio::task::spawn_blocking(move || {
        bodies
            .iter()
            .map(|b| sentiment::analyze(&sentiment::own_words(b)))
            .collect::<Vec<_>>()
    })
    .await?;
    // Stored with three decimals, labelled from those, so a score and its label never disagree.
    let compounds: Vec<f64> = scores
        .iter()
        .map(|s| (s.compound * 1000.0).round() / 1000.0)
        .collect();
    let labels: Vec<&str> = compounds
        .iter()
        .map(|c| sentiment::Label::of(*c).as_str())
        .collect();
    let terms: Vec<Value> = scores.iter().map(|s| json!(s.terms)).collect();

    let mut tx = pool.begin().await?;
    // What the audit trail says of these writes: no actor, the owner's role, and this request id.
    sqlx::query("select set_config('request.id', $1, true)")
        .bind(AUDIT_REQUEST_ID)
        .execute(&mut *tx)
        .await?;
    sqlx::query("insert into private.audit_chains (chain) values ($1) on conflict do nothing")
        .bind(org)
        .execute(&mut *tx)
        .await?;
    sqlx::query("select 1 from private.audit_chains where chain = $1 for update")
        .bind(org)
        .execute(&mut *tx)
        .await?;
    let tickets: Vec<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "with s as (select * from unnest($1::uuid[], $2::text[], $3::float8[], $4::text[], $5::jsonb[]) \
                    s(id, version, compound, label, terms)), \
              free as (select m.id from public.ticket_messages m join s on s.id = m.id \
                       where m.xmin::text = s.version and {UNSCORED} for update of m skip locked) \
         update public.ticket_messages m \
         set sentiment = s.compound, sentiment_label = s.label, sentiment_model = $6, \
             sentiment_terms = s.terms \
         from s where m.id = s.id and m.id in (select id from free) returning m.ticket_id"
    )))
    .bind(&ids)
    .bind(&versions)
    .bind(&compounds)
    .bind(&labels)
    .bind(&terms)
    .bind(sentiment::MODEL)
    .fetch_all(&mut *tx)
    .await?;
    let written = tickets.len();
    follow_tickets(&mut tx, tickets).await?;
    tx.commit().await?;
    Ok(written)
}

/// Sets each ticket's `sentiment` to the label of the weighted mean of its customer messages'
/// scores (weights ½, ¼, … from the newest; the oldest keeps the rest), where it changed and
/// nobody holds the ticket (see [`score_batch`]).
async fn follow_tickets(tx: &mut sqlx::PgTransaction<'_>, tickets: Vec<Uuid>) -> sqlx::Result<()> {
    sqlx::query(
        "with free as (select id from public.tickets where id = any($1) for no key update skip locked), \
         w as ( \
             select ticket_id, sentiment, \
                    row_number() over (partition by ticket_id order by created_at desc, id desc) - 1 as k, \
                    count(*) over (partition by ticket_id) as n \
             from public.ticket_messages \
             where ticket_id in (select id from free) and author_kind = 'customer' and sentiment is not null), \
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
