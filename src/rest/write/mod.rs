//! `POST` (insert, upsert), `PATCH` (update) and `DELETE` on `/rest/v1/{table}`: one statement per
//! request; the body travels as one JSON parameter and PostgreSQL turns it into rows
//! (`json_populate_recordset`), so values are never spliced into SQL.

mod statement;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::Response,
};
use serde_json::Value;

use statement::statement;

use super::{
    context::Call,
    errors::{PgrstError, from_db},
    read::table,
    respond::{body, content_range, not_singular, respond},
    schema::Table,
    sql::Sql,
};
use crate::{
    db::identity::{self, Access, DbRole},
    error::AppResult,
};

/// What kind of write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// `POST`.
    Insert,
    /// `PATCH`.
    Update,
    /// `DELETE`.
    Delete,
}

/// Serves a write.
pub async fn write(call: &Call<'_>, kind: Write, payload: Option<Value>) -> AppResult<Response> {
    let Call {
        app,
        who,
        schema,
        name,
        query,
        prefer,
        accept,
    } = *call;
    let cache = app.rest.get();
    let table = table(&cache, schema, name)?;
    let wants_body = prefer.return_.as_deref() == Some("representation") || accept.is_object();
    let headers_only = kind == Write::Insert && prefer.return_.as_deref() == Some("headers-only");
    let mut sql = Sql::default();
    let representation = wants_body || headers_only;
    let text = statement(
        &mut sql,
        &cache,
        call,
        kind,
        table,
        payload.as_ref(),
        representation,
    )?;
    let anon = who.role == DbRole::Anon;
    let mut tx = identity::begin(&app.api_pool, who, Access::ReadWrite)
        .await
        .map_err(|e| from_db(e, anon))?;
    let (affected, json, _n) = if representation {
        let row: (Option<i64>, String, i64) =
            Sql::apply(&sql.binds, sqlx::query_as(sqlx::AssertSqlSafe(text)))
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| from_db(e, anon))?;
        (row.0.unwrap_or(0), Some(row.1), row.2)
    } else {
        let done = Sql::apply_plain(&sql.binds, sqlx::query(sqlx::AssertSqlSafe(text)))
            .execute(&mut *tx)
            .await
            .map_err(|e| from_db(e, anon))?;
        let n = i64::try_from(done.rows_affected()).unwrap_or(i64::MAX);
        (n, None, n)
    };
    let limit = app.config.rest.max_unfiltered_affected;
    if kind != Write::Insert
        && !query.has_root_filters()
        && u64::try_from(affected).unwrap_or(0) > limit
    {
        return Err(PgrstError::new(400, "PGRST124", format!("An unfiltered {} would affect {affected} rows; the limit is {limit}", if kind == Write::Update { "update" } else { "delete" }))
            .hint("Add a filter (for every row: id=not.is.null), or raise BIZBASE_REST_MAX_UNFILTERED_AFFECTED")
            .into());
    }
    if prefer.strict
        && let Some(max) = prefer.max_affected
        && u64::try_from(affected).unwrap_or(0) > max
    {
        return Err(PgrstError::new(
            400,
            "PGRST124",
            "Query result exceeds max-affected preference constraint",
        )
        .details(format!("The query affects {affected} rows"))
        .into());
    }
    if accept.is_object() && affected != 1 {
        return Err(not_singular(affected).into());
    }
    if prefer.rollback {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    let total = prefer.count.is_some().then_some(affected);
    let range = match kind {
        Write::Update => content_range(0, affected, total),
        _ => format!(
            "*/{}",
            total.map_or_else(|| "*".to_owned(), |t| t.to_string())
        ),
    };
    let created = kind == Write::Insert
        && !(prefer.resolution.as_deref() == Some("merge-duplicates") && affected == 0);
    if headers_only {
        let mut r = respond(StatusCode::CREATED, None, Some(range), None);
        if let Some(loc) = location(table, name, json.as_deref()) {
            r.headers_mut().insert(header::LOCATION, loc);
        }
        return Ok(r);
    }
    match (wants_body, json) {
        (true, Some(json)) => {
            let (ct, b) = body(accept, json, affected)?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(respond(status, Some(ct), Some(range), Some(b)))
        }
        _ => Ok(respond(
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::NO_CONTENT
            },
            None,
            Some(range),
            None,
        )),
    }
}

/// `Location: /t?pk=eq.v` for the first inserted row.
fn location(table: &Table, name: &str, json: Option<&str>) -> Option<HeaderValue> {
    let rows: Vec<serde_json::Map<String, Value>> = serde_json::from_str(json?).ok()?;
    let row = rows.first()?;
    if table.primary_key.is_empty() {
        return None;
    }
    let parts: Vec<(String, String)> = table
        .primary_key
        .iter()
        .map(|k| {
            let v = match row.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            };
            (k.clone(), format!("eq.{v}"))
        })
        .collect();
    let query = serde_urlencoded::to_string(parts).ok()?;
    HeaderValue::from_str(&format!("/{name}?{query}")).ok()
}
