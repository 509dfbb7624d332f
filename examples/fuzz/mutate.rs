//! Mutations of an input: byte flips, truncation at any byte, splicing with another input, and
//! the tokens parsers trip over (non-finite and huge numbers, non-UTF-8, multi-byte characters
//! split at any byte, deep nesting, very long strings).

use crate::rng::Rng;

/// No input is longer: a parser's time grows with its input, and a hang must stand out.
pub const MAX_LEN: usize = 16 * 1024;

/// Tokens every format is tried with.
const COMMON: &[&[u8]] = &[
    b"NaN",
    b"+Inf",
    b"-Inf",
    b"Inf",
    b"inf",
    b"nan",
    b"-0",
    b"0",
    b"1e308",
    b"1e309",
    b"-1e309",
    b"4.9e-324",
    b"9223372036854775807",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"99999999999999999999999999999",
    b"0x7f",
    b"1_000",
    b".5",
    b"5.",
    b"\"",
    b"\\",
    b"\\\\",
    b"\\\"",
    b"\\u0000",
    b"\\ud800",
    b"\\uDFFF",
    b"\n",
    b"\r\n",
    b"\r",
    b"\t",
    b" ",
    b"\0",
    b"{",
    b"}",
    b"[",
    b"]",
    b"(",
    b")",
    b",",
    b":",
    b"=",
    b"#",
    b"'",
    b"\xc3\xa9",
    b"\xe2\x80\xa8",
    b"\xf0\x9f\x98\x80",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x98",
    b"\x80",
    b"\xff",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\x1b[2J",
    b"\x7f",
    b"true",
    b"null",
];

/// One to four stacked mutations of `input`, drawing on `tokens` (the format's own) and
/// `other` (another input to splice with).
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, tokens: &[&[u8]], other: &[u8]) {
    for _ in 0..rng.between(1, 4) {
        mutate_once(rng, input, tokens, other);
    }
    input.truncate(MAX_LEN);
}

fn mutate_once(rng: &mut Rng, input: &mut Vec<u8>, tokens: &[&[u8]], other: &[u8]) {
    let at = rng.below(input.len() + 1);
    match rng.below(11) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] = rng.next() as u8;
        }
        2 => input.truncate(at),
        3 if at < input.len() => {
            let end = (at + rng.between(1, 64)).min(input.len());
            input.drain(at..end);
        }
        4 => {
            // Splice: this input's head, the other's tail.
            let from = rng.below(other.len() + 1);
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        5 if at < input.len() => {
            // Repeat a chunk: long runs of the same construct.
            let end = (at + rng.between(1, 32)).min(input.len());
            let chunk = input[at..end].to_vec();
            let times = rng.between(2, 200);
            insert(input, at, &chunk.repeat(times));
        }
        6 => {
            // Deep nesting of whatever brackets the format has.
            let (open, close) = rng.pick(&[("(", ")"), ("[", "]"), ("{", "}"), ("{\"a\":", "}")]);
            let depth = rng.between(10, 3000);
            let mut s = open.repeat(depth).into_bytes();
            if rng.one_in(2) {
                s.extend_from_slice(close.repeat(depth).as_bytes());
            }
            insert(input, at, &s);
        }
        7 => {
            let byte = rng.pick(b"a9\"\\ _.-{");
            insert(input, at, &vec![byte; rng.between(100, 12_000)]);
        }
        8 => insert(input, at, rng.pick(COMMON)),
        _ if !tokens.is_empty() => insert(input, at, rng.pick(tokens)),
        _ => insert(input, at, rng.pick(COMMON)),
    }
}

fn insert(input: &mut Vec<u8>, at: usize, what: &[u8]) {
    let at = at.min(input.len());
    input.splice(at..at, what.iter().copied());
}
