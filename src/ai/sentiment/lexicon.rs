//! The VADER 3.3.2 word lists: the rated lexicon and the emoji descriptions (both embedded from the
//! PyPI package, MIT, © 2016 C.J. Hutto — see `THIRD_PARTY.md`), and the rule words the reference
//! keeps in its source (`NEGATE`, `BOOSTER_DICT`, `SPECIAL_CASES`).

use std::{collections::HashMap, sync::LazyLock};

/// `vader_lexicon.txt`: `token \t mean \t sd \t [ratings]`, CRLF line ends, 7,520 lines.
const LEXICON_TXT: &str = include_str!("data/vader_lexicon.txt");
/// `emoji_utf8_lexicon.txt`: `emoji \t description`, CRLF line ends.
const EMOJI_TXT: &str = include_str!("data/emoji_utf8_lexicon.txt");

/// Token → mean rating in [−4, 4]. Stored as `f64` so each value is the very double Python's
/// `float()` makes of the same text (an `f32` would not round-trip `-0.4`, and it saves no memory:
/// the entry is padded to 24 bytes either way).
static LEXICON: LazyLock<HashMap<&'static str, f64>> = LazyLock::new(|| {
    pairs(LEXICON_TXT)
        .filter_map(|(token, mean)| Some((token, mean.parse().ok()?)))
        .collect()
});

/// Emoji (as the file spells it, mostly one code point) → its CLDR short name.
static EMOJI: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| pairs(EMOJI_TXT).collect());

/// The first two tab-separated fields of each non-empty line, as `make_lex_dict` reads them.
/// Collecting into a map lets a later duplicate line win, as the Python dict does (`ok` is 1.2).
fn pairs(text: &'static str) -> impl Iterator<Item = (&'static str, &'static str)> {
    text.split('\n').filter_map(|line| {
        let mut fields = line.trim().split('\t');
        let key = fields.next().filter(|key| !key.is_empty())?;
        Some((key, fields.next()?))
    })
}

/// The lexicon's mean rating of a lower-cased token, if it has one.
pub fn valence(lower: &str) -> Option<f64> {
    LEXICON.get(lower).copied()
}

/// The description VADER puts in place of an emoji (`"😀"` → `"grinning face"`).
pub(super) fn emoji_description(emoji: &str) -> Option<&'static str> {
    EMOJI.get(emoji).copied()
}

/// Builds both maps now rather than on the first message (for benchmarks and warm-up).
pub fn load() {
    LazyLock::force(&LEXICON);
    LazyLock::force(&EMOJI);
}

/// Degree modifier increment (paper, Table 3).
pub(super) const B_INCR: f64 = 0.293;
const B_DECR: f64 = -0.293;
/// Added to a word (or a booster) in ALL CAPS among words that are not.
pub(super) const C_INCR: f64 = 0.733;
/// Multiplier of a negated word.
pub(super) const N_SCALAR: f64 = -0.74;

/// `BOOSTER_DICT` entries of one token: intensifiers add, dampeners subtract.
pub(super) fn booster(lower: &str) -> Option<f64> {
    match lower {
        "absolutely" | "amazingly" | "awfully" | "completely" | "considerable" | "considerably"
        | "decidedly" | "deeply" | "effing" | "enormous" | "enormously" | "entirely"
        | "especially" | "exceptional" | "exceptionally" | "extreme" | "extremely"
        | "fabulously" | "flipping" | "flippin" | "frackin" | "fracking" | "fricking"
        | "frickin" | "frigging" | "friggin" | "fully" | "fuckin" | "fucking" | "fuggin"
        | "fugging" | "greatly" | "hella" | "highly" | "hugely" | "incredible" | "incredibly"
        | "intensely" | "major" | "majorly" | "more" | "most" | "particularly" | "purely"
        | "quite" | "really" | "remarkably" | "so" | "substantially" | "thoroughly" | "total"
        | "totally" | "tremendous" | "tremendously" | "uber" | "unbelievably" | "unusually"
        | "utter" | "utterly" | "very" => Some(B_INCR),
        "almost" | "barely" | "hardly" | "kinda" | "kindof" | "kind-of" | "less" | "little"
        | "marginal" | "marginally" | "occasional" | "occasionally" | "partly" | "scarce"
        | "scarcely" | "slight" | "slightly" | "somewhat" | "sorta" | "sortof" | "sort-of" => {
            Some(B_DECR)
        }
        _ => None,
    }
}

