//! Sentiment of a message: a faithful port of VADER 3.3.2 (Hutto & Gilbert, ICWSM-14; the
//! `vaderSentiment` package on PyPI), with its lexicons embedded.
//!
//! [`analyze`] gives the same `compound`/`pos`/`neu`/`neg` as the reference's
//! `polarity_scores`, quirks included — golden-tested against Python on the sentences in
//! `golden/` (see `scripts/sentiment-golden.py`) — plus a label and the words that weighed most.
//! The steps: emoji → names (`tokens`), per-word rules (`valence`), the "but" rule and
//! punctuation emphasis (`score`).

pub mod lexicon;
mod quoted;
mod score;
mod tokens;
mod valence;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod golden_file;

use serde::Serialize;

pub use quoted::own_words;

/// The model's name as stored with each score.
pub const MODEL: &str = "vader-3.3.2";

/// The scores of one text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sentiment {
    /// Normalised sum of the word valences in [−1, 1], rounded to 4 places like the reference.
    pub compound: f64,
    /// Share of the text's weight that is positive, rounded to 3 places like the reference.
    pub pos: f64,
    /// Share that is neutral (3 places).
    pub neu: f64,
    /// Share that is negative (3 places).
    pub neg: f64,
    /// [`Label`] of the rounded `compound`.
    pub label: Label,
    /// Up to three tokens that moved the score most (by |valence| after the rules), strongest first, with their valence.
    ///
    /// Tokens are lower-cased and distinct (a repeated word appears once, with its strongest
    /// valence); valences are rounded to 4 places; ties keep the order of the text.
    pub terms: Vec<(String, f64)>,
}

/// The authors' three classes: positive from +0.05, negative from −0.05.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// `compound <= -0.05`.
    Negative,
    /// Between the two thresholds.
    Neutral,
    /// `compound >= 0.05`.
    Positive,
}

impl Label {
    /// The label of a (rounded) compound score.
    pub fn of(compound: f64) -> Self {
        if compound >= 0.05 {
            Label::Positive
        } else if compound <= -0.05 {
            Label::Negative
        } else {
            Label::Neutral
        }
    }

    /// `"negative" | "neutral" | "positive"`, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Negative => "negative",
            Label::Neutral => "neutral",
            Label::Positive => "positive",
        }
    }
}

/// Scores one text (never panics, any input; empty text is neutral with compound 0).
pub fn analyze(text: &str) -> Sentiment {
    let text = tokens::replace_emoji(text);
    let tokens = tokens::Tokens::new(&text);
    let mut valences = valence::valences(&tokens);
    score::apply_but(
        (0..tokens.len()).map(|i| tokens.lower(i) == "but"),
        &mut valences,
    );
    let raw = score::score(&valences, score::punctuation_emphasis(&text));
    let compound = score::round(raw.compound, 4);
    Sentiment {
        compound,
        pos: score::round(raw.pos, 3),
        neu: score::round(raw.neu, 3),
        neg: score::round(raw.neg, 3),
        label: Label::of(compound),
        terms: strongest_terms(&tokens, &valences),
    }
}

