//! The report's data: one typed `Report`, built once from the run (`json::build`) and read by
//! everything that renders or sends it (report.md, gates, plateau tables, exports), so a
//! renamed field is a compile error rather than a null in some output. report.json is this
//! struct serialized; `docs/report.schema.json` describes it and a test holds the two together.
//!
//! Reading is lenient (`#[serde(default)]`): a report.json with fewer keys, such as one
//! written by an earlier version, still reads back as a baseline; a key of the wrong type is
//! an error.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::detect::{StageId, StageState};
use crate::model::TimeMs;
use crate::settings::{LoadModel, Unit};

/// Everything report.json holds. The fields from `plateau_rule` on are filled as the local
/// files are written and the exports are tried.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    /// The version that built this report.
    pub slitop_version: String,
    /// The version that recorded the run (differs when a recording is rebuilt later).
    pub recorded_by: String,
    pub started_unix_ms: Option<TimeMs>,
    pub ended_unix_ms: TimeMs,
    pub duration_s: f64,
    pub refresh_ms: TimeMs,
    pub meta: Meta,
    /// Source name → endpoint (never credentials).
    pub sources: BTreeMap<String, String>,
    pub detect: DetectSettings,
    pub profile: Profile,
    pub summary: Summary,
    pub stages: Vec<Stage>,
    /// The knee as the detector judged it (its load may be in VUs for an arrival-rate run).
    pub knee: Option<Knee>,
    /// The load at the knee's time in the run's own load unit.
    pub knee_at: Option<Knee>,
    pub capacity_rps: Option<f64>,
    /// How the capacity was read (absent in earlier versions' reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_basis: Option<crate::detect::summary::CapacityBasis>,
    /// A closed loop's throughput against its VUs, fitted with the USL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_model: Option<crate::detect::concurrency::ConcurrencyModel>,
    pub scaling: Option<Scaling>,
    pub drain_s: Option<f64>,
    pub backlog: Backlog,
    /// Always written; None only reads an earlier version's `null`.
    pub drift: Option<Drift>,
    pub plateaus: Vec<Plateau>,
    /// p95 against load while the load rose (the drain left out), so runs without plateaus
    /// can still be drawn side by side; absent in reports of earlier versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rise: Option<Rise>,
    pub triage: Vec<TriageArea>,
    pub p95_crit_unix_ms: Option<TimeMs>,
    pub warnings: Vec<Warning>,
    pub annotations: Vec<Annotation>,
    /// Per-signal statistics over the run, by signal name.
    pub signals: BTreeMap<String, SignalStats>,
    pub plateau_rule: PlateauRule,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRef>,
    /// This run against the baseline, row by row, when the baseline could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    pub gates: Vec<GateResult>,
    pub files: Files,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plot_error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ExportResult>,
}

impl Report {
    /// report.json's text. Goes through `serde_json::Value` so every object's keys come out
    /// sorted, as report.json has always had them.
    pub fn to_json(&self) -> serde_json::Result<String> {
        Ok(serde_json::to_string_pretty(&serde_json::to_value(self)?)? + "\n")
    }

    /// A report from report.json parsed as JSON; the error names the key that did not fit.
    pub fn from_value(
        v: &serde_json::Value,
    ) -> Result<Report, serde_path_to_error::Error<serde_json::Error>> {
        serde_path_to_error::deserialize(v)
    }

    /// The gates that failed.
    pub fn failed_gates(&self) -> impl Iterator<Item = &GateResult> {
        self.gates.iter().filter(|g| !g.passed)
    }
}

/// A report to read: the typed one, or a report.json parsed as JSON (as tools and tests hold
/// it), read as a baseline is. Lets both go through the same renderers and gates.
pub trait AsReport {
    fn as_report(&self) -> Cow<'_, Report>;
}

impl AsReport for Report {
    fn as_report(&self) -> Cow<'_, Report> {
        Cow::Borrowed(self)
    }
}

impl AsReport for serde_json::Value {
    /// # Panics
    /// When the JSON does not have report.json's types; `Report::from_value` returns that as
    /// an error instead.
    fn as_report(&self) -> Cow<'_, Report> {
        match Report::from_value(self) {
            Ok(r) => Cow::Owned(r),
            Err(e) => panic!("not a slitop report.json: {e}"),
        }
    }
}

/// The run's description, as given on the command line or in the recording.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Meta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_version: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

/// The detector settings that the report's numbers depend on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectSettings {
    pub load_model: LoadModel,
    pub utilisation: f64,
    pub p95_warn_s: f64,
    pub p95_crit_s: f64,
}

