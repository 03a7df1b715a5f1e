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

use std::{
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use crate::{
    auth::crypto::{hex, unhex},
    jobs::task::Task,
};

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

/// SHA-256 over `prefix '|' text`, hex-encoded: an entry's hash (`prev_hash '|' canonical`), the
/// digest of its changes in 0026's form (`salt '|' changes`) and a leaf's digest (`salt '|' value`).
fn joined_digest(prefix: &[u8], text: &str) -> String {
    hex(&Sha256::new()
        .chain_update(prefix)
        .chain_update(b"|")
        .chain_update(text.as_bytes())
        .finalize())
}

/// A leaf's salt: SHA-256 over `seed path`.
fn leaf_salt(seed: &[u8], path: &str) -> Vec<u8> {
    Sha256::new()
        .chain_update(seed)
        .chain_update(path.as_bytes())
        .finalize()
        .to_vec()
}

/// The digest of changes from their leaves' digests: SHA-256 over the lines `path=digest`, sorted
/// by path bytewise and joined by newlines.
fn leaves_digest(mut lines: Vec<(&str, String)>) -> String {
    lines.sort();
    let text: Vec<String> = lines.iter().map(|(p, d)| format!("{p}={d}")).collect();
    hex(&Sha256::digest(text.join("\n").as_bytes()))
}

/// The digest of a seeded entry's changes, from its `leaves` (`(path, value)`).
fn seeded_digest(seed: &[u8], leaves: &[(String, String)]) -> String {
    leaves_digest(
        leaves
            .iter()
            .map(|(p, v)| (p.as_str(), joined_digest(&leaf_salt(seed, p), v)))
            .collect(),
    )
}

/// The digest of a redacted entry's changes — its kept `leaves` with their salts from `record`
/// (`changes_leaves`), the removed ones with their digests — and the columns removed; or what is
/// wrong with the record.
fn redacted_digest(
    leaves: &[(String, String)],
    record: &Value,
) -> Result<(String, BTreeSet<String>), &'static str> {
    let Value::Object(record) = record else {
        return Err("its record of removed values is not an object");
    };
    let mut lines = Vec::with_capacity(record.len());
    for (path, value) in leaves {
        let salt = record
            .get(path)
            .and_then(|r| r.get("salt"))
            .and_then(Value::as_str)
            .and_then(unhex)
            .filter(|salt| salt.len() == 32)
            .ok_or("a value it keeps has no salt")?;
        lines.push((path.as_str(), joined_digest(&salt, value)));
    }
    let mut removed = BTreeSet::new();
    for (path, r) in record {
        if leaves.iter().any(|(p, _)| p == path) {
            continue;
        }
        // A digest and a path in the form PostgreSQL writes them, or a line could hide others.
        let digest = r
            .get("digest")
            .and_then(Value::as_str)
            .filter(|d| d.len() == 64 && d.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .ok_or("a value was removed without its digest")?;
        let column = match serde_json::from_str::<Vec<String>>(path).as_deref() {
            Ok([group, column]) if *path == path_text(group, column) => column.clone(),
            _ => return Err("a value was removed that is no column"),
        };
        removed.insert(column);
        lines.push((path.as_str(), digest.to_owned()));
    }
    Ok((leaves_digest(lines), removed))
}

/// The text PostgreSQL gives the path `[group, column]` as `jsonb`.
fn path_text(group: &str, column: &str) -> String {
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!("[{}, {}]", quote(group), quote(column))
}

/// The column names an erasure recorded for a seeded entry it redacted
/// (`{"removed": ["email", …]}`).
fn removed_set(named: &Value) -> Option<BTreeSet<String>> {
    serde_json::from_value(named.get("removed")?.clone()).ok()
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

/// What one pruning removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Entries of the business audit log (`private.audit_log`, whole chain prefixes).
    pub business: i64,
    /// Auth events (`auth.audit_log_entries`: sign-ins and the like, with IP and user agent).
    pub auth: i64,
}

impl Pruned {
    /// Entries removed in all.
    pub fn total(self) -> i64 {
        self.business + self.auth
    }
}

/// Removes the entries of both audit trails older than `days` days: the business log's whole
/// chain prefixes (anchored so what stays still verifies) and the auth events.
pub async fn prune(pool: &PgPool, days: u32) -> sqlx::Result<Pruned> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let business = sqlx::query_scalar("select private.audit_prune(make_interval(days => $1))")
        .bind(days)
        .fetch_one(pool)
        .await?;
    let auth = sqlx::query(
        "delete from auth.audit_log_entries where created_at < now() - make_interval(days => $1)",
    )
    .bind(days)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Pruned {
        business,
        auth: i64::try_from(auth).unwrap_or(i64::MAX),
    })
}