/// The three distinct tokens of largest |valence|, strongest first.
fn strongest_terms(tokens: &tokens::Tokens, valences: &[f64]) -> Vec<(String, f64)> {
    let mut rated: Vec<(usize, f64)> = valences
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, v)| *v != 0.0)
        .collect();
    // Stable: equal strengths keep the order of the text.
    rated.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let mut terms: Vec<(String, f64)> = Vec::with_capacity(3);
    for (i, v) in rated {
        let word = tokens.lower(i);
        if terms.iter().all(|(seen, _)| seen != word) {
            terms.push((word.to_owned(), score::round(v, 4)));
            if terms.len() == 3 {
                break;
            }
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_text_is_neutral_with_compound_zero() {
        for text in ["", "   ", "\n\t"] {
            let s = analyze(text);
            assert_eq!((s.compound, s.pos, s.neu, s.neg), (0.0, 0.0, 0.0, 0.0));
            assert_eq!(s.label, Label::Neutral);
            assert!(s.terms.is_empty());
        }
    }

    #[test]
    fn labels_follow_the_thresholds_inclusively() {
        assert_eq!(Label::of(0.05), Label::Positive);
        assert_eq!(Label::of(0.0499), Label::Neutral);
        assert_eq!(Label::of(-0.0499), Label::Neutral);
        assert_eq!(Label::of(-0.05), Label::Negative);
        assert_eq!(analyze("The book was good.").label, Label::Positive);
        assert_eq!(analyze("The export is broken.").label, Label::Negative);
        assert_eq!(
            analyze("How do I add a second admin?").label,
            Label::Neutral
        );
    }

    #[test]
    fn label_strings_match_serde() {
        for label in [Label::Negative, Label::Neutral, Label::Positive] {
            let json = serde_json::to_string(&label).unwrap();
            assert_eq!(json, format!("\"{}\"", label.as_str()));
        }
    }

    #[test]
    fn terms_are_the_strongest_distinct_tokens_first() {
        let s = analyze("Great support, but the app is horrible and the docs are bad. Great!");
        let words: Vec<&str> = s.terms.iter().map(|(w, _)| w.as_str()).collect();
        // After "but" ×1.5: great 4.65, horrible −3.75, bad −3.75 (a tie: text order); the
        // first "great" (×0.5) is the same word and does not appear again.
        assert_eq!(words, ["great", "horrible", "bad"]);
        assert_eq!(s.terms[0].1, 4.65);
        assert_eq!(s.terms[1].1, -3.75);

        assert_eq!(analyze("ok").terms, [("ok".to_owned(), 1.2)]);
        assert!(analyze("the table").terms.is_empty());
    }

    #[test]
    fn huge_and_odd_input_does_not_panic() {
        let big = "this is VERY good but not great!!! no no bad ???? 😀 :) ".repeat(20_000);
        let s = analyze(&big);
        assert!((-1.0..=1.0).contains(&s.compound));
        assert!(s.terms.len() <= 3);
        for odd in [
            "\u{0}", "!!!", "????", "'", "a", "No", "kind", "but", "least", "\u{feff}",
        ] {
            let s = analyze(odd);
            assert!((-1.0..=1.0).contains(&s.compound), "{odd:?}");
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        /// Rule words, emoji and punctuation, so that generated texts reach every rule.
        const WORDS: &[&str] = &[
            "no", "not", "never", "so", "this", "without", "doubt", "least", "at", "very", "but",
            "kind", "of", "sort", "the", "bomb", "bus", "stop", "good", "GOOD", "bad", "BAD",
            "great", "ok.", ":)", "<3", "😀", "😡", "!", "?", "isn't", "a", "I", "or", "heart",
        ];

        fn in_range(s: &Sentiment) -> bool {
            (-1.0..=1.0).contains(&s.compound)
                && [s.pos, s.neu, s.neg]
                    .iter()
                    .all(|x| (0.0..=1.0).contains(x))
                && s.terms.len() <= 3
                && s.label == Label::of(s.compound)
        }

        proptest! {
            #[test]
            fn any_text_scores_in_range(text in "\\PC{0,80}|.{0,80}") {
                prop_assert!(in_range(&analyze(&text)));
            }

            #[test]
            fn rule_word_soup_scores_in_range(
                words in proptest::collection::vec(proptest::sample::select(WORDS), 0..40),
                glue in "[ \t\u{a0}\u{1c}]{1,2}",
            ) {
                let text = words.join(&glue);
                prop_assert!(in_range(&analyze(&text)));
            }
        }
    }

    #[test]
    fn model_name_names_the_reference_version() {
        assert_eq!(MODEL, "vader-3.3.2");
    }
}
