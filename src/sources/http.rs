//! The HTTP client shared by the Prometheus and scrape sources: timeouts always set, rustls,
//! optional custom CA, explicit insecure mode, and auth headers marked sensitive.

use std::time::Duration;

use anyhow::Context;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::secret::read_secret;
use crate::settings::HttpAuth;

pub use crate::tls::install_crypto_provider;

/// Credentials resolved at start; applied per request by reqwest, which marks them sensitive.
#[derive(Clone)]
enum Credentials {
    None,
    Bearer(String),
    Basic(String, String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, not even in debug logs.
        f.write_str(match self {
            Credentials::None => "none",
            Credentials::Bearer(_) => "bearer(redacted)",
            Credentials::Basic(..) => "basic(redacted)",
        })
    }
}

/// A configured HTTP endpoint: client with timeouts/TLS plus credentials.
#[derive(Clone, Debug)]
pub struct HttpEndpoint {
    client: reqwest::Client,
    creds: Credentials,
}

impl HttpEndpoint {
    /// Builds the client for one endpoint. `what` names it in errors ("prometheus", "scrape").
    pub fn new(auth: &HttpAuth, timeout: Duration, what: &str) -> anyhow::Result<Self> {
        install_crypto_provider();
        let mut headers = HeaderMap::new();
        for (k, v) in &auth.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .with_context(|| format!("{what}: invalid header name {k:?}"))?;
            let val = HeaderValue::from_str(v)
                .with_context(|| format!("{what}: invalid value for header {k}"))?;
            headers.insert(name, val);
        }
        let bearer = read_secret(
            auth.bearer_token_env.as_deref(),
            auth.bearer_token_file.as_deref(),
            &format!("{what} bearer token"),
        )?;
        let basic_pw = read_secret(
            auth.basic_password_env.as_deref(),
            auth.basic_password_file.as_deref(),
            &format!("{what} basic auth password"),
        )?;
        let creds = match (bearer, &auth.basic_user, basic_pw) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                anyhow::bail!("{what}: set either a bearer token or basic auth, not both")
            }
            (Some(t), None, None) => Credentials::Bearer(t),
            (None, Some(u), pw) => Credentials::Basic(u.clone(), pw.unwrap_or_default()),
            (None, None, Some(_)) => {
                anyhow::bail!("{what}: basic auth password given without basic_user")
            }
            (None, None, None) => Credentials::None,
        };
        let mut b = reqwest::Client::builder()
            .redirect(crate::secret::redirect_policy())
            .default_headers(headers)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("slitop/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &auth.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("{what}: cannot read CA file {}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|c| !c.is_empty())
                .with_context(|| {
                    format!(
                        "{what}: CA file {} holds no valid PEM certificate",
                        ca.display()
                    )
                })?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if auth.insecure_skip_verify {
            // Said by the run (sources::security), where the report records it.
            b = b.danger_accept_invalid_certs(true);
        }
        let client = b
            .build()
            .with_context(|| format!("{what}: cannot build HTTP client"))?;
        Ok(Self { client, creds })
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.creds {
            Credentials::None => rb,
            Credentials::Bearer(t) => rb.bearer_auth(t),
            Credentials::Basic(u, p) => rb.basic_auth(u, Some(p)),
        }
    }

    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.auth(self.client.get(url))
    }

    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.auth(self.client.post(url))
    }
}

/// A body read to its end, unless it passes `cap` bytes: then `Ok(Err(bytes read so far))`,
/// and the rest is never read (a Content-Length over the cap is refused before reading).
pub async fn read_capped(
    mut resp: reqwest::Response,
    cap: u64,
    url: &str,
) -> anyhow::Result<Result<Vec<u8>, u64>> {
    if let Some(len) = resp.content_length().filter(|l| *l > cap) {
        return Ok(Err(len));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| anyhow::anyhow!(describe_error(&e, url)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > cap {
            return Ok(Err(body.len() as u64));
        }
    }
    Ok(Ok(body))
}

/// Describes a reqwest error with its likely cause, for health reasons and `slitop check`;
/// URLs in it (reqwest's own text carries the request URL) are redacted.
pub fn describe_error(e: &reqwest::Error, url: &str) -> String {
    crate::text::redact_text(&describe_raw(e, url))
}

fn describe_raw(e: &reqwest::Error, url: &str) -> String {
    let cause = {
        let mut s = String::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(c) = src {
            s = c.to_string();
            src = c.source();
        }
        s
    };
    if e.is_timeout() {
        format!("{url}: timed out")
    } else if e.is_connect() {
        let low = cause.to_lowercase();
        let hint = if low.contains("refused") {
            "connection refused: is the server running on that port?"
        } else if low.contains("certificate") || low.contains("tls") {
            "TLS handshake failed: set ca_file, or insecure_skip_verify for a test server"
        } else if low.contains("dns") || low.contains("resolve") {
            "host name does not resolve"
        } else {
            "cannot connect"
        };
        format!("{url}: {hint} ({cause})")
    } else {
        format!(
            "{url}: {e}{}",
            if cause.is_empty() {
                String::new()
            } else {
                format!(" ({cause})")
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_auth_kinds_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("t");
        std::fs::write(&f, "x").unwrap();
        let auth = HttpAuth {
            bearer_token_file: Some(f.clone()),
            basic_user: Some("u".into()),
            ..Default::default()
        };
        let e = HttpEndpoint::new(&auth, Duration::from_secs(1), "prometheus").unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
        let bad_ca = HttpAuth {
            ca_file: Some(f),
            ..Default::default()
        };
        let e = HttpEndpoint::new(&bad_ca, Duration::from_secs(1), "prometheus").unwrap_err();
        assert!(format!("{e:#}").contains("CA file"), "{e:#}");
    }
}
