//! `GET /rest/v1/`: the OpenAPI 2.0 (Swagger) description of one exposed schema, in the shape
//! PostgREST v12 serves at its root. As with PostgREST's default `openapi-mode =
//! follow-privileges`, only what the caller's role may use is listed: one catalog query in the
//! caller's identity transaction answers that (and reads the comments), and the document is built
//! from the schema cache filtered by its answer.
//!
//! The parts: `paths` describes the operations on each table and function, `definitions`
//! the table schemas (PostgreSQL types as Swagger types), and `parameters` the shared
//! parameter objects the operations refer to.

mod definitions;
mod parameters;
mod paths;

use std::collections::{BTreeMap, HashMap};

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use self::{
    definitions::definition,
    parameters::{shared_parameters, table_parameters},
    paths::{root_path, rpc_path, table_path},
};
use super::{
    errors::{PgrstError, from_db},
    respond::respond,
    schema::{Function, SchemaCache, Table},
};
use crate::{
    app::AppState,
    db::identity::{DbRole, Identity},
    error::AppResult,
};

/// What the caller's role may use in one schema, with the catalog comments: PostgREST's
/// accessible-tables and accessible-functions rules, asked of PostgreSQL as the caller.
const VISIBLE_SQL: &str = "select json_build_object( \
   'comment', (select obj_description(n.oid, 'pg_namespace') from pg_namespace n where n.nspname = $1), \
   'tables', coalesce((select json_agg(json_build_object( \
       'name', c.relname, \
       'writable', c.relkind in ('r', 'p') or (pg_relation_is_updatable(c.oid, true) & 28) <> 0, \
       'comment', obj_description(c.oid, 'pg_class'), \
       'columns', coalesce((select json_object_agg(a.attname, d.description) from pg_description d \
           join pg_attribute a on a.attrelid = d.objoid and a.attnum = d.objsubid \
           where d.classoid = 'pg_class'::regclass and d.objoid = c.oid and d.objsubid > 0), '{}'))) \
     from pg_class c join pg_namespace n on n.oid = c.relnamespace \
     where n.nspname = $1 and c.relname = any($2) and not c.relispartition \
       and (pg_has_role(c.relowner, 'USAGE') \
         or has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') \
         or has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE, REFERENCES'))), '[]'), \
   'functions', coalesce((select json_agg(json_build_object( \
       'name', p.proname, \
       'args', array(select format_type(t, null) from unnest(p.proargtypes) t), \
       'comment', obj_description(p.oid, 'pg_proc'))) \
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace \
     where n.nspname = $1 and p.prokind = 'f' and p.proname = any($3) \
       and has_function_privilege(p.oid, 'EXECUTE')), '[]'))";

/// The media type of the document.
pub const MEDIA_TYPE: &str = "application/openapi+json; charset=utf-8";

/// What the caller may use in one schema, as PostgreSQL answered.
#[derive(Debug, Default, Deserialize)]
pub struct Visible {
    /// The schema's comment (its first line is the title).
    pub comment: Option<String>,
    /// Tables and views the role holds some privilege on.
    pub tables: Vec<VisibleTable>,
    /// Functions the role may execute, one entry per overload.
    pub functions: Vec<VisibleFunction>,
}

/// A table or view the caller may use.
#[derive(Debug, Deserialize)]
pub struct VisibleTable {
    /// Name.
    pub name: String,
    /// A table, or a view PostgreSQL can insert into, update or delete from.
    pub writable: bool,
    /// Its comment.
    pub comment: Option<String>,
    /// Column comments by column name.
    pub columns: HashMap<String, String>,
}

/// A function overload the caller may execute.
#[derive(Debug, Deserialize)]
pub struct VisibleFunction {
    /// Name.
    pub name: String,
    /// Argument types, as `format_type` names them (to match the cached overload).
    pub args: Vec<String>,
    /// Its comment.
    pub comment: Option<String>,
}

/// Where clients reach the API, as the request names it (PostgREST takes this from its
/// `server-host`/`server-port` or `openapi-server-proxy-uri` settings; behind a proxy the
/// forwarded headers say the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]`.
    pub host: String,
}

impl Server {
    /// From `X-Forwarded-Proto`/`X-Forwarded-Host`, else `Host`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let first = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let scheme = match first("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") => "https",
            _ => "http",
        };
        let valid = |h: &&str| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
        };
        let host = first("x-forwarded-host")
            .filter(valid)
            .or_else(|| first(header::HOST.as_str()).filter(valid))
            .unwrap_or("localhost");
        Self {
            scheme,
            host: host.to_owned(),
        }
    }
}

/// Serves the document for `schema` to `who`.
pub async fn serve(
    app: &AppState,
    who: &Identity,
    schema: &str,
    headers: &HeaderMap,
) -> AppResult<Response> {
    check_accept(headers)?;
    let cache = app.rest.get();
    let tables: Vec<&str> = cache
        .tables
        .keys()
        .filter(|(s, _)| s == schema)
        .map(|(_, n)| n.as_str())
        .collect();
    let functions: Vec<&str> = cache
        .functions
        .keys()
        .filter(|(s, _)| s == schema)
        .map(|(_, n)| n.as_str())
        .collect();
    let anon = who.role == DbRole::Anon;
    let mut tx = app.reads.begin(who).await.map_err(|e| from_db(e, anon))?;
    let visible: sqlx::types::Json<Visible> = sqlx::query_scalar(VISIBLE_SQL)
        .bind(schema)
        .bind(&tables)
        .bind(&functions)
        .fetch_one(tx.conn().map_err(|e| from_db(e, anon))?)
        .await
        .map_err(|e| from_db(e, anon))?;
    tx.finish();
    let doc = document(&cache, schema, &visible, &Server::from_headers(headers));
    Ok(respond(
        StatusCode::OK,
        Some(MEDIA_TYPE),
        None,
        Some(doc.to_string()),
    ))
}

