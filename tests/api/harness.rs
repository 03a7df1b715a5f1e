//! `TestApp`: the real router served on 127.0.0.1:0 over a test database, plus helpers for
//! talking to `/auth/v1` the way supabase-js does and for reading what it leaves in the database.

use std::net::SocketAddr;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bizbase::{AppState, Config, build_app, config::Sources, jobs::outbox::Worker};
use reqwest::{Method, RequestBuilder, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use tempfile::TempDir;

/// The secret every test app signs with.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// The API version supabase-js sends; errors then come as `{code, message}`.
pub const API_VERSION: &str = "2024-01-01";

/// Settings every test app starts with (a test's own settings override them): cheap password
/// hashing, so sign-ups and logins take milliseconds.
const DEFAULTS: &[(&str, &str)] = &[("ARGON2_MEMORY_KIB", "64"), ("ARGON2_ITERATIONS", "1")];

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client (follows no redirects, so `GET /verify` answers can be inspected).
    pub client: reqwest::Client,
    /// The test database.
    pub pool: PgPool,
    /// The state the server runs with.
    pub state: AppState,
    /// The anon API key.
    pub anon_key: String,
    /// The service_role API key.
    pub service_key: String,
    _worker: Option<Worker>,
    _data_dir: TempDir,
}

impl TestApp {
    /// Serves the app over `pool` with the default configuration.
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    /// Serves the app with extra `BIZBASE_*` settings (keys without the prefix).
    pub async fn spawn_with(pool: PgPool, settings: &[(&'static str, &str)]) -> Self {
        Self::start(pool, settings, false).await
    }

    /// Serves the app and runs the outbox worker beside it, as `bizbase serve` does.
    pub async fn spawn_with_worker(pool: PgPool, settings: &[(&'static str, &str)]) -> Self {
        Self::start(pool, settings, true).await
    }

    async fn start(pool: PgPool, settings: &[(&'static str, &str)], worker: bool) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut src = Sources::default();
        src.set("DATA_DIR", &data_dir.path().to_string_lossy());
        src.set("JWT_SECRET", JWT_SECRET);
        for (k, v) in DEFAULTS.iter().chain(settings) {
            src.set(k, v);
        }
        let config = Config::from_sources(&src).unwrap();
        let state = AppState::new(config, pool.clone()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = build_app(state.clone());
        let head_timeout = bizbase::http::server::HEAD_TIMEOUT;
        let serving =
            bizbase::http::server::serve(listener, app, head_timeout, std::future::pending());
        tokio::spawn(serving);
        let worker = worker.then(|| bizbase::jobs::outbox::spawn(state.clone()));
        let secret = SecretString::from(JWT_SECRET.to_owned());
        Self {
            addr,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            pool,
            state,
            anon_key: bizbase::auth::keys::api_key(&secret, "anon").unwrap(),
            service_key: bizbase::auth::keys::api_key(&secret, "service_role").unwrap(),
            _worker: worker,
            _data_dir: data_dir,
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// A request to `/auth/v1{path}` as supabase-js sends it with the anon key.
    pub fn auth(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(&format!("/auth/v1{path}")))
            .header("apikey", &self.anon_key)
            .header("x-supabase-api-version", API_VERSION)
    }

    /// A request to `/auth/v1{path}` with the service_role key (admin calls).
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(&format!("/auth/v1{path}")))
            .header("apikey", &self.service_key)
            .header("x-supabase-api-version", API_VERSION)
    }

    /// A request to `/auth/v1{path}` on behalf of the user holding `access_token`.
    pub fn as_user(&self, method: Method, path: &str, access_token: &str) -> RequestBuilder {
        self.auth(method, path).bearer_auth(access_token)
    }

    /// `POST /auth/v1/token?grant_type=password`.
    pub async fn password_grant(&self, email: &str, password: &str) -> Response {
        self.auth(Method::POST, "/token?grant_type=password")
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Signs in with a password and returns the session, which must be granted.
    pub async fn sign_in(&self, email: &str, password: &str) -> Value {
        let r = self.password_grant(email, password).await;
        assert_eq!(r.status(), 200, "sign-in of {email} failed");
        json(r).await
    }

    /// `POST /auth/v1/token?grant_type=refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.auth(Method::POST, "/token?grant_type=refresh_token")
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .unwrap()
    }

    /// Creates a confirmed user (as an admin would) and signs them in; returns the session.
    pub async fn signup_confirmed(&self, email: &str, password: &str) -> Value {
        let created = self
            .admin(Method::POST, "/admin/users")
            .json(&json!({ "email": email, "password": password, "email_confirm": true }))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 200, "creating {email} failed");
        self.sign_in(email, password).await
    }

    /// `GET /auth/v1{path}` with the service role, for the paged admin lists.
    pub async fn admin_page(&self, path: &str) -> AdminPage {
        let r = self.admin(Method::GET, path).send().await.unwrap();
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (total, link) = (header("x-total-count"), header("link"));
        let status = r.status().as_u16();
        AdminPage {
            status,
            total,
            link,
            body: json(r).await,
        }
    }

    /// `POST /auth/v1/signup` with the anon key.
    pub async fn signup(&self, body: Value) -> Response {
        self.auth(Method::POST, "/signup")
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// A page of an admin list: status, `X-Total-Count` and `Link` (empty when absent), body.
pub struct AdminPage {
    pub status: u16,
    pub total: String,
    pub link: String,
    pub body: Value,
}

/// The response body as JSON.
pub async fn json(r: reqwest::Response) -> serde_json::Value {
    r.json().await.unwrap()
}

/// Asserts a GoTrue error (`{code, message}`, the versioned shape) and returns its body.
pub async fn assert_error(r: Response, status: u16, code: &str) -> Value {
    let actual = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(
        (actual, body["code"].as_str()),
        (status, Some(code)),
        "unexpected answer: {body}"
    );
    body
}

/// The payload (`{to, template, subject, text}`) of the newest mail to `to` with `template`.
pub async fn latest_mail(pool: &PgPool, to: &str, template: &str) -> Option<Value> {
    sqlx::query_scalar(
        "select payload from private.outbox where payload->>'to' = $1 and payload->>'template' = $2 \
         order by created_at desc, id desc limit 1",
    )
    .bind(to)
    .bind(template)
    .fetch_optional(pool)
    .await
    .unwrap()
}

/// How many mails were queued for `to`.
pub async fn mails_to(pool: &PgPool, to: &str) -> i64 {
    sqlx::query_scalar("select count(*) from private.outbox where payload->>'to' = $1")
        .bind(to)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The 6-digit code in a mail's text.
pub fn otp_in(mail: &Value) -> String {
    let text = mail["text"].as_str().unwrap();
    let code = text
        .split("Your code: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no code in {text:?}"));
    code[..6].to_owned()
}

/// The 6-digit code of the newest mail to `to` with `template` (which must exist).
pub async fn latest_otp(pool: &PgPool, to: &str, template: &str) -> String {
    let mail = latest_mail(pool, to, template)
        .await
        .unwrap_or_else(|| panic!("no {template} mail to {to}"));
    otp_in(&mail)
}

/// The claims of a JWT, decoded without verifying it.
pub fn claims_of(token: &str) -> Value {
    jwt_part(token, 1)
}

/// The header of a JWT.
pub fn header_of(token: &str) -> Value {
    jwt_part(token, 0)
}

fn jwt_part(token: &str, index: usize) -> Value {
    let part = token.split('.').nth(index).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Signs arbitrary claims with the test JWT secret (HS256).
pub fn sign_hs256(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap()
}

/// Decodes RFC 4648 base32 (no padding), as TOTP secrets are written.
pub fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .unwrap_or_else(|| panic!("not base32: {text}"));
        buffer = (buffer << 5) | u32::try_from(value).unwrap();
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).unwrap());
        }
    }
    out
}

/// Unix time now.
pub fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap()
}

/// The TOTP code an authenticator app shows for the base32 `secret` at `unix_time`.
pub fn totp_code(secret: &str, unix_time: u64) -> String {
    bizbase::auth::totp::code_at(&base32_decode(secret), unix_time).unwrap()
}

/// Waits (up to 10 s) until a session of the test's database waits for a lock: a request sent
/// beside a transaction holding rows has reached them.
pub async fn until_someone_waits_for_a_lock(pool: &PgPool) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity \
             where datname = current_database() and wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing waited for a lock");
}
