//! The one door into `promql-parser`: every query text slitop parses goes through `parse`.
//!
//! Two inputs are refused here, by a scan of the text, before the parser sees them. A duration
//! written as a number of seconds that `std::time::Duration` cannot hold (`x[1e20]`, `x[5m:Inf]`,
//! `x offset NaN`) makes the parser panic; and a tree nested thousands deep (`x - - - … - y`)
//! overflows the stack as it is built and dropped, which aborts the process. A panic is no
//! answer to a typo in a config, and on the screen's thread it would take the terminal down.

use promql_parser::parser::Expr;

use super::PromqlError;

/// Most operator characters (`+ - * / % ^ = ! < >`) and most brackets open at once in a query
/// the parser is given; each can add a level to its tree. A dashboard's query has a few dozen.
const MAX_NESTING: usize = 1000;

pub fn parse(text: &str) -> Result<Expr, PromqlError> {
    let (operators, depth) = nesting(text);
    if operators > MAX_NESTING || depth > MAX_NESTING {
        return Err(PromqlError::Syntax(format!(
            "query too deeply nested: {operators} operators and brackets {depth} deep; at most {MAX_NESTING} of each are read"
        )));
    }
    if let Some(bad) = unrepresentable_duration(text) {
        return Err(PromqlError::Syntax(format!(
            "duration {bad:?}: a duration in seconds must be a finite number from 0 to 2^64"
        )));
    }
    promql_parser::parser::parse(text).map_err(|e| PromqlError::Syntax(e.trim().to_string()))
}

/// The first number in a place the parser reads as seconds — a range or subquery (`[N]`,
/// `[N:N]`) or after `offset` — that a `Duration` cannot hold. String literals are skipped.
fn unrepresentable_duration(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut in_brackets = false;
    let mut i = 0;
    while i < bytes.len() {
        let word_at = match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i = string_end(bytes, i + 1, q);
                continue;
            }
            b'[' => {
                in_brackets = true;
                Some(i + 1)
            }
            b':' if in_brackets => Some(i + 1),
            b']' => {
                in_brackets = false;
                None
            }
            b'o' | b'O' if is_offset(bytes, i) => {
                let mut j = i + "offset".len();
                while j < bytes.len()
                    && (bytes[j].is_ascii_whitespace() || b"+-".contains(&bytes[j]))
                {
                    j += 1;
                }
                Some(j)
            }
            _ => None,
        };
        if let Some(bad) = word_at.and_then(|at| unrepresentable(text, at)) {
            return Some(bad);
        }
        i += 1;
    }
    None
}

/// The operator characters outside string literals, and the deepest the brackets go.
fn nesting(text: &str) -> (usize, usize) {
    let bytes = text.as_bytes();
    let (mut operators, mut depth, mut deepest) = (0, 0usize, 0);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i = string_end(bytes, i + 1, q);
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' => operators += 1,
            _ => {}
        }
        i += 1;
    }
    (operators, deepest)
}

/// Just past the string literal whose body starts at `from` (quote `q`; `\` escapes in all
/// but backquoted strings).
fn string_end(bytes: &[u8], mut from: usize, q: u8) -> usize {
    while from < bytes.len() {
        match bytes[from] {
            b'\\' if q != b'`' => from += 2,
            b if b == q => return from + 1,
            _ => from += 1,
        }
    }
    bytes.len()
}

/// The keyword `offset` (any case) as a whole word at `i`.
fn is_offset(bytes: &[u8], i: usize) -> bool {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let end = i + "offset".len();
    bytes.len() >= end
        && bytes[i..end].eq_ignore_ascii_case(b"offset")
        && (i == 0 || !ident(bytes[i - 1]))
        && bytes.get(end).is_none_or(|b| !ident(*b))
}

/// The word at `at` (after blanks) when it is a number of seconds no `Duration` holds: not a
/// number, or one with a unit (`5m`), is the parser's to judge.
fn unrepresentable(text: &str, at: usize) -> Option<&str> {
    let rest = text.get(at..)?.trim_start();
    let len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
        .unwrap_or(rest.len());
    let word = &rest[..len];
    let secs: f64 = word.parse().ok()?;
    // Duration::from_secs_f64 panics at 2^64 seconds and above, on NaN and below zero.
    (!(0.0..1.8e19).contains(&secs)).then_some(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzing harness: a subquery step of 2^64 seconds made `promql-parser`
    /// panic ("cannot convert float seconds to Duration").
    #[test]
    fn a_duration_no_std_duration_holds_is_a_syntax_error_not_a_panic() {
        let q = "absent_over_time(rate(nonexistent[5m])[5m:18446744073709551616])";
        let e = parse(q).unwrap_err();
        assert!(e.to_string().contains("\"18446744073709551616\""), "{e}");
        for q in [
            "x[1e20]",
            "x[Inf]",
            "x[5m:NaN]",
            "x offset 1e400",
            "x OFFSET -inf",
            "x[ 1e99 ]",
        ] {
            assert!(matches!(parse(q), Err(PromqlError::Syntax(_))), "{q}");
        }
    }

    /// Found by the fuzzing harness: 10,951 `-` (unary minus upon unary minus) overflowed the
    /// stack inside the parser and aborted the process.
    #[test]
    fn a_query_nested_thousands_deep_is_refused_before_the_parser_overflows_its_stack() {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(|| {
                let q = format!("sum(gateway_valkey_errors_tota{}l)", "-".repeat(10951));
                let e = parse(&q).unwrap_err();
                assert!(e.to_string().contains("too deeply nested"), "{e}");
                let parens = format!("{}x{}", "(".repeat(20000), ")".repeat(20000));
                assert!(parse(&parens).is_err());
                // Operators inside strings are not counted.
                let regex = format!("x{{a=~\"{}\"}}", "-".repeat(5000));
                assert!(parse(&regex).is_ok());
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn ordinary_durations_strings_and_names_pass_through() {
        for q in [
            "rate(x[5m])",
            "x[90]",
            "max_over_time(x[5m:30s])",
            "x offset 5m",
            "x offset -30",
            "x{a=\"[1e99]\"}",
            "x{a=`[Inf:`}",
            "offset_total + Inf",
            "label_replace(x, \"a\", \"$1\", \"b\", \"(.*):1e99\")",
        ] {
            assert!(parse(q).is_ok(), "{q}: {:?}", parse(q).err());
        }
    }
}
