//! SLO gates over time, as testers write them: `client_p95<500ms@99%` — the signal
//! `client_p95` below 500 ms in at least 99% of the seconds of the loaded run — and the
//! warm-up left out of them (`30s`, or `plateau`: up to the first load plateau). The same text
//! is the flag (`--slo`), the config's `[gates] slo = [...]` and the recording's header.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a second's value is compared with the threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// Whether `v` meets the objective against `threshold`.
    pub fn holds(self, v: f64, threshold: f64) -> bool {
        match self {
            Cmp::Lt => v < threshold,
            Cmp::Le => v <= threshold,
            Cmp::Gt => v > threshold,
            Cmp::Ge => v >= threshold,
        }
    }
}

/// What a threshold's unit says about the signal it is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdKind {
    /// `ms` or `s`: compared in seconds.
    Time,
    /// `%`: compared as a share (0..1).
    Share,
    /// A bare number, compared as the signal's value is.
    Plain,
}

/// One SLO gate, parsed; `text` is how it was written (and its name in the report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slo {
    pub text: String,
    pub signal: String,
    pub cmp: Cmp,
    /// In the signal's base unit: seconds for `ms`/`s`, a fraction for `%`.
    pub threshold: f64,
    pub kind: ThresholdKind,
    /// Share of the judged seconds that must meet the objective.
    pub share: f64,
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<Slo> for String {
    fn from(s: Slo) -> String {
        s.text
    }
}

impl TryFrom<String> for Slo {
    type Error = String;
    fn try_from(s: String) -> Result<Slo, String> {
        Slo::parse(&s)
    }
}

const FORM: &str = "expected SIGNAL<THRESHOLD@SHARE, e.g. client_p95<500ms@99%";

impl Slo {
    /// Parses `SIGNAL CMP THRESHOLD[UNIT] @ SHARE`; the error names the part that is wrong.
    pub fn parse(s: &str) -> Result<Slo, String> {
        let text: String = s.split_whitespace().collect();
        let bad = |part: &str, why: String| format!("SLO {s:?}: {part}: {why} ({FORM})");
        let (objective, share) = text
            .rsplit_once('@')
            .ok_or_else(|| bad("no share", "the objective needs @SHARE, e.g. @99%".into()))?;
        let at = objective
            .find(['<', '>'])
            .ok_or_else(|| bad("no comparison", "expected <, <=, > or >=".into()))?;
        let signal = &objective[..at];
        if signal.is_empty()
            || !signal
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
        {
            return Err(bad(
                &format!("signal {signal:?}"),
                "expected a signal's name".into(),
            ));
        }
        let rest = &objective[at..];
        let (cmp, value) = [
            ("<=", Cmp::Le),
            (">=", Cmp::Ge),
            ("<", Cmp::Lt),
            (">", Cmp::Gt),
        ]
        .into_iter()
        .find_map(|(sym, c)| rest.strip_prefix(sym).map(|v| (c, v)))
        .unwrap_or((Cmp::Lt, rest));
        let (threshold, kind) =
            threshold(value).map_err(|why| bad(&format!("threshold {value:?}"), why))?;
        let share = parse_share(share).map_err(|why| bad(&format!("share {share:?}"), why))?;
        let signal = signal.to_string();
        Ok(Slo {
            text: text.clone(),
            signal,
            cmp,
            threshold,
            kind,
            share,
        })
    }
}

/// A number with an optional unit: `500ms`, `0.5s`, `2%`, `40`.
fn threshold(v: &str) -> Result<(f64, ThresholdKind), String> {
    let (num, scale, kind) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1e-3, ThresholdKind::Time)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1.0, ThresholdKind::Time)
    } else if let Some(n) = v.strip_suffix('%') {
        (n, 0.01, ThresholdKind::Share)
    } else {
        (v, 1.0, ThresholdKind::Plain)
    };
    match num.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok((x * scale, kind)),
        _ => Err("expected a number with an optional unit: ms, s or %".into()),
    }
}

/// The share of seconds: `99%` or `0.99`, above 0 and at most 100%.
fn parse_share(s: &str) -> Result<f64, String> {
    let v = match s.strip_suffix('%') {
        Some(p) => p.parse::<f64>().map(|v| v / 100.0),
        None => s.parse::<f64>(),
    }
    .map_err(|_| "expected a share of seconds, e.g. 99% or 0.99".to_string())?;
    if !(v > 0.0 && v <= 1.0) {
        return Err("expected a share above 0 and at most 100%".into());
    }
    Ok(v)
}

/// What is left out of the SLO gates at the start of the run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Warmup {
    /// This long from the start of the loaded run.
    For(Duration),
    /// Up to the start of the first load plateau.
    Plateau,
}

impl Warmup {
    pub fn parse(s: &str) -> Result<Warmup, String> {
        let t = s.trim();
        if t == "plateau" {
            return Ok(Warmup::Plateau);
        }
        humantime::parse_duration(t)
            .map(Warmup::For)
            .map_err(|e| format!("warm-up {s:?}: {e}; expected a duration (30s) or \"plateau\""))
    }
}

impl From<Warmup> for String {
    fn from(w: Warmup) -> String {
        match w {
            Warmup::For(d) => humantime::format_duration(d).to_string(),
            Warmup::Plateau => "plateau".into(),
        }
    }
}

impl TryFrom<String> for Warmup {
    type Error = String;
    fn try_from(s: String) -> Result<Warmup, String> {
        Warmup::parse(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_form_parses_into_its_parts() {
        let s = Slo::parse("client_p95 < 500ms @ 99%").unwrap();
        assert_eq!(s.text, "client_p95<500ms@99%");
        assert_eq!(
            (s.signal.as_str(), s.cmp, s.kind),
            ("client_p95", Cmp::Lt, ThresholdKind::Time)
        );
        assert!((s.threshold - 0.5).abs() < 1e-12 && (s.share - 0.99).abs() < 1e-12);
        let s = Slo::parse("error_ratio<=1%@0.95").unwrap();
        assert_eq!((s.cmp, s.kind), (Cmp::Le, ThresholdKind::Share));
        assert!((s.threshold - 0.01).abs() < 1e-12 && (s.share - 0.95).abs() < 1e-12);
        let s = Slo::parse("throughput>=30@90%").unwrap();
        assert_eq!(
            (s.cmp, s.threshold, s.kind),
            (Cmp::Ge, 30.0, ThresholdKind::Plain)
        );
    }

    #[test]
    fn each_bad_part_is_named() {
        for (input, part) in [
            ("client_p95<500ms", "no share"),
            ("client_p95=500ms@99%", "no comparison"),
            ("<500ms@99%", "signal \"\""),
            ("client_p95<fast@99%", "threshold \"fast\""),
            ("client_p95<500kb@99%", "threshold \"500kb\""),
            ("client_p95<500ms@most", "share \"most\""),
            ("client_p95<500ms@150%", "share \"150%\""),
        ] {
            let e = Slo::parse(input).unwrap_err();
            assert!(e.contains(part) && e.contains(FORM), "{input}: {e}");
        }
    }

    #[test]
    fn warmups_read_and_write_back() {
        assert_eq!(
            Warmup::parse("30s").unwrap(),
            Warmup::For(Duration::from_secs(30))
        );
        assert_eq!(Warmup::parse("plateau").unwrap(), Warmup::Plateau);
        assert!(Warmup::parse("soon").unwrap_err().contains("\"plateau\""));
        assert_eq!(String::from(Warmup::For(Duration::from_secs(90))), "1m 30s");
    }
}
