//! Secrets given to slitop never come back out: a run configured with a secret in every
//! place a user can put one (URL passwords, user-only userinfo, token query strings, `--flag=URL`
//! arguments, tokens in environment variables, custom headers in the config file, export
//! targets) writes none of them to stdout, stderr or any file of its run directory, and
//! neither do `slitop check` and a configuration error.

mod common;

use std::path::Path;

use common::{free_port, run_slitop, FakeHttp, Reply, Valkey};

/// Every secret of these tests carries this mark, so one search finds any of them.
const MARK: &str = "Sekr3t";

/// Every file under `dir`, with its text (lossy), depth first.
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let mut bytes = std::fs::read(&p).unwrap();
                // A compressed recording is searched as the text it holds.
                if bytes.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
                    bytes = zstd::stream::decode_all(&bytes[..]).unwrap();
                }
                out.push((
                    p.display().to_string(),
                    String::from_utf8_lossy(&bytes).to_string(),
                ));
            }
        }
    }
    out
}

fn assert_no_secret(what: &str, text: &str) {
    if let Some(at) = text.find(MARK) {
        let from = text[..at]
            .char_indices()
            .rev()
            .nth(120)
            .map_or(0, |(i, _)| i);
        panic!(
            "{what} leaks a secret: …{}…",
            &text[from..(at + MARK.len()).min(text.len())]
        );
    }
}

/// A configuration file holding a secret in each of its URLs and headers.
fn config_file(dir: &Path, closed: u16) -> std::path::PathBuf {
    let path = dir.join("slitop.toml");
    std::fs::write(
        &path,
        format!(
            r#"refresh = "300ms"
[prometheus]
url = "http://promuser:prom-{MARK}@127.0.0.1:{closed}"
[prometheus.auth]
headers = {{ "X-Api-Key" = "hdr-{MARK}" }}
[export]
pushgateway = "http://pg:pg-{MARK}@127.0.0.1:{closed}"
grafana = "http://gf-{MARK}@127.0.0.1:{closed}/?api_key=gk-{MARK}"
grafana_token_env = "SLITOP_TEST_GRAFANA_TOKEN"
retries = 0
timeout = "1s"
"#
        ),
    )
    .unwrap();
    path
}

#[test]
fn no_secret_reaches_any_output_of_a_run_check_or_error() {
    let valkey = Valkey::start_with(&["--requirepass", &format!("vk-{MARK}")]);
    let metrics = FakeHttp::start(|req| {
        if req.starts_with("GET /metrics") {
            Reply::ok("text/plain; version=0.0.4", "queue_depth 3\n")
        } else {
            Reply::Http {
                status: 404,
                content_type: "text/plain",
                body: b"no".to_vec(),
            }
        }
    });
    let closed = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let cfg = config_file(dir.path(), closed);
    let valkey_arg = format!("--valkey=redis://:vk-{MARK}@127.0.0.1:{}", valkey.port);
    let scrape_ok = format!(
        "--scrape={}?token=tok-{MARK}&password=pw-{MARK}",
        metrics.url("/metrics")
    );
    let scrape_down = format!("http://scr:scr-{MARK}@127.0.0.1:{closed}/metrics?key=k-{MARK}");
    let k6 = format!("http://k6user-{MARK}@127.0.0.1:{closed}");
    let sources: Vec<&str> = vec![
        "--config",
        cfg.to_str().unwrap(),
        &valkey_arg,
        "--stream",
        "jobs",
        &scrape_ok,
        "--scrape",
        &scrape_down,
        "--k6",
        &k6,
        "--signal",
        "depth=queue_depth",
    ];
    let env = [
        ("SLITOP_TEST_GRAFANA_TOKEN", "gt-Sekr3t"),
        ("SLITOP_TEST_UNUSED", "env-Sekr3t"),
    ];

    let mut run_args = sources.clone();
    run_args.extend([
        "--headless",
        "--duration",
        "3s",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let run = run_slitop(&run_args, &env);
    let stdout = String::from_utf8_lossy(&run.stdout).to_string();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert_no_secret("the run's stdout", &stdout);
    assert_no_secret("the run's stderr", &stderr);
    let files = files_under(&out_dir);
    for (path, text) in &files {
        assert_no_secret(path, text);
    }
    // The secrets were there to leak: every output names the redacted endpoints it was given.
    let names: Vec<&str> = files
        .iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap())
        .collect();
    for f in [
        "recording.jsonl.zst",
        "headless.jsonl",
        "report.json",
        "report.md",
    ] {
        assert!(names.contains(&f), "{f} missing from {names:?}\n{stderr}");
    }
    let all: String = files.iter().map(|(_, t)| t.as_str()).collect();
    for shown in [
        ":REDACTED@127.0.0.1",
        "token=REDACTED",
        "pg:REDACTED@",
        "REDACTED@127.0.0.1",
    ] {
        assert!(all.contains(shown), "no {shown} in the run's files");
    }
    assert!(
        stdout.contains("connection refused") || stdout.contains("REDACTED"),
        "the down reasons were not printed: {stdout}"
    );
    assert!(
        stderr.contains("export"),
        "the failed exports were not reported: {stderr}"
    );

    let mut check_args = vec!["check"];
    check_args.extend(sources.iter().copied());
    let check = run_slitop(&check_args, &env);
    let check_out = String::from_utf8_lossy(&check.stdout);
    assert_no_secret("check's stdout", &check_out);
    assert_no_secret("check's stderr", &String::from_utf8_lossy(&check.stderr));
    assert!(check_out.contains("REDACTED"), "{check_out}");

    let bad = format!("http://u:bad-{MARK}@");
    let error = run_slitop(&["check", "--prometheus", &bad], &[]);
    assert!(!error.status.success());
    let said = String::from_utf8_lossy(&error.stderr).to_string()
        + &String::from_utf8_lossy(&error.stdout);
    assert_no_secret("a configuration error", &said);
    assert!(said.contains("REDACTED"), "{said}");
}

#[test]
fn insecure_tls_is_said_at_the_start_and_kept_in_the_report() {
    let closed = free_port();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let cfg = dir.path().join("slitop.toml");
    std::fs::write(
        &cfg,
        format!(
            "refresh = \"300ms\"\n[scrape]\nurls = [\"https://127.0.0.1:{closed}/metrics\"]\n[scrape.auth]\ninsecure_skip_verify = true\n"
        ),
    )
    .unwrap();
    let o = run_slitop(
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--signal",
            "depth=queue_depth",
            "--headless",
            "--duration",
            "1s",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: scrape: TLS certificate verification is OFF"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["signal"], "security", "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let security: Vec<&serde_json::Value> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["id"] == "security")
        .collect();
    assert_eq!(security.len(), 1, "{}", report["warnings"]);
    assert!(security[0]["text"]
        .as_str()
        .unwrap()
        .contains("insecure_skip_verify"));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(
        md.contains("`security`: scrape: TLS certificate verification is OFF"),
        "{md}"
    );
}