/// What the load did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// "open loop (arrival rate)" or "closed loop (virtual users)".
    pub model: String,
    pub shape: Shape,
    pub text: String,
    /// First and peak load, absent when no load was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    #[default]
    None,
    Constant,
    Steps,
    Ramp,
}

/// The numbers over the loaded part of the run, or why there are none.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Summary {
    /// Listed first: a loaded summary has no `note`, so it never reads as this.
    NoLoad {
        note: String,
    },
    Loaded(Box<LoadedSummary>),
}

pub const NO_LOAD: &str = "no load was seen: nothing to summarise";

impl Default for Summary {
    fn default() -> Self {
        Summary::NoLoad {
            note: NO_LOAD.into(),
        }
    }
}

impl Summary {
    pub fn loaded(&self) -> Option<&LoadedSummary> {
        match self {
            Summary::Loaded(s) => Some(s),
            Summary::NoLoad { .. } => None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadedSummary {
    pub from_unix_ms: TimeMs,
    pub to_unix_ms: TimeMs,
    pub latency_basis: LatencyBasis,
    pub p50_s: Option<f64>,
    pub p95_s: Option<f64>,
    pub p99_s: Option<f64>,
    pub error_rate: Option<f64>,
    pub throughput_mean_rps: Option<f64>,
    pub throughput_peak_rps: Option<f64>,
    pub load_unit: String,
    pub at_peak_load: Option<AtPeak>,
}

/// Where the summary's quantiles come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LatencyBasis {
    /// The latency histogram over the whole loaded window.
    #[default]
    #[serde(rename = "histogram")]
    Histogram,
    /// Percentiles of the latency signals' per-refresh values.
    #[serde(rename = "per-refresh values")]
    PerRefresh,
}

impl LatencyBasis {
    pub fn text(self) -> &'static str {
        match self {
            LatencyBasis::Histogram => "histogram",
            LatencyBasis::PerRefresh => "per-refresh values",
        }
    }
}

/// The refresh of peak load: what was saturated when the system was pushed hardest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AtPeak {
    pub unix_ms: TimeMs,
    pub load: Option<f64>,
    pub throughput_rps: Option<f64>,
    pub backlog: Option<f64>,
    pub in_flight: Option<f64>,
    pub consumers: Option<f64>,
    pub service_s: Option<f64>,
    pub utilisation: Option<f64>,
    pub p95_s: Option<f64>,
}

/// One stage of the saturation sequence. Every entry is complete, so no defaults.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: StageId,
    pub number: usize,
    pub state: StageState,
    pub onset_unix_ms: Option<TimeMs>,
    pub confirmed_unix_ms: Option<TimeMs>,
    pub cleared_unix_ms: Option<TimeMs>,
    #[serde(default)]
    pub activations: u32,
    /// Only for a stage that was reached.
    pub evidence: Option<String>,
    /// Why it came after a later stage, or not at all while a later one came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_sequence: Option<String>,
}

/// A load at a moment: the knee, in the detector's unit or the run's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Knee {
    pub load: Option<f64>,
    pub load_unit: String,
    pub unix_ms: TimeMs,
    pub offered_rps: Option<f64>,
    pub vus: Option<f64>,
    /// Why the load generator may have been the limit at the knee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_bound: Option<String>,
    /// A closed loop's VUs: their think time and unloaded latency, the knee's basis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vu_cycle: Option<crate::detect::per_vu::VuCycle>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scaling {
    pub lambda_rps: f64,
    pub mean_service_s: f64,
    pub utilisation: f64,
    pub workers_needed: u64,
    pub consumers_now: Option<f64>,
}

/// The backlog: `{"seen": false}` when no signal had one, else its peak and drain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Backlog {
    pub seen: bool,
    #[serde(flatten)]
    pub peak: Option<BacklogPeak>,
}

impl Backlog {
    /// The peak, when a backlog was seen.
    pub fn peak(&self) -> Option<&BacklogPeak> {
        self.peak.as_ref().filter(|_| self.seen)
    }
}

/// `piled_up` is required: it is what tells a seen backlog from `{"seen": false}` when read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BacklogPeak {
    #[serde(default)]
    pub peak: f64,
    #[serde(default)]
    pub peak_unix_ms: TimeMs,
    pub piled_up: bool,
    #[serde(default)]
    pub drained: bool,
    #[serde(default)]
    pub drain_s: Option<f64>,
    #[serde(default)]
    pub min_backlog: f64,
}

/// How p95 drifted while the load held one level (a soak), or why that was not measured: on a
/// ramp the last quarter is at a higher load than the first, so their p95s do not compare.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Drift {
    /// Listed first: a measured drift has no `note`, so it never reads as this.
    NotMeasured {
        note: String,
    },
    Measured(DriftFigure),
}

