//! `parameters` of the OpenAPI document: the shared query and `Prefer` header parameters, and
//! per table a body parameter and a row filter per column.

use serde_json::{Map, Value, json};

use super::{VisibleTable, definitions::base_type};
use crate::rest::schema::Table;

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
pub(super) fn shared_parameters() -> Map<String, Value> {
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
pub(super) fn table_parameters(
    out: &mut Map<String, Value>,
    table: &Table,
    visible: &VisibleTable,
) {
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
