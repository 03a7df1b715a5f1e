//! Sentiment benchmark: messages per second through `ai::sentiment::analyze` on one thread, for
//! short chat messages and for a 400-word e-mail, against a ceiling measured in the same run —
//! splitting the same texts on whitespace and looking each lower-cased token up in the lexicon's
//! `HashMap`, which any lexicon scorer has to do (so the ratio says what the rules cost on top).
//!
//!     cargo build --release --bench sentiment && target/release/deps/sentiment-<hash>
//!
//! Texts: the golden sentences (`src/ai/sentiment/golden/golden.tsv`) of at most 40 words as the
//! chat messages, those of them with 8 words or more apart, and its "Hello support team" e-mail
//! (400 words). Options (environment):
//! BENCH_SECS (default 3) per phase.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use bizbase::ai::sentiment::{analyze, lexicon};

#[path = "../src/ai/sentiment/golden_file.rs"]
mod golden_file;

/// The golden file's texts.
fn golden_texts() -> Vec<String> {
    match golden_file::rows() {
        Ok(rows) => rows.into_iter().map(|(_, text)| text).collect(),
        Err(e) => {
            eprintln!("the golden file does not read: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs `score` over `texts` in rounds for about `secs`; returns messages per second.
fn rate(texts: &[String], secs: f64, mut score: impl FnMut(&str) -> f64) -> f64 {
    let budget = Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut messages = 0_u64;
    let mut sink = 0.0;
    while start.elapsed() < budget {
        for text in texts {
            sink += score(black_box(text));
        }
        messages += texts.len() as u64;
    }
    black_box(sink);
    messages as f64 / start.elapsed().as_secs_f64()
}

/// The ceiling: whitespace split, lower-case into one reused buffer, one lexicon look-up each.
fn lookups_only(text: &str, lower: &mut String) -> f64 {
    let mut sum = 0.0;
    for word in text.split_whitespace() {
        lower.clear();
        if word.is_ascii() {
            lower.extend(word.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        } else {
            lower.push_str(&word.to_lowercase());
        }
        sum += lexicon::valence(lower).unwrap_or(0.0);
    }
    sum
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3.0);
    lexicon::load();
    let texts = golden_texts();
    let words = |t: &String| t.split_whitespace().count();
    let chat: Vec<String> = texts.iter().filter(|t| words(t) <= 40).cloned().collect();
    let longer: Vec<String> = chat.iter().filter(|t| words(t) >= 8).cloned().collect();
    let email: Vec<String> = texts
        .iter()
        .filter(|t| t.starts_with("Hello support team,"))
        .cloned()
        .collect();
    assert_eq!(email.len(), 1, "the golden e-mail is missing");

    println!("sentiment (VADER 3.3.2 port), one thread, {secs} s per phase");
    println!("| texts | analyze | µs/message | ceiling: split + lookups | % of ceiling |");
    println!("|---|---|---|---|---|");
    let describe = |set: &[String]| {
        let average = set.iter().map(words).sum::<usize>() as f64 / set.len() as f64;
        format!("{} chat messages (avg {average:.1} words)", set.len())
    };
    for (name, set) in [
        (describe(&chat), &chat),
        (describe(&longer), &longer),
        (format!("e-mail ({} words)", words(&email[0])), &email),
    ] {
        let full = rate(set, secs, |t| analyze(t).compound);
        let mut lower = String::new();
        let ceiling = rate(set, secs, |t| lookups_only(t, &mut lower));
        println!(
            "| {name} | {full:.0} /s | {:.2} | {ceiling:.0} /s | {:.0} % |",
            1e6 / full,
            100.0 * full / ceiling
        );
    }
}
