//! Mail delivery: the outbox worker sends queued mails by SMTP, erases the delivered text, and
//! keeps undeliverable mail for a retry.
//!
//! The SMTP server is aiosmtpd (from PyPI; `scripts/test` installs it), run on a free loopback
//! port and storing what it receives in a Maildir the test reads.

use std::{path::PathBuf, process::Stdio, time::Duration};

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::PgPool;
use tempfile::TempDir;
use tokio::{
    net::{TcpListener, TcpStream},
    process::{Child, Command},
};

use super::PASSWORD;
use crate::harness::{TestApp, json};

/// How long a test waits for the worker.
const PATIENCE: Duration = Duration::from_secs(10);

/// A running aiosmtpd; killed when dropped.
struct Smtp {
    url: String,
    maildir: TempDir,
    _server: Child,
}

/// The Python that has aiosmtpd (`BIZBASE_TEST_PYTHON`, else `python3`).
fn python() -> String {
    std::env::var("BIZBASE_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

async fn smtp_server() -> Smtp {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let maildir = tempfile::tempdir().unwrap();
    let server = Command::new(python())
        .args(["-m", "aiosmtpd", "-n", "-l", &addr.to_string()])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start aiosmtpd ({e}): pip install aiosmtpd, or run scripts/test")
        });
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "aiosmtpd did not listen on {addr} (is it installed? pip install aiosmtpd)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Smtp {
        url: format!("smtp://{addr}"),
        maildir,
        _server: server,
    }
}

impl Smtp {
    /// The first message delivered to the Maildir, waiting up to [`PATIENCE`].
    async fn message(&self) -> String {
        let new: PathBuf = self.maildir.path().join("mail").join("new");
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(entry) = std::fs::read_dir(&new)
                .ok()
                .and_then(|mut entries| entries.next())
            {
                return std::fs::read_to_string(entry.unwrap().path()).unwrap();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail delivered within {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
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
    let smtp = smtp_server().await;
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

    let message = smtp.message().await;
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

#[sqlx::test]
async fn a_templated_mail_with_html_is_delivered_as_text_and_html(pool: PgPool) {
    let smtp = smtp_server().await;
    let templates = super::templates::nextjs_templates();
    let app = TestApp::spawn_with_worker(
        pool.clone(),
        &[
            ("SMTP_URL", &smtp.url),
            ("MAIL_TEMPLATES_DIR", templates.path().to_str().unwrap()),
        ],
    )
    .await;

    app.signup(
        json!({ "email": "ann@example.com", "password": PASSWORD, "data": { "name": "Ann" } }),
    )
    .await;

    let message = smtp.message().await;
    assert!(message.contains("multipart/alternative"), "{message}");
    assert!(message.contains("Content-Type: text/plain"), "{message}");
    assert!(message.contains("Content-Type: text/html"), "{message}");
    assert!(message.contains("<p>Hi Ann</p>"), "{message}");
    let (payload, delivered, _, _) = wait_for_row(&pool, "ann@example.com", |row| row.1).await;
    assert!(delivered);
    assert!(
        payload.get("html").is_none(),
        "erased once delivered: {payload}"
    );
}
