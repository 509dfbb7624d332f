//! Runs lose nothing: a `kill -9` costs a compressed recording at most the refresh being
//! written, a second run never overwrites the first one's recording (nor does a
//! replay the recording it reads), report files are replaced whole or not at all, and a disk
//! that fills up mid-run stops the recording, not the run, whose report is still written.
//! The full disk is a file-size limit (`prlimit --fsize`) with SIGXFSZ ignored, so writes
//! past it fail with EFBIG as they would with ENOSPC.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{fixture_run_dir, run_slitop, slitop_bin, stderr_of, wait_until, FakeHttp, Reply};

/// A scrape target with `n` series of `queue_depth`.
fn target(n: usize) -> FakeHttp {
    FakeHttp::start(move |_| {
        let body: String = (0..n)
            .map(|i| format!("queue_depth{{shard=\"{i}\"}} {i}\n"))
            .collect();
        Reply::ok("text/plain; version=0.0.4", body)
    })
}

fn headless(url: &str, out: &Path, duration: &str) -> Vec<String> {
    [
        "--scrape",
        url,
        "--refresh",
        "100ms",
        "--signal",
        "depth=sum(queue_depth)",
        "--headless",
        "--duration",
        duration,
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// slitop under a file-size limit of `bytes`, SIGXFSZ ignored.
fn limited(bytes: u64, args: &[String]) -> std::process::Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; exec prlimit --fsize={bytes} \"$0\" \"$@\""
        ))
        .arg(slitop_bin())
        .args(args)
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run slitop under prlimit")
}