/// The document is JSON only: `Accept` must allow `application/openapi+json` or JSON.
fn check_accept(headers: &HeaderMap) -> Result<(), PgrstError> {
    let raw = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*/*");
    let ok = raw.split(',').any(|part| {
        matches!(
            part.split(';').next().unwrap_or("").trim(),
            "application/openapi+json" | "application/json" | "application/*" | "*/*" | ""
        )
    });
    if ok {
        return Ok(());
    }
    Err(
        PgrstError::new(406, "PGRST107", "None of these media types are available")
            .details(raw.to_owned()),
    )
}

/// The whole document.
pub fn document(cache: &SchemaCache, schema: &str, visible: &Visible, server: &Server) -> Value {
    let mut tables: Vec<(&Table, &VisibleTable)> = visible
        .tables
        .iter()
        .filter_map(|v| cache.table(schema, &v.name).map(|t| (t, v)))
        .collect();
    tables.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let (title, description) = split_comment(visible.comment.as_deref());
    let mut paths = Map::new();
    paths.insert("/".into(), root_path());
    let mut definitions = Map::new();
    let mut parameters = shared_parameters();
    for (table, v) in &tables {
        paths.insert(format!("/{}", table.name), table_path(table, v));
        definitions.insert(table.name.clone(), definition(cache, table, v));
        table_parameters(&mut parameters, table, v);
    }
    for (name, (f, comment)) in functions(cache, schema, visible) {
        paths.insert(format!("/rpc/{name}"), rpc_path(f, comment));
    }
    json!({
        "swagger": "2.0",
        "info": {
            "description": description.unwrap_or_else(|| {
                title.map_or("This is a dynamic API generated by PostgREST", |_| "")
            }),
            "title": title.unwrap_or("PostgREST API"),
            "version": env!("CARGO_PKG_VERSION"),
        },
        "host": server.host,
        "basePath": "/rest/v1",
        "schemes": [server.scheme],
        "consumes": ["application/json"],
        "produces": ["application/json", "application/vnd.pgrst.object+json", "text/csv"],
        "paths": paths,
        "definitions": definitions,
        "parameters": parameters,
        "externalDocs": {
            "description": "PostgREST Documentation",
            "url": "https://postgrest.org/en/v12/references/api.html",
        },
    })
}

/// PostgREST's reading of a comment: the first line is the summary (or title), the rest, without
/// leading newlines, the description.
fn split_comment(comment: Option<&str>) -> (Option<&str>, Option<&str>) {
    match comment.map(|c| c.split_once('\n').unwrap_or((c, ""))) {
        None => (None, None),
        Some((first, rest)) => {
            let rest = rest.trim_start_matches('\n');
            (Some(first), (!rest.is_empty()).then_some(rest))
        }
    }
}

/// The executable functions by name; of overloads, the first by argument types.
fn functions<'a>(
    cache: &'a SchemaCache,
    schema: &str,
    visible: &'a Visible,
) -> BTreeMap<&'a str, (&'a Function, Option<&'a str>)> {
    let mut found: Vec<(&Function, Option<&str>)> = visible
        .functions
        .iter()
        .filter_map(|v| {
            let overloads = cache.functions.get(&(schema.to_owned(), v.name.clone()))?;
            let f = overloads.iter().find(|f| {
                f.args.len() == v.args.len() && f.args.iter().zip(&v.args).all(|(a, t)| &a.1 == t)
            })?;
            Some((f, v.comment.as_deref()))
        })
        .collect();
    found.sort_by(|a, b| (&a.0.name, arg_types(a.0)).cmp(&(&b.0.name, arg_types(b.0))));
    let mut by_name = BTreeMap::new();
    for (f, comment) in found {
        by_name.entry(f.name.as_str()).or_insert((f, comment));
    }
    by_name
}

fn arg_types(f: &Function) -> Vec<&str> {
    f.args.iter().map(|a| a.1.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_split_into_summary_and_description() {
        assert_eq!(split_comment(None), (None, None));
        assert_eq!(split_comment(Some("one line")), (Some("one line"), None));
        assert_eq!(
            split_comment(Some("Title\n\nmore\nlines")),
            (Some("Title"), Some("more\nlines"))
        );
    }

    #[test]
    fn the_server_comes_from_forwarded_headers_or_host() {
        let mut h = HeaderMap::new();
        assert_eq!(Server::from_headers(&h).host, "localhost");
        h.insert(header::HOST, "api.local:8000".parse().unwrap());
        assert_eq!(
            Server::from_headers(&h),
            Server {
                scheme: "http",
                host: "api.local:8000".into()
            }
        );
        h.insert("x-forwarded-proto", "https, http".parse().unwrap());
        h.insert("x-forwarded-host", "example.com".parse().unwrap());
        assert_eq!(
            Server::from_headers(&h),
            Server {
                scheme: "https",
                host: "example.com".into()
            }
        );
        h.insert("x-forwarded-host", "bad host/".parse().unwrap());
        assert_eq!(Server::from_headers(&h).host, "api.local:8000");
    }
}
