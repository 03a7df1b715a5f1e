//! The one statement of a write: the body's rows as a JSON parameter, the columns they set, the
//! conditions (and a limited write's page), and what the statement returns.

use serde_json::Value;

use super::Write;
use crate::rest::{
    build::{self, Level},
    context::Call,
    errors::PgrstError,
    query::{Modifiers, Query},
    schema::{SchemaCache, Table},
    sql::{Bind, Sql, ident, qualified},
};

fn rows_of(body: &Value) -> Result<Vec<&serde_json::Map<String, Value>>, PgrstError> {
    let bad = || {
        PgrstError::new(400, "PGRST102", "All object keys must match")
            .details("the body must be a JSON object or an array of objects")
    };
    match body {
        Value::Object(m) => Ok(vec![m]),
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_object().ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// The columns written: `columns=` or the union of the body's keys; each must exist.
fn columns(
    table: &Table,
    query: &Query,
    rows: &[&serde_json::Map<String, Value>],
) -> Result<Vec<String>, PgrstError> {
    let mut cols: Vec<String> = match &query.columns {
        Some(c) => c.clone(),
        None => {
            let mut seen = Vec::new();
            for r in rows {
                for k in r.keys() {
                    if !seen.contains(k) {
                        seen.push(k.clone());
                    }
                }
            }
            seen
        }
    };
    cols.dedup();
    for c in &cols {
        if table.column(c).is_none() {
            return Err(PgrstError::new(
                400,
                "PGRST204",
                format!(
                    "Could not find the '{c}' column of '{}' in the schema cache",
                    table.name
                ),
            ));
        }
    }
    Ok(cols)
}

/// ` where …` of the root's filters (empty without filters).
fn conditions(sql: &mut Sql, level: &Level<'_>, root: &Modifiers) -> Result<String, PgrstError> {
    let mut conds = Vec::new();
    for f in &root.filters {
        conds.push(build::condition(sql, level, &build::Embeds::default(), f)?);
    }
    Ok(if conds.is_empty() {
        String::new()
    } else {
        format!(" where {}", conds.join(" and "))
    })
}

/// ` where …` of a limited PATCH or DELETE (`.update().order(…).limit(n)`, as PostgREST): the
/// rows its filters find, in its order, paged — picked in a subquery, since UPDATE and DELETE take
/// no `limit`, by primary key (or, without one, by `ctid`, which only tables have and which is
/// unique only within one table: a partition's `ctid` may recur in another). Without an `order`
/// the rows picked would be arbitrary, so one is required (PGRST109).
fn limited(
    sql: &mut Sql,
    cache: &SchemaCache,
    level: &Level<'_>,
    from: &str,
    root: &Modifiers,
) -> Result<String, PgrstError> {
    if root.order.is_empty() {
        return Err(PgrstError::new(
            400,
            "PGRST109",
            "A 'limit' was applied without an explicit 'order'",
        )
        .hint("Apply an 'order' using unique column(s)"));
    }
    let key = &level.table.primary_key;
    if key.is_empty() && level.table.is_view {
        return Err(PgrstError::new(
            400,
            "PGRST109",
            "A 'limit' or 'offset' on an update or delete needs a table or a primary key",
        ));
    }
    let inner = Level {
        table: level.table,
        alias: sql.alias(),
        path: vec![],
    };
    let filters = conditions(sql, &inner, root)?;
    let order = build::order_by(sql, cache, &inner, &[], &root.order)?;
    let (outer, a, paging) = (&level.alias, &inner.alias, build::paging(root));
    if key.is_empty() {
        return Ok(format!(
            " where {outer}.ctid = any (array(select {a}.ctid from {from} as {a}{filters}{order}{paging}))"
        ));
    }
    let columns = |alias: &str| {
        key.iter()
            .map(|c| format!("{alias}.{}", ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(format!(
        " where ({}) in (select {} from {from} as {a}{filters}{order}{paging})",
        columns(outer),
        columns(a),
    ))
}

/// The statement: yielding `(count, json, n)` (representation) or nothing.
pub(super) fn statement(
    sql: &mut Sql,
    cache: &SchemaCache,
    call: &Call<'_>,
    kind: Write,
    table: &Table,
    payload: Option<&Value>,
    representation: bool,
) -> Result<String, PgrstError> {
    let (query, prefer) = (call.query, call.prefer);
    let from = qualified(&table.schema, &table.name);
    let level = Level {
        table,
        alias: sql.alias(),
        path: vec![],
    };
    let alias = level.alias.clone();
    let root = query.root();
    let where_ = if kind != Write::Insert && (root.limit.is_some() || root.offset.is_some()) {
        limited(sql, cache, &level, &from, &root)?
    } else {
        conditions(sql, &level, &root)?
    };
    // An empty PATCH is a read of no row, a SELECT: it yields its rows without `returning`.
    let mut read_of_nothing = false;
    let write = match kind {
        Write::Insert => {
            let payload =
                payload.ok_or_else(|| PgrstError::new(400, "PGRST102", "Empty or invalid json"))?;
            let rows = rows_of(payload)?;
            let cols = columns(table, query, &rows)?;
            let list = cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
            let p = sql.bind(Bind::Json(Value::Array(
                rows.iter().map(|r| Value::Object((*r).clone())).collect(),
            )));
            let conflict = match prefer.resolution.as_deref() {
                None => String::new(),
                Some(res) => {
                    let target = query
                        .on_conflict
                        .clone()
                        .unwrap_or_else(|| table.primary_key.clone());
                    if target.is_empty() || target.iter().any(|c| table.column(c).is_none()) {
                        return Err(PgrstError::new(
                            400,
                            "PGRST204",
                            "on_conflict must name columns of a unique key",
                        ));
                    }
                    let t = target
                        .iter()
                        .map(|c| ident(c))
                        .collect::<Vec<_>>()
                        .join(", ");
                    if res == "ignore-duplicates" || cols.is_empty() {
                        format!(" on conflict ({t}) do nothing")
                    } else {
                        let sets = cols
                            .iter()
                            .map(|c| format!("{0} = excluded.{0}", ident(c)))
                            .collect::<Vec<_>>()
                            .join(", ");
                        format!(" on conflict ({t}) do update set {sets}")
                    }
                }
            };
            if cols.is_empty() {
                // Rows without keys (`{}`, `[{}, {}]`): one row of defaults each.
                format!(
                    "insert into {from} as {alias} select from jsonb_array_elements({p}::jsonb){conflict}"
                )
            } else if prefer.missing_default {
                // Prefer: missing=default — a listed column absent from a row takes its DEFAULT.
                let mut exprs = Vec::with_capacity(cols.len());
                for c in &cols {
                    let key = sql.bind(Bind::Text(c.clone()));
                    let default = table
                        .column(c)
                        .and_then(|col| col.default.clone())
                        .unwrap_or_else(|| "null".to_owned());
                    exprs.push(format!(
                        "case when pgrst_rows.j ? {key} then (pgrst_rows.r).{} else {default} end",
                        ident(c)
                    ));
                }
                format!(
                    "insert into {from} as {alias} ({list}) select {} from (select j, json_populate_record(null::{from}, j::json) r \
                     from jsonb_array_elements({p}::jsonb) j) pgrst_rows{conflict}",
                    exprs.join(", ")
                )
            } else {
                format!(
                    "insert into {from} as {alias} ({list}) select {list} from json_populate_recordset(null::{from}, {p}::json){conflict}"
                )
            }
        }
        Write::Update => {
            let payload =
                payload.ok_or_else(|| PgrstError::new(400, "PGRST102", "Empty or invalid json"))?;
            let Value::Object(obj) = payload else {
                return Err(PgrstError::new(
                    400,
                    "PGRST102",
                    "PATCH needs a JSON object",
                ));
            };
            let cols = columns(
                table,
                &Query {
                    columns: None,
                    ..Query::default()
                },
                &[obj],
            )?;
            if cols.is_empty() {
                // `{}` changes nothing and matches no row, as in PostgREST: a read of no row
                // (no UPDATE runs, so no trigger fires and no column privilege is needed).
                read_of_nothing = true;
                format!("select {alias}.* from {from} as {alias} where false")
            } else {
                let p = sql.bind(Bind::Json(payload.clone()));
                let sets = cols
                    .iter()
                    .map(|c| format!("{0} = pgrst_body.{0}", ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "update {from} as {alias} set {sets} from (select * from json_populate_record(null::{from}, {p}::json)) pgrst_body{where_}"
                )
            }
        }
        Write::Delete => format!("delete from {from} as {alias}{where_}"),
    };
    if !representation {
        return Ok(write);
    }
    let returning = if read_of_nothing {
        String::new()
    } else {
        format!(" returning {alias}.*")
    };
    let mut embeds = build::Embeds::default();
    let list = build::select_list(sql, cache, query, &level, &query.select, &mut embeds)?;
    build::check_embedded(sql, query)?;
    let filter = if embeds.inner.is_empty() {
        String::new()
    } else {
        format!(" where {}", embeds.inner.join(" and "))
    };
    // `nulls=stripped` here rather than around the statement: a data-modifying WITH must be
    // the statement's own.
    let rows = if call.accept.strips_nulls() {
        "json_strip_nulls(coalesce(json_agg(pgrst_source), '[]'))"
    } else {
        "coalesce(json_agg(pgrst_source), '[]')"
    };
    Ok(format!(
        "with pgrst_write as ({write}{returning}), pgrst_source as (select {list} from pgrst_write {alias}{}{filter}) \
         select (select count(*) from pgrst_write), {rows}::text, count(*) from pgrst_source",
        embeds.joins()
    ))
}
