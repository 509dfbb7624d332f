//! Property tests of the exposition parser: whatever a model exposition renders to parses back
//! to exactly that model, and no input at all makes it panic.

use proptest::prelude::*;
use slitop::exposition::{parse, parse_lenient, Format};
use slitop::model::Labels;

#[derive(Debug, Clone)]
struct Line {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
    ts: Option<i64>,
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}".prop_filter("reserved", |n| n != "__name__")
}

fn label_value() -> impl Strategy<Value = String> {
    // Every character the escapes and separators can trip over, plus non-ASCII.
    proptest::collection::vec(
        prop_oneof![
            Just('"'),
            Just('\\'),
            Just('\n'),
            Just(','),
            Just('='),
            Just('}'),
            Just('{'),
            Just(' '),
            Just('#'),
            Just('é'),
            Just('Ж'),
            proptest::char::range('a', 'z')
        ],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// A label value as exporters that escape only `"` write it: backslashes before any ordinary
/// character, which Prometheus keeps as written.
fn raw_backslash_value() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::char::range('a', 'm').prop_map(String::from),
            Just("é".to_string()),
            Just(" ".to_string()),
            "[a-mo-zA-Z0-9:/.é]".prop_map(|c| format!("\\{c}")),
        ],
        0..10,
    )
    .prop_map(|v| v.concat())
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        any::<f64>().prop_filter("finite", |v| v.is_finite()),
        (-1e6f64..1e6f64),
    ]
}

fn line() -> impl Strategy<Value = Line> {
    (
        name(),
        proptest::collection::btree_map(label_name(), label_value(), 0..5),
        value(),
        proptest::option::of(-1_000_000_000_000i64..4_000_000_000_000i64),
    )
        .prop_map(|(name, labels, value, ts)| Line {
            name,
            labels: labels.into_iter().collect(),
            value,
            ts,
        })
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn render(l: &Line, trailing_comma: bool) -> String {
    let mut s = l.name.clone();
    if !l.labels.is_empty() || trailing_comma {
        s.push('{');
        for (k, v) in &l.labels {
            s += &format!("{k}=\"{}\",", escape(v));
        }
        if !trailing_comma && !l.labels.is_empty() {
            s.pop();
        }
        s.push('}');
    }
    let v = if l.value.is_nan() {
        "NaN".to_string()
    } else if l.value == f64::INFINITY {
        "+Inf".into()
    } else if l.value == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{:e}", l.value)
    };
    s += &format!(" {v}");
    if let Some(t) = l.ts {
        s += &format!(" {t}");
    }
    s.push('\n');
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn rendered_model_parses_back_exactly(lines in proptest::collection::vec(line(), 0..20), comma in any::<bool>()) {
        let text: String = lines.iter().map(|l| render(l, comma)).collect();
        let got = parse(&text, Format::Text004).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(got.samples.len(), lines.len());
        for (g, want) in got.samples.iter().zip(&lines) {
            let mut l = Labels::named(&want.name);
            for (k, v) in &want.labels {
                l.set(k, v);
            }
            prop_assert_eq!(&g.labels, &l);
            prop_assert!(g.value.to_bits() == want.value.to_bits() || (g.value.is_nan() && want.value.is_nan()), "{} vs {}", g.value, want.value);
            prop_assert_eq!(g.timestamp_ms, want.ts);
        }
    }

    #[test]
    fn unknown_escapes_are_kept_as_written(v in raw_backslash_value()) {
        let text = format!("a{{x=\"{v}\",y=\"1\"}} 1\n");
        let got = parse(&text, Format::Text004).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(got.samples[0].labels.get("x"), Some(v.as_str()));
        prop_assert_eq!(got.samples[0].labels.get("y"), Some("1"));
    }

    #[test]
    fn one_bad_line_costs_only_itself(
        lines in proptest::collection::vec(line(), 1..12),
        at in any::<prop::sample::Index>(),
        bad in prop_oneof![
            Just("broken{a=\"1\" 2"),
            Just("x 1 2 3"),
            Just("<html><body>502</body></html>"),
            Just("a{x=1} 1"),
            Just("a{x=\"ab\\\"} 1"),
            Just("# TYPE m countr"),
        ],
    ) {
        let good: String = lines.iter().map(|l| render(l, false)).collect();
        let at = at.index(lines.len() + 1);
        let mut text: String = lines[..at].iter().map(|l| render(l, false)).collect();
        text += bad;
        text.push('\n');
        text.extend(lines[at..].iter().map(|l| render(l, false)));
        let got = parse_lenient(&text, Format::Text004).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let want = parse(&good, Format::Text004).unwrap();
        prop_assert_eq!(got.samples.len(), want.samples.len());
        for (g, w) in got.samples.iter().zip(&want.samples) {
            prop_assert_eq!(&g.labels, &w.labels);
            prop_assert_eq!(g.value.to_bits(), w.value.to_bits());
        }
        prop_assert_eq!(got.skipped.lines, 1);
        prop_assert_eq!(got.skipped.first.unwrap().line, at + 1);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = parse(&s, Format::Text004);
        let _ = parse(&s, Format::OpenMetrics);
        let _ = parse_lenient(&s, Format::Text004);
        let _ = parse_lenient(&s, Format::OpenMetrics);
    }

    #[test]
    fn mutated_valid_input_never_panics(lines in proptest::collection::vec(line(), 1..6), cut in 0usize..400, byte in any::<u8>()) {
        let text: String = lines.iter().map(|l| render(l, false)).collect();
        let mut bytes = text.into_bytes();
        let at = cut % bytes.len();
        bytes[at] = byte;
        bytes.truncate(bytes.len().min(cut.max(1) * 2));
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse(&s, Format::Text004);
        let _ = parse(&s, Format::OpenMetrics);
        let _ = parse_lenient(&s, Format::Text004);
    }
}
