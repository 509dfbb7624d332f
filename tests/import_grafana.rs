//! `slitop import-grafana` on real public dashboards (`tests/fixtures/upstream/grafana/`, see
//! the README there): each becomes a configuration that `slitop check` accepts against a real
//! Prometheus, with every non-metric panel reported as skipped.

mod common;

use std::path::{Path, PathBuf};

use common::{run_slitop, stderr_of, Prometheus};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/upstream/grafana")
        .join(rel)
}

/// Every panel of a dashboard, rows' panels included: (type, title).
fn panels(dashboard: &Path) -> Vec<(String, String)> {
    fn walk(list: &serde_json::Value, out: &mut Vec<(String, String)>) {
        for p in list.as_array().into_iter().flatten() {
            let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
            out.push((s("type"), s("title")));
            walk(&p["panels"], out);
        }
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dashboard).unwrap()).unwrap();
    let mut out = Vec::new();
    walk(&v["panels"], &mut out);
    out
}

struct Imported {
    signals: Vec<toml::Table>,
    stderr: String,
    config: PathBuf,
}

fn import(dir: &Path, name: &str, rel: &str, prom: &str, extra: &[&str]) -> Imported {
    let config = dir.join(format!("{name}.toml"));
    let dashboard = fixture(rel);
    let mut args = vec![
        "import-grafana",
        dashboard.to_str().unwrap(),
        "--out",
        config.to_str().unwrap(),
        "--prometheus",
        prom,
    ];
    args.extend_from_slice(extra);
    let o = run_slitop(&args, &[]);
    let stderr = stderr_of(&o);
    assert_eq!(o.status.code(), Some(0), "{name}: {stderr}");
    let text = std::fs::read_to_string(&config).unwrap();
    let table: toml::Table = text.parse().unwrap();
    let signals = table["signal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_table().unwrap().clone())
        .collect();
    Imported {
        signals,
        stderr,
        config,
    }
}

fn signal<'a>(got: &'a Imported, name: &str) -> &'a toml::Table {
    got.signals
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .unwrap_or_else(|| {
            let names: Vec<_> = got.signals.iter().map(|s| s["name"].to_string()).collect();
            panic!("no signal {name}; have {names:?}")
        })
}

