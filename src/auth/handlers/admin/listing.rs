//! The admin listings — users and the auth audit trail — with GoTrue's paging and `Link` headers.

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    app::AppState,
    auth::{audit, context::ServiceRole, user},
    error::{AppError, AppResult},
};

/// `?page=&per_page=&filter=&sort=`.
#[derive(Debug, Deserialize)]
pub struct Page {
    page: Option<String>,
    per_page: Option<String>,
    /// GoTrue's search: part of the address or of `user_metadata.full_name`.
    filter: Option<String>,
    /// GoTrue's order: `created_at` (newest first), `created_at asc` or `created_at desc`.
    sort: Option<String>,
}

/// Whether `sort` asks for the oldest users first; only `created_at` can be sorted on (GoTrue).
fn oldest_first(sort: Option<&str>) -> AppResult<bool> {
    let Some(sort) = sort.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(false);
    };
    let (field, direction) = sort.split_once(' ').unwrap_or((sort, "desc"));
    if !field.eq_ignore_ascii_case("created_at") {
        return Err(AppError::bad_request(
            "validation_failed",
            format!("Bad Sort Parameters: bad field for sort '{field}'"),
        ));
    }
    match direction.trim().to_ascii_lowercase().as_str() {
        "asc" => Ok(true),
        "desc" => Ok(false),
        other => Err(AppError::bad_request(
            "validation_failed",
            format!(
                "Bad Sort Parameters: bad direction for sort '{other}', only 'asc' and 'desc' allowed"
            ),
        )),
    }
}

/// `GET /admin/users`: `{users, aud}` with `X-Total-Count` and `Link` (whose addresses keep the
/// request's `filter` and `sort`).
pub async fn list_users(
    State(app): State<AppState>,
    _: ServiceRole,
    Query(p): Query<Page>,
) -> AppResult<Response> {
    let (page, per_page, offset) = paging(p.page.as_deref(), p.per_page.as_deref())?;
    let filter = p.filter.as_deref().filter(|f| !f.is_empty());
    let listing = user::Listing {
        filter,
        oldest_first: oldest_first(p.sort.as_deref())?,
        limit: per_page,
        offset,
    };
    let mut conn = app.pool.acquire().await?;
    let (total, users) = user::list(&mut conn, &listing).await?;
    let mut kept = vec![];
    if let Some(filter) = filter {
        kept.push(("filter", filter));
    }
    if let Some(sort) = p.sort.as_deref().filter(|s| !s.trim().is_empty()) {
        kept.push(("sort", sort));
    }
    let headers = pagination_headers("/admin/users", page, per_page, total, &kept);
    Ok((
        headers,
        Json(json!({ "users": users, "aud": "authenticated" })),
    )
        .into_response())
}

/// `?page=&per_page=&query=` of `GET /admin/audit`.
#[derive(Debug, Deserialize)]
pub struct AuditPage {
    page: Option<String>,
    per_page: Option<String>,
    /// `author:<text>`, `action:<text>` or `type:<text>` (GoTrue's scopes).
    query: Option<String>,
}

/// `GET /admin/audit`: the auth audit trail, newest first, in GoTrue's shape with its pagination
/// headers (`X-Total-Count`, `Link`).
pub async fn list_audit(
    State(app): State<AppState>,
    _: ServiceRole,
    Query(p): Query<AuditPage>,
) -> AppResult<Response> {
    let (page, per_page, offset) = paging(p.page.as_deref(), p.per_page.as_deref())?;
    let query = p.query.as_deref().filter(|q| !q.is_empty());
    let scope = audit::Scope::parse(query).ok_or_else(|| {
        AppError::bad_request(
            "validation_failed",
            format!("Invalid query scope: {}", query.unwrap_or_default()),
        )
    })?;
    let mut conn = app.pool.acquire().await?;
    let (total, entries) = audit::list(&mut conn, &scope, per_page, offset).await?;
    let kept: Vec<(&str, &str)> = query.map(|q| ("query", q)).into_iter().collect();
    let headers = pagination_headers("/admin/audit", page, per_page, total, &kept);
    Ok((headers, Json(Value::Array(entries))).into_response())
}

/// The page (from 1; 0 is the first page too), the page size (50 unless given, at most 1,000) and
/// the rows before the page. As GoTrue, either must be a whole number and the size at least 1:
/// anything else is refused rather than read as the default.
fn paging(page: Option<&str>, per_page: Option<&str>) -> AppResult<(i64, i64, i64)> {
    let bad = |message: String| {
        AppError::bad_request(
            "validation_failed",
            format!("Bad Pagination Parameters: {message}"),
        )
    };
    let number = |name: &str, raw: Option<&str>, default: i64| match raw.filter(|r| !r.is_empty()) {
        None => Ok(default),
        // Digits only (Go's `ParseUint`: no sign); past `i64::MAX` is just a page past the end.
        Some(raw) if raw.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(raw.parse::<i64>().unwrap_or(i64::MAX))
        }
        Some(raw) => Err(bad(format!("{name} must be a whole number, not '{raw}'"))),
    };
    let page = number("page", page, 1)?.max(1);
    let per_page = number("per_page", per_page, 50)?;
    if per_page == 0 {
        return Err(bad("per_page must be greater than 0".into()));
    }
    let per_page = per_page.min(1000);
    Ok((page, per_page, (page - 1).saturating_mul(per_page)))
}

/// GoTrue's pagination headers: `X-Total-Count`, and `Link` with the `next` (unless this is the
/// last page) and `last` pages of `path`, whose queries keep `kept`'s parameters.
fn pagination_headers(
    path: &str,
    page: i64,
    per_page: i64,
    total: i64,
    kept: &[(&str, &str)],
) -> HeaderMap {
    let last = ((total + per_page - 1) / per_page).max(1);
    // `page` first: supabase-js reads a link's page number after its first `=`.
    let kept = match url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish()
    {
        k if k.is_empty() => k,
        k => format!("&{k}"),
    };
    let link = |page: i64, rel: &str| {
        format!("<{path}?page={page}&per_page={per_page}{kept}>; rel=\"{rel}\"")
    };
    let mut links = Vec::new();
    if page < last {
        links.push(link(page + 1, "next"));
    }
    links.push(link(last, "last"));
    let mut headers = HeaderMap::new();
    headers.insert("x-total-count", HeaderValue::from(total));
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert("link", v);
    }
    headers
}
