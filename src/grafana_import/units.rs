//! A panel's unit and thresholds in slitop's terms: Grafana's unit id becomes one of slitop's
//! units (scaling the query when Grafana's is a multiple, e.g. `ms` → seconds), and the
//! threshold steps become the warn/crit band and the direction.

use serde_json::Value;

use crate::settings::{Direction, Unit};

/// How a Grafana unit maps: slitop's unit and the factor the query's value is divided by.
pub struct UnitMap {
    pub unit: Unit,
    pub divide_by: f64,
}

pub fn unit(grafana: &str) -> UnitMap {
    let (unit, divide_by) = match grafana {
        "s" | "dtdurations" | "dtdhms" => (Unit::Seconds, 1.0),
        "ms" => (Unit::Seconds, 1e3),
        "µs" | "us" => (Unit::Seconds, 1e6),
        "ns" => (Unit::Seconds, 1e9),
        "m" => (Unit::Seconds, 1.0 / 60.0),
        "reqps" | "rps" | "ops" | "opm" | "iops" | "pps" | "eps" | "wps" | "mps" | "cps" => (
            Unit::PerSecond,
            if grafana == "opm" { 1.0 / 60.0 } else { 1.0 },
        ),
        "percentunit" => (Unit::Ratio, 1.0),
        "percent" | "%" => (Unit::Ratio, 100.0),
        "bytes" | "decbytes" => (Unit::Bytes, 1.0),
        "bits" | "decbits" => (Unit::Bytes, 8.0),
        "kbytes" => (Unit::Bytes, 1.0 / 1024.0),
        "mbytes" => (Unit::Bytes, 1.0 / 1024.0 / 1024.0),
        "short" | "none" | "locale" | "" => (Unit::None, 1.0),
        _ => (Unit::None, 1.0),
    };
    UnitMap { unit, divide_by }
}

/// Whether slitop has a unit for this Grafana unit id (else the value is shown as a number).
pub fn known(grafana: &str) -> bool {
    grafana.is_empty()
        || unit(grafana).unit != Unit::None
        || matches!(grafana, "short" | "none" | "locale")
}

/// What a threshold colour says about the values past it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mood {
    Good,
    Warn,
    Bad,
}

fn mood(color: &str) -> Mood {
    let c = color.to_ascii_lowercase();
    let by_rgb = |r: f64, g: f64| {
        if g > r * 1.2 {
            Mood::Good
        } else if r > g * 2.0 {
            Mood::Bad
        } else {
            Mood::Warn
        }
    };
    if let Some(hex) = c.strip_prefix('#').filter(|h| h.len() >= 6 && h.is_ascii()) {
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0) as f64;
        return by_rgb(byte(0), byte(2));
    }
    if c.starts_with("rgb") {
        // `rgba(50, 172, 45, 0.97)`
        let inner = c.split(['(', ')']).nth(1).unwrap_or("");
        let mut n = inner
            .split(',')
            .map(|x| x.trim().parse::<f64>().unwrap_or(0.0));
        let (r, g) = (n.next().unwrap_or(0.0), n.next().unwrap_or(0.0));
        return by_rgb(r, g);
    }
    if c.contains("red") || c.contains("purple") {
        Mood::Bad
    } else if c.contains("green") || c.contains("blue") || c == "transparent" || c == "text" {
        Mood::Good
    } else {
        Mood::Warn
    }
}

/// slitop's band: warn and crit in the signal's own unit, and which way is worse.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bands {
    pub warn: Option<f64>,
    pub crit: Option<f64>,
    pub direction: Direction,
}

