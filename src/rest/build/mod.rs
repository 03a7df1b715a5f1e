//! Builds the SELECT of a read: the select list (columns, JSON paths, casts, embedded resources
//! through foreign keys), conditions and ordering, against the schema cache.

mod filter;

pub use filter::condition;

use super::{
    errors::PgrstError,
    grammar::{Field, Join, JsonKey, Logic, Nulls, OrderTerm, SelectItem},
    query::{Modifiers, Query},
    relation::{self, Relation},
    schema::{SchemaCache, Table},
    sql::{Bind, Sql, ident, qualified},
};

/// One resource level being built.
pub struct Level<'a> {
    /// The table.
    pub table: &'a Table,
    /// Its alias in the SQL.
    pub alias: String,
    /// Its embedding path.
    pub path: Vec<String>,
}

fn unknown_column(table: &Table, name: &str) -> PgrstError {
    PgrstError::new(
        400,
        "42703",
        format!("column {}.{} does not exist", table.name, name),
    )
}

/// The SQL expression of a column or JSON path, and the type a compared value should take.
fn field_expr(
    sql: &mut Sql,
    level: &Level<'_>,
    field: &Field,
) -> Result<(String, String), PgrstError> {
    let col = level
        .table
        .column(&field.name)
        .ok_or_else(|| unknown_column(level.table, &field.name))?;
    let mut expr = format!("{}.{}", level.alias, ident(&col.name));
    let mut ty = col.data_type.clone();
    for step in &field.path {
        let arrow = if step.as_text { "->>" } else { "->" };
        let key = match &step.key {
            JsonKey::Name(k) => format!("{}::text", sql.bind(Bind::Text(k.clone()))),
            JsonKey::Index(i) => i.to_string(),
        };
        expr = format!("({expr}{arrow}{key})");
        ty = if step.as_text {
            "text".into()
        } else {
            "jsonb".into()
        };
    }
    Ok((expr, ty))
}

/// What a level's select list embedded: `!inner` conditions, and each embed's key, SQL and
/// cardinality (for `rel=is.null` filters on the level).
#[derive(Debug, Default)]
pub struct Embeds {
    /// Conditions that drop parents without a match (`!inner`).
    pub inner: Vec<String>,
    /// `(key, expression, to_one)` of each embedded resource.
    pub exprs: Vec<(String, String, bool)>,
    /// `left join lateral …` clauses the level's `from` needs: one per spread relation, whose
    /// columns the select list reads from it.
    pub laterals: Vec<String>,
}

impl Embeds {
    /// The lateral joins to write after the level's table and alias (empty, or a leading space).
    pub fn joins(&self) -> String {
        self.laterals.iter().map(|j| format!(" {j}")).collect()
    }
}

/// `select` list of one level; records what it embedded in `out`.
pub fn select_list(
    sql: &mut Sql,
    cache: &SchemaCache,
    query: &Query,
    level: &Level<'_>,
    items: &[SelectItem],
    out_embeds: &mut Embeds,
) -> Result<String, PgrstError> {
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::Star => out.push(format!("{}.*", level.alias)),
            SelectItem::Field { alias, field, cast } => {
                // `count` naming no column is the row count PostgREST keeps from before its
                // aggregates (`select=count`, `rel(count)`), allowed while they are disabled.
                let legacy_count = field.name == "count"
                    && field.path.is_empty()
                    && level.table.column("count").is_none();
                let expr = if legacy_count {
                    "count(*)".to_owned()
                } else {
                    field_expr(sql, level, field)?.0
                };
                let expr = match cast {
                    Some(ty) => format!("({expr})::{ty}"),
                    None => expr,
                };
                let name = alias.clone().unwrap_or_else(|| field.output_name());
                out.push(format!("{expr} as {}", ident(&name)));
            }
            SelectItem::Embed {
                alias,
                relation,
                hint,
                join,
                spread,
                items,
            } => {
                let rel = relation::resolve(cache, level.table, relation, hint.as_deref())?;
                let key = alias.clone().unwrap_or_else(|| relation.clone());
                let mut path = level.path.clone();
                path.push(key.clone());
                if *spread {
                    let body = embed_body(sql, cache, query, level, &rel, &path, items)?;
                    if *join == Join::Inner {
                        out_embeds.inner.push(format!("exists ({})", body.text));
                    }
                    // The relation's rows are read once, in a lateral join, whatever the number
                    // of columns it adds.
                    let (row, joined) = (&body.row, sql.alias());
                    let mut columns = Vec::new();
                    for name in output_names(cache, rel.target, items)? {
                        let col = ident(&name);
                        columns.push(if rel.to_one {
                            format!("{row}.{col}")
                        } else {
                            format!("coalesce(json_agg({row}.{col}), '[]'::json) as {col}")
                        });
                        out.push(format!("{joined}.{col} as {col}"));
                    }
                    out_embeds.laterals.push(format!(
                        "left join lateral (select {} from ({}) {row}) {joined} on true",
                        columns.join(", "),
                        body.text
                    ));
                    continue;
                }
                let expr = embed(sql, cache, query, level, &rel, &path, items)?;
                if *join == Join::Inner {
                    out_embeds.inner.push(presence(&expr, rel.to_one, true));
                }
                // `rel()` (often `rel!inner()`) filters without showing the relation.
                if !items.is_empty() {
                    out.push(format!("{expr} as {}", ident(&key)));
                }
                out_embeds.exprs.push((key, expr, rel.to_one));
            }
        }
    }
    Ok(out.join(", "))
}