impl Drift {
    pub fn figure(&self) -> Option<&DriftFigure> {
        match self {
            Drift::Measured(f) => Some(f),
            Drift::NotMeasured { .. } => None,
        }
    }
}

/// p95 over the first and last quarter of the level held (a soak's plateau).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriftFigure {
    /// The plateau it was measured over (`index` in `plateaus`).
    pub plateau: usize,
    pub early_p95_s: Option<f64>,
    pub late_p95_s: Option<f64>,
    pub quarter_s: f64,
    pub drift: Option<f64>,
}

/// The latency envelope on the rising load, condensed: the median load and p95 of the
/// refreshes in each of a few equal load bins (see `envelope::rise`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Rise {
    pub load_unit: String,
    pub points: Vec<RisePoint>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RisePoint {
    pub load: f64,
    pub p95_s: f64,
    /// Refreshes in the bin.
    pub refreshes: usize,
}

/// One load plateau (see `plateaus`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plateau {
    pub index: usize,
    pub from_unix_ms: TimeMs,
    pub to_unix_ms: TimeMs,
    pub duration_s: f64,
    pub load: f64,
    pub load_unit: String,
    pub offered_rps: Option<f64>,
    pub achieved_rps: Option<f64>,
    pub achieved_ratio: Option<f64>,
    pub error_rate: Option<f64>,
    pub service_mean_s: Option<f64>,
    pub peak_queue: Option<f64>,
    pub peak_in_flight: Option<f64>,
    /// p95 over its last quarter against its first: (late − early) / early.
    pub p95_drift: Option<f64>,
    /// The histogram `latency` is read from.
    pub latency_histogram: Option<String>,
    pub latency: Option<Quantiles>,
    /// Every histogram the signals read, by family name.
    pub histograms: BTreeMap<String, Quantiles>,
}

/// p50 … p99.9 of a histogram over an interval, in the order of `window::QUANTILES`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub p99_9: Option<f64>,
}

impl Quantiles {
    pub fn from_values(v: [Option<f64>; 5]) -> Quantiles {
        let [p50, p90, p95, p99, p99_9] = v;
        Quantiles {
            p50,
            p90,
            p95,
            p99,
            p99_9,
        }
    }

    pub fn values(&self) -> [Option<f64>; 5] {
        [self.p50, self.p90, self.p95, self.p99, self.p99_9]
    }
}

/// One place to look when latency rose.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TriageArea {
    pub area: String,
    pub title: String,
    /// Some signal (or warning) covers this area.
    pub covered: bool,
    pub points_here: bool,
    pub evidence: Vec<Evidence>,
    /// What to add when nothing covers it.
    pub hint: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Evidence {
    /// A signal that rose to at least twice its level before latency rose.
    Signal {
        signal: String,
        before: f64,
        max: f64,
        unit: Unit,
    },
    /// A warning that points here.
    Warning { warning: String, text: String },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Warning {
    pub id: String,
    pub unix_ms: TimeMs,
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Annotation {
    pub unix_ms: TimeMs,
    pub text: String,
}

/// A signal's values over the run; `unit` is absent when it had none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SignalStats {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub last: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
}

/// How plateaus were found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlateauRule {
    pub tolerance: f64,
    pub min_s: f64,
}

/// The baseline report the gates compared against, and why it could not be read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BaselineRef {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One gate's verdict, with a note when the value could not be measured or compared.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GateResult {
    pub name: String,
    pub passed: bool,
    pub value: Option<f64>,
    pub limit: f64,
    pub unit: Unit,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// An SLO gate's seconds: how many were judged, how many were good, which failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slo: Option<SloSeconds>,
}

/// The seconds an SLO gate judged; times are offsets from the start of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SloSeconds {
    /// The objective as written, e.g. "client_p95<500ms@99%".
    pub objective: String,
    pub signal: String,
    /// The judged part of the loaded run (after the warm-up).
    pub from_s: f64,
    pub to_s: f64,
    /// Seconds that had a value, and those of them that met the objective.
    pub judged_s: u64,
    pub good_s: u64,
    /// The seconds that did not, merged into ranges.
    pub failed: Vec<SecondsRange>,
}

/// A stretch of seconds, as offsets from the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecondsRange {
    pub from_s: f64,
    pub to_s: f64,
}

/// The files written next to report.json, by what they hold.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Files {
    pub markdown: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope_svg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_svg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plateaus_csv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plateaus_json: Option<String>,
}

/// One remote export's result; `posted` and `failed` count Grafana's requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportResult {
    pub target: String,
    pub url: String,
    pub ok: bool,
    pub attempts: u32,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posted: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<u32>,
}

