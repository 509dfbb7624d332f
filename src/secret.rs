//! Secrets come from an environment variable or a file, never from argv, and are never logged.

use std::path::Path;

use anyhow::{bail, Context};

/// Reads a secret named in config: `env` wins over `file`. Returns None when neither is set.
/// A file's trailing newline is dropped (files written by `echo` carry one).
pub fn read_secret(
    env: Option<&str>,
    file: Option<&Path>,
    what: &str,
) -> anyhow::Result<Option<String>> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(v)),
            Ok(_) => bail!("{what}: environment variable {var} is empty"),
            Err(_) => bail!("{what}: environment variable {var} is not set"),
        };
    }
    if let Some(path) = file {
        let v = std::fs::read_to_string(path)
            .with_context(|| format!("{what}: cannot read secret file {}", path.display()))?;
        let v = v.trim_end_matches(['\n', '\r']).to_string();
        if v.is_empty() {
            bail!("{what}: secret file {} is empty", path.display());
        }
        return Ok(Some(v));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_then_file_then_none() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tok");
        std::fs::write(&f, "s3cret\n").unwrap();
        assert_eq!(
            read_secret(None, Some(&f), "t").unwrap().as_deref(),
            Some("s3cret")
        );
        assert_eq!(read_secret(None, None, "t").unwrap(), None);
        let err = read_secret(
            Some("SLITOP_TEST_SURELY_UNSET_VAR"),
            Some(&f),
            "prometheus bearer token",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("SLITOP_TEST_SURELY_UNSET_VAR is not set"),
            "{err}"
        );
        let err = read_secret(None, Some(&dir.path().join("nope")), "t").unwrap_err();
        assert!(format!("{err:#}").contains("cannot read secret file"));
    }
}
