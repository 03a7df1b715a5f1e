//! The per-token rules of VADER 3.3.2 (`polarity_scores` → `sentiment_valence`): a token's
//! lexicon rating, adjusted by `no`, ALL CAPS, the boosters and negations among the three tokens
//! before it, the special idioms and `least`.
//!
//! Quirks of the reference kept on purpose (each has a golden sentence):
//! - a token preceded by `no` takes `rating × −0.74` even after an earlier rule zeroed it;
//! - CAPS on a token whose valence is 0 (a `no` before a rated word) makes it −0.733;
//! - at distance 3, a `so`/`this` right before the word multiplies by 1.25 whether or not
//!   `never` comes first (an operator-precedence slip in the reference);
//! - the idiom and `least` checks only look at tokens the lexicon does not rate.

use super::{
    lexicon::{self, BOOSTER_BIGRAMS, C_INCR, N_SCALAR, SPECIAL_CASES},
    tokens::Tokens,
};

/// The valence of every token, in order, before the "but" rule.
pub(super) fn valences(tokens: &Tokens) -> Vec<f64> {
    let caps = tokens.cap_differential();
    (0..tokens.len())
        .map(|i| valence(tokens, i, caps))
        .collect()
}

fn valence(tokens: &Tokens, i: usize, caps: bool) -> f64 {
    // Unrated words score nothing (the reference tests boosters first; either way it is 0).
    let Some(rating) = tokens.items.get(i).and_then(|token| token.rating) else {
        return 0.0;
    };
    let word = tokens.lower(i);
    // Boosters, dampeners and the `kind` of `kind of` modify others and score nothing.
    if lexicon::booster(word).is_some() || (word == "kind" && tokens.lower(i + 1) == "of") {
        return 0.0;
    }
    let mut v = rating;

    // `no` before a rated word negates that word instead of counting itself.
    if word == "no" && tokens.in_lexicon(i + 1) {
        v = 0.0;
    }
    if preceded_by_no(tokens, i) {
        v = rating * N_SCALAR;
    }

    if caps && tokens.items[i].upper {
        v += if v > 0.0 { C_INCR } else { -C_INCR };
    }

    // Look back over up to three tokens; only those the lexicon does not rate modify the word.
    for distance in 1..=3 {
        if i < distance || tokens.in_lexicon(i - distance) {
            continue;
        }
        let scalar = booster_scalar(tokens, i - distance, v, caps);
        v += match distance {
            2 if scalar != 0.0 => scalar * 0.95,
            3 if scalar != 0.0 => scalar * 0.9,
            _ => scalar,
        };
        v = negation(tokens, i, distance, v);
        if distance == 3 {
            v = idioms(tokens, i, v);
        }
    }

    least(tokens, i, v)
}

/// `no` one or two tokens back, or three back with `or`/`nor` just before the word.
fn preceded_by_no(tokens: &Tokens, i: usize) -> bool {
    let back = |n: usize| i >= n && tokens.lower(i - n) == "no";
    back(1) || back(2) || (back(3) && matches!(tokens.lower(i - 1), "or" | "nor"))
}

/// `scalar_inc_dec`: what the booster or dampener at `j` adds to a word of valence `v` — away
/// from zero for a booster, towards it for a dampener, more if the modifier alone is in CAPS.
fn booster_scalar(tokens: &Tokens, j: usize, v: f64, caps: bool) -> f64 {
    let Some(b) = lexicon::booster(tokens.lower(j)) else {
        return 0.0;
    };
    let mut scalar = if v < 0.0 { -b } else { b };
    if caps && tokens.items[j].upper {
        scalar += if v > 0.0 { C_INCR } else { -C_INCR };
    }
    scalar
}

/// `_negation_check` for the token `distance` places before word `i`.
fn negation(tokens: &Tokens, i: usize, distance: usize, v: f64) -> f64 {
    let w = |n: usize| tokens.lower(i - n);
    let so_or_this = |n: usize| matches!(w(n), "so" | "this");
    let negator = lexicon::is_negation(w(distance));
    match distance {
        1 if negator => v * N_SCALAR,
        2 if w(2) == "never" && so_or_this(1) => v * 1.25,
        2 if w(2) == "without" && w(1) == "doubt" => v,
        2 if negator => v * N_SCALAR,
        // As in the reference, `so`/`this` just before the word counts without `never`.
        3 if (w(3) == "never" && so_or_this(2)) || so_or_this(1) => v * 1.25,
        3 if w(3) == "without" && (w(2) == "doubt" || w(1) == "doubt") => v,
        3 if negator => v * N_SCALAR,
        _ => v,
    }
}

/// `_special_idioms_check` (only reached for `i >= 3`): a special phrase around the word replaces
/// its valence, then the two-word dampeners `kind of`, `sort of`, `just enough` before it add.
fn idioms(tokens: &Tokens, i: usize, mut v: f64) -> f64 {
    let phrase = |start: usize, len: usize| -> Option<f64> {
        SPECIAL_CASES
            .iter()
            .find(|(words, _)| words.len() == len && tokens.spells(start, words))
            .map(|&(_, value)| value)
    };
    // The reference's order: "w-1 w", "w-2 w-1 w", "w-2 w-1", "w-3 w-2 w-1", "w-3 w-2"; first wins.
    let behind = [(i - 1, 2), (i - 2, 3), (i - 2, 2), (i - 3, 3), (i - 3, 2)];
    if let Some(value) = behind.iter().find_map(|&(start, len)| phrase(start, len)) {
        v = value;
    }
    // Then "w w+1" and "w w+1 w+2", each overriding what came before.
    for len in [2, 3] {
        if let Some(value) = phrase(i, len) {
            v = value;
        }
    }
    // "w-3 w-2 w-1" can match no two-word entry, so only "w-3 w-2" and "w-2 w-1" are left.
    for start in [i - 3, i - 2] {
        for (words, value) in &BOOSTER_BIGRAMS {
            if tokens.spells(start, words) {
                v += value;
            }
        }
    }
    v
}

/// `_least_check`: `least` right before the word negates it, unless `at least` / `very least`.
fn least(tokens: &Tokens, i: usize, v: f64) -> f64 {
    if i == 0 || tokens.in_lexicon(i - 1) || tokens.lower(i - 1) != "least" {
        return v;
    }
    if i > 1 && matches!(tokens.lower(i - 2), "at" | "very") {
        v
    } else {
        v * N_SCALAR
    }
}
