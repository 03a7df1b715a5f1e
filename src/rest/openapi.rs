//! `GET /rest/v1/`: the OpenAPI 2.0 (Swagger) description of one exposed schema, in the shape
//! PostgREST v12 serves at its root. As with PostgREST's default `openapi-mode =
//! follow-privileges`, only what the caller's role may use is listed: one catalog query in the
//! caller's identity transaction answers that (and reads the comments), and the document is built
//! from the schema cache filtered by its answer.

use std::collections::{BTreeMap, HashMap};

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    errors::{PgrstError, from_db},
    respond::respond,
    schema::{Column, Function, SchemaCache, Table},
};
use crate::{
    app::AppState,
    db::identity::{self, Access, DbRole, Identity},
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
    let mut tx = identity::begin(&app.pool, who, Access::ReadOnly)
        .await
        .map_err(|e| from_db(e, anon))?;
    let visible: sqlx::types::Json<Visible> = sqlx::query_scalar(VISIBLE_SQL)
        .bind(schema)
        .bind(&tables)
        .bind(&functions)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| from_db(e, anon))?;
    tx.commit().await?;
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

/// Swagger's type for a PostgreSQL type, as PostgREST maps them; `None` for `json`/`jsonb`, which
/// may hold any value.
fn swagger_type(pg: &str) -> Option<&'static str> {
    match pg {
        "boolean" => Some("boolean"),
        "smallint" | "integer" | "bigint" => Some("integer"),
        "numeric" | "real" | "double precision" => Some("number"),
        "json" | "jsonb" => None,
        t if t.ends_with("[]") => Some("array"),
        _ => Some("string"),
    }
}

/// A `format_type` name without type modifiers (`numeric(10,2)` → `numeric`), and the length
/// limit of `character`/`character varying` columns.
fn base_type(pg: &str) -> (String, Option<u64>) {
    let mut name = String::with_capacity(pg.len());
    let mut modifier = String::new();
    let mut depth = 0usize;
    for c in pg.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => modifier.push(c),
            _ => name.push(c),
        }
    }
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let max_length = matches!(name.as_str(), "character" | "character varying")
        .then(|| modifier.trim().parse().ok())
        .flatten();
    (name, max_length)
}

/// `format`, `type` and, for arrays, `items` of a value of type `pg` (no modifiers).
fn typed(pg: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("format".into(), pg.into());
    if let Some(t) = swagger_type(pg) {
        out.insert("type".into(), t.into());
    }
    if let Some(element) = pg.strip_suffix("[]") {
        let items = swagger_type(element).map_or_else(|| json!({}), |t| json!({"type": t}));
        out.insert("items".into(), items);
    }
    out
}

/// The column default as a JSON value, as PostgREST reads it: for string types, a literal
/// `'text'::type` without its cast and quotes (other expressions as written); for other types,
/// the default if it is a JSON literal (`42`, `false`).
fn default_value(ty: &str, default: &str) -> Option<Value> {
    if swagger_type(ty) != Some("string") {
        return serde_json::from_str::<Value>(default)
            .ok()
            .filter(|v| !v.is_object() && !v.is_array());
    }
    let literal = default
        .strip_suffix(&format!("::{ty}"))
        .and_then(|d| d.strip_prefix('\''))
        .and_then(|d| d.strip_suffix('\''));
    Some(match literal {
        Some(text) => text.replace("''", "'").into(),
        None => default.into(),
    })
}

/// The primary- and foreign-key notes PostgREST appends to a column's description.
fn key_notes(cache: &SchemaCache, table: &Table, column: &str) -> Vec<String> {
    let mut notes = Vec::new();
    if table.primary_key.iter().any(|c| c == column) {
        notes.push("This is a Primary Key.<pk/>".to_owned());
    }
    let fk = cache
        .foreign_keys
        .iter()
        .filter(|fk| {
            fk.table.0 == table.schema && fk.table.1 == table.name && fk.columns == [column]
        })
        .min_by(|a, b| a.name.cmp(&b.name));
    if let Some(fk) = fk
        && let Some(col) = fk.ref_columns.first()
    {
        let t = &fk.ref_table.1;
        notes.push(format!(
            "This is a Foreign Key to `{t}.{col}`.<fk table='{t}' column='{col}'/>"
        ));
    }
    notes
}

/// A column's schema in its table's definition.
fn property(cache: &SchemaCache, table: &Table, column: &Column, comment: Option<&str>) -> Value {
    let (ty, max_length) = base_type(&column.data_type);
    let mut p = typed(&ty);
    let notes = key_notes(cache, table, &column.name);
    let description = match (comment, notes.is_empty()) {
        (c, true) => c.map(str::to_owned),
        (None, false) => Some(format!("Note:\n{}", notes.join("\n"))),
        (Some(c), false) => Some(format!("{c}\n\nNote:\n{}", notes.join("\n"))),
    };
    if let Some(d) = description {
        p.insert("description".into(), d.into());
    }
    if let Some(d) = column
        .default
        .as_deref()
        .and_then(|d| default_value(&ty, d))
    {
        p.insert("default".into(), d);
    }
    if let Some((_, _, labels)) = cache.enums.get(&column.data_type) {
        p.insert("enum".into(), json!(labels));
    }
    if let Some(n) = max_length {
        p.insert("maxLength".into(), n.into());
    }
    Value::Object(p)
}

