//! Where a mailed link may send the user after verification: the site URL or an allowed prefix.

use crate::app::AppState;

/// `redirect_to` if it is on the allow-list (the site URL or a configured prefix), else the site URL.
///
/// A target is allowed when its scheme, host and port equal an allowed URL's and its path lies
/// under the allowed path (on a `/` boundary); comparing text prefixes would let
/// `https://app.example.com.evil.net` or `https://app.example.com@evil.net` through.
pub fn allowed_redirect(app: &AppState, requested: Option<&str>) -> String {
    let auth = &app.config.auth;
    let Some(target) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
        return auth.site_url.clone();
    };
    // The URL parser drops tabs and line breaks that the raw text keeps, and that text becomes a
    // `Location` header: with control characters in it, no redirect is allowed.
    let allowed = !target.chars().any(char::is_control)
        && std::iter::once(&auth.site_url)
            .chain(&auth.redirect_allow_list)
            .any(|a| is_under(target, a));
    if allowed {
        target.to_owned()
    } else {
        auth.site_url.clone()
    }
}

/// Whether `target` is the URL `base` or lies under it.
fn is_under(target: &str, base: &str) -> bool {
    let (Ok(t), Ok(b)) = (url::Url::parse(target), url::Url::parse(base)) else {
        return false;
    };
    if t.scheme() != b.scheme()
        || t.host_str() != b.host_str()
        || t.port_or_known_default() != b.port_or_known_default()
    {
        return false;
    }
    if !t.username().is_empty() || t.password().is_some() {
        return false;
    }
    let base_path = b.path().trim_end_matches('/');
    let path = t.path();
    path == base_path || path.starts_with(&format!("{base_path}/")) || base_path.is_empty()
}
#[cfg(test)]
mod tests {
    use super::is_under;

    #[test]
    fn redirects_must_stay_on_the_allowed_origin_and_path() {
        let base = "https://app.example.com";
        assert!(is_under("https://app.example.com", base));
        assert!(is_under("https://app.example.com/welcome?x=1", base));
        assert!(!is_under("https://app.example.com.evil.net/x", base));
        assert!(!is_under("https://app.example.com@evil.net/x", base));
        assert!(!is_under("http://app.example.com/x", base));
        assert!(!is_under("https://app.example.com:8443/x", base));
        assert!(!is_under("javascript:alert(1)", base));
        assert!(is_under(
            "https://app.example.com/docs/a",
            "https://app.example.com/docs"
        ));
        assert!(!is_under(
            "https://app.example.com/docsevil",
            "https://app.example.com/docs"
        ));
    }
}
