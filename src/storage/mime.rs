//! Media types: the well-formed ones (RFC 9110 §8.3.1), a bucket's `allowed_mime_types` (stored
//! normalised, as Supabase Storage stores them) and whether an upload's type is among them.

use crate::error::AppError;

/// The media type without parameters, lower-cased (`Text/Plain; charset=x` → `text/plain`),
/// whether or not it is well formed.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// The length of the quoted-string at the start of `s` (which starts with `"`), if it is one.
fn quoted_len(s: &[u8]) -> Option<usize> {
    let mut i = 1;
    while let Some(&b) = s.get(i) {
        match b {
            b'"' => return Some(i + 1),
            b'\\' => match s.get(i + 1) {
                Some(&e) if e == b'\t' || e >= 0x20 && e != 0x7F => i += 2,
                _ => return None,
            },
            b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF => i += 1,
            _ => return None,
        }
    }
    None
}

/// Whether `params` (what follows the type, from its first `;`) is a list of parameters:
/// `;` then optional whitespace and an optional `name=value` (a token or a quoted-string).
fn parameters_ok(params: &str) -> bool {
    let s = params.as_bytes();
    let ows = |mut i: usize| {
        while s.get(i).is_some_and(|b| *b == b' ' || *b == b'\t') {
            i += 1;
        }
        i
    };
    let mut i = 0;
    while i < s.len() {
        if s[i] != b';' {
            return false;
        }
        i = ows(i + 1);
        let name = s[i..].iter().take_while(|b| is_tchar(**b)).count();
        if name == 0 {
            continue;
        }
        i += name;
        if s.get(i) != Some(&b'=') {
            return false;
        }
        i += 1;
        let value = match s.get(i) {
            Some(b'"') => quoted_len(&s[i..]),
            _ => Some(s[i..].iter().take_while(|b| is_tchar(**b)).count()).filter(|n| *n > 0),
        };
        let Some(value) = value else {
            return false;
        };
        i = ows(i + value);
    }
    true
}

/// `type/subtype` of a well-formed media type, lower-cased, its parameters dropped; `None` when
/// it is not one (`image`, `image/png, text/html`, `text/plain; charset`). `*` is no type, and a
/// subtype only where `wildcard` allows it, as all of it (`image/*`).
pub fn media_type(text: &str, wildcard: bool) -> Option<String> {
    let text = text.trim_start_matches([' ', '\t']);
    let (head, params) = text.split_at(text.find(';').unwrap_or(text.len()));
    let (kind, sub) = head.trim_end_matches([' ', '\t']).split_once('/')?;
    if !is_token(kind) || !is_token(sub) || kind.contains('*') {
        return None;
    }
    if sub.contains('*') && !(wildcard && sub == "*") {
        return None;
    }
    parameters_ok(params).then(|| format!("{kind}/{sub}").to_ascii_lowercase())
}

/// Storage's `InvalidMimeType` (415) for `mime`.
fn invalid_mime_type(mime: &str) -> AppError {
    AppError::UnsupportedMediaType {
        code: "invalid_mime_type",
        message: format!("mime type {mime} is not supported").into(),
    }
}

/// A bucket's `allowed_mime_types` as stored: each entry a well-formed media type or `type/*`,
/// lower-cased without parameters (`Text/Plain; charset=utf-8` → `text/plain`), duplicates
/// dropped; the first malformed entry (`garbage*`, `*/*`, an empty one) is `InvalidMimeType`.
pub fn allowed_list(entries: &[String]) -> Result<Vec<String>, AppError> {
    let mut list: Vec<String> = Vec::with_capacity(entries.len());
    for entry in entries {
        let parsed = (entry.len() <= 1000)
            .then(|| media_type(entry, true))
            .flatten()
            .ok_or_else(|| invalid_mime_type(entry))?;
        if !list.contains(&parsed) {
            list.push(parsed);
        }
    }
    Ok(list)
}