/// `definitions.{table}`: its columns as properties; those that must be given on insert (not
/// null, no default) are `required`.
fn definition(cache: &SchemaCache, table: &Table, visible: &VisibleTable) -> Value {
    let properties: Map<String, Value> = table
        .columns
        .iter()
        .map(|c| {
            let comment = visible.columns.get(&c.name).map(String::as_str);
            (c.name.clone(), property(cache, table, c, comment))
        })
        .collect();
    let required: Vec<&str> = table
        .columns
        .iter()
        .filter(|c| !c.nullable && !c.has_default)
        .map(|c| c.name.as_str())
        .collect();
    let mut d = Map::new();
    if let Some(c) = &visible.comment {
        d.insert("description".into(), c.as_str().into());
    }
    d.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        d.insert("required".into(), json!(required));
    }
    d.insert("type".into(), "object".into());
    Value::Object(d)
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/parameters/{name}") })
}

fn ok(description: &str) -> Value {
    json!({ "description": description })
}

/// An operation on a table or function: its tags, summary and description, then `rest`.
fn operation(tag: &str, comment: Option<&str>, rest: Value) -> Value {
    let (summary, description) = split_comment(comment);
    let mut op = Map::new();
    op.insert("tags".into(), json!([tag]));
    if let Some(s) = summary {
        op.insert("summary".into(), s.into());
    }
    if let Some(d) = description {
        op.insert("description".into(), d.into());
    }
    if let Value::Object(rest) = rest {
        op.extend(rest);
    }
    Value::Object(op)
}

fn root_path() -> Value {
    json!({ "get": {
        "tags": ["Introspection"],
        "summary": "OpenAPI description (this document)",
        "produces": ["application/openapi+json", "application/json"],
        "responses": { "200": ok("OK") },
    }})
}

/// `/{table}`: GET, and POST/PATCH/DELETE when rows can be written through it.
fn table_path(table: &Table, visible: &VisibleTable) -> Value {
    let name = &table.name;
    let comment = visible.comment.as_deref();
    let filters = || {
        table
            .columns
            .iter()
            .map(|c| reference(&format!("rowFilter.{name}.{}", c.name)))
    };
    let refs = |names: &[&str]| names.iter().map(|n| reference(n)).collect::<Vec<_>>();
    let body = format!("body.{name}");
    let mut get: Vec<Value> = filters().collect();
    get.extend(refs(&[
        "select",
        "order",
        "range",
        "rangeUnit",
        "offset",
        "limit",
        "preferCount",
    ]));
    let mut item = Map::new();
    item.insert(
        "get".into(),
        operation(
            name,
            comment,
            json!({
                "parameters": get,
                "responses": {
                    "200": {
                        "description": "OK",
                        "schema": {
                            "items": { "$ref": format!("#/definitions/{name}") },
                            "type": "array",
                        },
                    },
                    "206": ok("Partial Content"),
                },
            }),
        ),
    );
    if visible.writable {
        let post = refs(&[&body, "select", "preferPost"]);
        let mut patch: Vec<Value> = filters().collect();
        patch.extend(refs(&[&body, "preferReturn"]));
        let mut delete: Vec<Value> = filters().collect();
        delete.push(reference("preferReturn"));
        for (method, parameters, code, text) in [
            ("post", post, "201", "Created"),
            ("patch", patch, "204", "No Content"),
            ("delete", delete, "204", "No Content"),
        ] {
            let rest = json!({ "parameters": parameters, "responses": { code: ok(text) } });
            item.insert(method.into(), operation(name, comment, rest));
        }
    }
    Value::Object(item)
}

/// `/rpc/{function}`: POST with the arguments as a body object, and GET with them as query
/// parameters unless the function is volatile.
fn rpc_path(f: &Function, comment: Option<&str>) -> Value {
    let named: Vec<&(String, String, bool)> =
        f.args.iter().filter(|(n, _, _)| !n.is_empty()).collect();
    let properties: Map<String, Value> = named
        .iter()
        .map(|(n, ty, _)| (n.clone(), Value::Object(typed(ty))))
        .collect();
    let required: Vec<&str> = named
        .iter()
        .filter(|(_, _, has_default)| !has_default)
        .map(|(n, _, _)| n.as_str())
        .collect();
    let mut args = Map::new();
    if let Some(c) = comment {
        args.insert("description".into(), c.into());
    }
    args.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        args.insert("required".into(), json!(required));
    }
    args.insert("type".into(), "object".into());
    let tag = format!("(rpc) {}", f.name);
    let common = |parameters: Value| {
        json!({
            "produces": ["application/json", "application/vnd.pgrst.object+json"],
            "parameters": parameters,
            "responses": { "200": ok("OK") },
        })
    };
    let post = json!([
        { "in": "body", "name": "args", "required": true, "schema": args },
        reference("preferParams"),
    ]);
    let mut item = Map::new();
    if f.stable {
        let query: Vec<Value> = named
            .iter()
            .map(|(n, ty, has_default)| {
                json!({
                    "format": ty,
                    "in": "query",
                    "name": n,
                    "required": !has_default,
                    "type": match swagger_type(ty) {
                        None | Some("array") => "string",
                        Some(t) => t,
                    },
                })
            })
            .collect();
        item.insert(
            "get".into(),
            operation(&tag, comment, common(Value::Array(query))),
        );
    }
    item.insert("post".into(), operation(&tag, comment, common(post)));
    Value::Object(item)
}

