//! `TestApp`: the real router served on 127.0.0.1:0 over a test database.

use std::net::SocketAddr;

use bizbase::{AppState, Config, build_app, config::Sources};
use sqlx::PgPool;
use tempfile::TempDir;

/// The secret every test app signs with.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A running application and what a test needs to talk to it.
pub struct TestApp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// An HTTP client.
    pub client: reqwest::Client,
    _data_dir: TempDir,
}

impl TestApp {
    /// Serves the app over `pool` with the default configuration.
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    /// Serves the app with extra `BIZBASE_*` settings.
    pub async fn spawn_with(pool: PgPool, settings: &[(&'static str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut src = Sources::default();
        src.set("DATA_DIR", &data_dir.path().to_string_lossy());
        src.set("JWT_SECRET", JWT_SECRET);
        for (k, v) in settings {
            src.set(k, v);
        }
        let config = Config::from_sources(&src).unwrap();
        let state = AppState::new(config, pool).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, build_app(state)).await });
        Self {
            addr,
            client: reqwest::Client::new(),
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
}

/// The response body as JSON.
pub async fn json(r: reqwest::Response) -> serde_json::Value {
    r.json().await.unwrap()
}