/// The names a select list produces on `table`, expanding `*` and nested spreads: the columns a
/// spread relation adds to its parent.
fn output_names(
    cache: &SchemaCache,
    table: &Table,
    items: &[SelectItem],
) -> Result<Vec<String>, PgrstError> {
    if items.is_empty() {
        return Ok(table.columns.iter().map(|c| c.name.clone()).collect());
    }
    let mut out = Vec::new();
    for item in items {
        match item {
            SelectItem::Star => out.extend(table.columns.iter().map(|c| c.name.clone())),
            SelectItem::Field { alias, field, .. } => {
                out.push(alias.clone().unwrap_or_else(|| field.output_name()))
            }
            SelectItem::Embed {
                relation,
                hint,
                spread: true,
                items,
                ..
            } => {
                let rel = relation::resolve(cache, table, relation, hint.as_deref())?;
                out.extend(output_names(cache, rel.target, items)?);
            }
            // `rel()` adds no key (see `select_list`).
            SelectItem::Embed { items, .. } if items.is_empty() => {}
            SelectItem::Embed {
                alias, relation, ..
            } => out.push(alias.clone().unwrap_or_else(|| relation.clone())),
        }
    }
    Ok(out)
}

/// The rows of an embedded resource: `text` selects them, `row` is the alias to read them by.
struct EmbedBody {
    text: String,
    row: String,
}

fn embed(
    sql: &mut Sql,
    cache: &SchemaCache,
    query: &Query,
    parent: &Level<'_>,
    rel: &Relation<'_>,
    path: &[String],
    items: &[SelectItem],
) -> Result<String, PgrstError> {
    let EmbedBody { text: body, row } = embed_body(sql, cache, query, parent, rel, path, items)?;
    Ok(if rel.to_one {
        format!("(select row_to_json({row}) from ({body}) {row})")
    } else {
        format!("coalesce((select json_agg({row}) from ({body}) {row}), '[]'::json)")
    })
}

fn embed_body(
    sql: &mut Sql,
    cache: &SchemaCache,
    query: &Query,
    parent: &Level<'_>,
    rel: &Relation<'_>,
    path: &[String],
    items: &[SelectItem],
) -> Result<EmbedBody, PgrstError> {
    let child = Level {
        table: rel.target,
        alias: sql.alias(),
        path: path.to_vec(),
    };
    sql.embedded.insert(path.to_vec());
    let mods = query.modifiers.get(path).cloned().unwrap_or_default();
    let mut embeds = Embeds::default();
    let items = if items.is_empty() {
        &[SelectItem::Star][..]
    } else {
        items
    };
    let list = select_list(sql, cache, query, &child, items, &mut embeds)?;
    let mut conds = vec![rel.join_condition(&parent.alias, &child.alias)];
    conds.extend(conditions(sql, &child, &mods.filters, &embeds)?);
    let from = qualified(&child.table.schema, &child.table.name);
    let row = sql.alias();
    let text = format!(
        "select {list} from {from} {}{} where {}{}{}",
        child.alias,
        embeds.joins(),
        conds.join(" and "),
        order_by(sql, cache, &child, items, &mods.order)?,
        paging(&mods),
    );
    Ok(EmbedBody { text, row })
}

