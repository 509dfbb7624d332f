//! Settings given on the command line, as plain values, and how they are laid over the files:
//! flags override the config file, which overrides the preset, which overrides the built-in
//! defaults. The command-line parser fills these structs; nothing here knows about it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    find_config_file, load_layers, parse_adhoc, preset_text, Config, ConfigError, ExportConfig,
    GatesConfig, K6Config, PrometheusConfig, ReportConfig, ScrapeConfig, ValkeyConfig, SIGNALS_K6,
    SIGNALS_VALKEY,
};

/// Connection and refresh settings given as flags; unset ones leave the files' values.
#[derive(Clone, Debug, Default)]
pub struct SourceFlags {
    pub config: Option<PathBuf>,
    pub preset: Option<String>,
    pub prometheus: Option<String>,
    pub scrape: Vec<String>,
    pub valkey: Option<String>,
    pub stream: Vec<String>,
    pub group: Vec<String>,
    pub k6: Vec<String>,
    pub k6_json: Vec<PathBuf>,
    pub refresh: Option<Duration>,
    pub window: Option<Duration>,
    pub timeout: Option<Duration>,
    /// Ad-hoc signals, `NAME=PROMQL`.
    pub signals: Vec<String>,
}

/// Export targets given as flags (`--pushgateway`, `--grafana`, ...).
#[derive(Clone, Debug, Default)]
pub struct ExportFlags {
    pub pushgateway: Option<String>,
    pub environment: Option<String>,
    pub grafana: Option<String>,
    pub grafana_token_env: Option<String>,
    pub grafana_token_file: Option<PathBuf>,
}

/// What the user says about the run: free-form, carried into the recording and the report.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Version or git SHA of the service under test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_version: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The command line the run was started with (URL passwords redacted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// What the end of a run needs besides its data: gates, plateau rules, exports.
#[derive(Clone, Debug, Default)]
pub struct ReportSettings {
    pub gates: GatesConfig,
    pub report: ReportConfig,
    pub export: ExportConfig,
}

/// Builds the effective configuration: built-in signal sets, preset, file, then flags.
pub fn build_config(a: &SourceFlags) -> Result<Config, ConfigError> {
    let mut layers: Vec<(String, String)> = Vec::new();
    if let Some(p) = &a.preset {
        layers.push((format!("preset {p}"), preset_text(p)?.to_string()));
    }
    if let Some(path) = find_config_file(a.config.as_deref()) {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConfigError::Other(format!("{}: cannot read config file: {e}", path.display()))
        })?;
        layers.push((path.display().to_string(), text));
    }
    // Parse what the files say first, so the built-in signal sets follow the sources they enable.
    let files = load_layers(&layers)?;
    let mut cfg = apply_flags(files, a)?;
    let mut base: Vec<(String, String)> = Vec::new();
    if cfg.valkey.is_some() {
        base.push(("built-in valkey signals".into(), SIGNALS_VALKEY.into()));
    }
    if cfg.k6.is_some() {
        base.push(("built-in k6 signals".into(), SIGNALS_K6.into()));
    }
    if !base.is_empty() {
        let builtin = load_layers(&base)?;
        let mut signals = builtin.signals;
        for s in std::mem::take(&mut cfg.signals) {
            match signals.iter_mut().find(|b| b.name == s.name) {
                Some(b) => *b = s,
                None => signals.push(s),
            }
        }
        cfg.signals = signals;
    }
    cfg.validate()?;
    Ok(cfg)
}

fn apply_flags(mut cfg: Config, a: &SourceFlags) -> Result<Config, ConfigError> {
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
                cfg.prometheus = Some(PrometheusConfig {
                    url: url.clone(),
                    auth: Default::default(),
                })
            }
        }
    }
    if !a.scrape.is_empty() {
        let s = cfg.scrape.get_or_insert_with(ScrapeConfig::default);
        s.urls = a.scrape.clone();
    }
    if let Some(url) = &a.valkey {
        match &mut cfg.valkey {
            Some(v) => v.url = url.clone(),
            None => cfg.valkey = Some(ValkeyConfig::at(url)),
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
        let k = cfg.k6.get_or_insert_with(K6Config::default);
        if !a.k6.is_empty() {
            k.urls = a.k6.clone();
        }
        if !a.k6_json.is_empty() {
            k.json_files = a.k6_json.clone();
        }
    }
    for spec in &a.signals {
        let s = parse_adhoc(spec)?;
        match cfg.signals.iter_mut().find(|x| x.name == s.name) {
            Some(x) => x.query = s.query,
            None => cfg.signals.push(s),
        }
    }
    Ok(cfg)
}

/// The report settings of a configuration with flags laid over them; `recorded` (a
/// recording's gates) sits underneath the configuration.
pub fn report_settings(
    cfg: &Config,
    recorded: Option<&GatesConfig>,
    gates: &GatesConfig,
    export: &ExportFlags,
) -> Result<ReportSettings, ConfigError> {
    let mut g = recorded.cloned().unwrap_or_default();
    g.overlay(&cfg.gates);
    g.overlay(gates);
    g.validate().and_then(|_| g.check_complete())?;
    let mut e = cfg.export.clone();
    macro_rules! take {
        ($($f:ident),*) => {$(if export.$f.is_some() { e.$f = export.$f.clone(); })*};
    }
    take!(
        pushgateway,
        environment,
        grafana,
        grafana_token_env,
        grafana_token_file
    );
    // A token source given as a flag replaces the config's, whichever kind that was.
    if export.grafana_token_env.is_some() {
        e.grafana_token_file = None;
    } else if export.grafana_token_file.is_some() {
        e.grafana_token_env = None;
    }
    e.validate()?;
    Ok(ReportSettings {
        gates: g,
        report: cfg.report.clone(),
        export: e,
    })
}
