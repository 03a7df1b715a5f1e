//! What a customer wrote themselves: an e-mail reply without the history it quotes. A reply
//! quotes the agent's last answer and the customer's first complaint, and scoring those again
//! would make every reply sound like the whole thread (the reference's advice, §2.10).

use std::borrow::Cow;

/// `text` without quoted lines (`> …`, `>> …`, a bare `>`) and the header introducing a quote
/// (`On Mon, 3 Jan 2026, Support <help@example.com> wrote:` — also when the mail client broke it
/// over two lines), keeping what the customer wrote above, between and below quotes; and without
/// everything from Outlook's `-----Original Message-----` on (the history it appends is not
/// marked line by line). An emoticon such as `>:(` is not a quote. Text without any of these
/// comes back as it is, unallocated.
pub fn own_words(text: &str) -> Cow<'_, str> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut kept = String::new();
    let mut changed = false;
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        let trimmed = line.trim();
        if trimmed.eq_ignore_ascii_case("-----original message-----") {
            changed = true;
            break;
        }
        if is_quote(trimmed) {
            changed = true;
            i += 1;
            continue;
        }
        if let Some(last) = header_end(&lines, i)
            && quote_follows(&lines, last + 1)
        {
            changed = true;
            i = last + 1;
            continue;
        }
        kept.push_str(line);
        i += 1;
    }
    if changed {
        Cow::Owned(kept)
    } else {
        Cow::Borrowed(text)
    }
}

/// A quoted line: `>` then a space, another `>` or nothing.
fn is_quote(trimmed: &str) -> bool {
    trimmed
        .strip_prefix('>')
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '>']))
}

/// The last line of a reply header starting at line `i` (`On … wrote:`, on one line or broken
/// over two, the address on one of them), if one starts there.
fn header_end(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines.get(i)?.trim();
    if !first.starts_with("On ") {
        return None;
    }
    if first.ends_with("wrote:") {
        return Some(i);
    }
    let second = lines.get(i + 1)?.trim();
    (second.ends_with("wrote:") && (first.contains('@') || second.contains('@'))).then_some(i + 1)
}

/// Whether the first non-blank line from `i` on is a quote.
fn quote_follows(lines: &[&str], i: usize) -> bool {
    lines
        .iter()
        .skip(i)
        .map(|l| l.trim())
        .find(|l| !l.is_empty())
        .is_some_and(is_quote)
}

#[cfg(test)]
mod tests {
    use super::own_words;

    #[test]
    fn plain_text_is_left_alone_and_not_copied() {
        let text = "Thanks, it works now.\nOne more question: on Monday, who wrote the invoice?";
        assert!(matches!(own_words(text), std::borrow::Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn quoted_lines_are_dropped_and_emoticons_are_not_quotes() {
        let text = "Great, thank you!\n> This is terrible.\n>> Nothing works\n>\nBest, Dana";
        assert_eq!(own_words(text), "Great, thank you!\nBest, Dana");
        let text = ">:( still broken after three days\n>:-( really";
        assert_eq!(own_words(text), text);
    }

    #[test]
    fn a_header_and_its_quote_go_and_the_words_below_stay() {
        let top = "Perfect, solved.\n\nOn Mon, 3 Jan 2026 at 10:00, Support <help@example.com> wrote:\n> We are sorry for the awful delay.\n";
        assert_eq!(own_words(top), "Perfect, solved.\n\n");
        let bottom = "On Mon, 3 Jan 2026, Support <help@x.com> wrote:\n> Did you try restarting?\nYes. It is still broken and I am furious.";
        assert_eq!(
            own_words(bottom),
            "Yes. It is still broken and I am furious."
        );
        let inline = "On Mon, 3 Jan 2026, Support <help@x.com> wrote:\n\n> Is it fixed?\nNo.\n> Did you restart?\nYes, twice.";
        assert_eq!(own_words(inline), "\nNo.\nYes, twice.");
    }

    #[test]
    fn outlook_history_goes_whole() {
        let outlook = "Fine now.\r\n-----Original Message-----\r\nFrom: Support\r\nAwful.";
        assert_eq!(own_words(outlook), "Fine now.\r\n");
    }

    #[test]
    fn a_header_broken_over_two_lines_goes_whole() {
        let text = "All good.\nOn Mon, 3 Jan 2026 at 10:00, Support Team <\nhelp@example.com> wrote:\n> Horrible bug.";
        assert_eq!(own_words(text), "All good.\n");
    }

    #[test]
    fn a_line_ending_in_wrote_that_introduces_no_quote_stays() {
        for text in [
            "I know what the manager wrote:\nit is still broken.",
            "On Friday I wrote:\nit is still broken.",
            "On Monday the export failed\nand my colleague wrote:\nit is still broken.",
        ] {
            assert_eq!(own_words(text), text);
        }
    }

    #[test]
    fn a_fully_quoted_message_has_no_words_of_its_own() {
        assert_eq!(own_words("> only a quote\n> again"), "");
    }
}
