//! `order=c1.desc.nullslast,c2,rel(c3).asc`.

use super::{Field, ParseError, text::Cursor};

/// Where NULLs sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    /// `nullsfirst`.
    First,
    /// `nullslast`.
    Last,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    /// `rel(field)`: a column of a to-one embedded resource (its name or alias in `select`).
    pub relation: Option<String>,
    /// Column or JSON path.
    pub field: Field,
    /// Descending.
    pub desc: bool,
    /// Explicit NULL placement.
    pub nulls: Option<Nulls>,
}

/// Parses an `order` value.
pub fn parse_order(param: &str, input: &str) -> Result<Vec<OrderTerm>, ParseError> {
    let mut c = Cursor::new(param, input);
    let mut terms = Vec::new();
    loop {
        let mut field = c.field()?;
        let mut relation = None;
        if field.path.is_empty() && c.eat("(") {
            relation = Some(field.name);
            field = c.field()?;
            c.expect(")")?;
        }
        let mut term = OrderTerm {
            relation,
            field,
            desc: false,
            nulls: None,
        };
        while c.eat(".") {
            match c.name("asc, desc, nullsfirst or nullslast")?.as_str() {
                "asc" => term.desc = false,
                "desc" => term.desc = true,
                "nullsfirst" => term.nulls = Some(Nulls::First),
                "nullslast" => term.nulls = Some(Nulls::Last),
                _ => return Err(c.error("asc, desc, nullsfirst or nullslast")),
            }
        }
        terms.push(term);
        c.skip_spaces();
        if c.at_end() {
            return Ok(terms);
        }
        c.expect(",")?;
    }
}
