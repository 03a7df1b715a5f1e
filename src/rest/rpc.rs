//! `/rest/v1/rpc/{function}`: `POST` with named arguments in a JSON object (or the whole body for a
//! single unnamed `json`/`jsonb` parameter), `GET`/`HEAD` with arguments in the query string.
//! Functions returning rows with named columns (a table's row type, `RETURNS TABLE (…)`, OUT
//! parameters, a composite type) are selected, filtered, ordered and paged like tables.

use axum::{http::StatusCode, response::Response};
use serde_json::Value;

use super::{
    context::{Accept, Call, Count},
    errors::{PgrstError, from_db},
    read::{Fetched, Page, fetch_page, page_sql, range_status},
    respond::{body, content_range, respond},
    schema::Function,
    sql::{Bind, Sql, ident, qualified},
};
use crate::{
    db::identity::{self, Access, DbRole},
    error::AppResult,
};

/// Picks the overload whose parameters fit the given argument names.
pub fn resolve<'a>(
    candidates: &'a [Function],
    schema: &str,
    name: &str,
    given: &[String],
) -> Result<&'a Function, PgrstError> {
    let fits: Vec<&Function> = candidates
        .iter()
        .filter(|f| {
            let single_json = f.args.len() == 1
                && f.args[0].0.is_empty()
                && matches!(f.args[0].1.as_str(), "json" | "jsonb");
            single_json
                || given.iter().all(|g| f.args.iter().any(|(a, _, _)| a == g))
                    && f.args
                        .iter()
                        .all(|(a, _, has_default)| *has_default || given.contains(a))
        })
        .collect();
    match fits.as_slice() {
        [one] => Ok(one),
        [] => Err(PgrstError::new(404, "PGRST202", format!("Could not find the function {schema}.{name}({}) in the schema cache", given.join(", ")))
            .hint("Check the function name and its parameter names, or reload the schema cache (NOTIFY pgrst, 'reload schema').")),
        _ => Err(PgrstError::new(300, "PGRST203", format!("Could not choose the best candidate function between: {schema}.{name}"))
            .hint("Rename the overloaded functions or give arguments that fit only one.")),
    }
}

