//! Horizontal filters (`col=[not.]op[(modifier)].value`) and logic trees (`or=(…)`, `and=(…)`).

use super::{Field, ParseError, text::Cursor};

/// A filter operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    Ilike,
    Match,
    Imatch,
    In,
    Is,
    IsDistinct,
    Fts,
    Plfts,
    Phfts,
    Wfts,
    Cs,
    Cd,
    Ov,
    Sl,
    Sr,
    Nxr,
    Nxl,
    Adj,
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "like" => Self::Like,
            "ilike" => Self::Ilike,
            "match" => Self::Match,
            "imatch" => Self::Imatch,
            "in" => Self::In,
            "is" => Self::Is,
            "isdistinct" => Self::IsDistinct,
            "fts" => Self::Fts,
            "plfts" => Self::Plfts,
            "phfts" => Self::Phfts,
            "wfts" => Self::Wfts,
            "cs" => Self::Cs,
            "cd" => Self::Cd,
            "ov" => Self::Ov,
            "sl" => Self::Sl,
            "sr" => Self::Sr,
            "nxr" => Self::Nxr,
            "nxl" => Self::Nxl,
            "adj" => Self::Adj,
            _ => return None,
        })
    }

    /// Operators that take `(any)` / `(all)`.
    fn quantifiable(self) -> bool {
        matches!(
            self,
            Self::Eq
                | Self::Like
                | Self::Ilike
                | Self::Gt
                | Self::Gte
                | Self::Lt
                | Self::Lte
                | Self::Match
                | Self::Imatch
        )
    }

    /// Full-text operators, which take an optional `(config)`.
    pub fn is_fts(self) -> bool {
        matches!(self, Self::Fts | Self::Plfts | Self::Phfts | Self::Wfts)
    }
}

/// `(any)` / `(all)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// `= ANY(…)`.
    Any,
    /// `= ALL(…)`.
    All,
}

/// What a filter compares with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// One raw value (Postgres casts it to the column's type).
    Value(String),
    /// `in.(a,b)` and quantified `{a,b}` lists.
    List(Vec<String>),
    /// `is.null|not_null|true|false|unknown`.
    Is(&'static str),
}

/// One condition on a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Column or JSON path.
    pub field: Field,
    /// `not.`.
    pub negate: bool,
    /// The operator.
    pub op: Op,
    /// `(any)` / `(all)`.
    pub quantifier: Option<Quantifier>,
    /// Full-text search configuration, `fts(english)`.
    pub fts_config: Option<String>,
    /// The value(s).
    pub operand: Operand,
}

/// `and` / `or`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicOp {
    /// All must hold.
    And,
    /// One must hold.
    Or,
}

/// A condition tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Logic {
    /// A leaf.
    Filter(Filter),
    /// `[not.]and(…)` / `[not.]or(…)`.
    Tree {
        /// Combinator.
        op: LogicOp,
        /// `not.`.
        negate: bool,
        /// Children.
        children: Vec<Logic>,
    },
}

/// Deepest logic nesting accepted.
const MAX_DEPTH: usize = 16;

/// Reads `[not.]op[(modifier)].` and then the operand with `value` reading the rest.
fn operator(
    c: &mut Cursor<'_>,
) -> Result<(bool, Op, Option<Quantifier>, Option<String>), ParseError> {
    let mut negate = false;
    let mut name = c.name("an operator")?;
    if name == "not" {
        c.expect(".")?;
        negate = true;
        name = c.name("an operator")?;
    }
    let op = Op::parse(&name).ok_or_else(|| c.error("an operator (eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, isdistinct, fts, plfts, phfts, wfts, cs, cd, ov, sl, sr, nxr, nxl, adj)"))?;
    let mut quantifier = None;
    let mut fts_config = None;
    if c.eat("(") {
        let modifier = c.name("a modifier")?;
        c.expect(")")?;
        match modifier.as_str() {
            "any" if op.quantifiable() => quantifier = Some(Quantifier::Any),
            "all" if op.quantifiable() => quantifier = Some(Quantifier::All),
            config if op.is_fts() => fts_config = Some(config.to_owned()),
            _ => return Err(c.error("(any), (all), or a text search configuration")),
        }
    }
    c.expect(".")?;
    Ok((negate, op, quantifier, fts_config))
}

