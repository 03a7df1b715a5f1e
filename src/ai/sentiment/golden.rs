//! Golden test: every text of `golden/sentences.txt`, scored by the Python reference into
//! `golden/golden.tsv` by `scripts/sentiment-golden.py`, must score the same here — compound to
//! 4 places, pos/neu/neg to 3, i.e. the same rounded doubles.
//!
//! The sentences under "§1.5 deviations" cover what the existing crates get wrong (the shared
//! reference `ai-and-analytics.md` §1.5): a single `?` and the amplifier on a zero sum ("How
//! do I add a second admin?"), the inverted `least` rule ("The product is at least good"),
//! dropped one-character tokens ("That is not a good answer."), the missing `no` rule ("There is
//! no good option here."), the `bus stop`/`beating heart` idioms and `heart`/`hearts`, the
//! distance-3 `never so/this` precedence ("The service was so good today.") and CAPS.

use super::analyze;

/// (compound, pos, neu, neg, text) of each golden line.
pub(super) fn golden() -> Vec<([f64; 4], String)> {
    super::golden_file::rows().unwrap()
}

#[test]
fn every_golden_sentence_scores_exactly_as_the_reference() {
    let golden = golden();
    assert!(golden.len() >= 300, "{} golden texts", golden.len());
    let mismatches: Vec<String> = golden
        .iter()
        .filter_map(|(expected, text)| {
            let s = analyze(text);
            let got = [s.compound, s.pos, s.neu, s.neg];
            (got != *expected).then(|| format!("{text:?}: got {got:?}, reference {expected:?}"))
        })
        .collect();
    assert!(
        mismatches.is_empty(),
        "{} of {} differ:\n{}",
        mismatches.len(),
        golden.len(),
        mismatches.join("\n")
    );
}

#[test]
fn golden_set_covers_the_edge_cases() {
    let texts: Vec<String> = golden().into_iter().map(|(_, text)| text).collect();
    assert!(texts.iter().any(String::is_empty));
    assert!(texts.iter().any(|t| t.split_whitespace().count() > 400));
    assert!(texts.iter().any(|t| t.contains('😀')));
}
