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

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, OnceLock, mpsc},
    time::{Duration, Instant},
};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};

use super::crypto::ct_eq;
use crate::{config::auth::Argon2Params, error::AppError};

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

/// The costliest stored hash bizbase will check: an imported hash's cost is paid by every sign-in
/// attempt on that account (right or wrong password) until its first success re-hashes it, so a
/// hash made to be expensive (bcrypt cost 31, argon2 with gigabytes) would let anyone who knows the
/// address tie up the hashers. The limits admit what other systems ship — Supabase's bcrypt cost 10,
/// Django's argon2 (100 MiB, 2 passes, 8 lanes), argon2-cffi's (64 MiB, 3, 4).
const MAX_BCRYPT_COST: u32 = 14;
const MAX_ARGON2_MEMORY_KIB: u32 = 128 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 10;
const MAX_ARGON2_LANES: u32 = 16;

/// Why `stored` cannot serve as a password hash — not bcrypt or argon2 in PHC form, or costlier to
/// check than the limits above (raised to the configured cost, so bizbase's own hashes always pass)
/// — or `None` when it can.
pub fn unusable(stored: &str, configured: &Argon2Params) -> Option<String> {
    if stored.starts_with("$2") {
        let parts: bcrypt::HashParts = match stored.parse() {
            Ok(parts) => parts,
            Err(e) => return Some(format!("not a bcrypt hash ({e})")),
        };
        return (parts.get_cost() > MAX_BCRYPT_COST).then(|| {
            format!(
                "bcrypt cost {} is above {MAX_BCRYPT_COST}",
                parts.get_cost()
            )
        });
    }
    if !stored.starts_with("$argon2") {
        return Some("use bcrypt or argon2 (PHC string form)".into());
    }
    let parsed = match PasswordHash::new(stored) {
        Ok(parsed) => parsed,
        Err(e) => return Some(format!("not an argon2 hash ({e})")),
    };
    let params = match Params::try_from(&parsed) {
        Ok(params) => params,
        Err(e) => return Some(format!("argon2 parameters: {e}")),
    };
    if parsed.hash.is_none() {
        return Some("argon2 hash without its output".into());
    }
    let (m, t, p) = (
        MAX_ARGON2_MEMORY_KIB.max(configured.memory_kib),
        MAX_ARGON2_ITERATIONS.max(configured.iterations),
        MAX_ARGON2_LANES.max(configured.parallelism),
    );
    if params.m_cost() > m || params.t_cost() > t || params.p_cost() > p {
        return Some(format!(
            "argon2 cost m={},t={},p={} is above m={m},t={t},p={p}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        ));
    }
    None
}

/// Checks a password against the policy; returns GoTrue's `weak_password` reasons.
pub fn weakness(password: &str, min_length: usize, required: &[String]) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if password.chars().count() < min_length {
        reasons.push("length");
    }
    let has = |class: &str| match class {
        "lower" => password.chars().any(char::is_lowercase),
        "upper" => password.chars().any(char::is_uppercase),
        "digit" => password.chars().any(|c| c.is_ascii_digit()),
        "symbol" => password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace()),
        _ => true,
    };
    if required.iter().any(|c| !has(c)) {
        reasons.push("characters");
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
    }

    #[test]
    fn hashes_other_systems_ship_are_usable_and_costlier_ones_are_not() {
        let shipped = Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        };
        let unusable_here = |stored: &str| unusable(stored, &shipped);
        let phc = |m: u32, t: u32, p: u32| {
            format!(
                "$argon2id$v=19$m={m},t={t},p={p}$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
            )
        };
        assert_eq!(unusable_here(&phc(102_400, 2, 8)), None, "Django");
        assert_eq!(unusable_here(&phc(65_536, 3, 4)), None, "argon2-cffi");
        assert!(unusable_here(&phc(131_073, 1, 1)).is_some());
        assert!(unusable_here(&phc(19_456, 11, 1)).is_some());
        assert!(unusable_here(&phc(19_456, 2, 17)).is_some());
        assert_eq!(
            unusable_here(&bcrypt::hash("x", 10).unwrap_or_default()),
            None
        );
        let costly = bcrypt::hash("x", 4)
            .unwrap_or_default()
            .replacen("$04$", "$15$", 1);
        assert!(
            unusable_here(&costly).is_some_and(|why| why.contains("cost 15")),
            "{costly}"
        );
        for junk in [
            "",
            "plain",
            "$2garbage",
            "$argon2id$v=19$m=1",
            "$scrypt$ln=16",
        ] {
            assert!(unusable_here(junk).is_some(), "{junk}");
        }
    }

    #[tokio::test]
    async fn hashes_run_one_per_core_and_all_finish() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let p = cheap();
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..4 * p.cores)
            .map(|i| {
                let (p, running, most) = (p.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    p.run(move |_| {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(i)
                    })
                    .await
                })
            })
            .collect();
        let mut done = Vec::new();
        for job in jobs {
            done.push(job.await.unwrap().unwrap());
        }
        assert_eq!(done, (0..4 * p.cores).collect::<Vec<_>>());
        assert_eq!(
            most.load(Ordering::SeqCst),
            p.cores,
            "the cores are all used, never more"
        );
    }

    #[tokio::test]
    async fn a_job_that_waited_longer_than_a_request_may_take_is_not_run() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let p = Passwords {
            cores: 1,
            ..cheap()
        }
        .with_max_wait(Duration::from_millis(50));
        let busy = tokio::spawn({
            let p = p.clone();
            async move {
                p.run(|_| {
                    std::thread::sleep(Duration::from_millis(200));
                    Ok(())
                })
                .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let ran = Arc::new(AtomicBool::new(false));
        let late = p
            .run({
                let ran = ran.clone();
                move |_| {
                    ran.store(true, Ordering::SeqCst);
                    Ok(())
                }
            })
            .await;
        busy.await.unwrap().unwrap();
        assert!(matches!(late, Err(AppError::Unavailable(_))), "{late:?}");
        assert!(
            !ran.load(Ordering::SeqCst),
            "the late job's work is skipped"
        );
        // The queue is empty again: the next job runs.
        assert!(p.hash("correct-horse-42".into()).await.is_ok());
    }

    #[tokio::test]
    async fn a_failing_job_is_an_error_and_the_hashers_go_on() {
        let p = Passwords {
            cores: 1,
            ..cheap()
        };
        let failed = p.run(|_| -> anyhow::Result<()> { panic!("boom") }).await;
        assert!(failed.is_err());
        let hash = p.hash("correct-horse-42".into()).await.unwrap();
        assert_eq!(
            p.verify("correct-horse-42".into(), Some(hash))
                .await
                .unwrap(),
            Verdict::Match
        );
        assert_eq!(
            p.verify("correct-horse-42".into(), None).await.unwrap(),
            Verdict::Mismatch
        );
    }

    #[test]
    fn argon2id_hashes_verify_only_the_right_password_in_reused_working_memory() {
        let p = cheap();
        let hash = p.hash_blocking("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        // A hash of another algorithm and a longer output, made by the argon2 crate itself.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, Some(48)).unwrap(),
        )
        .hash_password(b"other horse")
        .unwrap()
        .to_string();
        // One character of the recorded output changed (not the last, whose low bits are padding).
        let at = hash.len() - 5;
        let flipped = if &hash[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{flipped}{}", &hash[..at], &hash[at + 1..]);

        for _ in 0..3 {
            assert_eq!(
                p.verify_blocking("correct horse", &hash).unwrap(),
                Verdict::Match
            );
            assert_eq!(
                p.verify_blocking("wrong horse", &hash).unwrap(),
                Verdict::Mismatch
            );
            assert_eq!(
                p.verify_blocking("correct horse", &tampered).unwrap(),
                Verdict::Mismatch
            );
            assert!(matches!(
                p.verify_blocking("other horse", &other).unwrap(),
                Verdict::MatchRehash(_)
            ));
            assert_eq!(
                p.verify_blocking("correct horse", &other).unwrap(),
                Verdict::Mismatch
            );
        }
        assert!(p.memory.lock().unwrap().len() <= p.cores);
    }

    #[test]
    fn bcrypt_hashes_are_accepted_and_upgraded() {
        let p = cheap();
        let legacy = bcrypt::hash("imported-pass", 4).unwrap();

        let Verdict::MatchRehash(new_hash) = p.verify_blocking("imported-pass", &legacy).unwrap()
        else {
            panic!("expected a rehash");
        };
        assert!(new_hash.starts_with("$argon2id$"));
        assert_eq!(
            p.verify_blocking("other", &legacy).unwrap(),
            Verdict::Mismatch
        );
    }

    #[test]
    fn a_cheaper_argon2_hash_is_upgraded_to_the_configured_cost() {
        let weak = cheap().hash_blocking("pw-123456").unwrap();
        let strong = Passwords::new(Argon2Params {
            memory_kib: 128,
            iterations: 2,
            parallelism: 1,
        });

        assert!(matches!(
            strong.verify_blocking("pw-123456", &weak).unwrap(),
            Verdict::MatchRehash(_)
        ));
    }

    #[test]
    fn policy_reports_length_and_character_classes() {
        let required = vec!["upper".to_owned(), "digit".to_owned()];
        assert_eq!(weakness("abc", 8, &[]), ["length"]);
        assert_eq!(weakness("abcdefgh", 8, &required), ["characters"]);
        assert!(weakness("Abcdefg1", 8, &required).is_empty());
    }
}
