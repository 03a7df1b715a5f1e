//! The audit log's integrity and retention. `verify` walks every chain of `private.audit_log` and
//! recomputes each entry's hash in Rust from the stored fields — independently of the SQL that
//! wrote it — so an edited, inserted, removed or truncated entry is found.
//!
//! An entry's hash covers a digest of its changes. Since migration 20261127000027 that digest is
//! built from one salted digest per value (a "leaf": a column of `old` or `new`, or another
//! top-level key), the salts derived from a seed kept with the entry. An erasure removes the
//! values of the columns it anonymizes, drops the seed and keeps the salt of every value left and
//! the digest of every value removed (`changes_leaves`), so the kept values still verify and the
//! removed ones cannot be guessed from their digests. It names each redacted entry, with the
//! columns removed (`{"<seq>": {"removed": [columns]}}`), in its own `ERASE` entry: a redaction no
//! intact, later erasure names, one in another form than the record says, or one that removed other
//! columns, is a break too.
//!
//! Older forms stay verifiable: one salted digest of the whole changes (20261127000026), redacted
//! whole (`{"redacted": [columns]}`, salt dropped); and the changes hashed verbatim (chains that
//! did not verify when digests came). `prune` applies the retention setting through
//! `private.audit_prune`, which re-anchors each chain.

mod digest;
mod retention;

pub use retention::{Pruned, prune, retention};

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::{PgPool, Row};

use digest::{joined_digest, redacted_digest, removed_set, seeded_digest};

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

/// The leaves of an entry's `changes` as a JSON array of `[path, value as text]` (null for the
/// forms without leaves). The definition of migration 20261127000027, restated here so that a
/// verification does not rely on functions the database holds.
const LEAVES: &str = "case when changes_seed is not null or changes_leaves is not null then \
    coalesce((select json_agg(json_build_array(l.p, l.v)) from ( \
        select jsonb_build_array(t.key, c.key)::text p, c.value::text v \
          from jsonb_each(case when jsonb_typeof(changes) = 'object' then changes else '{}' end) t \
         cross join lateral jsonb_each(case when jsonb_typeof(t.value) = 'object' then t.value else '{}' end) c \
        union all select jsonb_build_array(t.key)::text, t.value::text \
          from jsonb_each(case when jsonb_typeof(changes) = 'object' then changes else '{}' end) t \
         where jsonb_typeof(t.value) <> 'object' or t.value = '{}' \
        union all select '[]', changes::text where jsonb_typeof(changes) <> 'object') l), '[]')::text end";

/// An entry's changes as stored, in whichever form they are.
struct Changes {
    /// `changes::text`.
    text: String,
    /// The leaves (`(path, value)`), for the seeded forms.
    leaves: Vec<(String, String)>,
    seed: Option<Vec<u8>>,
    /// `changes_leaves`: what a redaction of a seeded entry kept.
    record: Option<Value>,
    salt: Option<Vec<u8>>,
}

impl Changes {
    /// Reads the changes from the columns `changes::text, LEAVES, changes_seed,
    /// changes_leaves::text, changes_salt` starting at `at`.
    fn read(row: &sqlx::postgres::PgRow, at: usize) -> sqlx::Result<Self> {
        let leaves: Option<String> = row.try_get(at + 1)?;
        let record: Option<String> = row.try_get(at + 3)?;
        Ok(Self {
            text: row.try_get(at)?,
            leaves: leaves
                .and_then(|l| serde_json::from_str(&l).ok())
                .unwrap_or_default(),
            seed: row.try_get(at + 2)?,
            record: record.and_then(|r| serde_json::from_str(&r).ok()),
            salt: row.try_get(at + 4)?,
        })
    }

    /// Whether the changes are intact (not redacted) and match `digest`.
    fn intact_and_match(&self, digest: &str) -> bool {
        match (&self.seed, &self.salt) {
            (Some(seed), _) => seeded_digest(seed, &self.leaves) == digest,
            (None, Some(salt)) => joined_digest(salt, &self.text) == digest,
            (None, None) => false,
        }
    }

