//! Resolving an embedded resource to a relationship: many-to-one (the parent holds the foreign
//! key), one-to-many (the child does), or many-to-many through a junction table with foreign keys
//! to both. `!hint` picks a foreign key by constraint name or column. None → PGRST200, several →
//! PGRST201 with the candidates.

use super::{
    errors::PgrstError,
    schema::{ForeignKey, SchemaCache, Table},
    sql::{ident, qualified},
};

/// How a child joins its parent.
#[derive(Debug)]
pub struct Relation<'a> {
    /// The embedded table.
    pub target: &'a Table,
    /// An object (to-one) rather than an array.
    pub to_one: bool,
    fk: &'a ForeignKey,
    /// `true`: the parent holds `fk`; `false`: the child (or the junction) does.
    parent_holds_fk: bool,
    /// Many-to-many: the junction table and its foreign key to the target.
    junction: Option<(&'a Table, &'a ForeignKey)>,
}

fn pairs(left: &str, lcols: &[String], right: &str, rcols: &[String]) -> String {
    lcols
        .iter()
        .zip(rcols)
        .map(|(l, r)| format!("{left}.{} = {right}.{}", ident(l), ident(r)))
        .collect::<Vec<_>>()
        .join(" and ")
}

impl Relation<'_> {
    /// The condition tying a child row (alias `child`) to its parent row (alias `parent`).
    pub fn join_condition(&self, parent: &str, child: &str) -> String {
        match self.junction {
            Some((junction, to_target)) => {
                let j = "pgrst_junction";
                format!(
                    "exists (select 1 from {} {j} where {} and {})",
                    qualified(&junction.schema, &junction.name),
                    pairs(j, &self.fk.columns, parent, &self.fk.ref_columns),
                    pairs(j, &to_target.columns, child, &to_target.ref_columns),
                )
            }
            None if self.parent_holds_fk => {
                pairs(parent, &self.fk.columns, child, &self.fk.ref_columns)
            }
            None => pairs(child, &self.fk.columns, parent, &self.fk.ref_columns),
        }
    }
}

fn same(t: &Table, key: &(String, String)) -> bool {
    t.schema == key.0 && t.name == key.1
}

fn matches_hint(fk: &ForeignKey, hint: Option<&str>) -> bool {
    match hint {
        None => true,
        Some(h) => fk.name == h || fk.columns.len() == 1 && fk.columns[0] == h,
    }
}

/// Finds the relationship from `parent` to the resource named `name`.
pub fn resolve<'a>(
    cache: &'a SchemaCache,
    parent: &'a Table,
    name: &str,
    hint: Option<&str>,
) -> Result<Relation<'a>, PgrstError> {
    let mut found: Vec<Relation<'a>> = Vec::new();
    for fk in &cache.foreign_keys {
        let by_column = fk.columns.len() == 1 && fk.columns[0] == name;
        // Many-to-one: parent.fk → target (by table name, or by the FK column / constraint name).
        // A table referencing itself names its children by the table's name (one-to-many, below)
        // and its parent by the column, without a hint, as PostgREST does.
        let names_target = if fk.table == fk.ref_table {
            (by_column || fk.name == name) && hint.is_none()
        } else {
            fk.ref_table.1 == name || fk.name == name || by_column
        };
        if same(parent, &fk.table)
            && names_target
            && matches_hint(fk, hint)
            && let Some(target) = cache.table(&fk.ref_table.0, &fk.ref_table.1)
        {
            found.push(Relation {
                target,
                to_one: true,
                fk,
                parent_holds_fk: true,
                junction: None,
            });
        }
        // One-to-many: target.fk → parent.
        if same(parent, &fk.ref_table)
            && fk.table.1 == name
            && matches_hint(fk, hint)
            && let Some(target) = cache.table(&fk.table.0, &fk.table.1)
        {
            // A foreign key that is also a unique key of the child makes it one-to-one.
            let to_one = target.is_unique(&fk.columns);
            found.push(Relation {
                target,
                to_one,
                fk,
                parent_holds_fk: false,
                junction: None,
            });
        }
    }
    if found.is_empty() {
        // Many-to-many: a junction table J with fk1 → parent and fk2 → target.
        for fk1 in cache
            .foreign_keys
            .iter()
            .filter(|fk| same(parent, &fk.ref_table))
        {
            let Some(junction) = cache.table(&fk1.table.0, &fk1.table.1) else {
                continue;
            };
            for fk2 in cache
                .foreign_keys
                .iter()
                .filter(|fk| fk.table == fk1.table && fk.name != fk1.name && fk.ref_table.1 == name)
            {
                if !matches_hint(fk1, hint)
                    && !matches_hint(fk2, hint)
                    && hint != Some(junction.name.as_str())
                {
                    continue;
                }
                if let Some(target) = cache.table(&fk2.ref_table.0, &fk2.ref_table.1) {
                    found.push(Relation {
                        target,
                        to_one: false,
                        fk: fk1,
                        parent_holds_fk: false,
                        junction: Some((junction, fk2)),
                    });
                }
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(PgrstError::new(
            400,
            "PGRST200",
            format!(
                "Could not find a relationship between '{}' and '{name}' in the schema cache",
                parent.name
            ),
        )
        .hint(
            "Verify that the tables are related by a foreign key, or use a hint (table!fk_name).",
        )),
        _ => {
            let details: Vec<String> = found
                .iter()
                .map(|r| {
                    format!(
                        "{} using {}({})",
                        r.target.name,
                        r.fk.name,
                        r.fk.columns.join(", ")
                    )
                })
                .collect();
            Err(PgrstError::new(300, "PGRST201", format!("Could not embed because more than one relationship was found for '{}' and '{name}'", parent.name))
                .details(details.join("; "))
                .hint(format!("Try changing '{name}' to one of the foreign keys, e.g. '{name}!{}'", found[0].fk.name)))
        }
    }
}
