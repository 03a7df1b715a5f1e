//! From token valences to the four scores (`_but_check`, `score_valence` and its helpers).

use std::collections::{BTreeSet, HashMap};

/// The "but" rule: valences before the first `but` count half, those after it one and a half.
///
/// The reference rewrites `sentiments[sentiments.index(v)]` for each value `v` it iterates over,
/// i.e. the *first* position holding an equal value, which is not always the position being
/// visited ("good good but good" scales the first `good` twice). This reproduces that: zeros stay
/// zero wherever they land, and each non-zero value goes to the first position equal to it.
pub(super) fn apply_but(is_but: impl Iterator<Item = bool>, valences: &mut [f64]) {
    let Some(but) = is_but.into_iter().position(|b| b) else {
        return;
    };
    let scale = |at: usize, v: f64| match at.cmp(&but) {
        std::cmp::Ordering::Less => v * 0.5,
        std::cmp::Ordering::Greater => v * 1.5,
        std::cmp::Ordering::Equal => v,
    };
    let non_zero = valences.iter().filter(|v| **v != 0.0).count();
    if non_zero <= 64 {
        // Few rated words (any normal message): scan for the first equal value.
        for visit in 0..valences.len() {
            let v = valences[visit];
            if v != 0.0 {
                let first = valences[..visit]
                    .iter()
                    .position(|&x| x == v)
                    .unwrap_or(visit);
                valences[first] = scale(first, v);
            }
        }
    } else {
        // Many (a pasted novel): index the positions of each value so it stays O(n log n).
        // Non-zero values are finite, so equal values are equal bit patterns.
        let mut at: HashMap<u64, BTreeSet<usize>> = HashMap::new();
        for (i, v) in valences.iter().enumerate().filter(|(_, v)| **v != 0.0) {
            at.entry(v.to_bits()).or_default().insert(i);
        }
        for visit in 0..valences.len() {
            let v = valences[visit];
            if v == 0.0 {
                continue;
            }
            let first = at
                .get_mut(&v.to_bits())
                .and_then(|positions| positions.pop_first())
                .unwrap_or(visit);
            let scaled = scale(first, v);
            valences[first] = scaled;
            if scaled != 0.0 {
                at.entry(scaled.to_bits()).or_default().insert(first);
            }
        }
    }
}

/// `_punctuation_emphasis`: 0.292 per `!` (at most 4), and 0.18 per `?` when there are 2 or 3
/// (0.96 for more); a single `?` adds nothing.
pub(super) fn punctuation_emphasis(text: &str) -> f64 {
    let count = |c: u8| text.bytes().filter(|b| *b == c).count();
    let exclamations = count(b'!').min(4) as f64 * 0.292;
    let questions = match count(b'?') {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f64 * 0.18,
        _ => 0.96,
    };
    exclamations + questions
}

/// The reference's four numbers, before rounding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Raw {
    pub compound: f64,
    pub pos: f64,
    pub neu: f64,
    pub neg: f64,
}

/// `score_valence`: the emphasis moves the sum away from zero (a zero sum stays zero) and is
/// added to whichever of the positive and negative sides is larger.
pub(super) fn score(valences: &[f64], emphasis: f64) -> Raw {
    if valences.is_empty() {
        return Raw {
            compound: 0.0,
            pos: 0.0,
            neu: 0.0,
            neg: 0.0,
        };
    }
    // Plain left-to-right addition, as Python's `sum` did before 3.12.
    let mut sum: f64 = valences.iter().fold(0.0, |acc, v| acc + v);
    if sum > 0.0 {
        sum += emphasis;
    } else if sum < 0.0 {
        sum -= emphasis;
    }

    // Each rated word weighs its valence plus one, so that neutral words (1 each) compare.
    let (mut pos_sum, mut neg_sum, mut neutral) = (0.0_f64, 0.0_f64, 0_u32);
    for &v in valences {
        if v > 0.0 {
            pos_sum += v + 1.0;
        } else if v < 0.0 {
            neg_sum += v - 1.0;
        } else {
            neutral += 1;
        }
    }
    if pos_sum > neg_sum.abs() {
        pos_sum += emphasis;
    } else if pos_sum < neg_sum.abs() {
        neg_sum -= emphasis;
    }
    let total = pos_sum + neg_sum.abs() + f64::from(neutral);
    Raw {
        compound: normalize(sum),
        pos: (pos_sum / total).abs(),
        neu: (f64::from(neutral) / total).abs(),
        neg: (neg_sum / total).abs(),
    }
}

