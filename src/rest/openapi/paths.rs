//! `paths` of the OpenAPI document: the root, `/{table}` with its read and write operations,
//! and `/rpc/{function}`.

use serde_json::{Map, Value, json};

use super::{
    VisibleTable,
    definitions::{swagger_type, typed},
    split_comment,
};
use crate::rest::schema::{Function, Table};

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

pub(super) fn root_path() -> Value {
    json!({ "get": {
        "tags": ["Introspection"],
        "summary": "OpenAPI description (this document)",
        "produces": ["application/openapi+json", "application/json"],
        "responses": { "200": ok("OK") },
    }})
}

/// `/{table}`: GET, and POST/PATCH/DELETE when rows can be written through it.
pub(super) fn table_path(table: &Table, visible: &VisibleTable) -> Value {
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
pub(super) fn rpc_path(f: &Function, comment: Option<&str>) -> Value {
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