/// The retention task inside `serve`: prunes once an hour while a retention is configured.
pub fn retention(pool: PgPool, days: Option<u32>) -> Task {
    let Some(days) = days else {
        return Task::idle();
    };
    Task::spawn(|mut stopped| async move {
        loop {
            match prune(&pool, days).await {
                Ok(n) if n.total() == 0 => {}
                Ok(n) => tracing::info!(
                    business = n.business,
                    auth = n.auth,
                    days,
                    "audit retention pruned entries"
                ),
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
    use serde_json::json;

    use super::{Value, hex, joined_digest, leaf_salt, redacted_digest, seeded_digest};

    #[test]
    fn an_entry_hash_covers_the_previous_hash_and_the_content() {
        let zero = "0".repeat(64);
        let a = joined_digest(zero.as_bytes(), "x|1");
        assert_eq!(a.len(), 64);
        assert_ne!(
            a,
            joined_digest(zero.as_bytes(), "x|2"),
            "content changes the hash"
        );
        assert_ne!(
            a,
            joined_digest("1".repeat(64).as_bytes(), "x|1"),
            "the link changes it"
        );
        // What PostgreSQL computes for the same text:
        // encode(sha256(convert_to(repeat('0', 64) || '|x|1', 'UTF8')), 'hex')
        assert_eq!(
            a,
            "00c3576d22f08be370eae7c63d53c3a6ba44715b85cde3aff40c10889edbeb46"
        );
    }

    #[test]
    fn a_changes_digest_is_salted_and_matches_postgresql() {
        let d = joined_digest(&[1, 2], r#"{"a": 1}"#);
        assert_ne!(
            d,
            joined_digest(&[1, 3], r#"{"a": 1}"#),
            "the salt changes it"
        );
        assert_ne!(d, joined_digest(&[1, 2], r#"{"a": 2}"#), "the changes do");
        // encode(sha256('\x0102'::bytea || convert_to('|' || '{"a": 1}'::jsonb::text, 'UTF8')), 'hex')
        assert_eq!(
            d,
            "eab4803ba0524f7c00092fc834c486687d8bf4e20916cd66ad9afd2feeb3c976"
        );
    }

    fn leaves() -> Vec<(String, String)> {
        vec![
            (r#"["new", "a"]"#.into(), "1".into()),
            (r#"["new", "email"]"#.into(), r#""p@x""#.into()),
        ]
    }

    #[test]
    fn a_seeded_digest_matches_postgresql() {
        // select private.audit_seeded_digest('\x0102', '{"new": {"a": 1, "email": "p@x"}}')
        assert_eq!(
            seeded_digest(&[1, 2], &leaves()),
            "dffa23eda1efda546a534f538091bc1ac0fea7977829e2394f149da18b7cff2d"
        );
        let mut changed = leaves();
        changed[1].1 = r#""q@x""#.into();
        assert_ne!(
            seeded_digest(&[1, 2], &changed),
            seeded_digest(&[1, 2], &leaves())
        );
    }

    #[test]
    fn a_redacted_entry_keeps_its_digest_and_names_what_it_removed() {
        let (seed, all) = (&[1, 2], leaves());
        let salt = |p: &str| hex(&leaf_salt(seed, p));
        let record = json!({
            r#"["new", "a"]"#: { "salt": salt(&all[0].0) },
            r#"["new", "email"]"#: { "digest": joined_digest(&leaf_salt(seed, &all[1].0), &all[1].1) },
        });
        let kept = &all[..1];

        let (digest, removed) = redacted_digest(kept, &record).unwrap();
        let mut edited = kept.to_vec();
        edited[0].1 = "2".into();
        let without_salt = json!({ r#"["new", "email"]"#: record[r#"["new", "email"]"#].clone() });

        assert_eq!(digest, seeded_digest(seed, &all));
        assert_eq!(removed.into_iter().collect::<Vec<_>>(), ["email"]);
        assert_ne!(
            redacted_digest(&edited, &record).unwrap().0,
            digest,
            "a kept value still counts"
        );
        assert!(redacted_digest(kept, &without_salt).is_err());
        assert!(redacted_digest(kept, &Value::Null).is_err());
    }

    #[test]
    fn a_removed_value_is_a_path_and_a_digest_in_postgresqls_form_or_nothing() {
        let (seed, all) = (&[1, 2], leaves());
        let digest = joined_digest(&leaf_salt(seed, &all[1].0), &all[1].1);
        let record = |path: &str, digest: String| {
            let mut r = serde_json::Map::new();
            r.insert(
                all[0].0.clone(),
                json!({ "salt": hex(&leaf_salt(seed, &all[0].0)) }),
            );
            r.insert(path.to_owned(), json!({ "digest": digest }));
            Value::Object(r)
        };
        let kept = &all[..1];

        // A digest carrying another line, a path not written the way PostgreSQL writes it, and
        // one that is no column.
        let smuggled = record(&all[1].0, format!("{digest}\n[\"new\", \"b\"]={digest}"));
        let spaced = record(r#"["new","email"]"#, digest.clone());
        let top = record(r#"["email"]"#, digest.clone());

        assert!(redacted_digest(kept, &record(&all[1].0, digest.clone())).is_ok());
        assert!(redacted_digest(kept, &smuggled).is_err());
        assert!(redacted_digest(kept, &spaced).is_err());
        assert!(redacted_digest(kept, &top).is_err());
    }
}
