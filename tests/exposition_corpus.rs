//! The corpus every exposition parser slitop ships must pass: the inputs `prometheus-parse`
//! 0.2.5 drops or corrupts, the inputs `openmetrics-parser` rejects, the OpenMetrics subset, and
//! bad input that must fail with a located, specific error.

use slitop::exposition::{parse, Format, MetricType, Scrape};
use slitop::model::Labels;

fn text(s: &str) -> Scrape {
    parse(s, Format::Text004).unwrap_or_else(|e| panic!("{e}\n{s}"))
}

fn om(s: &str) -> Scrape {
    parse(s, Format::OpenMetrics).unwrap_or_else(|e| panic!("{e}\n{s}"))
}

fn l(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut x = Labels::named(name);
    for (k, v) in pairs {
        x.set(k, v);
    }
    x
}

#[test]
fn label_values_with_separators_and_escapes_survive() {
    let s = text(concat!(
        "a{path=\"/x,y\",q=\"k=v\"} 1\n",
        "b{msg=\"say \\\"hi\\\"\",nl=\"1\\n2\",bs=\"c:\\\\dir\"} 2\n",
        "c{v=\"}{ \",w=\"x\"} 3\n",
        "d{} 4\n",
        "e{a=\"1\",} 5\n",
        "job:rate5m:sum{x=\"1\"} 6\n",
        "f{ a = \"sp ace\" } 7\n",
    ));
    let got: Vec<_> = s
        .samples
        .iter()
        .map(|x| (x.labels.clone(), x.value))
        .collect();
    assert_eq!(
        got,
        vec![
            (l("a", &[("path", "/x,y"), ("q", "k=v")]), 1.0),
            (
                l(
                    "b",
                    &[("msg", "say \"hi\""), ("nl", "1\n2"), ("bs", "c:\\dir")]
                ),
                2.0
            ),
            (l("c", &[("v", "}{ "), ("w", "x")]), 3.0),
            (l("d", &[]), 4.0),
            (l("e", &[("a", "1")]), 5.0),
            (l("job:rate5m:sum", &[("x", "1")]), 6.0),
            (l("f", &[("a", "sp ace")]), 7.0),
        ]
    );
}

/// The OpenMetrics parser suite's escaping cases (`tests/fixtures/openmetrics/`), which must
/// parse; the values are what Prometheus's parser makes of them.
#[test]
fn openmetrics_suite_escaping_cases() {
    let fixture = |name: &str| {
        let path = format!(
            "{}/tests/fixtures/openmetrics/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        om(&std::fs::read_to_string(&path).unwrap())
    };
    let foo = |s: &Scrape| -> Vec<String> {
        s.samples
            .iter()
            .map(|x| x.labels.get("foo").unwrap().to_string())
            .collect()
    };
    let s = fixture("escaping.txt");
    assert_eq!(foo(&s), ["b\"a\nr", "b\\a\\z", "b\"a\nr # ", "b\\a\\z # "]);
    assert_eq!(s.families[0].help.as_deref(), Some("he\n\\l\\tp"));
    let s = fixture("label_escaping.txt");
    assert_eq!(
        foo(&s),
        ["foo", "\\foo", "\\foo", "foo\\", "\\", "\n", "\\n", "\\\n", "\"", "\\\""]
    );
    assert!(s.samples.iter().all(|x| x.labels.get("bar") == Some("baz")));
    let s = fixture("help_escaping.txt");
    let help: Vec<_> = s.families.iter().map(|f| f.help.clone().unwrap()).collect();
    assert_eq!(
        help,
        ["foo", "\\foo", "\\foo", "foo\\", "\\", "\n", "\\n", "\\\n", "\"", "\\\""]
    );
}

#[test]
fn values_and_timestamps() {
    let s = text("a 1.5e3\nb NaN\nc +Inf\nd -Inf\ne -0.25 1700000000123\nf Inf\ng .5\nh 1e-3\n");
    let v: Vec<f64> = s.samples.iter().map(|x| x.value).collect();
    assert_eq!(v[0], 1500.0);
    assert!(v[1].is_nan());
    assert_eq!(
        (v[2], v[3], v[4], v[5], v[6], v[7]),
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.25,
            f64::INFINITY,
            0.5,
            0.001
        )
    );
    assert_eq!(s.samples[4].timestamp_ms, Some(1_700_000_000_123));
    assert_eq!(s.samples[0].timestamp_ms, None);
    // OpenMetrics timestamps are float seconds, not the scrape time.
    let o = om("# TYPE a gauge\na 1 1700000000.25\n# EOF\n");
    assert_eq!(o.samples[0].timestamp_ms, Some(1_700_000_000_250));
}

