//! The real binary in a real terminal (tmux) against real sources: a real Valkey with streams,
//! and a server that accepts connections and never answers. Each test owns its tmux server
//! (its own socket), so nothing leaks between tests or into a user's tmux.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{wait_until, Valkey};

struct Tmux {
    socket: String,
    _dir: tempfile::TempDir,
}

impl Tmux {
    /// Quits a recorded run (`q`, confirmed with `y`) and waits for it to exit cleanly.
    fn quit_recorded_run(&self) {
        self.keys(&["q"]);
        self.keys(&["y"]);
        assert!(
            self.wait_for("EXITED 0", Duration::from_secs(15)),
            "{}",
            self.screen()
        );
    }

    /// Starts `cmd` in a detached session of the given size; when it exits the pane stays, so
    /// the screen it left behind can be read.
    fn start(cmd: &str, w: u16, h: u16) -> Tmux {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock").display().to_string();
        let t = Tmux { socket, _dir: dir };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-x",
                &w.to_string(),
                "-y",
                &h.to_string(),
                // A plain shell runs the command, then reports how it exited.
                &format!("{cmd}; echo EXITED $?; sleep 60"),
            ])
            .status
            .success();
        assert!(
            ok,
            "tmux could not start; run scripts/test.sh to install it"
        );
        t
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(["-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .output()
            .expect("tmux is installed (scripts/test.sh)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "e2e"]).stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "e2e"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    /// Literal text, not key names.
    fn type_text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "e2e", "-l", text]);
    }

    fn wait_for(&self, what: &str, limit: Duration) -> bool {
        wait_until(limit, || self.screen().contains(what))
    }

    /// Polls every 2 ms: for timing how fast the screen answers.
    fn wait_fast(&self, what: &str, present: bool, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if self.screen().contains(what) == present {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    fn display(&self, format: &str) -> String {
        String::from_utf8_lossy(
            &self
                .cmd(&["display-message", "-p", "-t", "e2e", format])
                .stdout,
        )
        .trim()
        .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}

fn valkey_with_streams(v: &Valkey, streams: &[&str]) {
    let client = redis::Client::open(v.url()).unwrap();
    let mut c = client.get_connection().unwrap();
    for s in streams {
        for i in 0..7 {
            let _: String = redis::cmd("XADD")
                .arg(*s)
                .arg("*")
                .arg("n")
                .arg(i)
                .query(&mut c)
                .unwrap();
        }
        let _: () = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(*s)
            .arg("workers")
            .arg("0")
            .query(&mut c)
            .unwrap();
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn slitop_cmd(args: &[&str], out: &Path) -> String {
    let mut cmd = shell_quote(&common::slitop_bin().display().to_string());
    for a in args {
        cmd.push(' ');
        cmd.push_str(&shell_quote(a));
    }
    cmd.push_str(&format!(
        " --out {}",
        shell_quote(&out.display().to_string())
    ));
    cmd.push_str(&format!(
        " 2>{}",
        shell_quote(&out.with_extension("err").display().to_string())
    ));
    cmd
}

/// The slitop process writing to `out` (not the shell that runs it).
fn pid_of(out: &Path) -> Option<u32> {
    let want = out.display().to_string();
    std::fs::read_dir("/proc").ok()?.find_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
        if exe.file_name()? != "slitop" {
            return None;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        cmdline
            .split(|b| *b == 0)
            .any(|arg| arg == want.as_bytes())
            .then_some(pid)
    })
}

/// The notes a run's recording holds; the recording must read back whole.
fn recorded_notes(out: &Path) -> Vec<String> {
    let rec = slitop::record::read::Recording::read(&common::recording_in(out)).unwrap();
    assert!(!rec.torn_tail);
    rec.records
        .iter()
        .filter_map(|r| match r {
            slitop::record::read::Record::Annotation { text, .. } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn live_values_notes_resize_queue_view_and_quit_restoring_the_terminal() {
    let v = Valkey::start();
    // A stream whose name carries an escape sequence: it must show as text, not act.
    let evil = "evil\x1b[41m";
    valkey_with_streams(&v, &["jobs", evil]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = [
        "--valkey",
        &v.url(),
        "--stream",
        "jobs",
        "--stream",
        evil,
        "--group",
        "workers",
        "--refresh",
        "500ms",
    ];
    let t = Tmux::start(&slitop_cmd(&args, &out), 120, 40);
    // Live values: the length of both streams (7 + 7) and Valkey healthy.
    assert!(
        t.wait_for("valkey ✓ ok", Duration::from_secs(15)),
        "{}",
        t.screen()
    );
    assert!(
        t.wait_for("stream_length", Duration::from_secs(5)),
        "{}",
        t.screen()
    );
    assert!(
        wait_until(Duration::from_secs(10), || t
            .screen()
            .lines()
            .any(|l| l.contains("stream_length") && l.contains(" 14"))),
        "{}",
        t.screen()
    );
    assert_eq!(t.display("#{alternate_on}"), "1");

    // A note: the time is taken at `a`, the text typed, Enter saves it.
    t.keys(&["a"]);
    assert!(
        t.wait_for("note @", Duration::from_secs(5)),
        "{}",
        t.screen()
    );
    t.type_text("scaled workers to 4");
    t.keys(&["Enter"]);
    assert!(
        t.wait_for("note saved", Duration::from_secs(5)),
        "{}",
        t.screen()
    );
    let notes = lines(&out.join("annotations.jsonl"));
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["text"], "scaled workers to 4");

    // The queue view shows both streams; the hostile name is inert text.
    t.keys(&["2"]);
    assert!(
        t.wait_for("workers", Duration::from_secs(5)),
        "{}",
        t.screen()
    );
    let s = t.screen();
    assert!(s.contains("jobs"), "{s}");
    // The escape is shown as U+FFFD and the rest as text (at this width the queue view's
    // figures leave the stream column ten cells, so the name may be cut after `[4`).
    assert!(s.contains("evil\u{FFFD}[4"), "{s}");

    // Shrinking to 40×12 and back neither crashes nor leaves it unable to draw.
    t.cmd(&["resize-window", "-t", "e2e", "-x", "40", "-y", "12"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(t.display("#{pane_dead}"), "0");
    assert!(!t.screen().contains("EXITED"), "{}", t.screen());
    t.cmd(&["resize-window", "-t", "e2e", "-x", "120", "-y", "40"]);
    t.keys(&["1"]);
    assert!(
        t.wait_for("leading", Duration::from_secs(5)),
        "{}",
        t.screen()
    );

    // q asks first (the run is recorded), y quits; the terminal is back to normal.
    t.keys(&["q"]);
    assert!(
        t.wait_for("Quit?", Duration::from_secs(5)),
        "{}",
        t.screen()
    );
    t.keys(&["y"]);
    assert!(
        t.wait_for("EXITED 0", Duration::from_secs(15)),
        "{}",
        t.screen()
    );
    assert_eq!(t.display("#{alternate_on}"), "0");
    assert!(out.join("report.json").exists());
    assert_eq!(
        recorded_notes(&out),
        vec!["scaled workers to 4".to_string()]
    );
}

#[test]
fn sighup_keeps_a_valid_recording_with_every_saved_note() {
    let v = Valkey::start();
    valkey_with_streams(&v, &["jobs"]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = [
        "--valkey",
        &v.url(),
        "--stream",
        "jobs",
        "--refresh",
        "500ms",
    ];
    let t = Tmux::start(&slitop_cmd(&args, &out), 100, 30);
    assert!(
        t.wait_for("valkey ✓ ok", Duration::from_secs(15)),
        "{}",
        t.screen()
    );
    for note in ["first note", "second note"] {
        t.keys(&["a"]);
        assert!(
            t.wait_for("note @", Duration::from_secs(5)),
            "{}",
            t.screen()
        );
        t.type_text(note);
        t.keys(&["Enter"]);
        assert!(
            wait_until(Duration::from_secs(5), || std::fs::read_to_string(
                out.join("annotations.jsonl")
            )
            .unwrap_or_default()
            .contains(note)),
            "{note} not saved"
        );
    }
    t.keys(&["m"]);
    assert!(wait_until(Duration::from_secs(5), || lines(
        &out.join("annotations.jsonl")
    )
    .len()
        == 3));
    let pid = pid_of(&out).expect("slitop is running");
    // A dropped SSH link: the terminal's hangup signal.
    unsafe_kill(pid, "HUP");
    assert!(
        t.wait_for("EXITED", Duration::from_secs(15)),
        "{}",
        t.screen()
    );
    assert_eq!(t.display("#{alternate_on}"), "0");
    assert_eq!(recorded_notes(&out), vec!["first note", "second note", ""]);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["annotations"].as_array().unwrap().len(), 3);
}

fn unsafe_kill(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

/// A server that accepts connections and never answers.
fn black_hole() -> (u16, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        let end = Instant::now() + Duration::from_secs(120);
        while Instant::now() < end {
            match l.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (port, h)
}

#[test]
fn keys_answer_within_50_ms_while_a_source_hangs() {
    let (port, _h) = black_hole();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = [
        "--scrape",
        &format!("http://127.0.0.1:{port}/metrics"),
        "--refresh",
        "1s",
    ];
    let t = Tmux::start(&slitop_cmd(&args, &out), 100, 30);
    assert!(
        t.wait_for("scrape", Duration::from_secs(10)),
        "{}",
        t.screen()
    );
    // Wait until a poll is actually hanging (its timeout is at least 1 s).
    std::thread::sleep(Duration::from_millis(1500));
    let took = help_toggle_times(&t, 10);
    let s = t.screen();
    assert!(
        s.contains("scrape ▲ stale")
            || s.contains("scrape ✖ down")
            || s.contains("scrape ? starting"),
        "the hanging source is not shown as unhealthy: {s}"
    );
    let median = took[took.len() / 2];
    eprintln!(
        "key → screen (incl. tmux round trips): median {median:?}, max {:?}",
        took[took.len() - 1]
    );
    assert!(
        median < Duration::from_millis(50),
        "median {median:?}: {took:?}"
    );
    t.quit_recorded_run();
}

/// How long `?` takes to open the help and any key to close it, `n` times over, as seen
/// through tmux (its round trips included).
fn help_toggle_times(t: &Tmux, n: usize) -> Vec<Duration> {
    let mut took = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        t.keys(&["?"]);
        assert!(
            t.wait_fast("any key closes", true, Duration::from_secs(5)),
            "{}",
            t.screen()
        );
        took.push(start.elapsed());
        t.keys(&["x"]);
        assert!(
            t.wait_fast("any key closes", false, Duration::from_secs(5)),
            "{}",
            t.screen()
        );
    }
    took.sort();
    took
}

/// The reference pipeline on `valkey`, serving /metrics on the port returned.
fn pipeline(valkey: &Valkey) -> (u16, common::ChildGuard) {
    let bin = Path::new(env!("CARGO_BIN_EXE_slitop")).with_file_name("slitop-pipeline");
    assert!(
        bin.is_file(),
        "{} missing: build the workspace",
        bin.display()
    );
    let port = common::free_port();
    let g = common::ChildGuard::spawn(
        "slitop-pipeline",
        Command::new(bin)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--valkey", &valkey.url()])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    assert!(wait_until(Duration::from_secs(15), || common::port_open(
        port
    )));
    (port, g)
}

/// With the scrape stalled mid-body and Valkey dripping a byte every 100 ms (both through
/// fault proxies in front of the real servers), keys still answer as fast as with no fault.
#[test]
fn keys_answer_within_50_ms_while_one_source_stalls_and_another_drips() {
    use fault_proxy::{Fault, FaultProxy, Wire};
    let v = Valkey::start();
    let (metrics_port, _pipeline) = pipeline(&v);
    let valkey_proxy = FaultProxy::start(v.port, Wire::Resp);
    let scrape_proxy = FaultProxy::start(metrics_port, Wire::Http);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let (valkey_url, scrape_url) = (
        valkey_proxy.url("redis", ""),
        scrape_proxy.url("http", "/metrics"),
    );
    let args = [
        "--valkey",
        &valkey_url,
        "--stream",
        "jobs",
        "--scrape",
        &scrape_url,
        "--refresh",
        "1s",
        "--timeout",
        "1s",
    ];
    let t = Tmux::start(&slitop_cmd(&args, &out), 120, 40);
    for healthy in ["valkey ✓ ok", "scrape ✓ ok"] {
        assert!(
            t.wait_for(healthy, Duration::from_secs(15)),
            "{}",
            t.screen()
        );
    }
    // The allowance: what tmux's round trips and the polling cost with nothing wrong.
    let calm = help_toggle_times(&t, 9);
    scrape_proxy.set(Fault::StallMidBody);
    valkey_proxy.set(Fault::Drip);
    for hurt in ["scrape ✖ down", "valkey ✖ down"] {
        assert!(t.wait_for(hurt, Duration::from_secs(10)), "{}", t.screen());
    }
    // Polls are under way again (retried after the backoff) and hanging while keys are pressed.
    std::thread::sleep(Duration::from_millis(1500));
    let faulted = help_toggle_times(&t, 9);
    let (calm_med, faulted_med) = (calm[calm.len() / 2], faulted[faulted.len() / 2]);
    eprintln!(
        "key → screen through tmux: no fault median {calm_med:?} (max {:?}); stalled + dripping median {faulted_med:?} (max {:?})",
        calm[calm.len() - 1],
        faulted[faulted.len() - 1]
    );
    let margin = Duration::from_millis(15);
    assert!(
        faulted_med <= calm_med + margin,
        "slower under faults: {faulted:?} against {calm:?}"
    );
    assert!(
        faulted_med <= Duration::from_millis(50),
        "median {faulted_med:?}: {faulted:?}"
    );
    scrape_proxy.set(Fault::Pass);
    valkey_proxy.set(Fault::Pass);
    for healthy in ["valkey ✓ ok", "scrape ✓ ok"] {
        assert!(
            t.wait_for(healthy, Duration::from_secs(15)),
            "did not recover: {}",
            t.screen()
        );
    }
    t.quit_recorded_run();
    let err = std::fs::read_to_string(out.with_extension("err")).unwrap_or_default();
    assert!(!err.contains("panicked"), "{err}");
}

/// Two recordings side by side: a replay with `--baseline` draws the other run under this one
/// (ghost onsets on the strip, its series faint in every chart, its curve and knee in the
/// envelope), and `q` leaves the terminal as it was.
#[test]
fn a_replay_over_a_baseline_shows_both_runs() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detector");
    let base = dir.path().join("steps-run");
    std::fs::create_dir(&base).unwrap();
    std::fs::copy(fixtures.join("steps.jsonl"), base.join("recording.jsonl")).unwrap();
    let cmd = format!(
        "{} replay {} --baseline {}",
        shell_quote(env!("CARGO_BIN_EXE_slitop")),
        shell_quote(&fixtures.join("ramp.jsonl").display().to_string()),
        shell_quote(&base.display().to_string()),
    );
    // Wide enough for every chip's onset–clear times and the baseline's ghost onsets.
    let t = Tmux::start(&cmd, 200, 48);
    assert!(
        t.wait_for("base steps-run", Duration::from_secs(20)),
        "{}",
        t.screen()
    );
    let screen = t.screen();
    let strip = screen.lines().nth(1).unwrap_or_default();
    assert!(strip.contains(" base 0:"), "{screen}");
    // The replay opens at the end of the run, where no load is left to compare at.
    assert!(screen.contains("┈ base steps-run"), "{screen}");
    // The envelope view carries the baseline's curve and knee.
    t.keys(&["3"]);
    assert!(
        t.wait_for("base p95", Duration::from_secs(5)),
        "{}",
        t.screen()
    );
    t.keys(&["q"]);
    assert!(
        t.wait_for("EXITED 0", Duration::from_secs(10)),
        "{}",
        t.screen()
    );
    // A baseline that is not there stops the replay before it takes the terminal.
    let bad = format!(
        "{} replay {} --baseline {}",
        shell_quote(env!("CARGO_BIN_EXE_slitop")),
        shell_quote(&fixtures.join("ramp.jsonl").display().to_string()),
        shell_quote(&dir.path().join("gone").display().to_string()),
    );
    let t = Tmux::start(&bad, 120, 20);
    assert!(
        t.wait_for("EXITED 2", Duration::from_secs(10)),
        "{}",
        t.screen()
    );
    assert!(t.screen().contains("no such file"), "{}", t.screen());
}
