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
