//! Auth benchmark: password logins per second through `/auth/v1/token` against the rate argon2id
//! alone allows with the same parameters on the same cores (the ceiling), and refresh-token
//! rotations per second.
//!
//!     DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench auth
//!
//! Options (environment): BENCH_SECS (default 4) per phase, BENCH_ROUNDS (default 9) of
//! ceiling-then-logins, BENCH_CLIENTS (default 2 × cores), BENCH_POOL (the server's pool size),
//! and `BIZBASE_ARGON2_MEMORY_KIB` / `_ITERATIONS` / `_PARALLELISM` as `bizbase serve` reads them.
//! Short, many interleaved rounds follow the drift of a shared machine's speed more closely than a
//! few long ones.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bizbase::{
    AppState, Config,
    auth::{keys::api_key, password::Passwords},
    build_app,
    config::Sources,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

/// The allocator the `bizbase` binary uses (src/main.rs), so the server here is the one shipped.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SECRET: &str = "bench-secret-bench-secret-bench-secret-42";
const PASSWORD: &str = "correct-horse-battery-staple";
/// The name of the load generator's thread: it runs apart from the server's runtime, so the CPU it
/// takes is counted apart from what serving a login takes.
const CLIENT_THREAD: &str = "bench-client";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds used so far by this process (server, load generator and hashing threads) and by
/// every PostgreSQL process (the backends serving it, the WAL writer), from `/proc` (USER_HZ ticks).
/// On a shared virtual machine the wall-clock rates drift by ±15 % between phases; CPU time spent
/// per operation does not depend on what else the host runs.
fn cpu_seconds() -> f64 {
    let cpu = cpu_split();
    cpu.own + cpu.postgres
}

/// CPU seconds used so far, by who used them.
#[derive(Clone, Copy)]
struct Cpu {
    /// This process: server, load generator and hashing threads.
    own: f64,
    /// The server's hashing threads (`bizbase-hasher-N`), a part of `own`.
    hashing: f64,
    /// The load generator's thread ([`CLIENT_THREAD`]), a part of `own`.
    client: f64,
    /// Every PostgreSQL process.
    postgres: f64,
}

impl Cpu {
    /// What the server side used: everything but the load generator.
    fn server(self) -> f64 {
        self.own - self.client + self.postgres
    }
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            own: self.own - o.own,
            hashing: self.hashing - o.hashing,
            client: self.client - o.client,
            postgres: self.postgres - o.postgres,
        }
    }
}

/// [`cpu_seconds`] split into [`Cpu`].
fn cpu_split() -> Cpu {
    fn ticks(stat: &str) -> Option<u64> {
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }
    /// The ticks of the processes (or threads) under `dir` whose name `is`.
    fn sum(dir: &str, is: impl Fn(&str) -> bool) -> u64 {
        let mut total = 0;
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let dir = entry.path();
            if std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| is(c.trim())) {
                total += std::fs::read_to_string(dir.join("stat"))
                    .ok()
                    .and_then(|s| ticks(&s))
                    .unwrap_or(0);
            }
        }
        total
    }
    let own = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| ticks(&s))
        .unwrap_or(0);
    let hashing = sum("/proc/self/task", |c| c.starts_with("bizbase-hasher"));
    let client = sum("/proc/self/task", |c| c == CLIENT_THREAD);
    let postgres = sum("/proc", |c| c == "postgres");
    Cpu {
        own: own as f64 / 100.0,
        hashing: hashing as f64 / 100.0,
        client: client as f64 / 100.0,
        postgres: postgres as f64 / 100.0,
    }
}

