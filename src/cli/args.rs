//! The flags: parsed by clap into these structs, then handed to the settings as plain values
//! (flags override the config file, which overrides the preset, which overrides the built-in
//! defaults). Connection flags work without any file.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::settings::{ExportFlags, GatesConfig, RunMeta, Slo, SourceFlags, Warmup};

#[derive(Parser, Debug)]
#[command(
    name = "slitop",
    version,
    about = "Watch an HTTP load test's saturation sequence live: Prometheus, /metrics, Valkey streams and k6 in one terminal",
    after_help = "Examples:\n  slitop --scrape http://127.0.0.1:8080/metrics --valkey redis://127.0.0.1:6379 --stream jobs --k6 http://127.0.0.1:6565\n  slitop --preset valkey-hop --headless --duration 5m --out run1\n  slitop --prometheus http://127.0.0.1:9090 --signal 'rps=sum(rate(http_requests_total[1m]))' check\n\nExit codes: 0 ok; 1 a source failed (check) or the run failed; 2 bad configuration, flags or input; 3 a gate failed (--headless, replay, report; every local file is written first).\n\nSecrets (tokens, passwords) are read from environment variables or files named in the config, never from flags.\nk6 2.x starts its REST API only when run with --address (e.g. k6 run --address 127.0.0.1:6565)."
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
    /// Stop k6 (through its REST API) once this stage is confirmed and has held --stop-after:
    /// rate_rises, decoupled, pending_climbs, plateau, p95_high, errors_visible.
    #[arg(long, global = true, value_name = "STAGE")]
    pub stop_at: Option<String>,
    /// How long the --stop-at stage must hold before k6 is stopped, e.g. 30s (default 0s).
    #[arg(long, value_parser = humantime::parse_duration, global = true)]
    pub stop_after: Option<Duration>,
    /// Directory for the run's output files.
    #[arg(long, global = true)]
    pub out: Option<PathBuf>,
    /// How the recording is written: zstd (recording.jsonl.zst, read with `zstd -dc FILE | jq`)
    /// or jsonl (plain recording.jsonl, for `tail -f`).
    #[arg(long, global = true, value_enum, default_value_t)]
    pub record_format: crate::settings::recording::RecordFormat,
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
    #[command(flatten)]
    pub gates: GateArgs,
    #[command(flatten)]
    pub export: ExportArgs,
}

fn parse_share(s: &str) -> Result<f64, crate::settings::ConfigError> {
    crate::settings::parse_fraction(s)
}

/// Gates: pass/fail limits of the run (override `[gates]`); any failure exits with 3.
#[derive(Args, Debug, Default, Clone)]
pub struct GateArgs {
    /// Gate: largest share of failed requests, e.g. 1% or 0.01.
    #[arg(long, value_parser = parse_share, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub gate_error_rate: Option<f64>,
    /// Gate: p95 SLO over the loaded run, e.g. 500ms.
    #[arg(long, value_parser = humantime::parse_duration, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub gate_p95: Option<Duration>,
    /// Gate: p99 SLO over the loaded run, e.g. 2s.
    #[arg(long, value_parser = humantime::parse_duration, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub gate_p99: Option<Duration>,
    /// Gate: the backlog must drain within this long of its peak, e.g. 30s.
    #[arg(long, value_parser = humantime::parse_duration, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub gate_drain: Option<Duration>,
    /// Gate: knee lower or p95 higher than the baseline's by more than this share, e.g. 10%.
    #[arg(long, value_parser = parse_share, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub gate_regression: Option<f64>,
    /// Gate: p95 of the last quarter above the first quarter's by more than this share (soaks), e.g. 20%.
    #[arg(long, value_parser = parse_share, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub gate_soak_drift: Option<f64>,
    /// An earlier run (its directory, recording or report.json): drawn faint under this
    /// run's charts, live and in replay, and compared against by --gate-regression.
    #[arg(long, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub baseline: Option<PathBuf>,
    /// Gate: SLO over the seconds of the loaded run, SIGNAL<THRESHOLD@SHARE, e.g.
    /// 'client_p95<500ms@99%' (repeatable; <, <=, >, >=; units ms, s, %).
    #[arg(long, value_parser = Slo::parse, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub slo: Vec<Slo>,
    /// Left out of the SLO gates: this long from the start of the loaded run (30s), or
    /// "plateau" (up to the first load plateau).
    #[arg(long, value_parser = Warmup::parse, global = true, help_heading = "Gates (exit 3 when one fails)")]
    pub warmup: Option<Warmup>,
}