/// Whether `content_type` is allowed by a bucket's `allowed_mime_types` (`None` or empty: any;
/// entries may be `type/*`). A bucket that restricts types takes only one well-formed media type
/// — not a list (`image/png, text/html`: browsers honour the last one). Entries stored before
/// lists were normalised are read the same way, and a legacy `*/*` still means any type.
/// Refusal is Storage's `InvalidMimeType` (415).
pub fn mime_allowed(content_type: &str, allowed: Option<&[String]>) -> Result<(), AppError> {
    let Some(allowed) = allowed.filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    let requested =
        media_type(content_type, false).ok_or_else(|| invalid_mime_type(content_type))?;
    let wildcard = format!("{}*", &requested[..=requested.find('/').unwrap_or(0)]);
    let matches = |entry: &str| entry == requested || entry == wildcard || entry == "*/*";
    if allowed
        .iter()
        .any(|a| matches(a) || matches(&media_type(a, true).unwrap_or_else(|| essence(a))))
    {
        Ok(())
    } else {
        Err(invalid_mime_type(content_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_parsed_as_rfc_9110_writes_them() {
        for (text, parsed) in [
            ("text/plain", "text/plain"),
            ("Text/Plain; charset=utf-8", "text/plain"),
            (" image/PNG ;a=b; c=\"x; y\" ;", "image/png"),
            ("application/vnd.api+json", "application/vnd.api+json"),
        ] {
            assert_eq!(media_type(text, false).as_deref(), Some(parsed), "{text}");
        }
        for bad in [
            "",
            "text",
            "text/",
            "/plain",
            "text/plain/x",
            "image/png, text/html",
            "text/plain x",
            "text/plain; charset",
            "text/plain; =x",
            "text/plain; a=\"open",
            "*/*",
            "image/*",
            "image/png*",
            "te xt/plain",
        ] {
            assert_eq!(media_type(bad, false), None, "{bad:?}");
        }
        assert_eq!(media_type("IMAGE/*", true).as_deref(), Some("image/*"));
        for bad in ["*/*", "*/png", "image/png*", "garbage*"] {
            assert_eq!(media_type(bad, true), None, "{bad:?}");
        }
    }

    #[test]
    fn allowed_lists_are_normalised_or_refused() {
        let list =
            |l: &[&str]| allowed_list(&l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            list(&[
                "Text/Plain; charset=utf-8",
                "image/*",
                "IMAGE/*",
                "text/plain"
            ])
            .ok(),
            Some(vec!["text/plain".to_owned(), "image/*".to_owned()])
        );
        assert_eq!(list(&[]).ok(), Some(vec![]));
        for bad in ["garbage*", "*/*", "", "text"] {
            assert!(list(&["image/png", bad]).is_err(), "{bad:?}");
        }
        assert!(list(&[&format!("text/plain; a={}", "x".repeat(1000))]).is_err());
    }

    #[test]
    fn mime_types_match_exactly_or_by_wildcard() {
        let list = vec!["image/*".to_owned(), "text/plain".to_owned()];
        assert!(mime_allowed("image/png", Some(&list)).is_ok());
        assert!(mime_allowed("Text/Plain; charset=utf-8", Some(&list)).is_ok());
        assert!(mime_allowed("application/pdf", Some(&list)).is_err());
        assert!(mime_allowed("application/pdf", None).is_ok());
        assert!(mime_allowed("application/pdf", Some(&[])).is_ok());
        let legacy = vec!["Text/Plain; charset=utf-8".to_owned()];
        assert!(mime_allowed("text/plain", Some(&legacy)).is_ok());
        assert!(mime_allowed("application/pdf", Some(&["*/*".to_owned()])).is_ok());
        for malformed in [
            "image/png, text/html",
            "image",
            "image/",
            "/png",
            "image/png/x",
            "image/*",
            "",
        ] {
            assert!(
                mime_allowed(malformed, Some(&list)).is_err(),
                "{malformed:?}"
            );
        }
    }
}
