//! Text from the outside world (label values, server error bodies, user input) is cleaned
//! before it reaches a terminal or a one-line message: no control or escape characters; URLs
//! lose their passwords wherever they are shown or stored.

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

/// A URL with any password replaced by `REDACTED`, for everything that shows or stores one;
/// text that is not a URL, or a URL without a password, is returned as it is.
pub fn redact_url(s: &str) -> String {
    match reqwest::Url::parse(s) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        _ => s.to_string(),
    }
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
