//! Per-request context of the data API: who is calling (role and claims from the JWT), which
//! schema (`Accept-Profile` / `Content-Profile`), what the client prefers (`Prefer`), what it
//! accepts (`Accept`), and the decoded query pairs.

use axum::http::{HeaderMap, Method, header};
use serde_json::{Map, Value, json};

use super::{errors::PgrstError, query::Query};
use crate::{
    app::AppState,
    auth::jwt::JwtError,
    db::identity::{DbRole, Identity, RequestInfo},
};

/// How `Prefer: count=…` asks for the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `count(*)` over every matching row.
    Exact,
    /// The planner's row estimate (`EXPLAIN`), cheap on huge tables.
    Planned,
    /// Exact up to `max_rows`, the planner's estimate beyond.
    Estimated,
}

impl Count {
    /// The token as `Prefer` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Planned => "planned",
            Self::Estimated => "estimated",
        }
    }
}

/// `Prefer` preferences.
#[derive(Debug, Default, Clone)]
pub struct Prefer {
    /// `return=minimal|headers-only|representation`.
    pub return_: Option<String>,
    /// `count=exact|planned|estimated`.
    pub count: Option<Count>,
    /// `resolution=merge-duplicates|ignore-duplicates`.
    pub resolution: Option<String>,
    /// `missing=default`.
    pub missing_default: bool,
    /// `tx=rollback`.
    pub rollback: bool,
    /// `handling=strict`.
    pub strict: bool,
    /// `max-affected=n`.
    pub max_affected: Option<u64>,
}

impl Prefer {
    /// Parses every `Prefer` header (tokens separated by `,`).
    pub fn parse(headers: &HeaderMap) -> Result<Self, PgrstError> {
        let mut p = Self::default();
        let mut unknown = Vec::new();
        for value in headers.get_all("prefer") {
            for token in value
                .to_str()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
            {
                let (k, v) = token.split_once('=').unwrap_or((token, ""));
                match (k.trim(), v.trim()) {
                    ("return", v @ ("minimal" | "headers-only" | "representation")) => {
                        p.return_ = Some(v.into())
                    }
                    ("count", "exact") => p.count = Some(Count::Exact),
                    ("count", "planned") => p.count = Some(Count::Planned),
                    ("count", "estimated") => p.count = Some(Count::Estimated),
                    ("resolution", v @ ("merge-duplicates" | "ignore-duplicates")) => {
                        p.resolution = Some(v.into())
                    }
                    ("missing", "default") => p.missing_default = true,
                    ("missing", "null") => p.missing_default = false,
                    ("tx", "rollback") => p.rollback = true,
                    ("tx", "commit") => p.rollback = false,
                    ("handling", "strict") => p.strict = true,
                    ("handling", "lenient") => p.strict = false,
                    ("max-affected", n) if n.parse::<u64>().is_ok() => {
                        p.max_affected = n.parse().ok()
                    }
                    ("timezone" | "params", _) => {}
                    _ => unknown.push(token.to_owned()),
                }
            }
        }
        if p.strict && !unknown.is_empty() {
            return Err(PgrstError::new(
                400,
                "PGRST122",
                "Invalid preferences given with handling=strict",
            )
            .details(format!("Invalid preferences: {}", unknown.join(", "))));
        }
        Ok(p)
    }
}

impl Prefer {
    /// The preferences that were honoured, for `Preference-Applied`.
    pub fn applied(&self) -> Option<String> {
        let mut out = Vec::new();
        if let Some(r) = &self.return_ {
            out.push(format!("return={r}"));
        }
        if let Some(c) = self.count {
            out.push(format!("count={}", c.as_str()));
        }
        if let Some(r) = &self.resolution {
            out.push(format!("resolution={r}"));
        }
        if self.missing_default {
            out.push("missing=default".to_owned());
        }
        if self.rollback {
            out.push("tx=rollback".to_owned());
        }
        if self.strict {
            out.push("handling=strict".to_owned());
            if let Some(m) = self.max_affected {
                out.push(format!("max-affected={m}"));
            }
        }
        (!out.is_empty()).then(|| out.join(", "))
    }
}