/// A number for the report: NaN and infinities are "no value", as JSON has none of them.
pub fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// The delta table of a run against a baseline (`compare::compare`): in report.json when
/// the run had a baseline, and in `slitop compare`'s compare.json.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    WithinNoise,
    /// One of the runs has no figure, or they are in different units.
    NotCompared,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::WithinNoise => "within noise",
            Verdict::NotCompared => "not compared",
        }
    }
}

/// One row of the delta table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeltaRow {
    /// `knee`, `capacity`, `p50`/`p95`/`p99` (over the loaded run, or at `level`),
    /// `error_rate`, `drain`, `workers_needed`.
    pub metric: String,
    /// The plateau's load level (baseline's) for a per-plateau row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// Unit of the values: `req/s`, `VUs`, `s`, `ratio`, `workers`.
    pub unit: String,
    pub baseline: Option<f64>,
    pub run: Option<f64>,
    /// (run − baseline) ÷ baseline; for the error rate the difference itself.
    pub change: Option<f64>,
    pub higher_is_better: bool,
    pub verdict: Verdict,
}

impl DeltaRow {
    /// The change signed so that positive is worse (as the regression gates read it).
    pub fn worse_by(&self) -> Option<f64> {
        self.change
            .map(|c| if self.higher_is_better { -c } else { c })
    }
}

/// The delta table of `run` against `baseline`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub baseline: String,
    pub run: String,
    /// The noise band given.
    pub noise_setting: f64,
    /// The runs' own variation (median |p95 drift| over their plateaus), when measured.
    pub spread: Option<f64>,
    /// The band used: the larger of the two.
    pub noise: f64,
    pub rows: Vec<DeltaRow>,
    /// Over knee, capacity, workers needed and the per-plateau rows: worse when any is worse,
    /// better when any is better and none worse, else within noise.
    pub verdict: Verdict,
}

impl Comparison {
    pub fn row(&self, metric: &str, level: Option<f64>) -> Option<&DeltaRow> {
        self.rows
            .iter()
            .find(|r| r.metric == metric && r.level == level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::window::QUANTILES;
    use serde_json::json;

    #[test]
    fn quantile_keys_are_those_of_the_quantile_table() {
        let q = Quantiles::from_values([Some(1.0), Some(2.0), Some(3.0), Some(4.0), Some(5.0)]);
        let v = serde_json::to_value(q).unwrap();
        assert_eq!(v.as_object().unwrap().len(), QUANTILES.len());
        for ((_, key), want) in QUANTILES.iter().zip(q.values()) {
            assert_eq!(v[*key].as_f64(), want, "{key}");
        }
    }

    #[test]
    fn stage_ids_and_states_read_as_the_detector_words() {
        for id in StageId::ALL {
            assert_eq!(json!(id), json!(id.id()));
        }
        for s in [
            StageState::Inactive,
            StageState::Suspected,
            StageState::Active,
            StageState::Cleared,
        ] {
            assert_eq!(json!(s), json!(s.word()));
        }
        for b in [LatencyBasis::Histogram, LatencyBasis::PerRefresh] {
            assert_eq!(json!(b), json!(b.text()));
        }
    }

    #[test]
    fn shapes_that_differ_by_variant_read_back_as_written() {
        let none = Backlog::default();
        assert_eq!(serde_json::to_value(&none).unwrap(), json!({"seen": false}));
        let seen = Backlog {
            seen: true,
            peak: Some(BacklogPeak {
                piled_up: true,
                ..Default::default()
            }),
        };
        for b in [none, seen] {
            let back: Backlog = serde_json::from_value(serde_json::to_value(&b).unwrap()).unwrap();
            assert_eq!(back, b);
        }
        for s in [Summary::default(), Summary::Loaded(Box::default())] {
            let back: Summary = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
            assert_eq!(back, s);
        }
        let note = Drift::NotMeasured {
            note: "the load did not hold a level".into(),
        };
        for d in [note, Drift::Measured(DriftFigure::default())] {
            let back: Drift = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
            assert_eq!(back, d);
        }
        // An earlier version's drift (no plateau) still reads as a figure, and its null as none.
        let old: Report = Report::from_value(&json!({"drift": {"drift": 0.1}})).unwrap();
        assert_eq!(old.drift.unwrap().figure().unwrap().drift, Some(0.1));
        assert_eq!(
            Report::from_value(&json!({"drift": null})).unwrap().drift,
            None
        );
        let e = Evidence::Warning {
            warning: "latency_divergence".into(),
            text: "t".into(),
        };
        let back: Evidence = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn a_wrong_type_is_an_error_naming_its_key() {
        let e = Report::from_value(&json!({"knee": {"load": "high"}})).unwrap_err();
        assert_eq!(e.path().to_string(), "knee.load", "{e}");
    }
}