/// `expr` (an embedded resource) present or absent.
fn presence(expr: &str, to_one: bool, present: bool) -> String {
    match (to_one, present) {
        (true, true) => format!("({expr}) is not null"),
        (true, false) => format!("({expr}) is null"),
        (false, true) => format!("json_array_length({expr}) > 0"),
        (false, false) => format!("json_array_length({expr}) = 0"),
    }
}

/// The conditions of one level: `!inner` embeds, column filters and logic trees, and
/// `rel=is.null` / `rel=not.is.null` on its embedded resources (see [`condition`]).
pub fn conditions(
    sql: &mut Sql,
    level: &Level<'_>,
    filters: &[Logic],
    embeds: &Embeds,
) -> Result<Vec<String>, PgrstError> {
    let mut out = embeds.inner.clone();
    for f in filters {
        out.push(condition(sql, level, embeds, f)?);
    }
    Ok(out)
}

/// PGRST108 when the query modifies a resource that `select` did not embed.
pub fn check_embedded(sql: &Sql, query: &Query) -> Result<(), PgrstError> {
    match query
        .modifiers
        .keys()
        .find(|p| !p.is_empty() && !sql.embedded.contains(*p))
    {
        None => Ok(()),
        Some(path) => Err(PgrstError::new(
            400,
            "PGRST108",
            format!(
                "'{}' is not an embedded resource in this request",
                path.join(".")
            ),
        )
        .hint(format!(
            "Verify that '{}' is included in the 'select' query parameter.",
            path.join(".")
        ))),
    }
}

/// ` order by …` (empty when no terms).
pub fn order_by(
    sql: &mut Sql,
    cache: &SchemaCache,
    level: &Level<'_>,
    items: &[SelectItem],
    terms: &[OrderTerm],
) -> Result<String, PgrstError> {
    if terms.is_empty() {
        return Ok(String::new());
    }
    let mut parts = Vec::new();
    for t in terms {
        let expr = match &t.relation {
            None => field_expr(sql, level, &t.field)?.0,
            Some(name) => related_order(sql, cache, level, items, name, &t.field)?,
        };
        let dir = if t.desc { " desc" } else { " asc" };
        let nulls = match t.nulls {
            Some(Nulls::First) => " nulls first",
            Some(Nulls::Last) => " nulls last",
            None => "",
        };
        parts.push(format!("{expr}{dir}{nulls}"));
    }
    Ok(format!(" order by {}", parts.join(", ")))
}

/// `rel(field)` in `order`: the field of the one row a to-one relation holds, as a subquery.
/// `rel` is an embed's alias in `items`, else the relation of an embed (with its hint), else a
/// relation of the level's table.
fn related_order(
    sql: &mut Sql,
    cache: &SchemaCache,
    level: &Level<'_>,
    items: &[SelectItem],
    name: &str,
    field: &Field,
) -> Result<String, PgrstError> {
    // The embed of that alias, else one of that relation (with its hint), else the relation.
    let embedded = |by_alias: bool| {
        items.iter().find_map(|item| match item {
            SelectItem::Embed {
                alias,
                relation,
                hint,
                ..
            } if (if by_alias {
                alias.as_deref() == Some(name)
            } else {
                relation == name
            }) =>
            {
                Some((relation.as_str(), hint.as_deref()))
            }
            _ => None,
        })
    };
    let (relation, hint) = embedded(true)
        .or_else(|| embedded(false))
        .unwrap_or((name, None));
    let rel = relation::resolve(cache, level.table, relation, hint)?;
    if !rel.to_one {
        return Err(PgrstError::new(
            400,
            "PGRST118",
            format!("A related order on '{name}' is not possible"),
        )
        .details(format!(
            "'{}' and '{name}' do not form a many-to-one or one-to-one relationship",
            level.table.name
        )));
    }
    let child = Level {
        table: rel.target,
        alias: sql.alias(),
        path: vec![],
    };
    let (expr, _) = field_expr(sql, &child, field)?;
    Ok(format!(
        "(select {expr} from {} {} where {})",
        qualified(&child.table.schema, &child.table.name),
        child.alias,
        rel.join_condition(&level.alias, &child.alias)
    ))
}

/// ` limit … offset …`.
pub fn paging(m: &Modifiers) -> String {
    let mut s = String::new();
    if let Some(l) = m.limit {
        s.push_str(&format!(" limit {l}"));
    }
    if let Some(o) = m.offset {
        s.push_str(&format!(" offset {o}"));
    }
    s
}
