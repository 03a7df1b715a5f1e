//! moto's S3 server mode (from PyPI; `scripts/test` installs it) on a free loopback port: the
//! real S3-compatible service the S3 storage backend and the S3 backup destination are tested
//! against.

use std::{process::Stdio, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    process::{Child, Command},
};

/// A running moto S3 server; killed when dropped.
pub struct Moto {
    /// Its URL (`http://127.0.0.1:<port>`).
    pub endpoint: String,
    _server: Child,
}

/// Starts moto with these buckets created.
pub async fn start(buckets: &[&str]) -> Moto {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let python = std::env::var("BIZBASE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let server = Command::new(python)
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start moto ({e}): pip install 'moto[server]', or run scripts/test")
        });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "moto did not listen on {addr} (pip install 'moto[server]')"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let endpoint = format!("http://{addr}");
    for bucket in buckets {
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "creating the S3 bucket {bucket}: {}",
            created.status()
        );
    }
    Moto {
        endpoint,
        _server: server,
    }
}

impl Moto {
    /// The keys moto holds in `bucket`.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let listing = reqwest::get(format!("{}/{bucket}?list-type=2", self.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        listing
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_owned)
            .collect()
    }

    /// The bytes of `key` in `bucket`.
    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let got = reqwest::get(format!("{}/{bucket}/{key}", self.endpoint))
            .await
            .unwrap();
        assert!(
            got.status().is_success(),
            "GET {bucket}/{key}: {}",
            got.status()
        );
        got.bytes().await.unwrap().to_vec()
    }
}
