//! Header values of a download that depend on what is stored: the content type a browser is
//! given, `Content-Disposition` for `?download`, and the caching of a signed download.

/// `Content-Security-Policy` of a download a browser could run scripts in: no script, no
/// subresource, a unique origin (inline styles stay, so an SVG still looks right).
pub const SANDBOX: &str = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/// The content type a download is served with. Stored HTML (any type naming `text/html`, in any
/// case) goes out as `text/plain`, as Supabase Storage serves it: a page uploaded to a bucket
/// must not run as the API's origin. The stored metadata keeps what was uploaded.
pub fn served_content_type(stored: &str) -> &str {
    if stored.to_ascii_lowercase().contains("text/html") {
        "text/plain"
    } else {
        stored
    }
}

/// Whether a served type may be a document a browser runs scripts in: XML of any kind (SVG,
/// XHTML, any `+xml`, `text/xml`, `application/xml`, `text/xsl`), or anything that is not one
/// well-formed media type — a list such as `image/png, image/svg+xml` (browsers take its last
/// valid entry) or garbage. Such downloads are sent with [`SANDBOX`]. Supabase does not do this;
/// it keeps SVG images working (in `<img>` scripts never run) while an SVG or XHTML opened
/// directly cannot act as the API's origin.
pub fn script_capable(content_type: &str) -> bool {
    match crate::storage::mime::media_type(content_type, false) {
        None => true,
        Some(essence) => {
            matches!(
                essence.as_str(),
                "text/xml" | "application/xml" | "text/xsl"
            ) || essence.ends_with("+xml")
        }
    }
}

/// `?download` / `?download=name.ext` as `Content-Disposition` (RFC 6266): `filename*` carries
/// the name exactly (RFC 8187, UTF-8 percent-encoded), `filename` an ASCII stand-in for old
/// clients (other characters become `_`), quoted unless it is a token.
pub fn disposition(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or("")).ok()?;
    let (_, name) = pairs.into_iter().find(|(k, _)| k == "download")?;
    if name.is_empty() {
        return Some("attachment;".to_owned());
    }
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let is_token = fallback
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    let fallback = if is_token {
        fallback
    } else {
        format!("\"{fallback}\"")
    };
    let mut encoded = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    Some(format!(
        "attachment; filename={fallback}; filename*=UTF-8''{encoded}"
    ))
}

/// Cache-Control directives that give a response a lifetime of its own.
const LIFETIMES: [&str; 5] = [
    "max-age",
    "s-maxage",
    "immutable",
    "stale-while-revalidate",
    "stale-if-error",
];

/// The `Cache-Control` of a signed download whose token lives `left` more seconds: the stored
/// directives without their lifetimes, plus `max-age` of the stored one or `left`, whichever is
/// shorter. A cache may then keep the response no longer than the URL is valid (Supabase sends
/// only `Expires` there).
pub fn signed_cache_control(stored: Option<&str>, left: u64) -> String {
    let mut kept = Vec::new();
    let mut age = left;
    for directive in directives(stored.unwrap_or("")) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        if name == "max-age" {
            if let Ok(stored_age) = value.trim().trim_matches('"').parse::<u64>() {
                age = age.min(stored_age);
            }
        } else if !LIFETIMES.contains(&name.as_str()) {
            kept.push(directive);
        }
    }
    let max_age = format!("max-age={age}");
    kept.push(&max_age);
    kept.join(", ")
}

/// The comma-separated directives of a Cache-Control value (commas inside a quoted value do not
/// separate), trimmed, empty ones dropped.
fn directives(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_of_any_spelling_is_served_as_plain_text() {
        for html in ["text/html", "Text/HTML; charset=utf-8", " TEXT/HTML"] {
            assert_eq!(served_content_type(html), "text/plain", "{html}");
        }
        for other in ["text/plain", "image/svg+xml", "application/pdf"] {
            assert_eq!(served_content_type(other), other);
        }
    }

    #[test]
    fn xml_documents_are_script_capable_and_images_are_not() {
        for xml in [
            "image/svg+xml",
            "application/xhtml+xml; charset=utf-8",
            "Text/XML",
            "application/xml",
            "text/xsl",
            "application/xhtml+xml, x",
            "image/png, image/svg+xml, */*",
            "garbage",
        ] {
            assert!(script_capable(xml), "{xml}");
        }
        for other in [
            "image/png",
            "text/plain",
            "application/pdf",
            "application/json",
        ] {
            assert!(!script_capable(other), "{other}");
        }
    }

    #[test]
    fn dispositions_follow_rfc_6266() {
        let d = |q: &str| disposition(Some(q));
        assert_eq!(disposition(None), None);
        assert_eq!(d("download").as_deref(), Some("attachment;"));
        assert_eq!(
            d("download=report.pdf").as_deref(),
            Some("attachment; filename=report.pdf; filename*=UTF-8''report.pdf")
        );
        assert_eq!(
            d("download=na%C3%AFve%20caf%C3%A9.txt").as_deref(),
            Some(
                "attachment; filename=\"na_ve caf_.txt\"; filename*=UTF-8''na%C3%AFve%20caf%C3%A9.txt"
            )
        );
        assert_eq!(
            d("download=a*b%22c%5C.txt").as_deref(),
            Some("attachment; filename=a*b_c_.txt; filename*=UTF-8''a%2Ab%22c%5C.txt")
        );
        let evil = d("download=evil%0D%0ASet-Cookie:%20a=b").unwrap_or_default();
        assert!(!evil.contains(['\r', '\n']), "{evil}");
    }

    #[test]
    fn signed_downloads_are_cached_no_longer_than_the_token_lives() {
        assert_eq!(signed_cache_control(None, 60), "max-age=60");
        assert_eq!(signed_cache_control(Some("max-age=3600"), 60), "max-age=60");
        assert_eq!(signed_cache_control(Some("max-age=10"), 60), "max-age=10");
        assert_eq!(
            signed_cache_control(
                Some("public, max-age=3600, s-maxage=9999, immutable, stale-if-error=99"),
                60
            ),
            "public, max-age=60"
        );
        assert_eq!(
            signed_cache_control(Some("no-cache"), 5),
            "no-cache, max-age=5"
        );
        assert_eq!(
            signed_cache_control(Some("private=\"a, max-age=9\", MAX-AGE=30"), 60),
            "private=\"a, max-age=9\", max-age=30"
        );
    }
}
