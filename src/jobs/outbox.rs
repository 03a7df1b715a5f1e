//! Delivers the outbox: e-mails by SMTP (lettre) when `BIZBASE_SMTP_URL` is set. Rows are claimed
//! with `for update skip locked`, so several bizbase processes share the work; a failed delivery
//! is retried with exponential backoff (up to a day), and a delivered mail's text and HTML are
//! erased so codes do not linger in the database. A mail with an HTML body goes out as
//! `multipart/alternative` (text and HTML).

use std::time::Duration;

use anyhow::Context;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{MultiPart, header::ContentType},
};
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;

use crate::app::AppState;

/// How often the worker looks for mail when idle.
const POLL: Duration = Duration::from_millis(500);
/// Rows claimed per round.
const BATCH: i64 = 20;

/// A running worker; stop it on shutdown (it finishes its round first).
pub type Worker = super::task::Task;

/// Starts the worker when SMTP is configured; otherwise mail stays in the outbox (and the log).
pub fn spawn(app: AppState) -> Worker {
    let Some(url) = app.config.auth.smtp_url.clone() else {
        tracing::info!("no SMTP configured: e-mails stay in private.outbox");
        return Worker::idle();
    };
    Worker::spawn(|mut stopped| async move {
        let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret()) {
            Ok(b) => b.timeout(Some(Duration::from_secs(20))).build(),
            Err(e) => {
                tracing::error!(error = %e, "BIZBASE_SMTP_URL is not a valid SMTP URL; e-mails stay in the outbox");
                return;
            }
        };
        loop {
            match deliver_batch(&app, &transport).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "outbox round failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stopped.changed() => break,
            }
        }
    })
}

/// Delivers one batch; returns how many rows it handled.
pub async fn deliver_batch(
    app: &AppState,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
) -> anyhow::Result<usize> {
    let mut tx = app.pool.begin().await?;
    let rows: Vec<(Uuid, Value, i32)> = sqlx::query_as(
        "select id, payload, attempts from private.outbox where kind = 'email' and delivered_at is null \
         and next_attempt_at <= now() order by next_attempt_at limit $1 for update skip locked",
    )
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    for (id, payload, attempts) in &rows {
        match send(app, transport, payload).await {
            Ok(()) => {
                sqlx::query("update private.outbox set delivered_at = now(), payload = payload - 'text' - 'html', last_error = null where id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(outbox.id = %id, "e-mail delivered");
            }
            Err(e) => {
                let backoff = 2f64.powi((*attempts).min(16)).min(86_400.0);
                sqlx::query(
                    "update private.outbox set attempts = attempts + 1, last_error = $2, \
                     next_attempt_at = now() + make_interval(secs => $3) where id = $1",
                )
                .bind(id)
                .bind(format!("{e:#}"))
                .bind(backoff)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(outbox.id = %id, attempts = attempts + 1, error = %format!("{e:#}"), "e-mail delivery failed; will retry");
            }
        }
    }
    tx.commit().await?;
    Ok(rows.len())
}

async fn send(
    app: &AppState,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    payload: &Value,
) -> anyhow::Result<()> {
    let field = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_str)
            .with_context(|| format!("mail without {k}"))
    };
    let builder = Message::builder()
        .from(
            app.config
                .auth
                .smtp_from
                .parse()
                .context("BIZBASE_SMTP_FROM is not a mailbox")?,
        )
        .to(field("to")?.parse().context("bad recipient")?)
        .subject(field("subject")?);
    let text = field("text")?.to_owned();
    let message = match payload.get("html").and_then(Value::as_str) {
        Some(html) => {
            builder.multipart(MultiPart::alternative_plain_html(text, html.to_owned()))?
        }
        None => builder.header(ContentType::TEXT_PLAIN).body(text)?,
    };
    transport.send(message).await.context("SMTP")?;
    Ok(())
}