/// What the client wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// A JSON array.
    Json,
    /// One object (`application/vnd.pgrst.object+json`).
    Object,
    /// CSV.
    Csv,
    /// A JSON array without null-valued fields (`application/vnd.pgrst.array+json;nulls=stripped`).
    StrippedJson,
    /// One object without null-valued fields (`application/vnd.pgrst.object+json;nulls=stripped`).
    StrippedObject,
}

impl Accept {
    /// Whether one object is asked for rather than an array.
    pub fn is_object(self) -> bool {
        matches!(self, Self::Object | Self::StrippedObject)
    }

    /// Whether null-valued fields are to be left out (`nulls=stripped`).
    pub fn strips_nulls(self) -> bool {
        matches!(self, Self::StrippedJson | Self::StrippedObject)
    }

    /// Reads `Accept`; unsupported media → PGRST107.
    pub fn parse(headers: &HeaderMap) -> Result<Self, PgrstError> {
        let raw = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("*/*");
        for part in raw.split(',') {
            let mut params = part.split(';');
            let media = params.next().unwrap_or("").trim();
            let stripped = params.any(|p| p.trim().eq_ignore_ascii_case("nulls=stripped"));
            match media {
                "application/vnd.pgrst.object+json" if stripped => return Ok(Self::StrippedObject),
                "application/vnd.pgrst.array+json" if stripped => return Ok(Self::StrippedJson),
                "application/vnd.pgrst.object+json" | "application/vnd.pgrst.object" => {
                    return Ok(Self::Object);
                }
                "text/csv" => return Ok(Self::Csv),
                "application/json"
                | "application/vnd.pgrst.array+json"
                | "*/*"
                | "application/*"
                | "" => return Ok(Self::Json),
                _ => {}
            }
        }
        Err(
            PgrstError::new(406, "PGRST107", "None of these media types are available")
                .details(raw.to_owned()),
        )
    }
}

/// The schema a request addresses.
pub fn profile(app: &AppState, method: &Method, headers: &HeaderMap) -> Result<String, PgrstError> {
    let name = if matches!(*method, Method::GET | Method::HEAD) {
        "accept-profile"
    } else {
        "content-profile"
    };
    let schemas = &app.config.rest.schemas;
    match headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => Ok(schemas.first().cloned().unwrap_or_else(|| "public".into())),
        Some(s) if schemas.iter().any(|e| e == s) => Ok(s.to_owned()),
        Some(s) => Err(
            PgrstError::new(406, "PGRST106", format!("Invalid schema: {s}")).hint(format!(
                "Only the following schemas are exposed: {}",
                schemas.join(", ")
            )),
        ),
    }
}

/// The caller's database identity, from `Authorization: Bearer` (the gateway put the apikey there
/// when the client had no session).
pub fn identity(
    app: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Result<Identity, PgrstError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let (role, claims) = match token {
        None => (DbRole::Anon, json!({})),
        Some(t) => {
            let claims = app.auth.signer.verify(&t).map_err(|e| match e {
                JwtError::Expired => PgrstError::new(401, "PGRST303", "JWT expired"),
                JwtError::Invalid => PgrstError::new(
                    401,
                    "PGRST301",
                    "JWT could not be decoded or its signature is invalid",
                ),
            })?;
            let role = match claims.get("role").and_then(Value::as_str) {
                None => DbRole::Anon,
                Some(r) => DbRole::from_claim(r).ok_or_else(|| {
                    PgrstError::new(
                        401,
                        "PGRST303",
                        format!(
                            "JWT claims invalid: role \"{r}\" is not a database role of this API"
                        ),
                    )
                })?,
            };
            (role, claims)
        }
    };
    let mut h = Map::new();
    for (name, value) in headers {
        if name == header::AUTHORIZATION || name == "apikey" || name == header::COOKIE {
            continue;
        }
        if let Ok(v) = value.to_str() {
            h.insert(name.as_str().to_owned(), Value::String(v.to_owned()));
        }
    }
    let mut identity = Identity::new(role, claims);
    identity.request = Some(RequestInfo {
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        headers: Value::Object(h),
    });
    // The role's own setting (as PostgREST applies it on switching roles), else the configured one.
    identity.statement_timeout_ms = app
        .rest
        .get()
        .role_timeouts
        .get(role.as_str())
        .copied()
        .or(app.config.rest.statement_timeout_ms);
    Ok(identity)
}

