//! Passwords: argon2id hashing off the async runtime, bcrypt hashes (imported from Supabase)
//! accepted and upgraded, and the strength policy.
//!
//! At most one hash runs per core at a time; the rest wait their turn. argon2id is memory-hard
//! (19 MiB each with the OWASP parameters): more concurrent hashes than cores only thrash the
//! caches — slower for everyone — and a burst of logins could otherwise claim gigabytes. The
//! working memory of a verification is kept for the next one (at most one per core), so a login
//! does not make the kernel fault in and zero 19 MiB of fresh pages.

use std::sync::{Arc, Mutex};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use tokio::sync::Semaphore;

use super::crypto::ct_eq;
use crate::config::auth::Argon2Params;

/// Hashes and verifies passwords with the configured cost.
#[derive(Debug, Clone)]
pub struct Passwords {
    params: Argon2Params,
    turns: Arc<Semaphore>,
    /// Working memory of finished verifications, for the next ones.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    cores: usize,
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
            turns: Arc::new(Semaphore::new(cores)),
            memory: Arc::default(),
            cores,
        }
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

    /// Hashes on the blocking pool, keeping the current span.
    pub async fn hash(&self, password: String) -> anyhow::Result<String> {
        let this = self.clone();
        let span = tracing::Span::current();
        let turn = self.turns.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            span.in_scope(|| this.hash_blocking(&password))
        })
        .await?
    }

    /// Verifies on the blocking pool. With no stored hash, a dummy hash is checked anyway so that
    /// unknown users take as long as known ones.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> anyhow::Result<Verdict> {
        let this = self.clone();
        let span = tracing::Span::current();
        let turn = self.turns.clone().acquire_owned().await?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            span.in_scope(|| match stored {
                Some(hash) => this.verify_blocking(&password, &hash),
                None => {
                    let _ = this.hash_blocking(&password)?;
                    Ok(Verdict::Mismatch)
                }
            })
        })
        .await?
    }
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

    #[tokio::test]
    async fn hashes_wait_for_a_free_core() {
        let p = cheap();
        let all = p.turns.available_permits() as u32;
        assert!(all >= 1, "one turn per core");
        let busy = p.turns.clone().acquire_many_owned(all).await.unwrap();
        let waiting = tokio::spawn({
            let p = p.clone();
            async move { p.hash("correct-horse-42".into()).await }
        });

        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "no turn is free, so the hash waits");
        drop(busy);
        let hash = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(
            p.turns.available_permits() as u32,
            all,
            "the turn is given back"
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
