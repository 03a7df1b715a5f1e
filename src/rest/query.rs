//! The query string of a data-API request, parsed: `select`, filters and logic trees (for the
//! main resource and for embedded ones, by their path), `order`, `limit`, `offset`, `columns`,
//! `on_conflict`, and (for `GET /rpc`) function arguments.

use std::collections::HashMap;

use super::{
    errors::PgrstError,
    grammar::{self, Field, Logic, LogicOp, OrderTerm, SelectItem},
};

/// Filters, order and paging for the resource at one embedding path (`[]` = the main one).
#[derive(Debug, Default, Clone)]
pub struct Modifiers {
    /// ANDed conditions.
    pub filters: Vec<Logic>,
    /// Sort keys.
    pub order: Vec<OrderTerm>,
    /// `limit`.
    pub limit: Option<i64>,
    /// `offset`.
    pub offset: Option<i64>,
}

/// A parsed query string.
#[derive(Debug, Default, Clone)]
pub struct Query {
    /// `select`.
    pub select: Vec<SelectItem>,
    /// Modifiers by embedding path.
    pub modifiers: HashMap<Vec<String>, Modifiers>,
    /// `columns` (bulk insert).
    pub columns: Option<Vec<String>>,
    /// `on_conflict`.
    pub on_conflict: Option<Vec<String>>,
    /// `GET /rpc` arguments, in order.
    pub args: Vec<(String, String)>,
}

impl Query {
    /// The modifiers of the main resource.
    pub fn root(&self) -> Modifiers {
        self.modifiers.get(&Vec::new()).cloned().unwrap_or_default()
    }

    /// Whether the main resource has any filter (guards unfiltered PATCH/DELETE).
    pub fn has_root_filters(&self) -> bool {
        self.modifiers
            .get(&Vec::new())
            .is_some_and(|m| !m.filters.is_empty())
    }
}

/// Splits `a.b."c.d"` on dots outside quotes.
fn split_key(key: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in key.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                cur.push(ch);
            }
            '.' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    parts.push(cur);
    parts
}

fn non_negative(name: &str, value: &str) -> Result<i64, PgrstError> {
    match value.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Ok(n),
        Ok(_) => Err(
            PgrstError::new(416, "PGRST103", "Requested range not satisfiable")
                .details(format!("{name} must not be negative")),
        ),
        Err(_) => Err(PgrstError::new(
            400,
            "PGRST100",
            format!("failed to parse {name} parameter ({value})"),
        )
        .details("expecting a non-negative integer")),
    }
}

fn column_list(name: &str, value: &str) -> Result<Vec<String>, PgrstError> {
    let items = grammar::parse_select(name, value)?;
    items
        .into_iter()
        .map(|item| match item {
            SelectItem::Field {
                alias: None,
                field,
                cast: None,
            } if field.path.is_empty() => Ok(field.name),
            _ => Err(PgrstError::new(
                400,
                "PGRST100",
                format!("failed to parse {name} parameter ({value})"),
            )
            .details("expecting column names")),
        })
        .collect()
}

