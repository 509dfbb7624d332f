use super::*;

fn label_x(input: &str, format: Format) -> String {
    let s = parse(input, format).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    s.samples[0].labels.get("x").unwrap().to_string()
}

#[test]
fn label_value_escapes_follow_prometheus() {
    for (input, want) in [
        (r#"a{x="\\"} 1"#, "\\"),
        (r#"a{x="\""} 1"#, "\""),
        (r#"a{x="\n"} 1"#, "\n"),
        (r#"a{x="p\\\nq"} 1"#, "p\\\nq"),
        // Unknown escapes stay as written, backslash included.
        (r#"a{x="\z"} 1"#, "\\z"),
        (r#"a{x="\f"} 1"#, "\\f"),
        (r#"a{x="\t"} 1"#, "\\t"),
        (r#"a{x="c:\dir\\"} 1"#, "c:\\dir\\"),
        (r#"a{x="\é\\"} 1"#, "\\é\\"),
    ] {
        assert_eq!(label_x(input, Format::Text004), want, "{input}");
        let om = format!("{input}\n# EOF\n");
        assert_eq!(label_x(&om, Format::OpenMetrics), want, "{om}");
    }
    let s = parse(r#"a{x="\z",y="b\f"} 1"#, Format::Text004).unwrap();
    assert_eq!(
        s.samples[0].labels.get("y"),
        Some("b\\f"),
        "labels after it"
    );
}

#[test]
fn a_trailing_backslash_leaves_the_value_unterminated() {
    // `\"` is an escaped quote, so the value never closes; a backslash ending the line has
    // nothing to escape.
    for input in [r#"a{x="ab\"} 1"#, r#"a{x="ab\"#] {
        let e = parse(input, Format::Text004).unwrap_err();
        assert_eq!((e.line, e.column), (1, input.len() + 1), "{input}: {e}");
        assert!(e.message.contains("unterminated value of label `x`"), "{e}");
    }
}

#[test]
fn help_escapes_per_format() {
    let help = |input: &str, format| {
        let s = parse(input, format).unwrap();
        s.families[0].help.clone().unwrap()
    };
    let text = "# HELP a x\\\\y\\nz \\\" \\q\na 1\n";
    assert_eq!(help(text, Format::Text004), "x\\y\nz \\\" \\q");
    // OpenMetrics HELP shares the label-value escapes, `\"` included.
    let om = format!("{text}# EOF\n");
    assert_eq!(help(&om, Format::OpenMetrics), "x\\y\nz \" \\q");
}

#[test]
fn lenient_parse_skips_and_counts_bad_lines_and_keeps_the_rest() {
    let body = concat!(
        "# TYPE a counter\n",
        "a_total{code=\"200\"} 1\n",
        "a_total{code=\"500\" 2\n",
        "# TYPE b countr\n",
        "b 3\n",
        "c{x=\"1\"} 4 not-a-timestamp\n",
        "d 5\n",
    );
    let s = parse_lenient(body, Format::Text004).unwrap();
    let names: Vec<_> = s.samples.iter().map(|x| x.labels.name().unwrap()).collect();
    assert_eq!(names, ["a_total", "b", "d"]);
    assert_eq!(s.samples[0].family, Some(0));
    assert_eq!(
        s.samples[1].family, None,
        "the bad TYPE line left no family"
    );
    assert_eq!(s.skipped.lines, 3);
    let first = s.skipped.first.unwrap();
    assert_eq!((first.line, first.column), (3, 20), "{first}");
    assert!(
        first
            .to_string()
            .starts_with("line 3, column 20: expected ',' or '}' after the value of label `code`"),
        "{first}"
    );
    // The strict parse stops at the same line.
    assert_eq!(parse(body, Format::Text004).unwrap_err(), first);
    // A clean body skips nothing, and both parses agree on it.
    let clean = "a 1\nb{x=\"\\z\"} 2\n";
    let s = parse_lenient(clean, Format::Text004).unwrap();
    assert_eq!(s.skipped, Skipped::default());
    assert_eq!(s, parse(clean, Format::Text004).unwrap());
}

#[test]
fn lenient_parse_still_rejects_what_is_not_an_exposition() {
    let html = "<html>\n<body>Bad Gateway</body>\n</html>\n";
    let e = parse_lenient(html, Format::Text004).unwrap_err();
    assert_eq!((e.line, e.column), (1, 1));
    assert!(
        e.message.contains("found \"<\"") && e.message.contains("(3 skipped)"),
        "{e}"
    );
    // Comments alone are an empty exposition, not an error.
    let s = parse_lenient("# HELP a x\n\n", Format::Text004).unwrap();
    assert!(s.samples.is_empty() && s.skipped.lines == 0);
    // A truncated OpenMetrics body still fails as a whole.
    let e = parse_lenient("a_total 1\nb{x=\"1\" 2\n", Format::OpenMetrics).unwrap_err();
    assert!(e.message.contains("must end with `# EOF`"), "{e}");
    // Lines after `# EOF` are skipped like any other bad line.
    let s = parse_lenient("a 1\n# EOF\nb 2\n", Format::OpenMetrics).unwrap();
    assert_eq!((s.samples.len(), s.skipped.lines), (1, 1));
    assert_eq!(s.skipped.first.unwrap().message, "content after `# EOF`");
}

/// Keeping a few names gives exactly the full parse's samples of those names, and counts the
/// lines passed over; a body that is not an exposition is still refused.
#[test]
fn parse_only_keeps_the_named_samples_as_the_full_parse_gives_them() {
    let text = "# TYPE a counter\na_total{x=\"1,}\"} 1\nb{y=\"2\"} 2\n  a_total{x=\"2\"} 3 1700000000000\nc 4\n";
    let full = parse(text, Format::Text004).unwrap();
    let only = parse_only(text, Format::Text004, &|n| n == "a_total").unwrap();
    let want: Vec<_> = full
        .samples
        .iter()
        .filter(|s| s.labels.name() == Some("a_total"))
        .cloned()
        .collect();
    assert_eq!(only.samples, want);
    assert_eq!(only.samples.len(), 2);
    assert_eq!(only.filtered, 2);
    assert!(parse_only("<html>\n<body>oops</body>\n", Format::Text004, &|_| false).is_err());
}
