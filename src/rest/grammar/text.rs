//! A small cursor over the characters of one parameter value.

use super::{Field, JsonKey, JsonStep, ParseError};

/// Characters that end an unquoted name.
const RESERVED: &[char] = &[',', '(', ')', ':', '!', '.', '"', '-', '>'];

/// A position in one parameter's text.
pub struct Cursor<'a> {
    /// The parameter name, for errors (`select`, `order`, `or`, …).
    pub param: &'a str,
    chars: Vec<char>,
    input: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(param: &'a str, input: &'a str) -> Self {
        Self {
            param,
            chars: input.chars().collect(),
            input,
            pos: 0,
        }
    }

    pub fn error(&self, expected: &str) -> ParseError {
        ParseError::new(self.param, self.input, self.pos, expected)
    }

    pub fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Whether the input continues with `s`.
    pub fn looking_at(&self, s: &str) -> bool {
        let n = s.chars().count();
        self.chars.len() >= self.pos + n
            && self.chars[self.pos..self.pos + n]
                .iter()
                .copied()
                .eq(s.chars())
    }

    /// Consumes `s` if the input continues with it.
    pub fn eat(&mut self, s: &str) -> bool {
        if self.looking_at(s) {
            self.pos += s.chars().count();
            true
        } else {
            false
        }
    }

    pub fn expect(&mut self, s: &str) -> Result<(), ParseError> {
        if self.eat(s) {
            Ok(())
        } else {
            Err(self.error(&format!("\"{s}\"")))
        }
    }

    pub fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    /// The rest of the input.
    pub fn rest(&mut self) -> String {
        let s: String = self.chars[self.pos..].iter().collect();
        self.pos = self.chars.len();
        s
    }

    /// A double-quoted string with `\"` and `\\` escapes (the opening quote is next).
    pub fn quoted(&mut self) -> Result<String, ParseError> {
        self.expect("\"")?;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("closing \"")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some(c) => out.push(c),
                    None => return Err(self.error("escaped character")),
                },
                Some(c) => out.push(c),
            }
        }
    }

    /// A name: quoted, or a run of characters that are not reserved (spaces inside are kept,
    /// surrounding ones trimmed).
    pub fn name(&mut self, what: &str) -> Result<String, ParseError> {
        self.skip_spaces();
        if self.peek() == Some('"') {
            let quoted = self.quoted()?;
            return self.without_nul(quoted);
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            if RESERVED.contains(&c) {
                break;
            }
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned();
        if name.is_empty() {
            self.pos = start;
            return Err(self.error(what));
        }
        self.without_nul(name)
    }

    /// `text`, unless it holds a NUL: no name can, and in a quoted identifier one would end the
    /// statement's text early.
    fn without_nul(&self, text: String) -> Result<String, ParseError> {
        if text.contains('\0') {
            return Err(self.error("no NUL character"));
        }
        Ok(text)
    }

    /// A column with an optional JSON path: `col`, `col->a->>b`, `col->0`.
    pub fn field(&mut self) -> Result<Field, ParseError> {
        let name = self.name("a column name")?;
        let mut path = Vec::new();
        loop {
            let as_text = if self.eat("->>") {
                true
            } else if self.eat("->") {
                false
            } else {
                break;
            };
            let key = if self.peek() == Some('"') {
                let quoted = self.quoted()?;
                JsonKey::Name(self.without_nul(quoted)?)
            } else {
                let raw = self.json_key()?;
                match raw.parse::<i64>() {
                    Ok(i) => JsonKey::Index(i),
                    Err(_) => JsonKey::Name(raw),
                }
            };
            path.push(JsonStep { as_text, key });
        }
        Ok(Field { name, path })
    }

    fn json_key(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        // A leading '-' belongs to a negative index.
        if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        while let Some(c) = self.peek() {
            if RESERVED.contains(&c) {
                break;
            }
            self.pos += 1;
        }
        let key: String = self.chars[start..self.pos].iter().collect();
        if key.trim().is_empty() {
            return Err(self.error("a JSON key"));
        }
        self.without_nul(key.trim().to_owned())
    }
}
