//! `select=`: columns, aliases, casts, JSON paths and embedded resources.

use super::{Field, ParseError, text::Cursor};

/// How an embedded resource joins its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Parents without a match are kept (`null` / `[]`).
    Left,
    /// Parents without a match are dropped (`!inner`).
    Inner,
}

/// One item of `select`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    /// `*`.
    Star,
    /// A column or JSON path, optionally aliased and cast.
    Field {
        /// `alias:`.
        alias: Option<String>,
        /// The column and JSON path.
        field: Field,
        /// `::type`.
        cast: Option<String>,
    },
    /// A related resource: `alias:rel!hint!inner(items)` or `...rel(items)`.
    Embed {
        /// `alias:`.
        alias: Option<String>,
        /// The related table (or the FK/column naming the relationship).
        relation: String,
        /// `!fk_name` or `!column` to pick among several relationships.
        hint: Option<String>,
        /// `!inner` / `!left`.
        join: Join,
        /// `...rel(...)`: merge a to-one relation's columns into the parent.
        spread: bool,
        /// What to select from it.
        items: Vec<SelectItem>,
    },
}

/// Parses a `select` value (`*` when empty).
pub fn parse_select(param: &str, input: &str) -> Result<Vec<SelectItem>, ParseError> {
    if input.trim().is_empty() {
        return Ok(vec![SelectItem::Star]);
    }
    let mut c = Cursor::new(param, input);
    let items = items(&mut c, 0)?;
    c.skip_spaces();
    if !c.at_end() {
        return Err(c.error("\",\" or end of input"));
    }
    Ok(items)
}

/// Deepest embedding accepted.
const MAX_DEPTH: usize = 8;

fn items(c: &mut Cursor<'_>, depth: usize) -> Result<Vec<SelectItem>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(c.error(&format!("at most {MAX_DEPTH} levels of embedding")));
    }
    let mut out = vec![item(c, depth)?];
    loop {
        c.skip_spaces();
        if !c.eat(",") {
            return Ok(out);
        }
        out.push(item(c, depth)?);
    }
}

/// A type name for `::cast`: letters, digits and `_`, optionally `[]`. Casts are written into the
/// SQL, so nothing else is accepted.
fn cast(c: &mut Cursor<'_>) -> Result<String, ParseError> {
    let mut name = String::new();
    while let Some(ch) = c.peek() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            name.push(ch);
            c.bump();
        } else {
            break;
        }
    }
    if c.eat("[]") {
        name.push_str("[]");
    }
    if name.is_empty() || name.starts_with(|ch: char| ch.is_ascii_digit()) {
        return Err(c.error("a type name"));
    }
    Ok(name)
}

fn item(c: &mut Cursor<'_>, depth: usize) -> Result<SelectItem, ParseError> {
    c.skip_spaces();
    if c.eat("*") {
        return Ok(SelectItem::Star);
    }
    let spread = c.eat("...");
    let first = c.field()?;
    let (alias, target) =
        if c.peek() == Some(':') && c.peek_at(1) != Some(':') && first.path.is_empty() {
            c.bump();
            (Some(first.name), c.field()?)
        } else {
            (None, first)
        };
    c.skip_spaces();
    if matches!(c.peek(), Some('!' | '(')) {
        if !target.path.is_empty() {
            return Err(c.error("\",\" (a JSON path cannot be embedded)"));
        }
        let mut hint = None;
        let mut join = Join::Left;
        while c.eat("!") {
            match c.name("a relationship hint")?.as_str() {
                "inner" => join = Join::Inner,
                "left" => join = Join::Left,
                other => hint = Some(other.to_owned()),
            }
        }
        c.expect("(")?;
        c.skip_spaces();
        if c.peek() == Some(')') {
            if target.name == "count" {
                return Err(aggregates_disabled(c));
            }
            c.bump();
            return Ok(SelectItem::Embed {
                alias,
                relation: target.name,
                hint,
                join,
                spread,
                items: vec![],
            });
        }
        let inner = items(c, depth + 1)?;
        c.skip_spaces();
        c.expect(")")?;
        return Ok(SelectItem::Embed {
            alias,
            relation: target.name,
            hint,
            join,
            spread,
            items: inner,
        });
    }
    if spread {
        return Err(c.error("\"(\" after a spread relation"));
    }
    if c.peek() == Some('.') {
        return Err(aggregates_disabled(c));
    }
    let cast = if c.eat("::") { Some(cast(c)?) } else { None };
    Ok(SelectItem::Field {
        alias,
        field: target,
        cast,
    })
}

fn aggregates_disabled(c: &Cursor<'_>) -> ParseError {
    ParseError {
        message: "Use of aggregate functions is not allowed".into(),
        details: format!("in the {} parameter", c.param),
    }
}