/// A parameter of a `Prefer` header offering `values`.
fn prefer(values: &[&str]) -> Value {
    let mut p = json!({
        "name": "Prefer",
        "description": "Preference",
        "required": false,
        "in": "header",
        "type": "string",
    });
    if !values.is_empty() {
        p["enum"] = json!(values);
    }
    p
}

/// A parameter named `name`, optional, a string in `place` (`query` or `header`).
fn plain(name: &str, description: &str, place: &str) -> Value {
    json!({ "name": name, "description": description, "required": false, "in": place, "type": "string" })
}

/// The parameters every table shares (the `Prefer` values are those this server honours).
fn shared_parameters() -> Map<String, Value> {
    let returns = [
        "return=representation",
        "return=minimal",
        "return=headers-only",
    ];
    let mut post = returns.to_vec();
    post.extend([
        "resolution=ignore-duplicates",
        "resolution=merge-duplicates",
    ]);
    let mut range_unit = plain("Range-Unit", "Limiting and Pagination", "header");
    range_unit["default"] = "items".into();
    [
        ("preferParams", prefer(&[])),
        ("preferReturn", prefer(&returns)),
        (
            "preferCount",
            prefer(&["count=exact", "count=planned", "count=estimated"]),
        ),
        ("preferPost", prefer(&post)),
        ("select", plain("select", "Filtering Columns", "query")),
        ("on_conflict", plain("on_conflict", "On Conflict", "query")),
        (
            "columns",
            plain("columns", "Columns of the body to insert", "query"),
        ),
        ("order", plain("order", "Ordering", "query")),
        ("range", plain("Range", "Limiting and Pagination", "header")),
        ("rangeUnit", range_unit),
        (
            "offset",
            plain("offset", "Limiting and Pagination", "query"),
        ),
        ("limit", plain("limit", "Limiting and Pagination", "query")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `body.{table}` and a `rowFilter.{table}.{column}` per column.
fn table_parameters(out: &mut Map<String, Value>, table: &Table, visible: &VisibleTable) {
    let name = &table.name;
    out.insert(
        format!("body.{name}"),
        json!({
            "name": name,
            "description": name,
            "required": false,
            "in": "body",
            "schema": { "$ref": format!("#/definitions/{name}") },
        }),
    );
    for c in &table.columns {
        let mut p = json!({
            "name": c.name,
            "required": false,
            "format": base_type(&c.data_type).0,
            "in": "query",
            "type": "string",
        });
        if let Some(comment) = visible.columns.get(&c.name) {
            p["description"] = comment.as_str().into();
        }
        out.insert(format!("rowFilter.{name}.{}", c.name), p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_map_as_postgrest_maps_them() {
        assert_eq!(base_type("numeric(10,2)"), ("numeric".into(), None));
        assert_eq!(
            base_type("character varying(20)"),
            ("character varying".into(), Some(20))
        );
        assert_eq!(
            base_type("timestamp(3) with time zone"),
            ("timestamp with time zone".into(), None)
        );
        assert_eq!(base_type("character(1)[]"), ("character[]".into(), None));
        assert_eq!(
            Value::Object(typed("integer[]")),
            json!({"format": "integer[]", "type": "array", "items": {"type": "integer"}})
        );
        assert_eq!(
            Value::Object(typed("jsonb[]")),
            json!({"format": "jsonb[]", "type": "array", "items": {}})
        );
        assert_eq!(Value::Object(typed("json")), json!({"format": "json"}));
        assert_eq!(swagger_type("uuid"), Some("string"));
    }

    #[test]
    fn defaults_are_json_literals_or_unquoted_strings() {
        assert_eq!(default_value("text", "'draft'::text"), Some(json!("draft")));
        assert_eq!(default_value("text", "'it''s'::text"), Some(json!("it's")));
        assert_eq!(
            default_value("timestamp with time zone", "now()"),
            Some(json!("now()"))
        );
        assert_eq!(default_value("integer", "42"), Some(json!(42)));
        assert_eq!(default_value("boolean", "false"), Some(json!(false)));
        assert_eq!(
            default_value("integer", "nextval('t_id_seq'::regclass)"),
            None
        );
        assert_eq!(default_value("text[]", "'{}'::text[]"), None);
    }

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