/// Verifications per second of argon2id alone, one thread per core.
fn argon2_ceiling(passwords: &Passwords, hash: &str, secs: u64, threads: usize) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (stop, count, p, h) = (
                stop.clone(),
                count.clone(),
                passwords.clone(),
                hash.to_owned(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = p.verify_blocking(PASSWORD, &h);
                    count.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

/// Starts a bizbase server with `config` over `pool` on a free loopback port.
async fn serve(config: Config, pool: sqlx::PgPool) -> anyhow::Result<std::net::SocketAddr> {
    let state = AppState::new(config, pool).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = build_app(state);
    let head_timeout = bizbase::http::server::HEAD_TIMEOUT;
    let serving = bizbase::http::server::serve(listener, app, head_timeout, std::future::pending());
    tokio::spawn(serving);
    Ok(addr)
}

/// Creates `n` confirmed users `<prefix><i>@example.com` with [`PASSWORD`] through `addr`.
async fn create_users(
    http: &reqwest::Client,
    addr: std::net::SocketAddr,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let service = api_key(&SecretString::from(SECRET.to_owned()), "service_role")?;
    let users: Vec<String> = (0..n).map(|i| format!("{prefix}{i}@example.com")).collect();
    for email in &users {
        let r = http
            .post(format!("http://{addr}/auth/v1/admin/users"))
            .header("apikey", &service)
            .json(&json!({ "email": email, "password": PASSWORD, "email_confirm": true }))
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "creating a user: {}",
            r.text().await?
        );
    }
    Ok(users)
}

/// The load generator's side of the HTTP: one keep-alive HTTP/1.1 connection per client, writing
/// a request built once and reading the answer by its `Content-Length`. It takes a small fraction
/// of what an HTTP client library takes per request, and every microsecond it takes is taken from
/// the two cores the server, PostgreSQL and the argon2id ceiling are measured on.
struct Wire {
    addr: std::net::SocketAddr,
    conns: Vec<tokio::sync::Mutex<Option<Conn>>>,
}

/// A client's connection and its read buffer.
type Conn = (tokio::net::TcpStream, Vec<u8>);

impl Wire {
    fn new(addr: std::net::SocketAddr, clients: usize) -> Self {
        let conns = (0..clients)
            .map(|_| tokio::sync::Mutex::new(None))
            .collect();
        Self { addr, conns }
    }

    /// `POST path` with a JSON `body` as client `c`: the status and the answer's body.
    async fn post(&self, c: usize, request: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut slot = self.conns[c].lock().await;
        if slot.is_none() {
            let stream = tokio::net::TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            *slot = Some((stream, Vec::with_capacity(8192)));
        }
        let answer = match slot.as_mut() {
            Some((stream, buf)) => exchange(stream, buf, request).await,
            None => return Err(std::io::ErrorKind::NotConnected.into()),
        };
        if answer.is_err() {
            *slot = None;
        }
        answer
    }
}

/// The bytes of `POST path` carrying `body` as JSON, with `apikey`.
fn post_request(path: &str, apikey: &str, body: &Value) -> Vec<u8> {
    let body = body.to_string();
    format!(
        "POST {path} HTTP/1.1\r\nhost: bench\r\napikey: {apikey}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes `request` and reads one answer into `buf`: its status and body.
async fn exchange(
    stream: &mut tokio::net::TcpStream,
    buf: &mut Vec<u8>,
    request: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    stream.write_all(request).await?;
    buf.clear();
    let (head_end, status, length) = loop {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&buf[..end]).map_err(|_| bad("head"))?;
        let status = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status"))?;
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .ok_or_else(|| bad("content-length"))?;
        break (end + 4, status, length);
    };
    while buf.len() < head_end + length {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok((status, buf[head_end..head_end + length].to_vec()))
}

/// A password login of client `c` (as `users[c]`) through `wire`; `true` when it succeeded (200
/// with an access token).
fn login_op(
    wire: Arc<Wire>,
    anon: &str,
    users: &[String],
) -> impl Fn(usize) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send>> + Clone + Send + 'static
{
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        users
            .iter()
            .map(|email| {
                post_request(
                    "/auth/v1/token?grant_type=password",
                    anon,
                    &json!({ "email": email, "password": PASSWORD }),
                )
            })
            .collect(),
    );
    move |c: usize| {
        let (wire, requests) = (wire.clone(), requests.clone());
        Box::pin(async move {
            matches!(wire.post(c, &requests[c]).await,
                Ok((200, body)) if body.windows(14).any(|w| w == b"\"access_token\""))
        })
    }
}

/// Runs `clients` loops of `op` for `secs` on the load generator's runtime `on`; returns
/// successful operations per second.
async fn load<F, Fut>(on: &tokio::runtime::Handle, clients: usize, secs: u64, op: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let op = op.clone();
        tasks.push(on.spawn(async move {
            let mut ok = 0u64;
            while Instant::now() < deadline {
                if op(c).await {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / start.elapsed().as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    // The load generator on one thread of its own; the server on a runtime built the way
    // `bizbase serve` builds its own (src/main.rs).
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(CLIENT_THREAD)
        .enable_all()
        .build()?;
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    server.block_on(run(client.handle().clone()))
}

async fn run(client: tokio::runtime::Handle) -> anyhow::Result<()> {
    let base = std::env::var("DATABASE_URL")
        .map_err(|_| anyhow::anyhow!("set DATABASE_URL (scripts/test shows how)"))?;
    let secs = env_u64("BENCH_SECS", 4);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let clients = usize::try_from(env_u64("BENCH_CLIENTS", 2 * cores as u64)).unwrap_or(4);
    let db = format!("bizbase_bench_{}", std::process::id());
    let mut admin = PgConnection::connect(&base).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database {db}")))
        .execute(&mut admin)
        .await?;
    // The same server and parameters (`?sslmode=…`, say), the benchmark's own database.
    let (path, params) = base.split_once('?').unwrap_or((&base, ""));
    let url = match path.rsplit_once('/') {
        Some((server, _)) if params.is_empty() => format!("{server}/{db}"),
        Some((server, _)) => format!("{server}/{db}?{params}"),
        None => anyhow::bail!("DATABASE_URL needs a database path"),
    };

    let data_dir = tempfile::tempdir()?;
    let mut src = Sources::default();
    src.set("DATA_DIR", &data_dir.path().to_string_lossy());
    src.set("JWT_SECRET", SECRET);
    src.set("LOG", "warn");
    for key in ["RATE_LIMIT_TOKEN", "RATE_LIMIT_SIGNUP"] {
        src.set(key, "100000000");
    }
    if let Ok(n) = std::env::var("BENCH_POOL") {
        src.set("DB_POOL_MAX", &n);
    }
    // argon2id's cost as `bizbase serve` reads it (README, Configuration), for comparing settings.
    for key in [
        "ARGON2_MEMORY_KIB",
        "ARGON2_ITERATIONS",
        "ARGON2_PARALLELISM",
    ] {
        if let Ok(v) = std::env::var(format!("BIZBASE_{key}")) {
            src.set(key, &v);
        }
    }
    let config = Config::from_sources(&src)?;
    // The pool settings `bizbase serve` uses (src/db), so the server here is the one shipped.
    let pool = bizbase::db::pool_options(&config).connect(&url).await?;
    bizbase::db::migrate(&pool).await?;
    let passwords = Passwords::new(config.auth.argon2);
    let http = reqwest::Client::new();
    let anon = api_key(&SecretString::from(SECRET.to_owned()), "anon")?;
    let addr = serve(config.clone(), pool.clone()).await?;
    let users = create_users(&http, addr, "bench", clients).await?;
    let hash = passwords.hash_blocking(PASSWORD)?;
    let a = config.auth.argon2;
    println!(
        "argon2id m={} KiB t={} p={}; {cores} cores; {clients} clients; {secs} s per phase",
        a.memory_kib, a.iterations, a.parallelism
    );

    // The ceiling drifts with the machine (±15 % between runs here), so the phases alternate —
    // argon2id alone, logins, argon2id alone, logins, …, argon2id alone — and each login phase is
    // compared with the mean of the ceilings measured just before and just after it, which
    // cancels a steady drift; the median of the rounds' ratios is reported.
    let rounds = usize::try_from(env_u64("BENCH_ROUNDS", 9))
        .unwrap_or(9)
        .max(1);
    let login = login_op(Arc::new(Wire::new(addr, clients)), &anon, &users);
    // argon2id alone for one phase: (verifications per second, CPU seconds per verification).
    let ceiling_phase = || {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let rate = argon2_ceiling(&passwords, &hash, secs, cores);
        let cpu = (cpu_seconds() - c0) / (rate * t0.elapsed().as_secs_f64());
        (rate, cpu)
    };
    let (mut ratios, mut cpu_ratios, mut server_ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut before = ceiling_phase();
    for round in 1..=rounds {
        let (t1, cpu1) = (Instant::now(), cpu_split());
        let logins = load(&client, clients, secs, login.clone()).await;
        let (t2, cpu2) = (Instant::now(), cpu_split());
        let after = ceiling_phase();
        let ceiling = f64::midpoint(before.0, after.0);
        let cpu_per_hash = f64::midpoint(before.1, after.1);
        // CPU per operation, all processes involved: the rate the cores allow is cores / that.
        let used = cpu2 - cpu1;
        let n = logins * (t2 - t1).as_secs_f64();
        let cpu_per_login = (used.own + used.postgres) / n;
        let ratio = 100.0 * logins / ceiling;
        let cpu_ratio = 100.0 * cpu_per_hash / cpu_per_login;
        // Without the load generator, whose CPU a deployment's clients spend on their own machines.
        let server_ratio = 100.0 * cpu_per_hash * n / used.server();
        println!(
            "round {round}: argon2id alone {ceiling:6.1} verifications/s (before {:.1}, after {:.1}); logins via /auth/v1/token {logins:6.1} /s ({ratio:.0} %); \
             CPU per verification {:.2} ms, per login {:.2} ms: hashing {:.2}, PostgreSQL {:.2}, the rest of the server {:.2}, the load generator {:.2} \
             ({cpu_ratio:.0} %; {server_ratio:.0} % without the load generator)",
            before.0,
            after.0,
            1000.0 * cpu_per_hash,
            1000.0 * cpu_per_login,
            1000.0 * used.hashing / n,
            1000.0 * used.postgres / n,
            1000.0 * (used.own - used.hashing - used.client) / n,
            1000.0 * used.client / n,
        );
        ratios.push(ratio);
        cpu_ratios.push(cpu_ratio);
        server_ratios.push(server_ratio);
        before = after;
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "logins as a share of the argon2id ceiling (median of {rounds}): {:.1} % by wall-clock rates, {:.1} % by CPU per operation, \
         {:.1} % by the server's CPU per operation (without the load generator)",
        median(ratios),
        median(cpu_ratios),
        median(server_ratios),
    );

    // The rest of a login: the same logins through a second server on the same pool settings and
    // database whose argon2id costs next to nothing (8 KiB, one pass), so nearly all the CPU they
    // take is what a login adds to its hash: HTTP, JSON, token, PostgreSQL. The ceiling is then
    // cpu_per_hash / (cpu_per_hash + this), less what the hash loses to sharing the caches.
    {
        let mut light = src.clone();
        light.set("ARGON2_MEMORY_KIB", "8");
        light.set("ARGON2_ITERATIONS", "1");
        let light = Config::from_sources(&light)?;
        let light_pool = bizbase::db::pool_options(&light).connect(&url).await?;
        let light_addr = serve(light, light_pool.clone()).await?;
        let light_users = create_users(&http, light_addr, "light", clients).await?;
        let op = login_op(
            Arc::new(Wire::new(light_addr, clients)),
            &anon,
            &light_users,
        );
        let (t1, cpu1) = (Instant::now(), cpu_split());
        let rate = load(&client, clients, secs, op).await;
        let (t2, cpu2) = (Instant::now(), cpu_split());
        let used = cpu2 - cpu1;
        let n = rate * (t2 - t1).as_secs_f64();
        println!(
            "the rest of a login (argon2id at 8 KiB, one pass): {rate:.0} logins/s, {:.0} µs of CPU each: PostgreSQL {:.0} µs, \
             the rest of the server {:.0} µs, the load generator {:.0} µs",
            1e6 * (used.own + used.postgres) / n,
            1e6 * used.postgres / n,
            1e6 * (used.own - used.client) / n,
            1e6 * used.client / n,
        );
        light_pool.close().await;
    }

    // Refresh: each client rotates its own session's token as fast as it can.
    let mut tokens = Vec::new();
    for email in &users {
        let r: Value = http
            .post(format!("http://{addr}/auth/v1/token?grant_type=password"))
            .header("apikey", &anon)
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await?
            .json()
            .await?;
        tokens.push(tokio::sync::Mutex::new(
            r["refresh_token"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let tokens = Arc::new(tokens);
    let refresh = {
        let (wire, anon) = (Arc::new(Wire::new(addr, clients)), anon.clone());
        move |c: usize| {
            let (wire, anon, tokens) = (wire.clone(), anon.clone(), tokens.clone());
            async move {
                let mut token = tokens[c].lock().await;
                let request = post_request(
                    "/auth/v1/token?grant_type=refresh_token",
                    &anon,
                    &json!({ "refresh_token": *token }),
                );
                let Ok((200, body)) = wire.post(c, &request).await else {
                    return false;
                };
                let Ok(body) = serde_json::from_slice::<Value>(&body) else {
                    return false;
                };
                match body["refresh_token"].as_str() {
                    Some(next) => {
                        *token = next.to_owned();
                        true
                    }
                    None => false,
                }
            }
        }
    };
    let refreshes = load(&client, clients, secs, refresh).await;
    println!("refresh-token rotations:       {refreshes:8.1} refreshes/s");

    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database {db} with (force)"
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}
