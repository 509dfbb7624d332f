//! Command line: flags override the config file, which overrides the preset, which overrides
//! the built-in defaults. Connection flags work without any file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, ConfigError};

#[derive(Parser, Debug)]
#[command(
    name = "slitop",
    version,
    about = "Watch an HTTP load test's saturation sequence live: Prometheus, /metrics, Valkey streams and k6 in one terminal",
    after_help = "Examples:\n  slitop --scrape http://127.0.0.1:8080/metrics --valkey redis://127.0.0.1:6379 --stream jobs --k6 http://127.0.0.1:6565\n  slitop --preset valkey-hop --headless --duration 5m --out run1\n  slitop --prometheus http://127.0.0.1:9090 --signal 'rps=sum(rate(http_requests_total[1m]))' check\n\nSecrets (tokens, passwords) are read from environment variables or files named in the config, never from flags.\nk6 2.x starts its REST API only when run with --address (e.g. k6 run --address 127.0.0.1:6565)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Run without the terminal UI: JSON lines on stdout.
    #[arg(long, global = true)]
    pub headless: bool,
    /// Stop after this long (e.g. 10m). Default: run until interrupted.
    #[arg(long, value_parser = humantime::parse_duration, global = true)]
    pub duration: Option<Duration>,
    /// Directory for the run's output files.
    #[arg(long, global = true)]
    pub out: Option<PathBuf>,
    /// Dashboard: plain ASCII instead of braille and box-drawing glyphs.
    #[arg(long, global = true)]
    pub ascii: bool,
    /// Dashboard: numbers only, no charts (least traffic over a slow link).
    #[arg(long, global = true)]
    pub low_bandwidth: bool,
    /// Dashboard: leave the mouse to the terminal (text selection) instead of scrolling.
    #[arg(long, global = true)]
    pub no_mouse: bool,
    /// Print a commented configuration template (the defaults) and exit.
    #[arg(long)]
    pub print_config_template: bool,
    #[command(flatten)]
    pub meta: MetaArgs,
}

/// What the user says about the run; recorded in the header and the report.
#[derive(Args, Debug, Default, Clone)]
pub struct MetaArgs {
    /// Name of the scenario being run (e.g. capacity-ramp).
    #[arg(long, global = true)]
    pub scenario: Option<String>,
    /// Version or git SHA of the service under test.
    #[arg(long, global = true)]
    pub service_version: Option<String>,
    /// Free tag KEY=VALUE (repeatable).
    #[arg(long = "tag", global = true, value_parser = parse_tag)]
    pub tags: Vec<(String, String)>,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("--tag {s:?}: expected KEY=VALUE")),
    }
}

impl MetaArgs {
    pub fn to_meta(&self) -> crate::record::RunMeta {
        crate::record::RunMeta {
            scenario: self.scenario.clone(),
            service_version: self.service_version.clone(),
            tags: self.tags.iter().cloned().collect(),
        }
    }
}

#[derive(Args, Debug, Default, Clone)]
pub struct ConnArgs {
    /// Config file (TOML). Default: $XDG_CONFIG_HOME/slitop/config.toml if it exists.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Load a shipped preset: valkey-hop, nvcf, gofr, axonflow, k6.
    #[arg(long, global = true)]
    pub preset: Option<String>,
    /// Prometheus-compatible API base URL, e.g. http://127.0.0.1:9090.
    #[arg(long, global = true)]
    pub prometheus: Option<String>,
    /// A /metrics URL to scrape directly (repeatable).
    #[arg(long, global = true)]
    pub scrape: Vec<String>,
    /// Valkey/Redis URL, e.g. redis://127.0.0.1:6379 (rediss:// for TLS).
    #[arg(long, global = true)]
    pub valkey: Option<String>,
    /// Stream to watch (repeatable).
    #[arg(long, global = true)]
    pub stream: Vec<String>,
    /// Consumer group to watch (repeatable; default: every group).
    #[arg(long, global = true)]
    pub group: Vec<String>,
    /// k6 REST API URL, e.g. http://127.0.0.1:6565 (repeatable: instances are summed).
    #[arg(long, global = true)]
    pub k6: Vec<String>,
    /// k6 JSON output file to tail (k6 run --out json=FILE; repeatable).
    #[arg(long, global = true)]
    pub k6_json: Vec<PathBuf>,
    /// Refresh interval, e.g. 1s or 500ms.
    #[arg(long, value_parser = humantime::parse_duration, global = true)]
    pub refresh: Option<Duration>,
    /// Visible time window, e.g. 1m.
    #[arg(long, value_parser = humantime::parse_duration, global = true)]
    pub window: Option<Duration>,
    /// Per-request timeout of every source.
    #[arg(long, value_parser = humantime::parse_duration, global = true)]
    pub timeout: Option<Duration>,
    /// Ad-hoc signal NAME=PROMQL (repeatable).
    #[arg(long = "signal", global = true)]
    pub signals: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Probe every configured source and signal query; exit non-zero when a source fails.
    Check,
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
    /// Start a real HTTP → Valkey → worker pipeline, drive it past capacity with k6, and watch it.
    Demo(crate::demo::DemoArgs),
    /// Open a recording in the dashboard with a time cursor (space plays, [ ] change speed), or
    /// with --headless --out DIR run it through the same signals and detector and write the
    /// same outputs.
    Replay {
        /// A recording.jsonl written by an earlier run.
        file: PathBuf,
    },
}

