//! The audit log's integrity and retention. `verify` walks every chain of `private.audit_log` and
//! recomputes each entry's hash in Rust from the stored fields — independently of the SQL that
//! wrote it — so an edited, inserted, removed or truncated entry is found. An entry's hash covers
//! a salted digest of its changes (migration 20261127000026), which `verify` recomputes while the
//! salt is kept; an erasure redacts an entry by dropping its values and salt, and names it (with
//! the columns it keeps listed) in its own `ERASE` entry, so a redaction no intact erasure names,
//! or one whose changes differ from that record, is a break too. Entries of a chain that did
//! not verify when that migration ran keep the older form (the changes themselves hashed).
//! `prune` applies the retention setting through `private.audit_prune`, which re-anchors each
//! chain.

use std::{collections::HashMap, time::Duration};

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use crate::jobs::task::Task;

/// What a verification found.
#[derive(Debug, Default, Serialize)]
pub struct Verification {
    /// Chains checked (one per org, plus the one for rows without an org).
    pub chains: u64,
    /// Entries checked.
    pub entries: u64,
    /// Every break, in chain order.
    pub breaks: Vec<Break>,
}

impl Verification {
    /// No entry was tampered with.
    pub fn intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// One place where a chain does not hold.
#[derive(Debug, Serialize)]
pub struct Break {
    /// The chain (the org id, or the nil uuid).
    pub chain: String,
    /// The position in the chain where it breaks.
    pub seq: i64,
    /// What is wrong.
    pub reason: String,
}

/// The chain state while walking it.
struct Cursor {
    chain: String,
    seq: i64,
    hash: String,
    head_seq: i64,
    head_hash: String,
}

/// The hash of an entry: SHA-256 over `prev_hash '|' canonical`, hex-encoded.
fn entry_hash(prev: &str, canonical: &str) -> String {
    hex(&Sha256::new()
        .chain_update(prev.as_bytes())
        .chain_update(b"|")
        .chain_update(canonical.as_bytes())
        .finalize())
}

/// The digest an entry's hash covers in place of its changes: SHA-256 over `salt '|' changes`.
fn changes_digest(salt: &[u8], changes: &str) -> String {
    hex(&Sha256::new()
        .chain_update(salt)
        .chain_update(b"|")
        .chain_update(changes.as_bytes())
        .finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Walks every chain and recomputes every hash.
pub async fn verify(pool: &PgPool) -> sqlx::Result<Verification> {
    let heads: Vec<(String, i64, String, i64, String)> = sqlx::query_as(
        "select chain::text, seq, hash, pruned_seq, pruned_hash from private.audit_chains order by chain",
    )
    .fetch_all(pool)
    .await?;
    let mut out = Verification::default();
    for (chain, head_seq, head_hash, pruned_seq, pruned_hash) in heads {
        out.chains += 1;
        let mut cur = Cursor {
            chain,
            seq: pruned_seq,
            hash: pruned_hash,
            head_seq,
            head_hash,
        };
        walk(pool, &mut cur, &mut out).await?;
    }
    let orphans: Vec<String> = sqlx::query_scalar(
        "select distinct chain::text from private.audit_log a \
         where not exists (select 1 from private.audit_chains c where c.chain = a.chain)",
    )
    .fetch_all(pool)
    .await?;
    for chain in orphans {
        out.breaks.push(Break {
            chain,
            seq: 0,
            reason: "entries of a chain that has no head".into(),
        });
    }
    Ok(out)
}

/// Entries read per round trip.
const PAGE: i64 = 5_000;

async fn walk(pool: &PgPool, cur: &mut Cursor, out: &mut Verification) -> sqlx::Result<()> {
    let named = redactions(pool, &cur.chain).await?;
    loop {
        let rows = sqlx::query(
            "select seq, prev_hash, hash, concat_ws('|', chain::text, seq::text, coalesce(org_id::text, ''), \
               coalesce(actor_id::text, ''), coalesce(actor_role, ''), table_name, coalesce(row_id, ''), op), \
               changes::text, changes_salt, changes_digest, concat_ws('|', coalesce(request_id, ''), \
               to_char(at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) \
             from private.audit_log where chain = $1::uuid and seq > $2 order by seq limit $3",
        )
        .bind(&cur.chain)
        .bind(cur.seq)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
        let n = rows.len();
        for row in rows {
            let seq: i64 = row.try_get(0)?;
            let prev: String = row.try_get(1)?;
            let hash: String = row.try_get(2)?;
            let head: String = row.try_get(3)?;
            let changes: String = row.try_get(4)?;
            let salt: Option<Vec<u8>> = row.try_get(5)?;
            let digest: Option<String> = row.try_get(6)?;
            let tail: String = row.try_get(7)?;
            out.entries += 1;
            let mut broken = |reason: String| {
                out.breaks.push(Break {
                    chain: cur.chain.clone(),
                    seq,
                    reason,
                })
            };
            if seq != cur.seq + 1 {
                broken(format!(
                    "entries {} to {} are missing",
                    cur.seq + 1,
                    seq - 1
                ));
            }
            if prev != cur.hash {
                broken("does not link to the previous entry".into());
            }
            let content = match (digest, salt) {
                (None, _) => changes,
                (Some(digest), Some(salt)) => {
                    if changes_digest(&salt, &changes) != digest {
                        broken("its changes do not match their digest".into());
                    }
                    digest
                }
                (Some(digest), None) => {
                    match named.get(&seq) {
                        None => broken("its changes were removed, but no erasure names it".into()),
                        Some(columns)
                            if serde_json::from_str::<Value>(&changes).ok()
                                != Some(json!({ "redacted": columns })) =>
                        {
                            broken("its changes differ from what its erasure recorded".into())
                        }
                        Some(_) => {}
                    }
                    digest
                }
            };
            if entry_hash(&prev, &format!("{head}|{content}|{tail}")) != hash {
                broken("its content does not match its hash".into());
            }
            cur.seq = seq;
            cur.hash = hash;
        }
        if (n as i64) < PAGE {
            break;
        }
    }
    if cur.seq != cur.head_seq || cur.hash != cur.head_hash {
        out.breaks.push(Break {
            chain: cur.chain.clone(),
            seq: cur.seq,
            reason: format!(
                "the chain ends at entry {} but its head says {}",
                cur.seq, cur.head_seq
            ),
        });
    }
    Ok(())
}

/// The entries of `chain` its erasures redacted, with the columns each recorded: named by an
/// `ERASE` entry whose salted digest still matches its changes (the walk checks its hash), and only
/// entries before it.
async fn redactions(pool: &PgPool, chain: &str) -> sqlx::Result<HashMap<i64, Value>> {
    let erasures: Vec<(i64, String, Vec<u8>, String)> = sqlx::query_as(
        "select seq, changes::text, changes_salt, changes_digest from private.audit_log \
         where chain = $1::uuid and op = 'ERASE' and changes_salt is not null and changes_digest is not null",
    )
    .bind(chain)
    .fetch_all(pool)
    .await?;
    let mut named = HashMap::new();
    for (seq, changes, salt, digest) in erasures {
        if changes_digest(&salt, &changes) != digest {
            continue;
        }
        let Ok(Value::Object(changes)) = serde_json::from_str::<Value>(&changes) else {
            continue;
        };
        let Some(Value::Object(redacted)) = changes.get("redacted") else {
            continue;
        };
        for (entry, columns) in redacted {
            if let Ok(entry) = entry.parse::<i64>()
                && entry < seq
            {
                named.insert(entry, columns.clone());
            }
        }
    }
    Ok(named)
}

/// Removes entries older than `days` days (whole chain prefixes); returns how many.
pub async fn prune(pool: &PgPool, days: u32) -> sqlx::Result<i64> {
    sqlx::query_scalar("select private.audit_prune(make_interval(days => $1))")
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .fetch_one(pool)
        .await
}

/// The retention task inside `serve`: prunes once an hour while a retention is configured.
pub fn retention(pool: PgPool, days: Option<u32>) -> Task {
    let Some(days) = days else {
        return Task::idle();
    };
    Task::spawn(|mut stopped| async move {
        loop {
            match prune(&pool, days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, days, "audit retention pruned entries"),
                Err(e) => tracing::warn!(error = %e, "audit retention failed; retrying later"),
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
                _ = stopped.changed() => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{changes_digest, entry_hash};

    #[test]
    fn an_entry_hash_covers_the_previous_hash_and_the_content() {
        let zero = "0".repeat(64);
        let a = entry_hash(&zero, "x|1");
        assert_eq!(a.len(), 64);
        assert_ne!(a, entry_hash(&zero, "x|2"), "content changes the hash");
        assert_ne!(a, entry_hash(&"1".repeat(64), "x|1"), "the link changes it");
        // What PostgreSQL computes for the same text:
        // encode(sha256(convert_to(repeat('0', 64) || '|x|1', 'UTF8')), 'hex')
        assert_eq!(
            a,
            "00c3576d22f08be370eae7c63d53c3a6ba44715b85cde3aff40c10889edbeb46"
        );
    }

    #[test]
    fn a_changes_digest_is_salted_and_matches_postgresql() {
        let d = changes_digest(&[1, 2], r#"{"a": 1}"#);
        assert_ne!(
            d,
            changes_digest(&[1, 3], r#"{"a": 1}"#),
            "the salt changes it"
        );
        assert_ne!(d, changes_digest(&[1, 2], r#"{"a": 2}"#), "the changes do");
        // encode(sha256('\x0102'::bytea || convert_to('|' || '{"a": 1}'::jsonb::text, 'UTF8')), 'hex')
        assert_eq!(
            d,
            "eab4803ba0524f7c00092fc834c486687d8bf4e20916cd66ad9afd2feeb3c976"
        );
    }
}
