//! The embedded default: without `DATABASE_URL`, bizbase runs a private PostgreSQL cluster in
//! `<data dir>/postgres` from the machine's binaries. The server listens only on a Unix socket
//! inside that directory (no TCP port), runs as an unprivileged user, survives a previous crash
//! (a stale `postmaster.pid`, or a server left running by a killed bizbase, which is adopted), and
//! is stopped with a fast shutdown when bizbase exits.

mod binaries;
mod owner;
mod process;

use std::{
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use sqlx::{Connection, postgres::PgConnectOptions};
use tokio::sync::Mutex;

pub use owner::Owner;

/// The port number only names the socket file (`.s.PGSQL.5432`); no TCP port is opened.
const PORT: u16 = 5432;
/// The database bizbase uses inside its cluster.
const DATABASE: &str = "bizbase";
/// The cluster's superuser.
const SUPERUSER: &str = "postgres";
/// Longest Unix socket path the kernel accepts (`sun_path` is 108 bytes with the NUL).
const MAX_SOCKET_PATH: usize = 107;

/// A PostgreSQL cluster owned and supervised by this process.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    bin: PathBuf,
    pgdata: PathBuf,
    owner: Owner,
    running: Mutex<Option<process::Server>>,
}

impl EmbeddedPostgres {
    /// Prepares (but does not start) the cluster under `<data_dir>/postgres`.
    pub fn new(data_dir: &Path, bin_dir: Option<&Path>) -> anyhow::Result<Self> {
        let bin = binaries::find(bin_dir).map_err(anyhow::Error::msg)?;
        let owner = Owner::resolve().map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("BIZBASE_DATA_DIR: cannot create {}", data_dir.display()))?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("BIZBASE_DATA_DIR: cannot resolve {}", data_dir.display()))?;
        let pgdata = data_dir.join("postgres");
        let socket = pgdata.join(format!(".s.PGSQL.{PORT}"));
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            bail!(
                "BIZBASE_DATA_DIR: {} is too long a path for the database socket ({} > {MAX_SOCKET_PATH} bytes); \
                 use a shorter data dir",
                data_dir.display(),
                socket.as_os_str().len()
            );
        }
        Ok(Self {
            bin,
            pgdata,
            owner,
            running: Mutex::new(None),
        })
    }

    /// The cluster directory.
    pub fn pgdata(&self) -> &Path {
        &self.pgdata
    }

    /// How to connect to the cluster's `bizbase` database over its socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host(&self.pgdata.to_string_lossy())
            .port(PORT)
            .username(SUPERUSER)
            .database(DATABASE)
    }

    /// Initializes the cluster on first use, starts it (or adopts a server a previous bizbase left
    /// running) and creates the `bizbase` database if missing.
    pub async fn start(&self) -> anyhow::Result<()> {
        let mut running = self.running.lock().await;
        if running.is_some() {
            return Ok(());
        }
        let granted = self
            .owner
            .ensure_reachable(self.pgdata.parent().unwrap_or(&self.pgdata))
            .map_err(anyhow::Error::msg)?;
        for dir in granted {
            tracing::warn!(dir = %dir.display(), user = %self.owner.name, "granted search access (ACL) so the database server can reach its data dir");
        }
        if !self.pgdata.join("PG_VERSION").is_file() {
            self.initdb().await?;
        }
        let server = match process::adopt(&self.pgdata, self.admin_options()).await? {
            Some(server) => {
                tracing::info!(
                    pid = server.pid(),
                    "adopted the database server left running by a previous bizbase"
                );
                server
            }
            None => {
                process::spawn(self.server_command(), &self.pgdata, self.admin_options()).await?
            }
        };
        *running = Some(server);
        drop(running);
        self.create_database().await
    }

    /// Stops the server with a fast shutdown (open transactions roll back, data is kept).
    pub async fn stop(&self) -> anyhow::Result<()> {
        if let Some(server) = self.running.lock().await.take() {
            server.stop(Duration::from_secs(30)).await?;
            tracing::info!("database server stopped");
        }
        Ok(())
    }

    fn admin_options(&self) -> PgConnectOptions {
        self.connect_options().database("postgres")
    }

    fn command(&self, program: &str) -> tokio::process::Command {
        let mut cmd = std::process::Command::new(self.bin.join(program));
        if self.owner.switch {
            cmd.uid(self.owner.uid.as_raw())
                .gid(self.owner.gid.as_raw());
        }
        // Its own process group: a Ctrl-C at the terminal reaches bizbase, which then shuts the
        // server down in order, instead of reaching both at once.
        cmd.process_group(0)
            .env_remove("PGDATA")
            .env("LC_MESSAGES", "C");
        tokio::process::Command::from(cmd)
    }

    async fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(dir = %self.pgdata.display(), "initializing the embedded database cluster");
        if self.pgdata.exists() && std::fs::read_dir(&self.pgdata)?.next().is_some() {
            bail!(
                "{} exists but holds no database cluster (no PG_VERSION); move it away or empty it",
                self.pgdata.display()
            );
        }
        self.owner.make_private_dir(&self.pgdata)?;
        let locale = if Path::new("/usr/lib/locale/C.utf8").exists() {
            "--locale=C.UTF-8"
        } else {
            "--no-locale"
        };
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(&self.pgdata)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                locale,
                "--no-instructions",
            ])
            .output()
            .await
            .context("running initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn server_command(&self) -> tokio::process::Command {
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(&self.pgdata)
            .args(["-p", &PORT.to_string(), "-c", "listen_addresses="])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.pgdata.display()))
            .args(["-c", "unix_socket_permissions=0700"]);
        cmd
    }

    async fn create_database(&self) -> anyhow::Result<()> {
        let mut conn = sqlx::PgConnection::connect_with(&self.admin_options()).await?;
        let exists: bool =
            sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            match sqlx::query(sqlx::AssertSqlSafe(format!("create database {DATABASE}")))
                .execute(&mut conn)
                .await
            {
                Ok(_) => {}
                // Another process created it at the same moment: fine.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
                Err(e) => return Err(e.into()),
            }
        }
        conn.close().await?;
        Ok(())
    }
}
