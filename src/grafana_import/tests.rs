use super::*;
use serde_json::json;

fn dashboard() -> String {
    json!({
        "title": "Shop",
        "templating": {"list": [
            {"name": "job", "type": "query", "current": {"value": "api"}},
            {"name": "DS", "type": "datasource", "query": "prometheus"}
        ]},
        "panels": [
            {"type": "row", "title": "Overview", "panels": []},
            {"type": "text", "title": "Read me"},
            {"type": "timeseries", "title": "Request latency p95", "datasource": {"type": "prometheus", "uid": "${DS}"},
             "fieldConfig": {"defaults": {"unit": "ms", "custom": {"thresholdsStyle": {"mode": "line"}}, "thresholds": {"steps": [
                {"color": "green", "value": null}, {"color": "orange", "value": 300}, {"color": "red", "value": 1000}]}}},
             "targets": [{"refId": "A", "expr": "histogram_quantile(0.95, sum by (le) (rate(http_seconds_bucket{job=\"$job\"}[$__rate_interval])))"}]},
            {"type": "stat", "title": "Logs", "datasource": {"type": "loki", "uid": "x"}, "targets": [{"expr": "{app=\"x\"}"}]},
            {"type": "timeseries", "title": "Requests", "datasource": null,
             "fieldConfig": {"defaults": {"unit": "reqps"}},
             "targets": [
                {"refId": "A", "expr": "sum(rate(http_requests_total{job=\"$job\"}[1m]))", "legendFormat": "ok"},
                {"refId": "B", "expr": "sum(rate(http_requests_total{job=\"$job\", code=~\"5..\"}[1m]))", "legendFormat": "{{code}} errors"},
                {"refId": "C", "expr": "sum(rate(broken[1m]"},
                {"refId": "D", "expr": "up{instance=\"$host\"}"}
             ]}
        ]
    })
    .to_string()
}

#[test]
fn a_dashboard_becomes_signals_and_says_what_it_skipped() {
    let got = import(&dashboard(), "shop.json", &ImportOptions::default()).unwrap();
    let names: Vec<&str> = got.signals.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["request_latency_p95", "requests_ok", "requests_errors"]
    );
    let p95 = &got.signals[0];
    assert_eq!(p95.unit, Unit::Seconds);
    assert_eq!((p95.warn, p95.crit), (Some(0.3), Some(1.0)));
    assert_eq!(p95.group, Group::Lagging);
    assert!(
        p95.query.starts_with("(histogram_quantile(") && p95.query.ends_with(") / 1000"),
        "{}",
        p95.query
    );
    assert!(p95.query.contains("job=\"api\"}[1m]"), "{}", p95.query);
    assert_eq!(got.signals[1].group, Group::Throughput);
    let reasons: Vec<String> = got
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.panel, s.reason))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(
        reasons[0] == "Overview: row panel" && reasons[1] == "Read me: text panel",
        "{reasons:?}"
    );
    assert!(
        reasons[2].starts_with("Logs: datasource loki"),
        "{reasons:?}"
    );
    assert!(
        reasons[3].starts_with("Requests / C: the query does not parse"),
        "{reasons:?}"
    );
    assert!(reasons[4].contains("$host is not defined"), "{reasons:?}");
    assert!(got.toml.contains("# skipped \"Read me\": text panel"));
}

#[test]
fn flags_and_the_mapping_file_steer_the_import() {
    let opts = ImportOptions {
        vars: [("host".to_string(), "h1".to_string())].into(),
        mapping: Mapping::parse(
            "[[panel]]\ntitle = \"requests\"\ngroup = \"leading\"\nrole = \"throughput\"\nname = \"rps\"\n[[panel]]\ntitle_contains = \"latency\"\nskip = true\n",
            "map.toml",
        )
        .unwrap(),
        prometheus: Some("http://127.0.0.1:9090".into()),
    };
    let got = import(&dashboard(), "shop.json", &opts).unwrap();
    let names: Vec<&str> = got.signals.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["rps_ok", "rps_errors", "rps_d"]);
    assert!(got.signals.iter().all(|s| s.group == Group::Leading));
    assert!(got.signals[2].query.contains("instance=\"h1\""));
    assert!(
        got.toml
            .contains("[prometheus]\nurl = \"http://127.0.0.1:9090\""),
        "{}",
        got.toml
    );
}

#[test]
fn bad_input_is_located() {
    let e = import(
        "{\"panels\": [\n  {,}]}",
        "d.json",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("d.json:2:4: not a JSON dashboard"),
        "{e}"
    );
    let e = import("{\"title\": 1}", "d.json", &ImportOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("expected an object with `panels`"),
        "{e}"
    );
    assert!(parse_var("x").is_err());
    assert_eq!(parse_var("$job=api").unwrap(), ("job".into(), "api".into()));
}