/// Each row and text panel is named as skipped, every query is free of template variables,
/// and `slitop check` accepts the written file against the running Prometheus.
fn common_checks(got: &Imported, rel: &str) {
    for (kind, title) in panels(&fixture(rel)) {
        if kind == "row" || kind == "text" {
            let line = format!("skipped {title:?}: {kind} panel");
            let untitled = title.is_empty() && got.stderr.contains(&format!(": {kind} panel"));
            assert!(
                got.stderr.contains(&line) || untitled,
                "{rel}: no `{line}` in\n{}",
                got.stderr
            );
        }
    }
    for s in &got.signals {
        let q = s["query"].as_str().unwrap();
        assert!(
            !q.contains('$') && !q.contains("[["),
            "{rel}: unresolved variable in {q}"
        );
    }
    let o = run_slitop(&["--config", got.config.to_str().unwrap(), "check"], &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{rel}: check refused the import:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        stderr_of(&o)
    );
    let dir = got.config.parent().unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn public_dashboards_import_into_configs_check_accepts() {
    let prom = Prometheus::start(&[], "1s");
    let dir = tempfile::tempdir().unwrap();
    let url = prom.url();

    // k6's Prometheus dashboard: `$quantile_stat` has no default, so it is given.
    let rel = "k6/k6-prometheus.json";
    let k6 = import(dir.path(), "k6", rel, &url, &["--var", "quantile_stat=p95"]);
    common_checks(&k6, rel);
    let peak = signal(&k6, "peak_rps");
    assert_eq!(
        peak["query"].as_str(),
        Some("sum(irate(k6_http_reqs_total{testid=~\".*\"}[1m]))")
    );
    assert_eq!(peak["unit"].as_str(), Some("req/s"));
    assert_eq!(peak["group"].as_str(), Some("throughput"));
    let p95 = signal(&k6, "http_request_duration");
    assert_eq!(
        p95["query"].as_str(),
        Some("avg(k6_http_req_duration_p95{testid=~\".*\"})")
    );
    assert_eq!(
        (p95["unit"].as_str(), p95["group"].as_str()),
        (Some("s"), Some("lagging"))
    );
    // The checks' share is a percent panel: divided to a ratio.
    let checks = signal(&k6, "checks_success_rate_aggregate_individual_checks");
    assert!(
        checks["query"].as_str().unwrap().ends_with(") / 100"),
        "{checks:?}"
    );
    assert_eq!(checks["unit"].as_str(), Some("ratio"));

    // Without the variable, the panels that need it are skipped with the flag to give.
    let bare = import(dir.path(), "k6-bare", rel, &url, &[]);
    assert!(
        bare.stderr.contains("--var quantile_stat=VALUE"),
        "{}",
        bare.stderr
    );
    assert!(bare.signals.len() < k6.signals.len());

    // Node Exporter Full: `$job` and `$node` are query variables with no saved value.
    let rel = "node-exporter-full/node-exporter-full.json";
    let node = import(
        dir.path(),
        "node",
        rel,
        &url,
        &[
            "--var",
            "job=node",
            "--var",
            "node=127.0.0.1:9100",
            "--var",
            "nodename=host",
        ],
    );
    common_checks(&node, rel);
    assert!(node.signals.len() > 100, "{} signals", node.signals.len());
    let busy = node
        .signals
        .iter()
        .find(|s| {
            s["query"]
                .as_str()
                .unwrap()
                .contains("node_cpu_seconds_total")
        })
        .unwrap();
    assert!(busy["query"]
        .as_str()
        .unwrap()
        .contains("instance=\"127.0.0.1:9100\""));

    // The Redis exporter's dashboard: its `$namespace` and `$instance` (used with `=~`) have no
    // saved value. A gauge has green/orange/red steps in percent.
    let rel = "redis/redis-dashboard.json";
    let redis = import(
        dir.path(),
        "redis",
        rel,
        &url,
        &["--var", "namespace=.*", "--var", "instance=.*"],
    );
    common_checks(&redis, rel);
    let mem = signal(&redis, "memory_usage");
    assert_eq!(mem["unit"].as_str(), Some("ratio"));
    assert_eq!(
        (mem["warn"].as_float(), mem["crit"].as_float()),
        (Some(0.8), Some(0.95))
    );
    // Time series panels keep Grafana's undrawn default steps out.
    let cmds = signal(&redis, "total_commands_sec");
    assert!(!cmds.contains_key("crit"), "{cmds:?}");
}

#[test]
fn a_mapping_file_groups_panels_and_bad_input_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("map.toml");
    std::fs::write(
        &map,
        "[[panel]]\ntitle = \"Peak RPS\"\ngroup = \"leading\"\nrole = \"throughput\"\nname = \"rps\"\n[[panel]]\ntitle_contains = \"latency\"\nskip = true\n",
    )
    .unwrap();
    let out = dir.path().join("k6.toml");
    let dashboard = fixture("k6/k6-prometheus.json");
    let o = run_slitop(
        &[
            "import-grafana",
            dashboard.to_str().unwrap(),
            "--mapping",
            map.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    let e = stderr_of(&o);
    assert_eq!(o.status.code(), Some(0), "{e}");
    assert!(
        e.contains("skipped \"HTTP Latency Timings\": skipped by the mapping file"),
        "{e}"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("name = \"rps\"\ngroup = \"leading\"")
            && text.contains("role = \"throughput\""),
        "{text}"
    );

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"panels\": [\n  {\"type\": \"stat\",, }]}").unwrap();
    let o = run_slitop(&["import-grafana", bad.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("bad.json:2:"), "{}", stderr_of(&o));
    std::fs::write(&map, "[[panel]]\ntitle = \"x\"\ngroup = 3\n").unwrap();
    let o = run_slitop(
        &[
            "import-grafana",
            dashboard.to_str().unwrap(),
            "--mapping",
            map.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("map.toml:3:9"), "{}", stderr_of(&o));
}
