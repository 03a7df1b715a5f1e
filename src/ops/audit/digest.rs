//! The digests an audit entry's hash covers — the hash chain's link, and the salted digests of its
//! changes (seeded, redacted) — recomputed in Rust as migrations 0026–0027 compute them in SQL.

use std::collections::BTreeSet;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::crypto::{hex, unhex};

/// SHA-256 over `prefix '|' text`, hex-encoded: an entry's hash (`prev_hash '|' canonical`), the
/// digest of its changes in 0026's form (`salt '|' changes`) and a leaf's digest (`salt '|' value`).
pub(super) fn joined_digest(prefix: &[u8], text: &str) -> String {
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
pub(super) fn seeded_digest(seed: &[u8], leaves: &[(String, String)]) -> String {
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
pub(super) fn redacted_digest(
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
pub(super) fn removed_set(named: &Value) -> Option<BTreeSet<String>> {
    serde_json::from_value(named.get("removed")?.clone()).ok()
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
