//! Any query string, decoded as the data API decodes it, goes through the grammar: the parser
//! answers a query or a PGRST error, never a panic, and does so the same way twice.

#![no_main]

use bizbase::rest::query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(raw) else {
        return;
    };
    let args = ["a".to_owned(), "b".to_owned()];
    // Modifiers live in a map, so whole queries are compared by outcome, errors by content.
    match (query::parse(&pairs, &args), query::parse(&pairs, &args)) {
        (Ok(_), Ok(_)) => {}
        (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        _ => panic!("parsing is not deterministic"),
    }
});
