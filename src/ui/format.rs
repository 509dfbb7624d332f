//! Numbers as the screen prints them: short, with their unit.

use crate::model::TimeMs;
use crate::settings::Unit;

pub fn value(v: Option<f64>, unit: Unit) -> String {
    let Some(v) = v.filter(|v| !v.is_nan()) else {
        return "—".into();
    };
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    match unit {
        Unit::Seconds => secs(v),
        Unit::PerSecond => format!("{}/s", num(v)),
        Unit::Ratio => format!("{}%", num(v * 100.0)),
        Unit::Bytes => bytes(v),
        Unit::Count | Unit::None => num(v),
    }
}

/// Three significant digits at most, thousands as k/M.
pub fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn secs(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0} s")
    } else if v >= 1.0 {
        format!("{v:.2} s")
    } else {
        format!("{:.0} ms", v * 1000.0)
    }
}

fn bytes(v: f64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = v;
    let mut i = 0;
    while v.abs() >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{} {}", num(v), U[i])
}

/// Elapsed time as m:ss or h:mm:ss.
pub fn elapsed(ms: TimeMs) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Short axis labels.
pub fn axis(v: f64) -> String {
    num(v)
}

pub fn axis_secs(v: f64) -> String {
    if v >= 1.0 {
        format!("{}s", num(v))
    } else {
        format!("{:.0}ms", v * 1000.0)
    }
}

pub fn span(ms: TimeMs) -> String {
    let s = ms / 1000;
    if s >= 3600 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s >= 60 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(value(Some(0.1234), Unit::Seconds), "123 ms");
        assert_eq!(value(Some(2.5), Unit::Seconds), "2.50 s");
        assert_eq!(value(Some(39.44), Unit::PerSecond), "39.4/s");
        assert_eq!(value(Some(0.067), Unit::Ratio), "6.70%");
        assert_eq!(value(Some(f64::NAN), Unit::Count), "—");
        assert_eq!(value(Some(f64::INFINITY), Unit::Seconds), "+Inf");
        assert_eq!(value(Some(12345.0), Unit::Count), "12k");
        assert_eq!(value(Some(3.0 * 1024.0 * 1024.0), Unit::Bytes), "3 MiB");
        assert_eq!(elapsed(3_725_000), "1:02:05");
        assert_eq!(elapsed(65_000), "1:05");
    }
}