impl GateArgs {
    pub fn to_gates(&self) -> GatesConfig {
        GatesConfig {
            max_error_rate: self.gate_error_rate,
            p95: self.gate_p95,
            p99: self.gate_p99,
            drain: self.gate_drain,
            regression: self.gate_regression,
            soak_drift: self.gate_soak_drift,
            baseline: self.baseline.clone(),
            slo: self.slo.clone(),
            warmup: self.warmup,
        }
    }
}

/// Where the report is pushed at the end of a run (override `[export]`).
#[derive(Args, Debug, Default, Clone)]
pub struct ExportArgs {
    /// Push the run's summary to this Prometheus Pushgateway, e.g. http://127.0.0.1:9091.
    #[arg(long, global = true, help_heading = "Exports")]
    pub pushgateway: Option<String>,
    /// `environment` label of the pushed summary (e.g. staging).
    #[arg(long, global = true, help_heading = "Exports")]
    pub environment: Option<String>,
    /// Post annotations and stage onsets to this Grafana, e.g. http://127.0.0.1:3000.
    #[arg(long, global = true, help_heading = "Exports")]
    pub grafana: Option<String>,
    /// Environment variable holding the Grafana service-account token.
    #[arg(long, global = true, help_heading = "Exports")]
    pub grafana_token_env: Option<String>,
    /// File holding the Grafana service-account token.
    #[arg(long, global = true, help_heading = "Exports")]
    pub grafana_token_file: Option<PathBuf>,
}

impl ExportArgs {
    pub fn flags(&self) -> ExportFlags {
        ExportFlags {
            pushgateway: self.pushgateway.clone(),
            environment: self.environment.clone(),
            grafana: self.grafana.clone(),
            grafana_token_env: self.grafana_token_env.clone(),
            grafana_token_file: self.grafana_token_file.clone(),
        }
    }
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
    pub fn to_meta(&self) -> RunMeta {
        RunMeta {
            scenario: self.scenario.clone(),
            service_version: self.service_version.clone(),
            tags: self.tags.iter().cloned().collect(),
            args: std::env::args()
                .skip(1)
                .map(|a| crate::text::redact_text(&a))
                .collect(),
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
        /// A recording written by an earlier run (recording.jsonl.zst or recording.jsonl).
        file: PathBuf,
    },
    /// Compare runs: a delta table of each against the first (knee, capacity, p50/p95/p99
    /// overall and per plateau, error rate, drain, workers needed) with a verdict per row, and
    /// their envelopes; --gate-regression judges the knee and p95 rows (exit 3).
    Compare {
        /// Run directories, recordings or report.json files; the first is the baseline.
        #[arg(required = true, num_args = 2..)]
        runs: Vec<PathBuf>,
        /// Changes within this share are noise (widened to the runs' own spread), e.g. 5%;
        /// default: `[report] compare_noise` (5%).
        #[arg(long, value_parser = parse_share)]
        noise: Option<f64>,
    },
    /// Capacity against workers across runs tagged with their worker count (--tag workers=N,
    /// the demo's consumers, or Valkey's consumers): a Universal Scalability Law fit, its peak,
    /// and the workers a rate needs by the fit and by the linear rule.
    Scale {
        /// Run directories, recordings or report.json files, one per worker count.
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        /// The rate (req/s) to size for; default: the highest load a run was asked to carry.
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Rebuild a run's report (report.md, report.json, SVG plots, plateau CSV/JSON) from its
    /// recording, next to it or in --out; exits 3 when a gate fails.
    Report {
        /// A recording written by an earlier run (recording.jsonl.zst or recording.jsonl).
        recording: PathBuf,
    },
    /// Turn a Grafana dashboard's Prometheus panels into signals: a configuration file written
    /// to --out (or printed), with the panels it skipped and why on stderr.
    #[command(name = "import-grafana")]
    ImportGrafana(ImportGrafanaArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ImportGrafanaArgs {
    /// The dashboard's JSON (Grafana's "Export" or the API's `{"dashboard": ...}`).
    pub dashboard: PathBuf,
    /// A template variable's value, e.g. --var job=api --var __rate_interval=30s (repeatable);
    /// otherwise the dashboard's current value, "All" as `.*`, intervals 1m.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = crate::grafana_import::parse_var)]
    pub vars: Vec<(String, String)>,
    /// A TOML file of `[[panel]]` rules (title or title_contains → group, role, name, skip).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
}

impl ConnArgs {
    pub fn flags(&self) -> SourceFlags {
        SourceFlags {
            config: self.config.clone(),
            preset: self.preset.clone(),
            prometheus: self.prometheus.clone(),
            scrape: self.scrape.clone(),
            valkey: self.valkey.clone(),
            stream: self.stream.clone(),
            group: self.group.clone(),
            k6: self.k6.clone(),
            k6_json: self.k6_json.clone(),
            refresh: self.refresh,
            window: self.window,
            timeout: self.timeout,
            signals: self.signals.clone(),
        }
    }
}
