//! From text to VADER's tokens: emoji replaced by their names, split on whitespace the way
//! Python's `str.split()` does, punctuation stripped only off words, and each token's lower-case
//! form, lexicon rating and shape computed once.

use std::borrow::Cow;

use super::lexicon;

/// Python's `str.isspace()`: Unicode `White_Space` plus the four ASCII information separators
/// (U+001C–U+001F), which Python splits on and Rust's `char::is_whitespace` does not.
pub(super) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Replaces every emoji the lexicon names by its description, with a space before it unless the
/// previous character was a space or another emoji, then strips surrounding whitespace — the first
/// step of `polarity_scores`. Borrows when there is nothing to replace.
pub(super) fn replace_emoji(text: &str) -> Cow<'_, str> {
    // No emoji key is ASCII (checked in lexicon's tests), so ASCII text needs no look-ups.
    if text.is_ascii() {
        return Cow::Borrowed(text.trim_matches(is_py_space));
    }
    let mut out: Option<String> = None;
    let mut prev_space = true;
    for (at, c) in text.char_indices() {
        let here = &text[at..at + c.len_utf8()];
        match lexicon::emoji_description(here) {
            Some(description) => {
                let out = out.get_or_insert_with(|| text[..at].to_owned());
                if !prev_space {
                    out.push(' ');
                }
                out.push_str(description);
                prev_space = false;
            }
            None => {
                if let Some(out) = out.as_mut() {
                    out.push(c);
                }
                prev_space = c == ' ';
            }
        }
    }
    match out {
        Some(out) => Cow::Owned(out.trim_matches(is_py_space).to_owned()),
        None => Cow::Borrowed(text.trim_matches(is_py_space)),
    }
}

/// One whitespace-separated word or emoticon, with what the rules ask of it.
#[derive(Debug)]
pub(super) struct Token {
    /// Byte range of `raw.lower()` in [`Tokens::lower_buf`].
    lower: (usize, usize),
    /// Python's `raw.isupper()`.
    pub upper: bool,
    /// The lexicon's rating of the lower-cased token.
    pub rating: Option<f64>,
}

/// The tokens of one text; their lower-case forms share one buffer instead of a `String` each.
#[derive(Debug)]
pub(super) struct Tokens {
    pub items: Vec<Token>,
    lower_buf: String,
}

impl Tokens {
    /// `SentiText._words_and_emoticons`.
    pub fn new(text: &str) -> Self {
        let mut items = Vec::new();
        let mut lower_buf = String::with_capacity(text.len());
        for raw in words(text) {
            let start = lower_buf.len();
            push_lower(&mut lower_buf, raw);
            let rating = lexicon::valence(&lower_buf[start..]);
            items.push(Token {
                lower: (start, lower_buf.len()),
                upper: is_upper(raw),
                rating,
            });
        }
        Tokens { items, lower_buf }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The lower-cased token at `i`; `""` past the end, which equals no word the rules look for.
    pub fn lower(&self, i: usize) -> &str {
        self.items
            .get(i)
            .and_then(|token| self.lower_buf.get(token.lower.0..token.lower.1))
            .unwrap_or("")
    }

    /// Whether the lower-cased token at `i` has a lexicon rating.
    pub fn in_lexicon(&self, i: usize) -> bool {
        self.items
            .get(i)
            .is_some_and(|token| token.rating.is_some())
    }

    /// Whether the lower-cased tokens from `start` on spell `words`.
    pub fn spells(&self, start: usize, words: &[&str]) -> bool {
        start + words.len() <= self.len()
            && words
                .iter()
                .enumerate()
                .all(|(k, word)| self.lower(start + k) == *word)
    }

    /// `allcap_differential`: some tokens, but not all, are ALL CAPS.
    pub fn cap_differential(&self) -> bool {
        let upper = self.items.iter().filter(|token| token.upper).count();
        upper > 0 && upper < self.len()
    }
}

/// The words as VADER keeps them: split on whitespace, punctuation stripped off words.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(is_py_space)
        .filter(|word| !word.is_empty())
        .map(strip_punctuation_if_word)
}