/// The band from a panel's `fieldConfig.defaults` (thresholds steps, base first) or from an
/// old graph panel's `thresholds` list; None when there is none that means a limit. A
/// percentage threshold needs the panel's min and max. `divide_by` scales as the unit does.
pub fn bands(panel: &Value, divide_by: f64) -> Result<Option<Bands>, String> {
    let defaults = &panel["fieldConfig"]["defaults"];
    // A time series panel draws its thresholds only when asked to; unshown ones are most
    // often Grafana's default steps (green, red at 80), not limits anyone chose.
    let style = defaults["custom"]["thresholdsStyle"]["mode"].as_str();
    if panel["type"] == "timeseries" && style.is_none_or(|m| m == "off") {
        return Ok(None);
    }
    let (base, mut steps) = if let Some(list) = defaults["thresholds"]["steps"].as_array() {
        field_steps(defaults, list)?
    } else if let Some(list) = panel["thresholds"].as_array() {
        let (base, mut steps) = graph_steps(list);
        if base == Mood::Bad {
            // `lt` thresholds: values below are bad; the last step is the good side.
            steps.sort_by(|a, b| a.0.total_cmp(&b.0));
            let moods: Vec<Mood> = steps.iter().map(|s| s.1).collect();
            return Ok(lower_is_worse(&steps, &moods, divide_by));
        }
        (base, steps)
    } else {
        return Ok(None);
    };
    steps.sort_by(|a, b| a.0.total_cmp(&b.0));
    let steps: Vec<(f64, Mood)> = steps.into_iter().filter(|s| s.0.is_finite()).collect();
    if steps.is_empty() {
        return Ok(None);
    }
    // Good at the top after something that is not: lower values are the bad ones (a `bool`
    // panel's red 0 below a green 1).
    let last = steps[steps.len() - 1].1;
    let any_not_good = base != Mood::Good || steps.iter().any(|s| s.1 != Mood::Good);
    if last == Mood::Good && any_not_good {
        let moods: Vec<Mood> = std::iter::once(base)
            .chain(steps.iter().map(|s| s.1))
            .collect();
        return Ok(lower_is_worse(&steps, &moods, divide_by));
    }
    // Higher is worse: the first step that is not good warns, the first bad one is critical.
    let warn = steps.iter().find(|s| s.1 != Mood::Good).map(|s| s.0);
    let crit = steps.iter().find(|s| s.1 == Mood::Bad).map(|s| s.0);
    let warn = if warn == crit && steps.iter().filter(|s| s.1 != Mood::Good).count() == 1 {
        None
    } else {
        warn
    };
    if warn.is_none() && crit.is_none() {
        return Ok(None);
    }
    Ok(Some(Bands {
        warn: warn.map(|v| v / divide_by),
        crit: crit.map(|v| v / divide_by),
        direction: Direction::HigherIsWorse,
    }))
}

/// `fieldConfig.defaults.thresholds`: the base step's mood and the others, percentages of
/// the panel's range made absolute.
fn field_steps(defaults: &Value, list: &[Value]) -> Result<(Mood, Vec<(f64, Mood)>), String> {
    let pct = defaults["thresholds"]["mode"].as_str() == Some("percentage");
    let span = match (defaults["min"].as_f64(), defaults["max"].as_f64()) {
        (Some(lo), Some(hi)) => Some((lo, hi)),
        (None, Some(hi)) => Some((0.0, hi)),
        _ => None,
    };
    let (mut base, mut steps) = (Mood::Good, Vec::new());
    for s in list {
        let m = mood(s["color"].as_str().unwrap_or("green"));
        match (s["value"].as_f64(), span) {
            (None, _) => base = m,
            (Some(_), None) if pct => {
                return Err("percentage thresholds without the panel's max".into())
            }
            (Some(v), Some((lo, hi))) if pct => steps.push((lo + (hi - lo) * v / 100.0, m)),
            (Some(v), _) => steps.push((v, m)),
        }
    }
    Ok((base, steps))
}

/// Old graph panels' `thresholds`: `{value, colorMode: warning|critical, op: gt|lt}`; the
/// base is bad when the limits are `lt`.
fn graph_steps(list: &[Value]) -> (Mood, Vec<(f64, Mood)>) {
    let (mut base, mut steps) = (Mood::Good, Vec::new());
    for t in list {
        let (Some(v), Some(mode)) = (t["value"].as_f64(), t["colorMode"].as_str()) else {
            continue;
        };
        steps.push((
            v,
            if mode == "critical" {
                Mood::Bad
            } else {
                Mood::Warn
            },
        ));
        if t["op"].as_str() == Some("lt") {
            base = Mood::Bad;
        }
    }
    (base, steps)
}

/// The largest number below `x` (`f64::next_down`, newer than the crate's Rust version).
fn next_down(x: f64) -> f64 {
    if !x.is_finite() {
        x
    } else if x == 0.0 {
        -f64::from_bits(1)
    } else if x > 0.0 {
        f64::from_bits(x.to_bits() - 1)
    } else {
        f64::from_bits(x.to_bits() + 1)
    }
}