#[test]
fn a_second_run_into_the_same_directory_leaves_the_first_one_whole() {
    let srv = target(3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = headless(&srv.url("/metrics"), &out, "1s");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = run_slitop(&args, &[]);
    assert!(first.status.success(), "{}", stderr_of(&first));
    let rec = common::recording_in(&out);
    let recording = std::fs::read(&rec).unwrap();
    let lines = std::fs::read(out.join("headless.jsonl")).unwrap();

    let second = run_slitop(&args, &[]);
    assert!(!second.status.success());
    let said = stderr_of(&second);
    assert!(said.contains("already exists"), "{said}");
    // Nor does one that would write the other format beside it.
    let mut plain = args.clone();
    plain.extend(["--record-format", "jsonl"]);
    let third = run_slitop(&plain, &[]);
    assert!(!third.status.success());
    let said = stderr_of(&third);
    assert!(said.contains("already exists"), "{said}");
    assert!(!out.join("recording.jsonl").exists());
    assert_eq!(std::fs::read(&rec).unwrap(), recording);
    assert_eq!(std::fs::read(out.join("headless.jsonl")).unwrap(), lines);

    // A replay into the recording's own directory, named through a symlink, is refused too.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&out, &link).unwrap();
    let replay = run_slitop(
        &[
            "replay",
            rec.to_str().unwrap(),
            "--headless",
            "--out",
            link.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!replay.status.success());
    let said = stderr_of(&replay);
    assert!(said.contains("would overwrite the recording"), "{said}");
    assert_eq!(std::fs::read(&rec).unwrap(), recording);
}

/// The refreshes a run printed to its headless lines (one `depth` line each).
fn refreshes_printed(out: &Path) -> usize {
    std::fs::read_to_string(out.join("headless.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.ends_with('}') && l.contains("\"signal\":\"depth\""))
        .count()
}

#[test]
fn a_run_killed_mid_way_keeps_every_refresh_but_the_last_in_its_compressed_recording() {
    let srv = target(50);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = Command::new(slitop_bin())
        .args(headless(&srv.url("/metrics"), &out, "60s"))
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let went = wait_until(std::time::Duration::from_secs(20), || {
        refreshes_printed(&out) >= 15
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        went,
        "the run printed {} refreshes",
        refreshes_printed(&out)
    );
    let printed = refreshes_printed(&out);
    let rec = slitop::record::read::Recording::read(&out.join("recording.jsonl.zst")).unwrap();
    let ticks = rec
        .records
        .iter()
        .filter(|r| matches!(r, slitop::record::read::Record::Tick(_)))
        .count();
    // A refresh is flushed to the recording before its lines are printed; the one being
    // written when the kill came may be lost, and only it.
    assert!(
        ticks + 1 >= printed,
        "{ticks} ticks recorded, {printed} printed"
    );
    assert!(!rec
        .records
        .iter()
        .any(|r| matches!(r, slitop::record::read::Record::End(_))));
}

#[test]
fn runs_without_out_started_together_get_a_directory_each() {
    let srv = target(1);
    let cwd = tempfile::tempdir().unwrap();
    let spawn = || {
        Command::new(slitop_bin())
            .args([
                "--scrape",
                &srv.url("/metrics"),
                "--signal",
                "d=queue_depth",
            ])
            .args(["--headless", "--duration", "1s"])
            .current_dir(cwd.path())
            .env_remove("XDG_CONFIG_HOME")
            .env("HOME", std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for c in [a, b] {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr_of(&o));
    }
    let runs: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| slitop::record::find_in(p).is_some())
        .collect();
    assert_eq!(runs.len(), 2, "{runs:?}");
}

/// A scrape target with `n` series whose values change on every scrape, in digits that
/// compress poorly: a compressed recording grows about as fast as a plain one.
fn churning_target(n: usize) -> FakeHttp {
    let scrapes = std::sync::atomic::AtomicU64::new(0);
    FakeHttp::start(move |_| {
        let k = scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let body: String = (0..n as u64)
            .map(|i| {
                let v = (i * 2_654_435_761 + k * 40_503) % 1_000_003;
                format!("queue_depth{{shard=\"{i}\"}} {v}.{}\n", v % 997)
            })
            .collect();
        Reply::ok("text/plain; version=0.0.4", body)
    })
}

#[test]
fn a_full_disk_stops_the_recording_not_the_run_and_the_report_is_written() {
    // 300 series every 100 ms: the plain recording passes 64 KiB within a second or two.
    let srv = target(300);
    full_disk(&srv, &["--record-format", "jsonl"]);
    // Compressed (the default), 3000 churning series do the same.
    let srv = churning_target(3000);
    full_disk(&srv, &[]);
}

fn full_disk(srv: &FakeHttp, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut args = headless(&srv.url("/metrics"), &out, "3s");
    args.extend(extra.iter().map(|a| a.to_string()));
    let o = limited(64 * 1024, &args);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(stdout.contains("the recording stopped"), "{stdout}");
    // The run went on to its end: refreshes after the failure are still printed.
    let after = stdout.split("the recording stopped").nth(1).unwrap();
    assert!(
        after.matches("\"signal\":\"depth\"").count() >= 5,
        "{after}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(report["duration_s"].as_f64().unwrap() >= 2.5, "{report}");
    assert!(out.join("report.md").is_file());
    // What the recording holds stays readable.
    let rec = slitop::record::read::Recording::read(&common::recording_in(&out)).unwrap();
    assert!(!rec.records.is_empty());
}

#[test]
fn a_report_that_cannot_be_written_leaves_the_previous_one_whole() {
    let (dir, rec) = fixture_run_dir("ramp");
    let args = ["report".to_string(), rec.to_str().unwrap().to_string()];
    let first = run_slitop(&[&args[0], &args[1]], &[]);
    assert!(first.status.success(), "{}", stderr_of(&first));
    let json = std::fs::read_to_string(dir.path().join("report.json")).unwrap();
    assert!(json.len() > 4096, "{} bytes", json.len());

    let second = limited(4096, &args);
    assert!(!second.status.success());
    assert!(
        stderr_of(&second).contains("report.json"),
        "{}",
        stderr_of(&second)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.json")).unwrap(),
        json
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