/// `_strip_punc_if_word`: strip ASCII punctuation (Python's `string.punctuation`) off both ends
/// unless at most two characters would remain — which keeps `:)` and `<3`, and also `ok.`.
fn strip_punctuation_if_word(word: &str) -> &str {
    let stripped = word.trim_matches(|c: char| c.is_ascii_punctuation());
    if stripped.chars().nth(2).is_none() {
        word
    } else {
        stripped
    }
}

/// Appends Python's `word.lower()` (full Unicode mapping, final sigma included).
fn push_lower(buf: &mut String, word: &str) {
    if word.is_ascii() {
        buf.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        buf.push_str(&word.to_lowercase());
    }
}

/// Python's `str.isupper()`: at least one upper-case character, and none lower- or title-case.
pub(super) fn is_upper(word: &str) -> bool {
    let mut cased = false;
    for c in word.chars() {
        if c.is_lowercase() || is_titlecase(c) {
            return false;
        }
        cased |= c.is_uppercase();
    }
    cased
}

/// The 31 characters of category Lt (stable since Unicode 3.2).
fn is_titlecase(c: char) -> bool {
    matches!(c,
        '\u{1c5}' | '\u{1c8}' | '\u{1cb}' | '\u{1f2}'
        | '\u{1f88}'..='\u{1f8f}' | '\u{1f98}'..='\u{1f9f}' | '\u{1fa8}'..='\u{1faf}'
        | '\u{1fbc}' | '\u{1fcc}' | '\u{1ffc}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(text: &str) -> Vec<&str> {
        words(text).collect()
    }

    #[test]
    fn punctuation_is_stripped_only_off_words_longer_than_two_characters() {
        assert_eq!(
            raws("Great!!! :) <3 ok. I a, (yes) :-( \"hello,\""),
            ["Great", ":)", "<3", "ok.", "I", "a,", "yes", ":-(", "hello"]
        );
        // Code points, not bytes: "é!" keeps its "!", "éte!" loses it.
        assert_eq!(raws("é! éte!"), ["é!", "éte"]);
    }

    #[test]
    fn splits_on_what_python_calls_whitespace() {
        assert_eq!(
            raws("a\u{1c}b\u{a0}c\u{3000}d\u{2028}e\u{200b}f"),
            ["a", "b", "c", "d", "e\u{200b}f"]
        );
    }

    #[test]
    fn upper_follows_python_isupper() {
        assert!(is_upper("SUX"));
        assert!(is_upper("A1!"));
        assert!(is_upper("ÉTÉ"));
        assert!(!is_upper("Sux"));
        assert!(!is_upper(":)"));
        assert!(!is_upper("123"));
        assert!(!is_upper("A\u{1c5}"));
    }

    #[test]
    fn emoji_become_their_names_with_a_space_before_unless_one_is_there() {
        assert_eq!(replace_emoji("ok😀"), "ok grinning face");
        assert_eq!(replace_emoji("ok 😀"), "ok grinning face");
        assert_eq!(replace_emoji("😀😡"), "grinning face pouting face");
        assert_eq!(replace_emoji(" 😀! "), "grinning face!");
        assert!(matches!(
            replace_emoji("plain text"),
            Cow::Borrowed("plain text")
        ));
    }

    #[test]
    fn lower_cases_the_whole_token_like_python() {
        let tokens = Tokens::new("GREAT ΟΔΟΣ İs");
        assert_eq!(tokens.lower(0), "great");
        assert_eq!(tokens.lower(1), "οδος");
        assert_eq!(tokens.lower(2), "i\u{307}s");
        assert_eq!(tokens.lower(3), "");
        assert_eq!(tokens.items[0].rating, Some(3.1));
    }
}
