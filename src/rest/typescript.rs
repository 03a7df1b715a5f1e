//! `bizbase gen types typescript`: the `Database` type supabase-js accepts for typed queries, in
//! the shape `supabase gen types typescript` prints.

use std::fmt::Write as _;

use super::schema::{SchemaCache, Table};

/// The TypeScript type of a PostgreSQL type (as `format_type` names it).
fn ts_type(cache: &SchemaCache, pg: &str) -> String {
    if let Some(inner) = pg.strip_suffix("[]") {
        return format!("{}[]", ts_type(cache, inner));
    }
    if let Some((_, name, _)) = cache.enums.get(pg) {
        return format!(
            "Database[\"{}\"][\"Enums\"][\"{}\"]",
            cache.enums[pg].0, name
        );
    }
    let base = pg.split('(').next().unwrap_or(pg).trim();
    match base {
        "smallint" | "integer" | "bigint" | "real" | "double precision" | "numeric" | "oid" => {
            "number".into()
        }
        "boolean" => "boolean".into(),
        "json" | "jsonb" => "Json".into(),
        "void" => "undefined".into(),
        _ => "string".into(),
    }
}

fn key(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

fn row(out: &mut String, cache: &SchemaCache, table: &Table, mode: &str, indent: &str) {
    let _ = writeln!(out, "{indent}{mode}: {{");
    for c in &table.columns {
        let mut ty = ts_type(cache, &c.data_type);
        if c.nullable {
            ty.push_str(" | null");
        }
        let optional = match mode {
            "Row" => "",
            "Insert" if !c.nullable && !c.has_default => "",
            _ => "?",
        };
        let _ = writeln!(out, "{indent}  {}{optional}: {ty}", key(&c.name));
    }
    let _ = writeln!(out, "{indent}}}");
}

/// The whole file.
pub fn generate(cache: &SchemaCache) -> String {
    let mut out = String::from(
        "export type Json =\n  | string\n  | number\n  | boolean\n  | null\n  | { [key: string]: Json | undefined }\n  | Json[]\n\nexport type Database = {\n",
    );
    for schema in &cache.schemas {
        let _ = writeln!(out, "  {}: {{", key(schema));
        let mut tables: Vec<&Table> = cache
            .tables
            .values()
            .filter(|t| &t.schema == schema)
            .collect();
        tables.sort_by(|a, b| a.name.cmp(&b.name));
        for (section, views) in [("Tables", false), ("Views", true)] {
            let _ = writeln!(out, "    {section}: {{");
            let of_kind: Vec<&&Table> = tables.iter().filter(|t| t.is_view == views).collect();
            if of_kind.is_empty() {
                let _ = writeln!(out, "      [_ in never]: never");
            }
            for t in of_kind {
                let _ = writeln!(out, "      {}: {{", key(&t.name));
                row(&mut out, cache, t, "Row", "        ");
                if !views {
                    row(&mut out, cache, t, "Insert", "        ");
                    row(&mut out, cache, t, "Update", "        ");
                }
                let _ = writeln!(out, "        Relationships: [");
                for fk in cache
                    .foreign_keys
                    .iter()
                    .filter(|fk| fk.table.0 == t.schema && fk.table.1 == t.name)
                {
                    let one_to_one = t.is_unique(&fk.columns);
                    let _ = writeln!(
                        out,
                        "          {{\n            foreignKeyName: {:?}\n            columns: {:?}\n            isOneToOne: {one_to_one}\n            referencedRelation: {:?}\n            referencedColumns: {:?}\n          }},",
                        fk.name, fk.columns, fk.ref_table.1, fk.ref_columns
                    );
                }
                let _ = writeln!(out, "        ]\n      }}");
            }
            let _ = writeln!(out, "    }}");
        }
        let _ = writeln!(out, "    Functions: {{");
        let mut fns: Vec<_> = cache
            .functions
            .iter()
            .filter(|((s, _), _)| s == schema)
            .collect();
        fns.sort_by(|a, b| a.0.cmp(b.0));
        if fns.is_empty() {
            let _ = writeln!(out, "      [_ in never]: never");
        }
        for ((_, name), overloads) in fns {
            let Some(f) = overloads.first() else { continue };
            let args: Vec<String> = f
                .args
                .iter()
                .filter(|(n, _, _)| !n.is_empty())
                .map(|(n, ty, def)| {
                    format!(
                        "{}{}: {}",
                        key(n),
                        if *def { "?" } else { "" },
                        ts_type(cache, ty)
                    )
                })
                .collect();
            let args = if args.is_empty() {
                "Record<PropertyKey, never>".to_owned()
            } else {
                format!("{{ {} }}", args.join("; "))
            };
            let returns = match &f.return_table {
                Some((s, t)) => format!(
                    "Database[{s:?}][\"Tables\"][{t:?}][\"Row\"]{}",
                    if f.returns_set { "[]" } else { "" }
                ),
                None if f.returns_void => "undefined".to_owned(),
                // As `supabase gen types` writes a record's columns: without `| null`.
                None if f.record.is_some() => {
                    let fields: Vec<String> = f
                        .record
                        .iter()
                        .flat_map(|r| &r.columns)
                        .map(|c| format!("{}: {}", key(&c.name), ts_type(cache, &c.data_type)))
                        .collect();
                    let set = if f.returns_set { "[]" } else { "" };
                    format!("{{ {} }}{set}", fields.join("; "))
                }
                None if f.returns_composite || f.returns_set => "Json".to_owned(),
                None => ts_type(cache, &f.return_type),
            };
            let _ = writeln!(
                out,
                "      {}: {{ Args: {args}; Returns: {returns} }}",
                key(name)
            );
        }
        let _ = writeln!(out, "    }}\n    Enums: {{");
        let mut enums: Vec<_> = cache
            .enums
            .values()
            .filter(|(s, _, _)| s == schema)
            .collect();
        enums.sort_by(|a, b| a.1.cmp(&b.1));
        if enums.is_empty() {
            let _ = writeln!(out, "      [_ in never]: never");
        }
        for (_, name, labels) in enums {
            let union: Vec<String> = labels.iter().map(|l| format!("{l:?}")).collect();
            let _ = writeln!(out, "      {}: {}", key(name), union.join(" | "));
        }
        let _ = writeln!(
            out,
            "    }}\n    CompositeTypes: {{\n      [_ in never]: never\n    }}\n  }}"
        );
    }
    out.push_str("}\n");
    out
}
