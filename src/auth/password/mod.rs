//! Passwords: argon2id hashing off the async runtime, bcrypt hashes (imported from Supabase)
//! accepted and upgraded, and the strength policy.
//!
//! Hashes run on their own threads, one per core, which take jobs from one queue. argon2id is
//! memory-hard (19 MiB each with the OWASP parameters): more concurrent hashes than cores only
//! thrash the caches — slower for everyone — and a burst of logins could otherwise claim
//! gigabytes. A hasher that finishes takes the next queued job at once, without waking another
//! thread first, so under load the cores never wait between hashes. The working memory of a
//! verification is kept for the next one (at most one per core), so a login does not make the
//! kernel fault in and zero 19 MiB of fresh pages.
//!
//! A job that waited in the queue longer than a request may take is not run: its request has been
//! answered 504 already, and hashing for it would only delay the requests behind it. After a flood
//! of logins the hashers catch up at once instead of working through minutes of abandoned jobs.

mod policy;
#[cfg(test)]
mod tests;

pub use policy::{unusable, weakness};

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, OnceLock, mpsc},
    time::{Duration, Instant},
};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};

use crate::{auth::crypto::ct_eq, config::auth::Argon2Params, error::AppError};

/// Hashes and verifies passwords with the configured cost.
#[derive(Debug, Clone)]
pub struct Passwords {
    params: Argon2Params,
    hashers: Arc<Hashers>,
    /// Working memory of finished verifications, for the next ones.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    cores: usize,
    /// Longest a job may wait in the queue and still run.
    max_wait: Duration,
}

/// A unit of work for a hasher thread: called with whether it waited too long to run.
struct Job {
    queued_at: Instant,
    max_wait: Duration,
    work: Box<dyn FnOnce(bool) + Send>,
}

/// The hasher threads (one per core, started with the first job) and their queue. The threads
/// end when the last [`Passwords`] clone is dropped and the queue with it.
#[derive(Debug, Default)]
struct Hashers {
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl Hashers {
    /// Queues `job`; it runs on the first hasher thread free.
    fn submit(&self, job: Job, threads: usize) -> anyhow::Result<()> {
        self.queue
            .get_or_init(|| Self::start(threads))
            .send(job)
            .map_err(|_| anyhow!("no password hasher thread is running"))
    }

    fn start(threads: usize) -> mpsc::Sender<Job> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = receiver.clone();
            let started = std::thread::Builder::new()
                .name(format!("bizbase-hasher-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match receiver.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        let expired = job.queued_at.elapsed() > job.max_wait;
                        // A panicking job drops its reply (its caller gets an error); the thread
                        // goes on with the next job.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| (job.work)(expired)));
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "cannot start a password hasher thread");
            }
        }
        sender
    }
}

/// The result of checking a password against a stored hash.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Wrong password.
    Mismatch,
    /// Right password, hash is current.
    Match,
    /// Right password, but the hash is bcrypt or weaker argon2: store this new hash.
    MatchRehash(String),
}

impl Passwords {
    /// A hasher with these costs.
    pub fn new(params: Argon2Params) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            params,
            hashers: Arc::default(),
            memory: Arc::default(),
            cores,
            max_wait: Duration::MAX,
        }
    }

    /// The same hasher, but a job that waited in the queue longer than `max_wait` is not run
    /// (its caller gets 503 `service_unavailable`). The server passes its request timeout.
    #[must_use]
    pub fn with_max_wait(self, max_wait: Duration) -> Self {
        Self { max_wait, ..self }
    }

    fn argon2(&self) -> anyhow::Result<Argon2<'static>> {
        let p = Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            None,
        )
        .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
    }

    /// Why `stored` cannot serve as a password hash here (see [`unusable`]), if it cannot.
    pub fn unusable(&self, stored: &str) -> Option<String> {
        unusable(stored, &self.params)
    }

    /// Hashes synchronously (call from a blocking thread).
    pub fn hash_blocking(&self, password: &str) -> anyhow::Result<String> {
        let hash = self
            .argon2()?
            .hash_password(password.as_bytes())
            .map_err(|e| anyhow!("hashing: {e}"))?;
        Ok(hash.to_string())
    }

    /// Verifies synchronously (call from a blocking thread).
    pub fn verify_blocking(&self, password: &str, stored: &str) -> anyhow::Result<Verdict> {
        if let Some(why) = self.unusable(stored) {
            // Only SQL written by hand can store such a hash (the API refuses them).
            tracing::warn!(%why, "a stored password hash is not checked");
            return Ok(Verdict::Mismatch);
        }
        if stored.starts_with("$2") {
            return match bcrypt::verify(password, stored) {
                Ok(true) => Ok(Verdict::MatchRehash(self.hash_blocking(password)?)),
                Ok(false) | Err(_) => Ok(Verdict::Mismatch),
            };
        }
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Ok(Verdict::Mismatch);
        };
        if !self.matches(password.as_bytes(), &parsed) {
            return Ok(Verdict::Mismatch);
        }
        let current = parsed.algorithm.as_str() == "argon2id"
            && Params::try_from(&parsed).is_ok_and(|p| {
                p.m_cost() >= self.params.memory_kib && p.t_cost() >= self.params.iterations
            });
        Ok(if current {
            Verdict::Match
        } else {
            Verdict::MatchRehash(self.hash_blocking(password)?)
        })
    }

    /// Whether `password` produces the hash `parsed` records (its algorithm, version, parameters
    /// and salt), computed in reused working memory and compared in constant time.
    fn matches(&self, password: &[u8], parsed: &PasswordHash) -> bool {
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm.as_str()),
            Params::try_from(parsed),
        ) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
        };
        let blocks = params.block_count();
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        let mut memory = self
            .memory
            .lock()
            .ok()
            .and_then(|mut kept| kept.pop())
            .unwrap_or_default();
        if memory.len() < blocks {
            memory = vec![Block::default(); blocks];
        }
        let hashed = argon2
            .hash_password_into_with_memory(
                password,
                salt.as_ref(),
                &mut out,
                &mut memory[..blocks],
            )
            .is_ok();
        if let Ok(mut kept) = self.memory.lock()
            && kept.len() < self.cores
        {
            kept.push(memory);
        }
        hashed && ct_eq(&out, expected.as_bytes())
    }

    /// Runs `work` on a hasher thread, in the current span, and waits for its result.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, AppError> {
        let this = self.clone();
        let span = tracing::Span::current();
        let (reply, result) = tokio::sync::oneshot::channel();
        let job = Job {
            queued_at: Instant::now(),
            max_wait: self.max_wait,
            work: Box::new(move |expired| {
                let _ = reply.send(if expired {
                    Err(AppError::Unavailable(
                        "too many password checks are waiting; try again shortly".into(),
                    ))
                } else {
                    span.in_scope(|| work(&this)).map_err(AppError::from)
                });
            }),
        };
        self.hashers.submit(job, self.cores)?;
        result
            .await
            .map_err(|_| anyhow!("a password hasher failed"))?
    }

    /// Hashes on a hasher thread.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move |this| this.hash_blocking(&password)).await
    }

    /// Verifies on a hasher thread. With no stored hash, a dummy hash is checked anyway so that
    /// unknown users take as long as known ones.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<Verdict, AppError> {
        self.run(move |this| match stored {
            Some(hash) => this.verify_blocking(&password, &hash),
            None => {
                let _ = this.hash_blocking(&password)?;
                Ok(Verdict::Mismatch)
            }
        })
        .await
    }
}