/// Bad below: `moods[0]` holds below the first step, `moods[i + 1]` from step i up.
fn lower_is_worse(steps: &[(f64, Mood)], moods: &[Mood], divide_by: f64) -> Option<Bands> {
    // Values below step i are in band `moods[i]`. Grafana's bands are `value < step`, and
    // slitop's `value <= limit`: the limit is the number just below the step.
    let below = |want: fn(Mood) -> bool| {
        (0..steps.len())
            .rev()
            .find(|&i| want(moods[i]))
            .map(|i| next_down(steps[i].0 / divide_by))
    };
    let crit = below(|m| m == Mood::Bad);
    let warn = below(|m| m != Mood::Good).filter(|w| Some(*w) != crit);
    (warn.is_some() || crit.is_some()).then_some(Bands {
        warn,
        crit,
        direction: Direction::LowerIsWorse,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(steps: Value) -> Option<Bands> {
        bands(&json!({"fieldConfig": {"defaults": {"thresholds": {"mode": "absolute", "steps": steps}}}}), 1.0).unwrap()
    }

    #[test]
    fn green_yellow_red_is_warn_then_crit() {
        let b = steps(json!([{"color": "green", "value": null}, {"color": "#EAB839", "value": 80}, {"color": "red", "value": 90}])).unwrap();
        assert_eq!(
            (b.warn, b.crit, b.direction),
            (Some(80.0), Some(90.0), Direction::HigherIsWorse)
        );
        let b = steps(json!([{"color": "green", "value": null}, {"color": "red", "value": 80}]))
            .unwrap();
        assert_eq!((b.warn, b.crit), (None, Some(80.0)));
        let b = steps(json!([{"color": "green", "value": null}, {"color": "orange", "value": 5}]))
            .unwrap();
        assert_eq!((b.warn, b.crit), (Some(5.0), None));
        assert_eq!(steps(json!([{"color": "green", "value": null}])), None);
    }

    #[test]
    fn thresholds_a_time_series_does_not_draw_are_not_limits() {
        let steps = json!([{"color": "green", "value": null}, {"color": "red", "value": 80}]);
        let hidden = json!({"type": "timeseries", "fieldConfig": {"defaults": {"thresholds": {"steps": steps}}}});
        assert_eq!(bands(&hidden, 1.0).unwrap(), None);
        let shown = json!({"type": "timeseries", "fieldConfig": {"defaults": {"custom": {"thresholdsStyle": {"mode": "line"}}, "thresholds": {"steps": steps}}}});
        assert_eq!(bands(&shown, 1.0).unwrap().unwrap().crit, Some(80.0));
    }

    #[test]
    fn red_below_green_is_lower_is_worse() {
        let b = steps(json!([{"color": "red", "value": null}, {"color": "yellow", "value": 10}, {"color": "green", "value": 50}])).unwrap();
        assert_eq!(
            (b.warn, b.crit, b.direction),
            (
                Some(next_down(50.0)),
                Some(next_down(10.0)),
                Direction::LowerIsWorse
            )
        );
        assert!(b.crit.unwrap() < 10.0 && b.crit.unwrap() > 9.999_999);
        // A `bool` panel: red at 0, green from 1.
        let b = steps(json!([{"color": "green"}, {"color": "dark-red", "value": 0}, {"color": "green", "value": 1}])).unwrap();
        assert_eq!(
            (b.warn, b.crit, b.direction),
            (None, Some(next_down(1.0)), Direction::LowerIsWorse)
        );
        assert_eq!(next_down(0.0), -f64::from_bits(1));
        assert_eq!(next_down(-1.0), -1.0000000000000002);
    }

    #[test]
    fn units_scale_values_and_thresholds() {
        let u = unit("ms");
        assert_eq!((u.unit, u.divide_by), (Unit::Seconds, 1e3));
        let p = json!({"fieldConfig": {"defaults": {"thresholds": {"steps": [{"color": "green", "value": null}, {"color": "red", "value": 500}]}}}});
        assert_eq!(bands(&p, 1e3).unwrap().unwrap().crit, Some(0.5));
        let p = json!({"fieldConfig": {"defaults": {"max": 200, "thresholds": {"mode": "percentage", "steps": [{"color": "green", "value": null}, {"color": "red", "value": 90}]}}}});
        assert_eq!(bands(&p, 1.0).unwrap().unwrap().crit, Some(180.0));
        let p = json!({"fieldConfig": {"defaults": {"thresholds": {"mode": "percentage", "steps": [{"color": "red", "value": 90}]}}}});
        assert!(bands(&p, 1.0).is_err());
    }
}
