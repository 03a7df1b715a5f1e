//! `GET`/`HEAD /rest/v1/{table}`: one statement builds the page as JSON in PostgreSQL (and the
//! exact count when asked); Rust passes the bytes through.

use axum::{http::StatusCode, response::Response};

use super::{
    build::{self, Level},
    context::Call,
    errors::{PgrstError, from_db},
    query::Query,
    respond::{body, content_range, respond},
    schema::{SchemaCache, Table},
    sql::{Sql, qualified},
};
use crate::{
    db::identity::{self, Access, DbRole},
    error::AppResult,
};

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

/// The page query: `(total, json array text, rows)`.
pub fn page_sql(
    sql: &mut Sql,
    cache: &SchemaCache,
    query: &Query,
    table: &Table,
    from: &str,
    count: bool,
    max_rows: i64,
) -> Result<String, PgrstError> {
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
    let order = build::order_by(sql, &level, &mods.order)?;
    let limit = mods.limit.unwrap_or(max_rows).min(max_rows);
    let offset = mods.offset.unwrap_or(0);
    let alias = &level.alias;
    let total = if count {
        format!("(select count(*) from {from} {alias}{where_})")
    } else {
        "null::bigint".to_owned()
    };
    Ok(format!(
        "with pgrst_source as (select {list} from {from} {alias}{where_}{order} limit {limit} offset {offset}) \
         select {total}, coalesce(json_agg(pgrst_source), '[]')::text, count(*) from pgrst_source"
    ))
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
    let text = page_sql(
        &mut sql,
        &cache,
        query,
        table,
        &qualified(schema, name),
        prefer.count.is_some(),
        app.config.rest.max_rows,
    )?;
    let anon = who.role == DbRole::Anon;
    let mut tx = identity::begin(&app.pool, who, Access::ReadOnly)
        .await
        .map_err(|e| from_db(e, anon))?;
    let (total, json, n): (Option<i64>, String, i64) =
        Sql::apply(&sql.binds, sqlx::query_as(sqlx::AssertSqlSafe(text)))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| from_db(e, anon))?;
    tx.commit().await?;
    let offset = query.root().offset.unwrap_or(0);
    if let Some(t) = total
        && offset > 0
        && offset > t
        && n == 0
    {
        return Err(
            PgrstError::new(416, "PGRST103", "Requested range not satisfiable")
                .details(format!(
                    "An offset of {offset} was requested, but there are only {t} rows."
                ))
                .into(),
        );
    }
    let status = match total {
        Some(t) if n < t => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    let (ct, body) = body(accept, json, n)?;
    Ok(respond(
        status,
        Some(ct),
        Some(content_range(offset, n, total)),
        (!head).then_some(body),
    ))
}