#[test]
fn families_types_and_suffixes() {
    let s = text(concat!(
        "# HELP foo Requests.\\nSecond line \\\\ done\n",
        "# TYPE foo counter\n",
        "foo_total{code=\"200\"} 10\n",
        "# TYPE lat histogram\n",
        "lat_bucket{le=\"0.5\"} 1\n",
        "lat_bucket{le=\"+Inf\"} 3\n",
        "lat_sum 1.2\n",
        "lat_count 3\n",
        "# TYPE q summary\n",
        "q{quantile=\"0.99\"} 0.3\n",
        "q_sum 9\n",
        "q_count 30\n",
        "plain 1\n",
    ));
    let fam = |i: usize| {
        s.samples[i]
            .family
            .map(|f| (&s.families[f].name[..], s.families[f].kind))
    };
    assert_eq!(fam(0), Some(("foo", MetricType::Counter)));
    assert_eq!(
        s.families[s.samples[0].family.unwrap()].help.as_deref(),
        Some("Requests.\nSecond line \\ done")
    );
    assert_eq!(s.samples[0].labels.name(), Some("foo_total"));
    for i in 1..=4 {
        assert_eq!(fam(i), Some(("lat", MetricType::Histogram)), "sample {i}");
    }
    for i in 5..=7 {
        assert_eq!(fam(i), Some(("q", MetricType::Summary)), "sample {i}");
    }
    assert_eq!(fam(8), None);
    // Order is the input order, not hash order.
    let names: Vec<_> = s
        .samples
        .iter()
        .map(|x| x.labels.name().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "foo_total",
            "lat_bucket",
            "lat_bucket",
            "lat_sum",
            "lat_count",
            "q",
            "q_sum",
            "q_count",
            "plain"
        ]
    );
}

#[test]
fn one_family_may_mix_label_name_sets() {
    let s = text("# TYPE m gauge\nm{a=\"1\"} 1\nm{b=\"2\"} 2\nm 3\nm{a=\"1\"} 4\n");
    assert_eq!(s.samples.len(), 4, "duplicates kept as given");
    assert!(s.samples.iter().all(|x| x.family == Some(0)));
}

#[test]
fn openmetrics_subset() {
    let s = om(concat!(
        "# TYPE req counter\n",
        "# UNIT req_seconds seconds\n",
        "# HELP req Requests.\n",
        "req_total{path=\"/\"} 5 # {trace_id=\"abc\"} 1.0 1700000000.5\n",
        "req_created{path=\"/\"} 1700000000\n",
        "# TYPE h histogram\n",
        "h_bucket{le=\"1.0\"} 2 # {trace_id=\"x\"} 0.4\n",
        "h_bucket{le=\"+Inf\"} 3\n",
        "h_count 3\n",
        "h_sum 2.5\n",
        "# EOF\n",
    ));
    assert_eq!(s.samples.len(), 6);
    assert_eq!(s.samples[0].value, 5.0);
    assert_eq!(
        s.samples[0].timestamp_ms, None,
        "exemplar timestamp is not the sample's"
    );
    assert_eq!(
        s.families[s.samples[0].family.unwrap()].kind,
        MetricType::Counter
    );
    assert_eq!(s.samples[1].labels.name(), Some("req_created"));
    assert_eq!(s.samples[1].family, s.samples[0].family);
    assert_eq!(
        s.families
            .iter()
            .find(|f| f.name == "req_seconds")
            .unwrap()
            .unit
            .as_deref(),
        Some("seconds")
    );
    let e = parse("a_total 1\n", Format::OpenMetrics).unwrap_err();
    assert!(e.message.contains("must end with `# EOF`"), "{e}");
    let e = parse("# EOF\na 1\n", Format::OpenMetrics).unwrap_err();
    assert_eq!((e.line, e.message.as_str()), (2, "content after `# EOF`"));
    // In text 0.0.4 `# EOF` is only a comment, and CRLF is tolerated.
    assert_eq!(text("a 1\r\n# EOF\r\nb 2\r\n").samples.len(), 2);
}