/// The argument list `"a" => $1::type, …`, or the whole body for a single JSON parameter.
fn arguments(
    sql: &mut Sql,
    f: &Function,
    args: &[(String, Value)],
    whole: Option<&Value>,
) -> String {
    if f.args.len() == 1 && f.args[0].0.is_empty() {
        let p = sql.bind(Bind::Json(whole.cloned().unwrap_or(Value::Null)));
        return format!("{p}::{}", f.args[0].1);
    }
    args.iter()
        .filter_map(|(name, value)| {
            let (_, ty, _) = f.args.iter().find(|(a, _, _)| a == name)?;
            let p = match value {
                Value::String(s) => sql.bind(Bind::Text(s.clone())),
                Value::Null => return Some(format!("{} => null::{ty}", ident(name))),
                other if ty == "json" || ty == "jsonb" => sql.bind(Bind::Json(other.clone())),
                Value::Array(items) if ty.ends_with("[]") => {
                    let texts = items
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect();
                    let p = sql.bind(Bind::Texts(texts));
                    return Some(format!("{} => {p}::text[]::{ty}", ident(name)));
                }
                other => sql.bind(Bind::Text(other.to_string())),
            };
            Some(format!("{} => {p}::{ty}", ident(name)))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Serves a call.
pub async fn call(
    c: &Call<'_>,
    payload: Option<Value>,
    read_only: bool,
    head: bool,
) -> AppResult<Response> {
    let Call {
        app,
        who,
        schema,
        name,
        query,
        prefer,
        accept,
    } = *c;
    let cache = app.rest.get();
    let candidates = cache
        .functions
        .get(&(schema.to_owned(), name.to_owned()))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let args: Vec<(String, Value)> = match &payload {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(_) | None => query
            .args
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    };
    let given: Vec<String> = args.iter().map(|(k, _)| k.clone()).collect();
    let f = resolve(candidates, schema, name, &given)?;
    let mut sql = Sql::default();
    let call = format!(
        "{}({})",
        qualified(schema, name),
        arguments(&mut sql, f, &args, payload.as_ref())
    );
    let tabular = f.returns_set || f.returns_composite;
    let max_rows = app.config.rest.max_rows;
    let table = match (&f.return_table, tabular) {
        (Some((ts, tn)), true) => Some(cache.table(ts, tn).ok_or_else(|| {
            PgrstError::new(404, "PGRST205", "result table not in the schema cache")
        })?),
        // A record type of its own is read like a table of its columns.
        (None, true) => f.record.as_ref(),
        _ => None,
    };
    let page = match table {
        Some(table) => {
            // A count reads the result again: the function runs once, into a materialized CTE.
            let once = matches!(prefer.count, Some(Count::Exact | Count::Estimated));
            let from = if once { "pgrst_call" } else { call.as_str() };
            let page = page_sql(&mut sql, &cache, query, table, from, prefer.count, max_rows)?;
            if once {
                page.over(&format!(
                    "pgrst_call as materialized (select * from {call})"
                ))
            } else {
                page
            }
        }
        None if tabular => {
            if query
                .select
                .iter()
                .any(|s| !matches!(s, super::grammar::SelectItem::Star))
                || !query.modifiers.is_empty()
            {
                return Err(PgrstError::new(400, "PGRST127", "Feature not implemented")
                    .details("select, filters and order apply to functions returning named columns")
                    .into());
            }
            let agg = if f.returns_set {
                "coalesce(json_agg(pgrst_r), '[]')"
            } else {
                "(json_agg(pgrst_r) -> 0)"
            };
            Page {
                text: format!("select null::bigint, {agg}::text, count(*) from {call} pgrst_r"),
                estimate: None,
            }
        }
        None => Page {
            text: format!("select null::bigint, to_json({call})::text, 1::bigint"),
            estimate: None,
        },
    };
    let page = page.for_accept(accept);
    let anon = who.role == DbRole::Anon;
    let access = if read_only || f.stable {
        Access::ReadOnly
    } else {
        Access::ReadWrite
    };
    let Fetched {
        total,
        json,
        rows: n,
    } = if access == Access::ReadOnly {
        let mut tx = app.reads.begin(who).await.map_err(|e| from_db(e, anon))?;
        let conn = tx.conn().map_err(|e| from_db(e, anon))?;
        let fetched = fetch_page(conn, &sql.binds, page, prefer.count, max_rows)
            .await
            .map_err(|e| from_db(e, anon))?;
        tx.finish();
        fetched
    } else {
        let mut tx = identity::begin(&app.api_pool, who, access)
            .await
            .map_err(|e| from_db(e, anon))?;
        let fetched = fetch_page(&mut tx, &sql.binds, page, prefer.count, max_rows)
            .await
            .map_err(|e| from_db(e, anon))?;
        if prefer.rollback {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        fetched
    };
    if f.returns_void {
        return Ok(respond(StatusCode::NO_CONTENT, None, None, None));
    }
    let json = json.unwrap_or_else(|| "null".to_owned());
    if !f.returns_set {
        // One row of a table type went through the table path, which builds an array.
        let json = match (table, n) {
            (Some(_), 0) => "null".to_owned(),
            (Some(_), _) => body(Accept::Object, json, 1)?.1,
            (None, _) => json,
        };
        let ct = "application/json; charset=utf-8";
        return Ok(respond(
            StatusCode::OK,
            Some(ct),
            None,
            (!head).then_some(json),
        ));
    }
    let offset = query.root().offset.unwrap_or(0);
    let status = range_status(offset, n, total)?;
    let (ct, b) = body(accept, json, n)?;
    Ok(respond(
        status,
        Some(ct),
        Some(content_range(offset, n, total)),
        (!head).then_some(b),
    ))
}
