//! Shaping data-API answers: status, `Content-Range`, singular objects, CSV.

use axum::{
    body::Body,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use super::{context::Accept, errors::PgrstError};

/// `Content-Range` for `n` rows starting at `offset`, with the total when counted.
pub fn content_range(offset: i64, n: i64, total: Option<i64>) -> String {
    let total = total.map_or_else(|| "*".to_owned(), |t| t.to_string());
    if n == 0 {
        format!("*/{total}")
    } else {
        format!("{offset}-{}/{total}", offset + n - 1)
    }
}

/// PGRST116 for a singular request that matched `n` rows.
pub fn not_singular(n: i64) -> PgrstError {
    PgrstError::new(
        406,
        "PGRST116",
        "JSON object requested, multiple (or no) rows returned",
    )
    .details(format!("The result contains {n} rows"))
}

/// The body for `accept` from a JSON array text of `n` rows.
pub fn body(
    accept: Accept,
    json_array: String,
    n: i64,
) -> Result<(&'static str, String), PgrstError> {
    match accept {
        Accept::Json => Ok(("application/json; charset=utf-8", json_array)),
        // PostgreSQL stripped the nulls (`json_strip_nulls`, see `strip_nulls_sql`), keeping
        // numbers exactly as it wrote them.
        Accept::StrippedJson => Ok((
            "application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8",
            json_array,
        )),
        Accept::StrippedObject => Ok((
            "application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8",
            body(Accept::Object, json_array, n)?.1,
        )),
        Accept::Object => {
            if n != 1 {
                return Err(not_singular(n));
            }
            let trimmed = json_array.trim();
            let inner = trimmed
                .strip_prefix('[')
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or(trimmed);
            Ok((
                "application/vnd.pgrst.object+json; charset=utf-8",
                inner.to_owned(),
            ))
        }
        Accept::Csv => Ok(("text/csv; charset=utf-8", to_csv(&json_array)?)),
    }
}

/// A statement yielding `(total, json text, rows)` with every null-valued object field dropped
/// from its JSON, at any depth (PostgreSQL's `json_strip_nulls`: nulls in arrays stay), for
/// `Accept: …;nulls=stripped`.
pub fn strip_nulls_sql(statement: &str) -> String {
    format!(
        "select pgrst_t, json_strip_nulls(pgrst_j::json)::text, pgrst_n from ({statement}) pgrst_s(pgrst_t, pgrst_j, pgrst_n)"
    )
}

fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::Null => return String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// A JSON array of objects as CSV with a header line.
pub fn to_csv(json_array: &str) -> Result<String, PgrstError> {
    let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_str(json_array)
        .map_err(|e| PgrstError::new(500, "PGRSTX00", format!("csv: {e}")))?;
    let Some(first) = rows.first() else {
        return Ok(String::new());
    };
    let keys: Vec<&String> = first.keys().collect();
    let mut out = keys
        .iter()
        .map(|k| csv_field(&Value::String((*k).clone())))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for row in &rows {
        let line = keys
            .iter()
            .map(|k| csv_field(row.get(*k).unwrap_or(&Value::Null)))
            .collect::<Vec<_>>()
            .join(",");
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// A response with a status, content type, `Content-Range` and optional body.
pub fn respond(
    status: StatusCode,
    content_type: Option<&str>,
    range: Option<String>,
    body: Option<String>,
) -> Response {
    let mut r = match body {
        Some(b) => (status, Body::from(b)).into_response(),
        None => status.into_response(),
    };
    if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(c).ok()) {
        r.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    if let Some(v) = range.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::CONTENT_RANGE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        assert_eq!(content_range(0, 3, None), "0-2/*");
        assert_eq!(content_range(10, 5, Some(42)), "10-14/42");
        assert_eq!(content_range(0, 0, Some(0)), "*/0");
        assert_eq!(content_range(0, 0, None), "*/*");
    }

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let csv = to_csv(
            r#"[{"id":1,"name":"a, b","note":null},{"id":2,"name":"say \"hi\"","note":"x"}]"#,
        )
        .unwrap();
        assert_eq!(csv, "id,name,note\n1,\"a, b\",\n2,\"say \"\"hi\"\"\",x\n");
    }

    #[test]
    fn singular_needs_exactly_one_row() {
        assert_eq!(
            body(Accept::Object, "[{\"a\":1}]".into(), 1).unwrap().1,
            "{\"a\":1}"
        );
        let e = body(Accept::Object, "[]".into(), 0).unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_str()), (406, "PGRST116"));
        assert_eq!(e.details.as_deref(), Some("The result contains 0 rows"));
    }
}