/// Decodes a query string with form rules (`+` is a space).
pub fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, PgrstError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or("")).map_err(|e| {
        PgrstError::new(400, "PGRST100", "failed to decode the query string").details(e.to_string())
    })
}

/// Everything a data-API operation needs to know about its request.
pub struct Call<'a> {
    /// The application.
    pub app: &'a AppState,
    /// Who is calling.
    pub who: &'a Identity,
    /// The schema addressed.
    pub schema: &'a str,
    /// The table or function.
    pub name: &'a str,
    /// The parsed query string.
    pub query: &'a Query,
    /// `Prefer`.
    pub prefer: &'a Prefer,
    /// `Accept`.
    pub accept: Accept,
}

/// Applies a `Range: <from>-[<to>]` header (items) to the main resource, unless `limit`/`offset`
/// were given in the query string.
pub fn apply_range(headers: &HeaderMap, query: &mut Query) -> Result<(), PgrstError> {
    let Some(raw) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let spec = raw.trim().strip_prefix("items=").unwrap_or(raw.trim());
    let bad = || {
        PgrstError::new(416, "PGRST103", "Requested range not satisfiable")
            .details(format!("invalid Range header: {raw}"))
    };
    let (from, to) = spec.split_once('-').ok_or_else(bad)?;
    let from: i64 = from.trim().parse().map_err(|_| bad())?;
    let to: Option<i64> = match to.trim() {
        "" => None,
        t => Some(t.parse().map_err(|_| bad())?),
    };
    if to.is_some_and(|t| t < from) {
        return Err(bad());
    }
    let root = query.modifiers.entry(Vec::new()).or_default();
    if root.offset.is_none() {
        root.offset = Some(from);
    }
    if root.limit.is_none()
        && let Some(t) = to
    {
        // `t ≥ from ≥ 0`, so only the `+ 1` can overflow (`0-9223372036854775807`).
        root.limit = Some((t - from).saturating_add(1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_range(v: &str) -> Result<Query, PgrstError> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        let mut q = Query::default();
        apply_range(&h, &mut q).map(|()| q)
    }

    #[test]
    fn range_headers_become_offset_and_limit() {
        let q = with_range("10-19").unwrap();
        assert_eq!((q.root().offset, q.root().limit), (Some(10), Some(10)));
        let open = with_range("5-").unwrap();
        assert_eq!((open.root().offset, open.root().limit), (Some(5), None));
        assert_eq!(with_range("9-3").unwrap_err().code, "PGRST103");
        assert_eq!(with_range("a-b").unwrap_err().code, "PGRST103");
        let widest = with_range("0-9223372036854775807").unwrap();
        assert_eq!(widest.root().limit, Some(i64::MAX));
    }

    #[test]
    fn prefer_tokens_parse_and_strict_rejects_unknown() {
        let mut h = HeaderMap::new();
        h.insert(
            "prefer",
            HeaderValue::from_static(
                "return=representation,count=exact, resolution=merge-duplicates",
            ),
        );
        let p = Prefer::parse(&h).unwrap();
        assert_eq!(p.return_.as_deref(), Some("representation"));
        assert_eq!(p.count, Some(Count::Exact));
        assert_eq!(p.resolution.as_deref(), Some("merge-duplicates"));
        h.insert("prefer", HeaderValue::from_static("handling=strict, wat=1"));
        assert_eq!(Prefer::parse(&h).unwrap_err().code, "PGRST122");
    }
}
