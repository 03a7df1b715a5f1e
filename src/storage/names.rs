//! What a bucket id and an object key may be, as Supabase Storage checks them.

use crate::error::AppError;

/// Characters S3 says to avoid in keys, which Supabase Storage refuses.
const KEY_AVOIDED: &str = "#[]{}^`\"<>\\|%~";

/// Whether `c` shows nothing or turns text around on screen (soft hyphen, zero-width and
/// direction marks, embeddings and isolates, invisible operators, byte-order mark, tag
/// characters): a key holding one looks like another key, or like another file type.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Characters Supabase allows in bucket names besides ASCII letters and digits.
const BUCKET_SYMBOLS: &str = "_!-.*'() &$@=;:+,?";

/// Checks an object key as Supabase Storage does: 1–1024 bytes of UTF-8 without control
/// characters (C0, DEL, C1), the characters S3 says to avoid, or invisible ones; no `.` or `..`
/// segment. Unlike Supabase, no empty segment either (`/a`, `a/`, `a//b`): listing reads `/` as
/// folders, and an empty folder name could not be listed or opened.
pub fn key(name: &str) -> Result<(), AppError> {
    let allowed = |c: char| !c.is_control() && !KEY_AVOIDED.contains(c) && !invisible(c);
    let segments_ok = name
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != "..");
    if name.is_empty() || name.len() > 1024 || !name.chars().all(allowed) || !segments_ok {
        return Err(AppError::bad_request(
            "invalid_key",
            format!("Invalid key: {name}"),
        ));
    }
    Ok(())
}

/// Checks a bucket id or name: 1–100 characters of the allowed set, no surrounding spaces.
pub fn bucket(name: &str) -> Result<(), AppError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || BUCKET_SYMBOLS.contains(c);
    if name.is_empty() || name.len() > 100 || name.trim() != name || !name.chars().all(allowed) {
        return Err(AppError::bad_request(
            "invalid_bucket_name",
            format!("Bucket name invalid: {name}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_supabase_rules() {
        for good in [
            "folder/file name (1).png",
            "a",
            "café/résumé.pdf",
            "文档 檔案/ملف.txt",
            "👨\u{200D}👩\u{200D}👧.png",
            "!-_.*'() &$@=;:+,?",
            ".hidden/a..b",
        ] {
            assert!(key(good).is_ok(), "{good:?} should be accepted");
        }
        for bad in [
            "",
            "/a",
            "a/",
            "a//b",
            "a/../b",
            "./a",
            "..",
            "a#b",
            "a%b",
            "a[b]",
            "a{b}",
            "a^b",
            "a`b",
            "a\"b",
            "a<b>",
            "a\\b",
            "a|b",
            "a~b",
            "a\tb",
            "a\u{7F}",
            "a\u{85}",
            "a\u{0}",
            "a\u{AD}b",
            "a\u{200B}b",
            "a\u{202E}fdp.exe",
            "a\u{2066}b",
            "\u{FEFF}a",
            "a\u{E0041}",
        ] {
            assert!(key(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(key(&"a".repeat(1024)).is_ok());
        assert!(key(&"a".repeat(1025)).is_err());
        assert!(key(&"é".repeat(512)).is_ok());
        assert!(key(&"é".repeat(513)).is_err(), "1026 bytes");
    }

    #[test]
    fn bucket_names_have_no_slash_or_surrounding_space() {
        assert!(bucket("avatars").is_ok());
        assert!(bucket("my bucket").is_ok());
        for bad in ["", " a", "a ", "a/b", &"b".repeat(101)] {
            assert!(bucket(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