/// `normalize` with α = 15: s / √(s² + α), kept in [−1, 1].
fn normalize(sum: f64) -> f64 {
    (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0)
}

/// Python's `round(x, places)` for 3 or 4 places: the double nearest to the correctly rounded
/// decimal (ties to even on the exact binary value).
///
/// `x · 10ⁿ` is off by far less than 10⁻⁶ for scores this small, so unless it lies that close to
/// a half, rounding it picks the right last digit, and the division (both operands exact) gives
/// the nearest double to that decimal. Near a half, Rust's fixed-precision formatting, which
/// rounds the exact binary value, decides.
pub(super) fn round(x: f64, places: usize) -> f64 {
    let scale = if places == 3 { 1e3 } else { 1e4 };
    let scaled = x * scale;
    if scaled.abs() < 1e12 && (scaled.fract().abs() - 0.5).abs() > 1e-6 {
        return scaled.round() / scale;
    }
    format!("{x:.places$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference's loop, written the way Python runs it.
    fn but_reference(is_but: &[bool], valences: &mut [f64]) {
        let Some(but) = is_but.iter().position(|b| *b) else {
            return;
        };
        for visit in 0..valences.len() {
            let v = valences[visit];
            let si = valences.iter().position(|&x| x == v).unwrap_or(visit);
            if si < but {
                valences[si] = v * 0.5;
            } else if si > but {
                valences[si] = v * 1.5;
            }
        }
    }

    #[test]
    fn but_rule_matches_the_reference_loop_on_repeats_and_on_long_texts() {
        // Values drawn from a few so that repeats, and halves equal to other values, occur.
        let pool = [0.0, 1.9, 0.95, 2.85, -2.5, -1.25, -3.75, 0.475, 1.425];
        let mut seed = 7_u64;
        for round in 0..4000 {
            let len = if round % 10 == 0 { 300 } else { 1 + round % 12 };
            let mut valences = Vec::with_capacity(len);
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                valences.push(pool[(seed >> 33) as usize % pool.len()]);
            }
            let but_at = (seed >> 20) as usize % len;
            let is_but: Vec<bool> = (0..len).map(|i| i == but_at).collect();
            let mut expected = valences.clone();
            but_reference(&is_but, &mut expected);
            apply_but(is_but.iter().copied(), &mut valences);
            assert_eq!(valences, expected, "round {round}");
        }
    }

    #[test]
    fn a_first_equal_value_takes_the_scaling() {
        let mut v = [1.9, 0.95, 0.0, 0.95];
        apply_but([false, false, true, false].into_iter(), &mut v);
        // 1.9 → 0.95 at 0; then 0.95 at 1 is found at 0 (→ 0.475); the last 0.95 is found at 1.
        assert_eq!(v, [0.475, 0.475, 0.0, 0.95]);
    }

    #[test]
    fn one_question_mark_adds_nothing_and_exclamations_stop_at_four() {
        assert_eq!(punctuation_emphasis("why?"), 0.0);
        assert_eq!(punctuation_emphasis("why??"), 2.0 * 0.18);
        assert_eq!(punctuation_emphasis("why????"), 0.96);
        assert_eq!(punctuation_emphasis("no!!!!!!"), 4.0 * 0.292);
    }

    #[test]
    fn a_zero_sum_keeps_its_emphasis_out_of_the_compound() {
        assert_eq!(score(&[0.0, 0.0], 1.0).compound, 0.0);
    }

    #[test]
    fn fast_rounding_equals_formatting() {
        let mut seed = 11_u64;
        for _ in 0..200_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let x = ((seed >> 11) as f64 / (1_u64 << 53) as f64) * 2.0 - 1.0;
            for places in [3, 4] {
                let slow: f64 = format!("{x:.places$}").parse().unwrap();
                assert_eq!(
                    round(x, places).to_bits(),
                    slow.to_bits(),
                    "{x} to {places}"
                );
            }
        }
    }

    #[test]
    fn rounding_is_pythons() {
        assert_eq!(round(0.0625, 3), 0.062);
        assert_eq!(round(0.1875, 3), 0.188);
        assert_eq!(round(2.6745, 3), 2.675); // 2.674500000000000099… in binary
        assert_eq!(round(0.00125, 4), 0.0013); // 0.00125000000000000002…
        assert_eq!(round(0.03125, 4), 0.0312);
        assert_eq!(round(-0.00001, 4), 0.0);
        assert_eq!(round(0.4404, 4), 0.4404);
    }
}