/// Parses decoded query pairs. `arg_names` are the parameters of the called function (RPC), whose
/// values are arguments rather than filters.
pub fn parse(pairs: &[(String, String)], arg_names: &[String]) -> Result<Query, PgrstError> {
    let mut q = Query {
        select: vec![SelectItem::Star],
        ..Default::default()
    };
    for (key, value) in pairs {
        match key.as_str() {
            "select" => {
                q.select = grammar::parse_select("select", value)?;
                continue;
            }
            "columns" => {
                q.columns = Some(column_list("columns", value)?);
                continue;
            }
            "on_conflict" => {
                q.on_conflict = Some(column_list("on_conflict", value)?);
                continue;
            }
            k if arg_names.iter().any(|a| a == k) => {
                q.args.push((key.clone(), value.clone()));
                continue;
            }
            _ => {}
        }
        let mut parts = split_key(key);
        let Some(last) = parts.pop() else { continue };
        // `not.or` / `not.and` keep the `not` as the segment before the combinator.
        let negate_logic =
            parts.last().is_some_and(|p| p == "not") && (last == "or" || last == "and");
        if negate_logic {
            parts.pop();
        }
        let path: Vec<String> = parts
            .into_iter()
            .map(|p| p.trim_matches('"').to_owned())
            .collect();
        let m = q.modifiers.entry(path).or_default();
        match last.as_str() {
            "order" => m.order = grammar::parse_order("order", value)?,
            "limit" => m.limit = Some(non_negative("limit", value)?),
            "offset" => m.offset = Some(non_negative("offset", value)?),
            "or" => m
                .filters
                .push(grammar::parse_logic(key, LogicOp::Or, negate_logic, value)?),
            "and" => m.filters.push(grammar::parse_logic(
                key,
                LogicOp::And,
                negate_logic,
                value,
            )?),
            _ => {
                let mut c_key = last.clone();
                if c_key.starts_with('"') && c_key.ends_with('"') && c_key.len() >= 2 {
                    c_key = c_key[1..c_key.len() - 1].to_owned();
                    m.filters.push(Logic::Filter(grammar::parse_filter(
                        key,
                        Field::column(&c_key),
                        value,
                    )?));
                } else {
                    let field = parse_field(key, &last)?;
                    m.filters
                        .push(Logic::Filter(grammar::parse_filter(key, field, value)?));
                }
            }
        }
    }
    Ok(q)
}

fn parse_field(key: &str, text: &str) -> Result<Field, PgrstError> {
    let items = grammar::parse_select(key, text)?;
    match items.as_slice() {
        [
            SelectItem::Field {
                alias: None,
                field,
                cast: None,
            },
        ] => Ok(field.clone()),
        _ => Err(
            PgrstError::new(400, "PGRST100", format!("failed to parse filter ({key})"))
                .details("expecting a column name"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn filters_land_on_their_embedding_path() {
        let q = parse(
            &pairs(&[
                ("status", "eq.open"),
                ("deals.amount", "gt.10"),
                ("deals.order", "amount.desc"),
                ("deals.limit", "2"),
                ("not.or", "(a.eq.1,b.eq.2)"),
            ]),
            &[],
        )
        .unwrap();
        let root = q.root();
        assert_eq!(root.filters.len(), 2);
        assert!(matches!(
            &root.filters[1],
            Logic::Tree {
                negate: true,
                op: LogicOp::Or,
                ..
            }
        ));
        let deals = &q.modifiers[&vec!["deals".to_owned()]];
        assert_eq!(deals.filters.len(), 1);
        assert_eq!(deals.limit, Some(2));
        assert!(deals.order[0].desc);
    }

    #[test]
    fn json_path_and_quoted_keys() {
        let q = parse(&pairs(&[("data->>k", "eq.v"), ("\"a.b\"", "eq.1")]), &[]).unwrap();
        let root = q.root();
        let Logic::Filter(f) = &root.filters[0] else {
            panic!()
        };
        assert_eq!(f.field.name, "data");
        let Logic::Filter(g) = &root.filters[1] else {
            panic!()
        };
        assert_eq!(g.field.name, "a.b");
    }

    #[test]
    fn paging_and_lists() {
        let q = parse(
            &pairs(&[
                ("limit", "5"),
                ("offset", "10"),
                ("columns", "\"a\",\"b\""),
                ("on_conflict", "email"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!((q.root().limit, q.root().offset), (Some(5), Some(10)));
        assert_eq!(q.columns.unwrap(), ["a", "b"]);
        assert_eq!(q.on_conflict.unwrap(), ["email"]);
        assert_eq!(
            parse(&pairs(&[("limit", "-1")]), &[]).unwrap_err().code,
            "PGRST103"
        );
        assert_eq!(
            parse(&pairs(&[("limit", "ten")]), &[]).unwrap_err().code,
            "PGRST100"
        );
    }

    #[test]
    fn rpc_arguments_are_not_filters() {
        let q = parse(&pairs(&[("x", "1"), ("y", "eq.2")]), &["x".to_owned()]).unwrap();
        assert_eq!(q.args, vec![("x".to_owned(), "1".to_owned())]);
        assert_eq!(q.root().filters.len(), 1);
    }
}
