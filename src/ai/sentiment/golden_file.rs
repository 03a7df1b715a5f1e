//! The golden file (`golden/golden.tsv`, written by `scripts/sentiment-golden.py`): the
//! reference's scores of each text. Read by the golden test and by `bench/sentiment.rs`, which
//! includes this file by its path.

/// One line per text: `compound \t pos \t neu \t neg \t text`; `#` starts a comment line.
pub const GOLDEN: &str = include_str!("golden/golden.tsv");

/// `(compound, pos, neu, neg)` and the text of each line, or what is wrong with the first line
/// that does not read.
pub fn rows() -> Result<Vec<([f64; 4], String)>, String> {
    GOLDEN
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let fields: Vec<&str> = line.splitn(5, '\t').collect();
            let [c, p, u, n, text] = fields[..] else {
                return Err(format!("not five fields: {line:?}"));
            };
            let mut scores = [0.0; 4];
            for (score, field) in scores.iter_mut().zip([c, p, u, n]) {
                *score = field
                    .parse()
                    .map_err(|_| format!("not a number: {field:?} in {line:?}"))?;
            }
            Ok((scores, unescape(text)?))
        })
        .collect()
}

/// Undoes the script's escapes: `\\ \n \t \r \u{HEX}`.
fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                let code = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                out.push(code.ok_or_else(|| format!("bad \\u{{{hex}}} in {text:?}"))?);
            }
            other => return Err(format!("bad escape {other:?} in {text:?}")),
        }
    }
    Ok(out)
}
