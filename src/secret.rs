//! Secrets come from an environment variable or a file, never from argv, and are never logged;
//! and they go only where they were given: a redirect never takes them to another host.

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

/// Redirects an HTTP client follows: at most five, each on the same host, and never from
/// `https` down to `http`. A request carries credentials and custom headers (API keys,
/// tenant ids) that are meant for the host they were configured for; a server that sends the
/// client elsewhere gets an error back, which names where it pointed (redacted by whoever
/// shows it), instead of those headers.
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > 5 {
            return attempt.error("more than 5 redirects");
        }
        let refused = match attempt.previous().first() {
            Some(from) if !redirect_allowed(from, attempt.url()) => format!(
                "redirect to {} refused: credentials and headers stay with {}",
                attempt.url(),
                from.host_str().unwrap_or("the configured host")
            ),
            _ => return attempt.follow(),
        };
        attempt.error(refused)
    })
}

/// A redirect from `from` to `to` stays on the same host and does not drop TLS.
pub fn redirect_allowed(from: &reqwest::Url, to: &reqwest::Url) -> bool {
    let same_host =
        from.host_str().map(str::to_ascii_lowercase) == to.host_str().map(str::to_ascii_lowercase);
    let downgrade = from.scheme() == "https" && to.scheme() != "https";
    let same_port = from.port_or_known_default() == to.port_or_known_default();
    let upgrade = from.scheme() == "http" && to.scheme() == "https";
    same_host && !downgrade && (same_port || upgrade)
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

    #[test]
    fn redirects_stay_on_their_host_and_keep_tls() {
        let u = |s: &str| reqwest::Url::parse(s).unwrap();
        let from = u("http://prom.internal:9090/api/v1/query");
        assert!(redirect_allowed(
            &from,
            &u("http://prom.internal:9090/prometheus/api/v1/query")
        ));
        assert!(redirect_allowed(
            &from,
            &u("https://prom.internal/api/v1/query")
        ));
        assert!(!redirect_allowed(
            &from,
            &u("http://evil.example:9090/api/v1/query")
        ));
        assert!(!redirect_allowed(
            &from,
            &u("http://prom.internal:9999/api/v1/query")
        ));
        let tls = u("https://prom.internal/api");
        assert!(!redirect_allowed(&tls, &u("http://prom.internal/api")));
        assert!(redirect_allowed(
            &tls,
            &u("https://PROM.internal:443/other")
        ));
    }
}
