//! Starting, adopting and stopping the server process.

use std::{
    fs::OpenOptions,
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use nix::{
    errno::Errno,
    sys::signal::{Signal, kill},
    unistd::Pid,
};
use sqlx::{Connection, postgres::PgConnectOptions};

/// How long a starting server (which may be replaying its WAL after a crash) gets to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A running postmaster.
#[derive(Debug)]
pub struct Server {
    pid: Pid,
    /// Present when this process started the server (so it must also reap it).
    child: Option<tokio::process::Child>,
}

impl Server {
    /// The postmaster's process id.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Fast shutdown, escalating to an immediate one if it takes longer than `grace`.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        if !self.signal(Signal::SIGINT)? {
            return Ok(());
        }
        if self.wait_exit(grace).await {
            return Ok(());
        }
        tracing::warn!(
            pid = self.pid(),
            "database server did not stop in time; forcing an immediate shutdown"
        );
        self.signal(Signal::SIGQUIT)?;
        if self.wait_exit(Duration::from_secs(10)).await {
            return Ok(());
        }
        bail!("the database server (pid {}) did not stop", self.pid())
    }

    /// Sends `signal`; false when the process is already gone.
    fn signal(&self, signal: Signal) -> anyhow::Result<bool> {
        match kill(self.pid, signal) {
            Ok(()) => Ok(true),
            Err(Errno::ESRCH) => Ok(false),
            Err(e) => Err(e).context("signalling the database server"),
        }
    }

    async fn wait_exit(&mut self, limit: Duration) -> bool {
        match &mut self.child {
            Some(child) => tokio::time::timeout(limit, child.wait()).await.is_ok(),
            None => {
                let deadline = Instant::now() + limit;
                while Instant::now() < deadline {
                    if !is_alive(self.pid) {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                false
            }
        }
    }
}

/// Whether `pid` runs (a zombie, dead but not yet reaped, does not count).
fn is_alive(pid: Pid) -> bool {
    if matches!(kill(pid, None), Err(Errno::ESRCH)) {
        return false;
    }
    // /proc/<pid>/stat is "pid (comm) STATE …"; comm may contain spaces, so read after the last ')'.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            stat.rsplit_once(')')
                .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Whether `pid` is a PostgreSQL server process (and not an unrelated process that reused the id).
fn is_postgres(pid: Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
}

/// The postmaster pid recorded in `postmaster.pid`, if the file exists.
fn recorded_pid(pgdata: &Path) -> Option<Pid> {
    let text = std::fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
    text.lines()
        .next()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
        .map(Pid::from_raw)
}

/// Adopts a server that is still running for this cluster (a previous bizbase was killed), or
/// clears the lock files a crashed one left behind.
pub async fn adopt(pgdata: &Path, admin: PgConnectOptions) -> anyhow::Result<Option<Server>> {
    let Some(pid) = recorded_pid(pgdata) else {
        return Ok(None);
    };
    if is_alive(pid) && is_postgres(pid) {
        match wait_ready(&admin, || Ok(is_alive(pid)), pgdata).await {
            Ok(()) => return Ok(Some(Server { pid, child: None })),
            Err(e) if is_alive(pid) => return Err(e),
            // It died while we waited (it was being killed): its lock files are stale now.
            Err(_) => {}
        }
    }
    // The recorded process is gone, or its id now belongs to another program: the lock files are
    // stale. PostgreSQL would refuse to start in the second case, so remove them here.
    tracing::warn!(
        pid = pid.as_raw(),
        "removing the stale lock file of a database server that is no longer running"
    );
    for stale in ["postmaster.pid", ".s.PGSQL.5432.lock", ".s.PGSQL.5432"] {
        match std::fs::remove_file(pgdata.join(stale)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing stale {stale}")),
        }
    }
    Ok(None)
}

/// Starts the server and waits until it accepts connections.
pub async fn spawn(
    mut cmd: tokio::process::Command,
    pgdata: &Path,
    admin: PgConnectOptions,
) -> anyhow::Result<Server> {
    let log_path = pgdata.join("server.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .context("opening server.log")?;
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(false);
    let mut child = cmd.spawn().context("starting postgres")?;
    let pid = child
        .id()
        .map(|p| Pid::from_raw(p as i32))
        .context("postgres exited at once")?;
    let result = wait_ready(&admin, || Ok(child.try_wait()?.is_none()), pgdata).await;
    match result {
        Ok(()) => Ok(Server {
            pid,
            child: Some(child),
        }),
        Err(e) => {
            let _ = kill(pid, Signal::SIGQUIT);
            Err(e)
        }
    }
}

/// Polls until the server accepts a connection; fails early when `alive` says it died.
async fn wait_ready(
    admin: &PgConnectOptions,
    mut alive: impl FnMut() -> std::io::Result<bool>,
    pgdata: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(conn) = sqlx::PgConnection::connect_with(admin).await {
            let _ = conn.close().await;
            return Ok(());
        }
        if !alive()? {
            bail!(
                "the database server stopped while starting:\n{}",
                log_tail(pgdata)
            );
        }
        if Instant::now() > deadline {
            bail!(
                "the database server did not accept connections within {START_TIMEOUT:?}:\n{}",
                log_tail(pgdata)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The last lines of the server log, for error messages.
fn log_tail(pgdata: &Path) -> String {
    let text = std::fs::read_to_string(pgdata.join("server.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}
