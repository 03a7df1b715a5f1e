//! Header values of a download that depend on what is stored: the content type a browser is
//! given and `Content-Disposition` for `?download`.

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

/// Whether a served type is XML a browser renders as a document that may run scripts (SVG,
/// XHTML, any `+xml` or plain XML); such downloads are sent with [`SANDBOX`]. Supabase does not
/// do this; it keeps SVG images working (in `<img>` scripts never run) while an SVG or XHTML
/// opened directly cannot act as the API's origin.
pub fn script_capable(content_type: &str) -> bool {
    let essence = crate::storage::names::essence(content_type);
    essence == "text/xml" || essence == "application/xml" || essence.ends_with("+xml")
}

/// `?download` / `?download=name.ext` as `Content-Disposition`.
pub fn disposition(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or("")).ok()?;
    let (_, name) = pairs.into_iter().find(|(k, _)| k == "download")?;
    if name.is_empty() {
        return Some("attachment;".to_owned());
    }
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    Some(format!(
        "attachment; filename={encoded}; filename*=UTF-8''{encoded}"
    ))
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
}
