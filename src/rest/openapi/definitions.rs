//! `definitions` of the OpenAPI document: a schema per table, its columns mapped from
//! PostgreSQL types to Swagger types the way PostgREST maps them, with defaults, enum labels,
//! length limits and key notes.

use serde_json::{Map, Value, json};

use super::VisibleTable;
use crate::rest::schema::{Column, SchemaCache, Table};

/// Swagger's type for a PostgreSQL type, as PostgREST maps them; `None` for `json`/`jsonb`, which
/// may hold any value.
pub(super) fn swagger_type(pg: &str) -> Option<&'static str> {
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
pub(super) fn base_type(pg: &str) -> (String, Option<u64>) {
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
pub(super) fn typed(pg: &str) -> Map<String, Value> {
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
pub(super) fn definition(cache: &SchemaCache, table: &Table, visible: &VisibleTable) -> Value {
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
}
