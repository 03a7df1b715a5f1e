//! The PostgREST query grammar (`reference/supabase-api.md` §3.2): `select`, horizontal filters,
//! logic trees, `order`. Pure parsing into a typed tree; identifiers are resolved against the
//! schema cache later, values are always bound, never spliced into SQL.

mod filter;
mod order;
mod select;
mod text;

pub use filter::{Filter, Logic, LogicOp, Op, Operand, Quantifier, parse_filter, parse_logic};
pub use order::{Nulls, OrderTerm, parse_order};
pub use select::{Join, SelectItem, parse_select};

/// A column, possibly followed by a JSON path (`data->a->>b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The column name.
    pub name: String,
    /// JSON path steps after the column.
    pub path: Vec<JsonStep>,
}

impl Field {
    /// A plain column.
    pub fn column(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            path: Vec::new(),
        }
    }

    /// The key a selected field gets in the result, as PostgREST names it: the path's last
    /// object key (`data->a->0` → `a`), else the column name (`tags->0` → `tags`).
    pub fn output_name(&self) -> String {
        self.path
            .iter()
            .rev()
            .find_map(|step| match &step.key {
                JsonKey::Name(k) => Some(k.clone()),
                JsonKey::Index(_) => None,
            })
            .unwrap_or_else(|| self.name.clone())
    }
}

/// One `->` or `->>` step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonStep {
    /// `->>` (text) rather than `->` (json).
    pub as_text: bool,
    /// The key or array index.
    pub key: JsonKey,
}

/// A JSON object key or array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonKey {
    /// `->key`.
    Name(String),
    /// `->0`, `->-1`.
    Index(i64),
}

/// A grammar error: PGRST100 with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// `failed to parse select parameter (…)`.
    pub message: String,
    /// What was unexpected and where.
    pub details: String,
}

impl ParseError {
    fn new(param: &str, input: &str, pos: usize, expected: &str) -> Self {
        let rest: String = input.chars().skip(pos).take(20).collect();
        let found = if rest.is_empty() {
            "end of input".to_owned()
        } else {
            format!("\"{rest}\"")
        };
        Self {
            message: format!("failed to parse {param} parameter ({input})"),
            details: format!("unexpected {found} at position {pos}, expecting {expected}"),
        }
    }
}

#[cfg(test)]
mod tests;