/// Parses an `in` list `(a,b,"c,d")` or a quantified list `{a,b}`.
fn list(c: &mut Cursor<'_>, open: &str, close: char) -> Result<Vec<String>, ParseError> {
    c.expect(open)?;
    let mut out = Vec::new();
    if c.eat(&close.to_string()) {
        return Ok(out);
    }
    loop {
        c.skip_spaces();
        let value = if c.peek() == Some('"') {
            c.quoted()?
        } else {
            let mut v = String::new();
            while let Some(ch) = c.peek() {
                if ch == ',' || ch == close {
                    break;
                }
                v.push(ch);
                c.bump();
            }
            v.trim().to_owned()
        };
        out.push(value);
        c.skip_spaces();
        if c.eat(",") {
            continue;
        }
        if c.eat(&close.to_string()) {
            return Ok(out);
        }
        return Err(c.error(&format!("\",\" or \"{close}\"")));
    }
}

fn is_value(c: &Cursor<'_>, raw: &str) -> Result<&'static str, ParseError> {
    Ok(match raw.to_ascii_lowercase().as_str() {
        "null" => "null",
        "not_null" => "not_null",
        "true" => "true",
        "false" => "false",
        "unknown" => "unknown",
        _ => return Err(c.error("null, not_null, true, false or unknown")),
    })
}

/// Reads the operand: the rest of the input (top level) or up to the next `,`/`)` (in a tree).
fn operand(
    c: &mut Cursor<'_>,
    op: Op,
    quantifier: Option<Quantifier>,
    in_tree: bool,
) -> Result<Operand, ParseError> {
    if op == Op::In {
        return Ok(Operand::List(list(c, "(", ')')?));
    }
    if quantifier.is_some() {
        return Ok(Operand::List(list(c, "{", '}')?));
    }
    let raw = if !in_tree {
        c.rest()
    } else if c.peek() == Some('"') {
        c.quoted()?
    } else {
        let mut v = String::new();
        let mut depth = 0usize;
        while let Some(ch) = c.peek() {
            match ch {
                '{' | '[' => depth += 1,
                '}' | ']' => depth = depth.saturating_sub(1),
                ',' | ')' if depth == 0 => break,
                _ => {}
            }
            v.push(ch);
            c.bump();
        }
        v
    };
    if op == Op::Is {
        return Ok(Operand::Is(is_value(c, raw.trim())?));
    }
    Ok(Operand::Value(raw))
}

/// Parses the value of a filter parameter whose key named `field`.
pub fn parse_filter(param: &str, field: Field, value: &str) -> Result<Filter, ParseError> {
    let mut c = Cursor::new(param, value);
    let (negate, op, quantifier, fts_config) = operator(&mut c)?;
    let operand = operand(&mut c, op, quantifier, false)?;
    c.skip_spaces();
    if !c.at_end() {
        return Err(c.error("end of input after the list"));
    }
    Ok(Filter {
        field,
        negate,
        op,
        quantifier,
        fts_config,
        operand,
    })
}

/// Parses `or=(…)` / `and=(…)` (with `negate` for `not.or` / `not.and`).
pub fn parse_logic(
    param: &str,
    op: LogicOp,
    negate: bool,
    value: &str,
) -> Result<Logic, ParseError> {
    let mut c = Cursor::new(param, value);
    let children = tree_body(&mut c, 0)?;
    c.skip_spaces();
    if !c.at_end() {
        return Err(c.error("end of input"));
    }
    Ok(Logic::Tree {
        op,
        negate,
        children,
    })
}

fn tree_body(c: &mut Cursor<'_>, depth: usize) -> Result<Vec<Logic>, ParseError> {
    if depth > MAX_DEPTH {
        return Err(c.error(&format!("at most {MAX_DEPTH} levels of nesting")));
    }
    c.expect("(")?;
    let mut children = Vec::new();
    loop {
        children.push(tree_item(c, depth)?);
        c.skip_spaces();
        if c.eat(",") {
            continue;
        }
        c.expect(")")?;
        return Ok(children);
    }
}

fn tree_item(c: &mut Cursor<'_>, depth: usize) -> Result<Logic, ParseError> {
    c.skip_spaces();
    let negate = c.eat("not.");
    for (word, op) in [("and", LogicOp::And), ("or", LogicOp::Or)] {
        if c.looking_at(&format!("{word}(")) {
            c.eat(word);
            return Ok(Logic::Tree {
                op,
                negate,
                children: tree_body(c, depth + 1)?,
            });
        }
    }
    if negate {
        return Err(c.error("and( or or( after not."));
    }
    let field = c.field()?;
    c.expect(".")?;
    let (negate, op, quantifier, fts_config) = operator(c)?;
    let operand = operand(c, op, quantifier, true)?;
    Ok(Logic::Filter(Filter {
        field,
        negate,
        op,
        quantifier,
        fts_config,
        operand,
    }))
}