/// `BOOSTER_DICT` entries of two tokens; only the distance-3 idiom check can match them.
pub(super) const BOOSTER_BIGRAMS: [([&str; 2], f64); 3] = [
    (["just", "enough"], B_DECR),
    (["kind", "of"], B_DECR),
    (["sort", "of"], B_DECR),
];

/// `SPECIAL_CASES`: phrases whose value replaces the word's (checked at distance 3 only).
/// `badass`, one token, is in the reference's table too but no sequence it builds can match it.
pub(super) const SPECIAL_CASES: [(&[&str], f64); 8] = [
    (&["the", "shit"], 3.0),
    (&["the", "bomb"], 3.0),
    (&["bad", "ass"], 1.5),
    (&["bus", "stop"], 0.0),
    (&["yeah", "right"], -2.0),
    (&["kiss", "of", "death"], -1.5),
    (&["to", "die", "for"], 3.0),
    (&["beating", "heart"], 3.5),
];

/// `NEGATE`, in the reference's order.
const NEGATE: [&str; 59] = [
    "aint",
    "arent",
    "cannot",
    "cant",
    "couldnt",
    "darent",
    "didnt",
    "doesnt",
    "ain't",
    "aren't",
    "can't",
    "couldn't",
    "daren't",
    "didn't",
    "doesn't",
    "dont",
    "hadnt",
    "hasnt",
    "havent",
    "isnt",
    "mightnt",
    "mustnt",
    "neither",
    "don't",
    "hadn't",
    "hasn't",
    "haven't",
    "isn't",
    "mightn't",
    "mustn't",
    "neednt",
    "needn't",
    "never",
    "none",
    "nope",
    "nor",
    "not",
    "nothing",
    "nowhere",
    "oughtnt",
    "shant",
    "shouldnt",
    "uhuh",
    "wasnt",
    "werent",
    "oughtn't",
    "shan't",
    "shouldn't",
    "uh-uh",
    "wasn't",
    "weren't",
    "without",
    "wont",
    "wouldnt",
    "won't",
    "wouldn't",
    "rarely",
    "seldom",
    "despite",
];

/// `negated([word])`: one of the `NEGATE` words, or any word containing `n't`.
pub(super) fn is_negation(lower: &str) -> bool {
    NEGATE.contains(&lower) || lower.contains("n't")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_has_every_distinct_token_and_later_duplicates_win() {
        assert_eq!(LEXICON.len(), 7506);
        assert_eq!(valence("ok"), Some(1.2));
        assert_eq!(valence("lol"), Some(1.8));
        assert_eq!(valence("$:"), Some(-1.5));
        assert_eq!(valence("%)"), Some(-0.4));
        assert_eq!(valence("the"), None);
    }

    #[test]
    fn emoji_map_has_every_line_and_no_ascii_keys() {
        assert_eq!(EMOJI.len(), 3570);
        assert_eq!(emoji_description("😀"), Some("grinning face"));
        // `replace_emoji` skips ASCII text on the strength of this.
        assert!(EMOJI.keys().all(|key| !key.is_ascii()));
    }

    #[test]
    fn negations_count_like_the_reference() {
        for word in [
            "not",
            "isn't",
            "without",
            "uh-uh",
            "despite",
            "shouldn't",
            "y'all'n't",
        ] {
            assert!(is_negation(word), "{word}");
        }
        for word in ["no", "but", "isn’t", "knot"] {
            assert!(!is_negation(word), "{word}");
        }
    }
}
