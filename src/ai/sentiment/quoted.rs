//! What a customer wrote themselves: an e-mail reply without the history it quotes. A reply
//! quotes the agent's last answer and the customer's first complaint, and scoring those again
//! would make every reply sound like the whole thread (the reference's advice, §2.10).

use std::borrow::Cow;

/// `text` without quoted lines (`> …`) and without everything from a reply header on
/// (`On Mon, 3 Jan 2026, Support <help@example.com> wrote:` — also when the mail client broke it
/// over two lines — or Outlook's `-----Original Message-----`). Text without either comes back
/// as it is, unallocated.
pub fn own_words(text: &str) -> Cow<'_, str> {
    let mut kept = String::new();
    let mut changed = false;
    // Where the line before began in `kept`, and whether it opened a header ("On …").
    let mut previous: Option<(usize, bool)> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.eq_ignore_ascii_case("-----original message-----") {
            changed = true;
            break;
        }
        if trimmed.ends_with("wrote:") {
            if opens_header(trimmed) {
                changed = true;
                break;
            }
            // A header broken over two lines names an address on one of them.
            if let Some((start, true)) = previous
                && (trimmed.contains('@') || kept[start..].contains('@'))
            {
                kept.truncate(start);
                changed = true;
                break;
            }
        }
        if trimmed.starts_with('>') {
            changed = true;
            previous = None;
            continue;
        }
        previous = Some((kept.len(), opens_header(trimmed)));
        kept.push_str(line);
    }
    if changed {
        Cow::Owned(kept)
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether a line starts a reply header the way mail clients write it in English.
fn opens_header(line: &str) -> bool {
    line.starts_with("On ") && line.len() > "On  wrote:".len()
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
    fn quoted_lines_are_dropped() {
        let text = "Great, thank you!\n> This is terrible.\n>> Nothing works\nBest, Dana";
        assert_eq!(own_words(text), "Great, thank you!\nBest, Dana");
    }

    #[test]
    fn everything_from_a_reply_header_goes() {
        let text = "Perfect, solved.\n\nOn Mon, 3 Jan 2026 at 10:00, Support <help@example.com> wrote:\nWe are sorry for the awful delay.\n";
        assert_eq!(own_words(text), "Perfect, solved.\n\n");
        let outlook = "Fine now.\r\n-----Original Message-----\r\nFrom: Support\r\nAwful.";
        assert_eq!(own_words(outlook), "Fine now.\r\n");
    }

    #[test]
    fn a_header_broken_over_two_lines_goes_whole() {
        let text = "All good.\nOn Mon, 3 Jan 2026 at 10:00, Support Team <\nhelp@example.com> wrote:\nHorrible bug.";
        assert_eq!(own_words(text), "All good.\n");
    }

    #[test]
    fn a_line_ending_in_wrote_that_is_no_header_stays() {
        let text = "I know what the manager wrote:\nit is still broken.";
        assert_eq!(own_words(text), text);
        let text = "On Monday the export failed\nand my colleague wrote:\nit is still broken.";
        assert_eq!(own_words(text), text);
    }

    #[test]
    fn a_fully_quoted_message_has_no_words_of_its_own() {
        assert_eq!(own_words("> only a quote\n> again"), "");
    }
}