/// Builds the effective configuration: built-in signal sets, preset, file, then flags.
pub fn build_config(a: &ConnArgs) -> Result<Config, ConfigError> {
    let mut layers: Vec<(String, String)> = Vec::new();
    if let Some(p) = &a.preset {
        layers.push((format!("preset {p}"), config::preset_text(p)?.to_string()));
    }
    if let Some(path) = config::find_config_file(a.config.as_deref()) {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError::Other(format!("{}: cannot read config file: {e}", path.display()))
        })?;
        layers.push((path.display().to_string(), text));
    }
    // Parse what the files say first, so the built-in signal sets follow the sources they enable.
    let files = config::load_layers(&layers)?;
    let mut cfg = apply_flags(files, a)?;
    let mut base: Vec<(String, String)> = Vec::new();
    if cfg.valkey.is_some() {
        base.push((
            "built-in valkey signals".into(),
            config::SIGNALS_VALKEY.into(),
        ));
    }
    if cfg.k6.is_some() {
        base.push(("built-in k6 signals".into(), config::SIGNALS_K6.into()));
    }
    if !base.is_empty() {
        let builtin = config::load_layers(&base)?;
        let mut signals = builtin.signals;
        for s in std::mem::take(&mut cfg.signals) {
            match signals.iter_mut().find(|b| b.name == s.name) {
                Some(b) => *b = s,
                None => signals.push(s),
            }
        }
        cfg.signals = signals;
    }
    cfg.validate().map_err(ConfigError::Other)?;
    Ok(cfg)
}

fn apply_flags(mut cfg: Config, a: &ConnArgs) -> Result<Config, ConfigError> {
    if let Some(r) = a.refresh {
        cfg.refresh = r;
    }
    if let Some(w) = a.window {
        cfg.window = w;
    }
    if let Some(t) = a.timeout {
        cfg.timeout = Some(t);
    }
    if let Some(url) = &a.prometheus {
        match &mut cfg.prometheus {
            Some(p) => p.url = url.clone(),
            None => {
                cfg.prometheus = Some(crate::sources::prometheus::PrometheusConfig {
                    url: url.clone(),
                    auth: Default::default(),
                })
            }
        }
    }
    if !a.scrape.is_empty() {
        let s = cfg
            .scrape
            .get_or_insert_with(|| toml::from_str("").expect("scrape defaults"));
        s.urls = a.scrape.clone();
    }
    if let Some(url) = &a.valkey {
        match &mut cfg.valkey {
            Some(v) => v.url = url.clone(),
            None => {
                let t = format!("url = {}", toml::Value::String(url.clone()));
                cfg.valkey = Some(
                    toml::from_str(&t).map_err(|e| ConfigError::Other(format!("--valkey: {e}")))?,
                );
            }
        }
    }
    if !a.stream.is_empty() || !a.group.is_empty() {
        let v = cfg.valkey.as_mut().ok_or_else(|| {
            ConfigError::Other("--stream/--group need a Valkey source: add --valkey URL".into())
        })?;
        if !a.stream.is_empty() {
            v.streams = a.stream.clone();
        }
        if !a.group.is_empty() {
            v.groups = a.group.clone();
        }
    }
    if !a.k6.is_empty() || !a.k6_json.is_empty() {
        let k = cfg
            .k6
            .get_or_insert_with(|| toml::from_str("").expect("k6 defaults"));
        if !a.k6.is_empty() {
            k.urls = a.k6.clone();
        }
        if !a.k6_json.is_empty() {
            k.json_files = a.k6_json.clone();
        }
    }
    for spec in &a.signals {
        let s = crate::signals::parse_adhoc(spec).map_err(ConfigError::Other)?;
        match cfg.signals.iter_mut().find(|x| x.name == s.name) {
            Some(x) => x.query = s.query,
            None => cfg.signals.push(s),
        }
    }
    Ok(cfg)
}
