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

/// What stands in for a secret cut out of a URL.
pub const REDACTED: &str = "REDACTED";

/// Query parameters whose value is taken for a secret, matched in lower case as a part of the
/// name (`access_token`, `X-Api-Key`, `db_password`, `authorization`...).
const SECRET_PARAMS: &[&str] = &[
    "token",
    "passw",
    "pwd",
    "secret",
    "key",
    "auth",
    "credential",
    "session",
    "cookie",
    "signature",
];

/// A URL with its secrets replaced by `REDACTED`, for everything that shows or stores one:
/// the password of `user:password@` (`redis://:pw@host` too), a user name given alone
/// (`https://TOKEN@host`, how several services take a token), and the values of token-like
/// query parameters (`?token=`, `password=`, `api_key=`, `sig=`). The rest is kept as written,
/// so the URL still says where it points; text without `://` comes back unchanged.
pub fn redact_url(s: &str) -> String {
    let Some(sep) = s.find("://") else {
        return s.to_string();
    };
    let (head, rest) = s.split_at(sep + 3);
    // The authority runs to the first '/': a password typed raw may hold '?' or '#', so an
    // '@' before the path ends userinfo even past them (showing less is the safe mistake).
    let auth_end = rest.find('/').unwrap_or(rest.len());
    let mut out = String::with_capacity(s.len() + REDACTED.len());
    out.push_str(head);
    let after = match rest[..auth_end].rfind('@') {
        Some(at) => {
            match rest[..at].find(':') {
                Some(colon) => {
                    out.push_str(&rest[..=colon]);
                    out.push_str(REDACTED);
                }
                None => out.push_str(REDACTED),
            }
            &rest[at..]
        }
        None => rest,
    };
    out.push_str(&redact_query(after));
    out
}

/// The part of a URL after its userinfo with secret-looking query values replaced.
fn redact_query(s: &str) -> String {
    let Some(q) = s.find('?') else {
        return s.to_string();
    };
    let end = s[q..].find('#').map_or(s.len(), |f| q + f);
    let params: Vec<String> = s[q + 1..end]
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((name, _)) if is_secret_param(name) => format!("{name}={REDACTED}"),
            _ => p.to_string(),
        })
        .collect();
    format!("{}?{}{}", &s[..q], params.join("&"), &s[end..])
}

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "sig" || n == "pw" || SECRET_PARAMS.iter().any(|w| n.contains(w))
}

/// Free text (an error message, a command-line argument) with every URL in it redacted as
/// `redact_url` does. A URL runs from its scheme to the next space or quote; punctuation that
/// ends a sentence or closes a bracket stays outside it.
pub fn redact_text(s: &str) -> String {
    if !s.contains("://") {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + REDACTED.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = s[from..].find("://") {
        let sep = from + found;
        let start = s[..sep]
            .char_indices()
            .rev()
            .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8())
            .max(copied);
        let end = s[sep..]
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .map_or(s.len(), |e| sep + e);
        let mut url_end = end;
        while url_end > sep + 3
            && matches!(
                b[url_end - 1],
                b'.' | b',' | b';' | b':' | b')' | b']' | b'}'
            )
        {
            url_end -= 1;
        }
        out.push_str(&s[copied..start]);
        out.push_str(&redact_url(&s[start..url_end]));
        copied = url_end;
        from = end.max(sep + 3);
    }
    out.push_str(&s[copied..]);
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

    #[test]
    fn urls_lose_passwords_lone_users_and_token_parameters() {
        let cases = [
            ("http://u:pw@h:9090/x", "http://u:REDACTED@h:9090/x"),
            (
                "redis://:pw@127.0.0.1:6379",
                "redis://:REDACTED@127.0.0.1:6379",
            ),
            ("https://glc_tok@h/api", "https://REDACTED@h/api"),
            ("rediss://u:p?s#w@h:1/0", "rediss://u:REDACTED@h:1/0"),
            (
                "http://h/metrics?token=abc&job=x&api_key=k&X-Api-Key=k#f",
                "http://h/metrics?token=REDACTED&job=x&api_key=REDACTED&X-Api-Key=REDACTED#f",
            ),
            (
                "http://h/q?password=p&sig=s",
                "http://h/q?password=REDACTED&sig=REDACTED",
            ),
            ("http://h:9090", "http://h:9090"),
            ("not a url", "not a url"),
            ("http://h/users/@me", "http://h/users/@me"),
        ];
        for (raw, shown) in cases {
            assert_eq!(redact_url(raw), shown, "{raw}");
        }
    }

    #[test]
    fn urls_inside_text_are_redacted_where_they_stand() {
        assert_eq!(
            redact_text("error sending request for url (http://u:pw@h/api?token=t): refused"),
            "error sending request for url (http://u:REDACTED@h/api?token=REDACTED): refused"
        );
        assert_eq!(
            redact_text("--valkey=redis://:pw@h:6379"),
            "--valkey=redis://:REDACTED@h:6379"
        );
        assert_eq!(
            redact_text("prometheus url \"http://a:b@h\" is not valid; also https://t@k."),
            "prometheus url \"http://a:REDACTED@h\" is not valid; also https://REDACTED@k."
        );
        assert_eq!(redact_text("no url: a://"), "no url: a://");
        assert_eq!(redact_text("plain"), "plain");
        // Multi-byte text around and inside a URL stays whole.
        assert_eq!(redact_text("é http://ü:pé@h é"), "é http://ü:REDACTED@h é");
    }
}