#[test]
fn a_real_prometheus_style_page() {
    let page = concat!(
        "# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n",
        "# TYPE go_gc_duration_seconds summary\n",
        "go_gc_duration_seconds{quantile=\"0\"} 2.3e-05\n",
        "go_gc_duration_seconds{quantile=\"1\"} 0.000412\n",
        "go_gc_duration_seconds_sum 0.0123\n",
        "go_gc_duration_seconds_count 42\n",
        "# HELP go_goroutines Number of goroutines that currently exist.\n",
        "# TYPE go_goroutines gauge\n",
        "go_goroutines 37\n",
        "# HELP http_request_duration_seconds Latency.\n",
        "# TYPE http_request_duration_seconds histogram\n",
        "http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"0.1\"} 12\n",
        "http_request_duration_seconds_bucket{handler=\"/api/v1/query\",le=\"+Inf\"} 13\n",
        "http_request_duration_seconds_sum{handler=\"/api/v1/query\"} 0.9\n",
        "http_request_duration_seconds_count{handler=\"/api/v1/query\"} 13\n",
        "\n",
        "# A free comment\n",
        "process_start_time_seconds 1.70000000012e+09\n",
    );
    let s = text(page);
    assert_eq!(s.samples.len(), 10);
    assert_eq!(s.samples[9].value, 1_700_000_000.12);
    assert_eq!(s.families.len(), 3);
}

#[test]
fn bad_input_fails_with_line_column_and_what_was_expected() {
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "ok 1\nbroken\n",
            2,
            7,
            "expected a space and a value after `broken`",
        ),
        (
            "a{x=\"1\" 2\n",
            1,
            9,
            "expected ',' or '}' after the value of label `x`",
        ),
        ("a{x=\"1\n", 1, 7, "unterminated value of label `x`"),
        (
            "a{x=\"ab\\\"} 1\n",
            1,
            13,
            "unterminated value of label `x`",
        ),
        (
            "a{x=1} 1\n",
            1,
            5,
            "expected '\"' to open the value of label `x`",
        ),
        (
            "a 12abc\n",
            1,
            3,
            "expected a number for the value of `a`, found \"12abc\"",
        ),
        (
            "a 1 1.5\n",
            1,
            5,
            "expected an integer timestamp in milliseconds",
        ),
        ("a{x=\"1\",x=\"2\"} 1\n", 1, 9, "label `x` appears twice"),
        (
            "<html><body>Bad Gateway</body></html>\n",
            1,
            1,
            "expected a metric name, found \"<\"",
        ),
        (
            "# TYPE a countr\na 1\n",
            1,
            10,
            "unknown metric type \"countr\"",
        ),
        ("a 1 2 3\n", 1, 7, "unexpected text after the sample"),
    ];
    for (input, line, col, msg) in cases {
        let e = parse(input, Format::Text004).expect_err(input);
        assert_eq!((e.line, e.column), (*line, *col), "{input:?}: {e}");
        assert!(e.message.contains(msg), "{input:?}: {e}");
        assert!(e
            .to_string()
            .starts_with(&format!("line {line}, column {col}: ")));
    }
    let e = parse("a{x=\"\x1b[2J\" bad\n", Format::Text004).unwrap_err();
    assert!(!e.to_string().contains('\x1b'));
}
