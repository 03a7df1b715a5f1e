//! Mail delivery: the outbox worker sends queued mails by SMTP, erases the delivered text, and
//! keeps undeliverable mail for a retry.
//!
//! The SMTP server is a minimal one in this file (it accepts every message and hands it to the
//! test), so the tests need nothing installed and never skip.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

use super::PASSWORD;
use crate::harness::{TestApp, json};

/// How long a test waits for the worker.
const PATIENCE: Duration = Duration::from_secs(10);

/// A fake SMTP server on a free loopback port; the DATA of each message arrives on `messages`.
struct FakeSmtp {
    url: String,
    messages: mpsc::UnboundedReceiver<String>,
}

async fn fake_smtp() -> FakeSmtp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let (tx, messages) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(smtp_session(stream, tx.clone()));
        }
    });
    FakeSmtp { url, messages }
}

async fn smtp_session(
    stream: TcpStream,
    messages: mpsc::UnboundedSender<String>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 fake.smtp ESMTP ready\r\n").await?;
    while let Some(line) = lines.next_line().await? {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut message = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    // Undo dot-stuffing.
                    message.push_str(l.strip_prefix('.').unwrap_or(&l));
                    message.push('\n');
                }
                let _ = messages.send(message);
                b"250 2.0.0 queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 OK\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// A loopback SMTP URL nobody listens on.
async fn dead_smtp_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("smtp://{addr}")
}

/// The outbox row of the confirmation mail to `to`.
async fn outbox_row(pool: &PgPool, to: &str) -> (Value, bool, i32, Option<String>) {
    sqlx::query_as(
        "select payload, delivered_at is not null, attempts, last_error from private.outbox \
         where payload->>'to' = $1",
    )
    .bind(to)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Polls the outbox row until `done` holds (at most [`PATIENCE`]).
async fn wait_for_row(
    pool: &PgPool,
    to: &str,
    done: impl Fn(&(Value, bool, i32, Option<String>)) -> bool,
) -> (Value, bool, i32, Option<String>) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let row = outbox_row(pool, to).await;
        if done(&row) || tokio::time::Instant::now() > deadline {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The 6-digit code after "Your code: " in a delivered message (the line may be encoded
/// quoted-printable, which leaves short ASCII lines as they are).
fn code_in(message: &str) -> String {
    let after = message
        .split("Your code: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {message}"));
    after[..6].to_owned()
}

#[sqlx::test]
async fn a_signup_mail_is_delivered_by_smtp_and_its_text_erased(pool: PgPool) {
    let mut smtp = fake_smtp().await;
    let app = TestApp::spawn_with_worker(
        pool.clone(),
        &[
            ("SMTP_URL", &smtp.url),
            ("SMTP_FROM", "Bizbase <noreply@bizbase.test>"),
        ],
    )
    .await;

    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let message = tokio::time::timeout(PATIENCE, smtp.messages.recv())
        .await
        .expect("no mail delivered within 10 s")
        .unwrap();
    assert!(
        message.contains("Subject: Confirm your signup"),
        "{message}"
    );
    assert!(message.contains("ann@example.com"), "{message}");
    assert!(message.contains("noreply@bizbase.test"), "{message}");
    let code = code_in(&message);
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    let (payload, delivered, attempts, last_error) =
        wait_for_row(&pool, "ann@example.com", |row| row.1).await;
    assert!(delivered);
    assert!(payload.get("text").is_none(), "{payload}");
    assert_eq!(payload["template"], "confirmation");
    assert_eq!(attempts, 0);
    assert_eq!(last_error, None);
    let verified = app
        .auth(Method::POST, "/verify")
        .json(&json!({ "type": "signup", "email": "ann@example.com", "token": code }))
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 200, "the delivered code confirms");
    assert!(json(verified).await["user"]["email_confirmed_at"].is_string());
}

#[sqlx::test]
async fn with_smtp_down_the_mail_stays_queued_with_the_error(pool: PgPool) {
    let url = dead_smtp_url().await;
    let app = TestApp::spawn_with_worker(pool.clone(), &[("SMTP_URL", &url)]).await;

    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let (payload, delivered, attempts, last_error) =
        wait_for_row(&pool, "ann@example.com", |row| row.2 >= 1).await;
    assert!(!delivered);
    assert!(attempts >= 1, "the worker tried");
    assert!(last_error.is_some_and(|e| !e.is_empty()));
    assert!(payload["text"].is_string(), "kept for the retry");
    let next_attempt_in_future: bool = sqlx::query_scalar(
        "select next_attempt_at > now() from private.outbox where payload->>'to' = $1",
    )
    .bind("ann@example.com")
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(next_attempt_in_future, "retried later, with backoff");
}

#[sqlx::test]
async fn without_smtp_mail_stays_in_the_outbox(pool: PgPool) {
    let app = TestApp::spawn_with_worker(pool.clone(), &[]).await;

    app.signup(json!({ "email": "ann@example.com", "password": PASSWORD }))
        .await;

    let (payload, delivered, attempts, _) = outbox_row(&pool, "ann@example.com").await;
    assert!(!delivered);
    assert_eq!(attempts, 0);
    assert!(payload["text"].as_str().unwrap().contains("Your code: "));
}
