//! Text from the outside world (label values, server error bodies, user input) is cleaned
//! before it reaches a terminal or a one-line message: no control or escape characters.

/// Replaces control characters (C0, DEL, C1 — ESC among them) with U+FFFD and newlines/tabs
/// with spaces, so a hostile `/metrics` or error page cannot move the cursor or recolour the screen.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// `clean` plus a length cap in characters, marking the cut with `…`.
pub fn clean_short(s: &str, max_chars: usize) -> String {
    let c = clean(s.trim());
    if c.chars().count() <= max_chars {
        return c;
    }
    let mut out: String = c.chars().take(max_chars.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_escape_sequences_and_controls() {
        assert_eq!(
            clean("a\x1b[31mred\x07\u{9b}2J"),
            "a\u{FFFD}[31mred\u{FFFD}\u{FFFD}2J"
        );
        assert_eq!(clean("two\nlines\tok"), "two lines ok");
        assert_eq!(
            clean_short("  <html><body>502 Bad Gateway</body></html>  ", 12),
            "<html><body…"
        );
    }
}
