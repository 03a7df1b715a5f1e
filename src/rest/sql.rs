//! SQL text with bound values. Identifiers written here come from the schema cache and are
//! quoted; every value from the request is a bind parameter.

use serde_json::Value;

/// A value bound to `$n`.
#[derive(Debug, Clone)]
pub enum Bind {
    /// Text (cast in SQL to the column's type).
    Text(String),
    /// A text array (`in`, `any`/`all`).
    Texts(Vec<String>),
    /// A JSON document (request bodies).
    Json(Value),
}

/// SQL under construction.
#[derive(Debug, Default)]
pub struct Sql {
    /// Bound values, `$1` first.
    pub binds: Vec<Bind>,
    /// Embedding paths the select list resolved (to check that modifiers name one).
    pub embedded: std::collections::HashSet<Vec<String>>,
    next_alias: usize,
}

impl Sql {
    /// Binds a value and returns its placeholder.
    pub fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// A fresh table alias (`pgrst_1`, …).
    pub fn alias(&mut self) -> String {
        self.next_alias += 1;
        format!("pgrst_{}", self.next_alias)
    }

    /// Binds everything to a query.
    pub fn apply<'q, O>(
        binds: &'q [Bind],
        mut q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Texts(t) => q.bind(t),
                Bind::Json(j) => q.bind(j),
            };
        }
        q
    }

    /// Binds everything to a plain query.
    pub fn apply_plain<'q>(
        binds: &'q [Bind],
        mut q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Texts(t) => q.bind(t),
                Bind::Json(j) => q.bind(j),
            };
        }
        q
    }
}

/// `"name"` with inner quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"schema"."name"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_cannot_escape() {
        assert_eq!(ident("leads"), "\"leads\"");
        assert_eq!(
            ident("a\"; drop table x; --"),
            "\"a\"\"; drop table x; --\""
        );
        assert_eq!(qualified("public", "t"), "\"public\".\"t\"");
    }

    #[test]
    fn placeholders_count_up() {
        let mut s = Sql::default();
        assert_eq!(s.bind(Bind::Text("a".into())), "$1");
        assert_eq!(s.bind(Bind::Texts(vec![])), "$2");
        assert_eq!(s.alias(), "pgrst_1");
    }
}