    /// What is wrong with the changes of entry `seq` against their `digest`, given the redactions
    /// the chain's erasures `named`.
    fn fault(&self, seq: i64, digest: &str, named: &HashMap<i64, Value>) -> Option<&'static str> {
        const MISMATCH: &str = "its changes do not match their digest";
        const DIFFERENT: &str = "its changes differ from what its erasure recorded";
        let forms = [
            self.seed.is_some(),
            self.salt.is_some(),
            self.record.is_some(),
        ];
        if forms.iter().filter(|&&f| f).count() > 1 {
            return Some("it carries the columns of more than one form");
        }
        if self.seed.is_some() || self.salt.is_some() {
            return (!self.intact_and_match(digest)).then_some(MISMATCH);
        }
        let Some(named) = named.get(&seq) else {
            return Some("its values were removed, but no erasure names it");
        };
        // The erasure's record says which form the redaction took: `{"removed": [columns]}` for a
        // seeded entry, `[columns]` for one of 0026's form, redacted whole.
        match (&self.record, named) {
            (Some(record), Value::Object(_)) => match redacted_digest(&self.leaves, record) {
                Err(reason) => Some(reason),
                Ok((d, _)) if d != digest => Some(MISMATCH),
                Ok((_, removed)) => (removed_set(named) != Some(removed)).then_some(DIFFERENT),
            },
            (None, Value::Array(_)) => (serde_json::from_str::<Value>(&self.text).ok()
                != Some(json!({ "redacted": named })))
            .then_some(DIFFERENT),
            _ => Some(DIFFERENT),
        }
    }
}

async fn walk(pool: &PgPool, cur: &mut Cursor, out: &mut Verification) -> sqlx::Result<()> {
    let named = redactions(pool, &cur.chain).await?;
    loop {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select seq, prev_hash, hash, concat_ws('|', chain::text, seq::text, coalesce(org_id::text, ''), \
               coalesce(actor_id::text, ''), coalesce(actor_role, ''), table_name, coalesce(row_id, ''), op), \
               changes_digest, concat_ws('|', coalesce(request_id, ''), \
               to_char(at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')), \
               changes::text, {LEAVES}, changes_seed, changes_leaves::text, changes_salt \
             from private.audit_log where chain = $1::uuid and seq > $2 order by seq limit $3"
        )))
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
            let digest: Option<String> = row.try_get(4)?;
            let tail: String = row.try_get(5)?;
            let changes = Changes::read(&row, 6)?;
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
            let content = match digest {
                None => changes.text,
                Some(digest) => {
                    if let Some(reason) = changes.fault(seq, &digest, &named) {
                        broken(reason.into());
                    }
                    digest
                }
            };
            if joined_digest(prev.as_bytes(), &format!("{head}|{content}|{tail}")) != hash {
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
/// `ERASE` entry whose changes still match their digest (the walk checks its hash), and only
/// entries before it.
async fn redactions(pool: &PgPool, chain: &str) -> sqlx::Result<HashMap<i64, Value>> {
    let erasures = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select seq, changes_digest, changes::text, {LEAVES}, changes_seed, changes_leaves::text, changes_salt \
         from private.audit_log where chain = $1::uuid and op = 'ERASE' and changes_digest is not null"
    )))
    .bind(chain)
    .fetch_all(pool)
    .await?;
    let mut named = HashMap::new();
    for row in erasures {
        let seq: i64 = row.try_get(0)?;
        let digest: String = row.try_get(1)?;
        let changes = Changes::read(&row, 2)?;
        if !changes.intact_and_match(&digest) {
            continue;
        }
        let Ok(Value::Object(changes)) = serde_json::from_str::<Value>(&changes.text) else {
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
