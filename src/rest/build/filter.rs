//! The SQL of conditions: `and`/`or`/`not` trees and each filter's operator, with values bound.

use super::{Embeds, Level, field_expr, presence};
use crate::rest::{
    errors::PgrstError,
    grammar::{Filter, Logic, LogicOp, Op, Operand, Quantifier},
    sql::{Bind, Sql},
};

/// The SQL of one condition tree. A filter naming one of the level's `embeds` rather than a
/// column (`rel=is.null`, `or=(rel.not.is.null,…)`) tests whether the embed found rows; other
/// operators on an embed are PGRST120.
pub fn condition(
    sql: &mut Sql,
    level: &Level<'_>,
    embeds: &Embeds,
    logic: &Logic,
) -> Result<String, PgrstError> {
    match logic {
        Logic::Filter(f) => match embedded(level, embeds, f) {
            Some((expr, to_one)) => {
                let present = match (&f.op, &f.operand) {
                    (Op::Is, Operand::Is("null")) => false,
                    (Op::Is, Operand::Is("not_null")) => true,
                    _ => {
                        return Err(PgrstError::new(
                            400,
                            "PGRST120",
                            "Bad operator on the embedded resource",
                        )
                        .details(
                            "Only is null or not is null filters are allowed on embedded resources",
                        ));
                    }
                };
                Ok(presence(expr, to_one, present != f.negate))
            }
            None => filter(sql, level, f),
        },
        Logic::Tree {
            op,
            negate,
            children,
        } => {
            let joiner = if *op == LogicOp::And { " and " } else { " or " };
            let parts = children
                .iter()
                .map(|c| condition(sql, level, embeds, c))
                .collect::<Result<Vec<_>, _>>()?;
            let body = format!("({})", parts.join(joiner));
            Ok(if *negate { format!("not {body}") } else { body })
        }
    }
}

/// The expression and cardinality of the embed `f` names, when it names one and no column.
fn embedded<'e>(level: &Level<'_>, embeds: &'e Embeds, f: &Filter) -> Option<(&'e str, bool)> {
    if !f.field.path.is_empty() || level.table.column(&f.field.name).is_some() {
        return None;
    }
    embeds
        .exprs
        .iter()
        .find(|(k, _, _)| *k == f.field.name)
        .map(|(_, expr, to_one)| (expr.as_str(), *to_one))
}

fn filter(sql: &mut Sql, level: &Level<'_>, f: &Filter) -> Result<String, PgrstError> {
    let (lhs, ty) = field_expr(sql, level, &f.field)?;
    let value = |sql: &mut Sql| match &f.operand {
        Operand::Value(v) => sql.bind(Bind::Text(v.clone())),
        Operand::List(l) => sql.bind(Bind::Texts(l.clone())),
        Operand::Is(_) => String::new(),
    };
    let like = |v: &str| v.replace('*', "%");
    let expr = match (f.op, f.quantifier) {
        (Op::Is, _) => {
            let Operand::Is(v) = &f.operand else {
                return Err(PgrstError::new(
                    400,
                    "PGRST100",
                    "is needs null, not_null, true, false or unknown",
                ));
            };
            match *v {
                "not_null" => format!("{lhs} is not null"),
                other => format!("{lhs} is {other}"),
            }
        }
        (Op::In, _) => format!("{lhs} = any({}::text[]::{ty}[])", value(sql)),
        (op @ (Op::Like | Op::Ilike), q) => {
            let word = if op == Op::Like { "like" } else { "ilike" };
            match (&f.operand, q) {
                (Operand::List(l), Some(q)) => {
                    let p = sql.bind(Bind::Texts(l.iter().map(|v| like(v)).collect()));
                    format!("{lhs}::text {word} {}({p}::text[])", quant(q))
                }
                (Operand::Value(v), _) => {
                    format!("{lhs}::text {word} {}", sql.bind(Bind::Text(like(v))))
                }
                _ => return Err(PgrstError::new(400, "PGRST100", "like needs a pattern")),
            }
        }
        (op, Some(q)) => {
            let p = value(sql);
            let sym = comparison(op).ok_or_else(|| {
                PgrstError::new(400, "PGRST100", "this operator takes no (any)/(all)")
            })?;
            if matches!(op, Op::Match | Op::Imatch) {
                format!("{lhs}::text {sym} {}({p}::text[])", quant(q))
            } else {
                format!("{lhs} {sym} {}({p}::text[]::{ty}[])", quant(q))
            }
        }
        (Op::Match, None) => format!("{lhs}::text ~ {}", value(sql)),
        (Op::Imatch, None) => format!("{lhs}::text ~* {}", value(sql)),
        (Op::IsDistinct, None) => format!("{lhs} is distinct from {}::{ty}", value(sql)),
        (op, None) if op.is_fts() => {
            let func = match op {
                Op::Plfts => "plainto_tsquery",
                Op::Phfts => "phraseto_tsquery",
                Op::Wfts => "websearch_to_tsquery",
                _ => "to_tsquery",
            };
            let cfg = f
                .fts_config
                .as_ref()
                .map(|c| format!("{}::regconfig, ", sql.bind(Bind::Text(c.clone()))));
            let cfg = cfg.unwrap_or_default();
            let doc = if ty == "tsvector" {
                lhs.clone()
            } else {
                format!("to_tsvector({cfg}{lhs}::text)")
            };
            format!("{doc} @@ {func}({cfg}{})", value(sql))
        }
        (op, None) => {
            let sym = comparison(op)
                .ok_or_else(|| PgrstError::new(400, "PGRST100", "unsupported operator"))?;
            format!("{lhs} {sym} {}::{ty}", value(sql))
        }
    };
    Ok(if f.negate {
        format!("not ({expr})")
    } else {
        expr
    })
}

fn quant(q: Quantifier) -> &'static str {
    match q {
        Quantifier::Any => "any",
        Quantifier::All => "all",
    }
}

fn comparison(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::Eq => "=",
        Op::Neq => "<>",
        Op::Gt => ">",
        Op::Gte => ">=",
        Op::Lt => "<",
        Op::Lte => "<=",
        Op::Match => "~",
        Op::Imatch => "~*",
        Op::Cs => "@>",
        Op::Cd => "<@",
        Op::Ov => "&&",
        Op::Sl => "<<",
        Op::Sr => ">>",
        Op::Nxr => "&<",
        Op::Nxl => "&>",
        Op::Adj => "-|-",
        _ => return None,
    })
}
