//! `GET`/`HEAD /rest/v1/{table}`: one statement builds the page as JSON in PostgreSQL (and the
//! exact count when asked); Rust passes the bytes through.

use axum::{http::StatusCode, response::Response};
use serde_json::Value;

use super::{
    build::{self, Level},
    context::{Accept, Call, Count},
    errors::{PgrstError, from_db},
    query::Query,
    respond::{body, content_range, respond, strip_nulls_sql},
    schema::{SchemaCache, Table},
    sql::{Bind, Sql, qualified},
};
use crate::{db::identity::DbRole, error::AppResult};

/// The table named in the path, or PGRST205.
pub fn table<'a>(
    cache: &'a SchemaCache,
    schema: &str,
    name: &str,
) -> Result<&'a Table, PgrstError> {
    cache.table(schema, name).ok_or_else(|| {
        PgrstError::new(
            404,
            "PGRST205",
            format!("Could not find the table '{schema}.{name}' in the schema cache"),
        )
    })
}

/// A page statement yielding `(total, json array text, rows)` and, for planned or estimated
/// counts, the statement whose plan estimates the total.
pub struct Page {
    /// The page statement.
    pub text: String,
    /// The filtered source whose plan estimates the total, when the count needs the planner.
    pub estimate: Option<String>,
}

impl Page {
    /// The same page with null-valued fields dropped when `accept` asks for it.
    pub fn for_accept(self, accept: Accept) -> Page {
        if accept.strips_nulls() {
            Page {
                text: strip_nulls_sql(&self.text),
                estimate: self.estimate,
            }
        } else {
            self
        }
    }

    /// The same page over a common table expression `cte` (`name as (…)`) that both the page
    /// and its count read, so what `cte` runs (a function's body) runs once.
    pub fn over(self, cte: &str) -> Page {
        Page {
            text: format!("with {cte} select * from ({}) pgrst_p", self.text),
            estimate: self.estimate.map(|e| format!("with {cte} {e}")),
        }
    }
}

/// Builds the page statement.
pub fn page_sql(
    sql: &mut Sql,
    cache: &SchemaCache,
    query: &Query,
    table: &Table,
    from: &str,
    count: Option<Count>,
    max_rows: i64,
) -> Result<Page, PgrstError> {
    let level = Level {
        table,
        alias: sql.alias(),
        path: vec![],
    };
    let mods = query.root();
    let mut embeds = build::Embeds::default();
    let list = build::select_list(sql, cache, query, &level, &query.select, &mut embeds)?;
    build::check_embedded(sql, query)?;
    let conds = build::conditions(sql, &level, &mods.filters, &embeds)?;
    let where_ = if conds.is_empty() {
        String::new()
    } else {
        format!(" where {}", conds.join(" and "))
    };
    let order = build::order_by(sql, cache, &level, &query.select, &mods.order)?;
    let limit = mods.limit.unwrap_or(max_rows).min(max_rows);
    let offset = mods.offset.unwrap_or(0);
    let source = format!("from {from} {}{where_}", level.alias);
    // The page reads spread relations through lateral joins; counts need only the parents.
    let page_source = format!("from {from} {}{}{where_}", level.alias, embeds.joins());
    let total = match count {
        Some(Count::Exact) => format!("(select count(*) {source})"),
        Some(Count::Estimated) => format!(
            "(select count(*) from (select 1 {source} limit {}) pgrst_c)",
            max_rows.saturating_add(1)
        ),
        Some(Count::Planned) | None => "null::bigint".to_owned(),
    };
    let estimate = matches!(count, Some(Count::Planned | Count::Estimated))
        .then(|| format!("select 1 {source}"));
    Ok(Page {
        text: format!(
            "with pgrst_source as (select {list} {page_source}{order} limit {limit} offset {offset}) \
             select {total}, coalesce(json_agg(pgrst_source), '[]')::text, count(*) from pgrst_source"
        ),
        estimate,
    })
}

/// What a page statement yielded: the total the client asked for, the JSON (`null` for a scalar
/// function returning null), and how many rows the page holds.
pub struct Fetched {
    /// The total (`Prefer: count=…`), if asked.
    pub total: Option<i64>,
    /// The JSON text.
    pub json: Option<String>,
    /// Rows in the page.
    pub rows: i64,
}

/// Runs `page` and settles the total: the exact count as the page statement found it, or, for
/// `planned` (and for `estimated` beyond `max_rows`), the planner's estimate of the filtered source.
pub async fn fetch_page(
    conn: &mut sqlx::PgConnection,
    binds: &[Bind],
    page: Page,
    count: Option<Count>,
    max_rows: i64,
) -> sqlx::Result<Fetched> {
    let Page { text, estimate } = page;
    let (counted, json, rows): (Option<i64>, Option<String>, i64) =
        Sql::apply(binds, sqlx::query_as(sqlx::AssertSqlSafe(text)))
            .fetch_one(&mut *conn)
            .await?;
    let exact_enough = count == Some(Count::Estimated) && counted.is_some_and(|c| c <= max_rows);
    let total = match estimate {
        Some(source) if !exact_enough => {
            let explain = format!("explain (format json) {source}");
            let (plan,): (sqlx::types::Json<Value>,) =
                Sql::apply(binds, sqlx::query_as(sqlx::AssertSqlSafe(explain)))
                    .fetch_one(conn)
                    .await?;
            let planned = plan
                .0
                .pointer("/0/Plan/Plan Rows")
                .and_then(Value::as_f64)
                .map_or(0, |r| r.round() as i64);
            Some(counted.map_or(planned, |c| planned.max(c)))
        }
        _ => counted,
    };
    Ok(Fetched { total, json, rows })
}

/// Serves a read.
pub async fn get(call: &Call<'_>, head: bool) -> AppResult<Response> {
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
    let mut sql = Sql::default();
    let max_rows = app.config.rest.max_rows;
    let page = page_sql(
        &mut sql,
        &cache,
        query,
        table,
        &qualified(schema, name),
        prefer.count,
        max_rows,
    )?
    .for_accept(accept);
    let anon = who.role == DbRole::Anon;
    let mut tx = app.reads.begin(who).await.map_err(|e| from_db(e, anon))?;
    let Fetched {
        total,
        json,
        rows: n,
    } = fetch_page(
        tx.conn().map_err(|e| from_db(e, anon))?,
        &sql.binds,
        page,
        prefer.count,
        max_rows,
    )
    .await
    .map_err(|e| from_db(e, anon))?;
    let json = json.unwrap_or_else(|| "[]".to_owned());
    tx.finish();
    let offset = query.root().offset.unwrap_or(0);
    let status = range_status(offset, n, total)?;
    let (ct, body) = body(accept, json, n)?;
    Ok(respond(
        status,
        Some(ct),
        Some(content_range(offset, n, total)),
        (!head).then_some(body),
    ))
}

/// A page's status: 206 when it holds less than the counted total, 416 (PGRST103) when its offset
/// lies past the total.
pub fn range_status(offset: i64, rows: i64, total: Option<i64>) -> Result<StatusCode, PgrstError> {
    match total {
        Some(t) if offset > 0 && offset > t && rows == 0 => {
            Err(
                PgrstError::new(416, "PGRST103", "Requested range not satisfiable").details(
                    format!("An offset of {offset} was requested, but there are only {t} rows."),
                ),
            )
        }
        Some(t) if rows < t => Ok(StatusCode::PARTIAL_CONTENT),
        _ => Ok(StatusCode::OK),
    }
}
