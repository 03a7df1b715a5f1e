//! Where `GET /verify` sends the browser: the redirect with a code, a message or an error, in its
//! fragment (the implicit flow) and, for PKCE, in its query.

use axum::http::StatusCode;

use super::FIRST_LEG;
use crate::error::AppError;

/// Where the first leg of a secure e-mail change sends the browser: the message in the fragment
/// and, for PKCE, in the query too.
pub(super) fn message_location(redirect: &str, in_query: bool) -> String {
    redirect_with(redirect, &[("message", FIRST_LEG)], in_query)
}

/// Where a failed verification sends the browser: the error in the fragment (what supabase-js
/// reads in the implicit flow) and, for PKCE, in the query too (what a server route reads).
pub(super) fn error_location(redirect: &str, e: &AppError, in_query: bool) -> String {
    let error = match e.status() {
        StatusCode::FORBIDDEN => "access_denied",
        StatusCode::UNAUTHORIZED => "unauthorized_client",
        s if s.is_server_error() => "server_error",
        _ => "invalid_request",
    };
    let description = e.public_message();
    let params = [
        ("error", error),
        ("error_code", e.code()),
        ("error_description", description.as_ref()),
    ];
    redirect_with(redirect, &params, in_query)
}

/// `redirect` with `params` in its fragment (and GoTrue's `sb` marker) and, when `in_query`, in its
/// query too.
fn redirect_with(redirect: &str, params: &[(&str, &str)], in_query: bool) -> String {
    let base = if in_query {
        with_query(redirect, params)
    } else {
        redirect.to_owned()
    };
    let fragment = serde_urlencoded::to_string(params).unwrap_or_default();
    format!("{base}#{fragment}&sb=")
}

/// `url` with `params` set in its query (replacing parameters of the same names, keeping others).
pub(super) fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_owned();
    };
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(name, _)| k == name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .extend_pairs(params);
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn codes_join_the_redirect_query_and_replace_a_stale_one() {
        assert_eq!(
            with_query(
                "https://app.example.com/cb?sb_flow_id=f1&code=old",
                &[("code", "c2")]
            ),
            "https://app.example.com/cb?sb_flow_id=f1&code=c2"
        );
        assert_eq!(
            with_query("https://app.example.com", &[("code", "c")]),
            "https://app.example.com/?code=c"
        );
    }
}
