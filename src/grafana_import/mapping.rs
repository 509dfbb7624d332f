//! The mapping file: how panels become signals when the title alone does not say it. Each
//! `[[panel]]` names a panel by its exact `title` (any case) or a `title_contains` piece and
//! sets the group, the detector role, the signal's name, or skips the panel.
//!
//! ```toml
//! [[panel]]
//! title = "HTTP Request Duration"
//! group = "lagging"
//! role = "latency_p95"
//! ```

use serde::Deserialize;

use crate::settings::{Group, Role};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    #[serde(default, rename = "panel")]
    pub panels: Vec<PanelRule>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelRule {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub title_contains: Option<String>,
    #[serde(default)]
    pub group: Option<Group>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub skip: bool,
}

impl Mapping {
    /// Reads a mapping file's text; errors name the file, line and column.
    pub fn parse(text: &str, file: &str) -> Result<Mapping, String> {
        let m: Mapping = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| {
                    let mut at = s.start.min(text.len());
                    while !text.is_char_boundary(at) {
                        at -= 1;
                    }
                    let before = &text[..at];
                    let line = before.matches('\n').count() + 1;
                    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    (line, col)
                })
                .unwrap_or((1, 1));
            format!("{file}:{line}:{col}: {}", e.message())
        })?;
        for (i, r) in m.panels.iter().enumerate() {
            if r.title.is_none() == r.title_contains.is_none() {
                return Err(format!(
                    "{file}: panel[{i}]: give exactly one of `title` or `title_contains`"
                ));
            }
        }
        Ok(m)
    }

    /// The first rule that names this panel title.
    pub fn rule(&self, title: &str) -> Option<&PanelRule> {
        let lower = title.to_lowercase();
        self.panels.iter().find(|r| {
            r.title.as_ref().is_some_and(|t| t.to_lowercase() == lower)
                || r.title_contains
                    .as_ref()
                    .is_some_and(|t| lower.contains(&t.to_lowercase()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_by_title_and_errors_are_located() {
        let m = Mapping::parse(
            "[[panel]]\ntitle = \"Latency\"\ngroup = \"lagging\"\n[[panel]]\ntitle_contains = \"queue\"\nskip = true\n",
            "map.toml",
        )
        .unwrap();
        assert_eq!(m.rule("latency").unwrap().group, Some(Group::Lagging));
        assert!(m.rule("Job Queue depth").unwrap().skip);
        assert!(m.rule("other").is_none());
        let e =
            Mapping::parse("[[panel]]\ntitle = \"x\"\ngroup = \"lagg\"\n", "map.toml").unwrap_err();
        assert!(e.starts_with("map.toml:3:9"), "{e}");
        let e = Mapping::parse("[[panel]]\ngroup = \"lagging\"\n", "map.toml").unwrap_err();
        assert!(e.contains("exactly one"), "{e}");
    }
}
