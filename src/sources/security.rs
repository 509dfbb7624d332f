//! What a configuration risks, said once at the start of a run: credentials that would cross
//! the network in clear (plain `http://` or `redis://` to a host other than this machine),
//! TLS without certificate checks, and requests that go through a proxy taken from the
//! environment. The run records these in the recording's header, so the report of the run
//! (and of its replays) lists them; the screen and headless mode show them at the start;
//! `slitop check` prints them. None of them stops a run: a test cluster may be all of these.

use crate::settings::{Config, HttpAuth};
use crate::text::redact_url;

/// Proxy variables reqwest honours, in the order it reads them.
const PROXY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Every warning for `cfg`; `env` reads an environment variable (a parameter so tests need
/// not change the process's environment).
pub fn warnings(cfg: &Config, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut http_in_use = false;
    if let Some(p) = &cfg.prometheus {
        http_in_use = true;
        endpoint(&mut out, "prometheus", &p.url, http_credentials(&p.auth));
        insecure(&mut out, "prometheus", p.auth.insecure_skip_verify);
    }
    if let Some(s) = cfg.scrape.as_ref().filter(|s| !s.urls.is_empty()) {
        http_in_use = true;
        for u in &s.urls {
            endpoint(&mut out, "scrape", u, http_credentials(&s.auth));
        }
        insecure(&mut out, "scrape", s.auth.insecure_skip_verify);
    }
    if let Some(v) = &cfg.valkey {
        let given = v.password_env.is_some() || v.password_file.is_some();
        endpoint(&mut out, "valkey", &v.url, given);
        insecure(&mut out, "valkey", v.insecure_skip_verify);
    }
    if let Some(k) = cfg.k6.as_ref().filter(|k| !k.urls.is_empty()) {
        http_in_use = true;
        for u in &k.urls {
            endpoint(&mut out, "k6", u, false);
        }
    }
    let e = &cfg.export;
    if let Some(u) = &e.pushgateway {
        http_in_use = true;
        endpoint(&mut out, "pushgateway export", u, false);
    }
    if let Some(u) = &e.grafana {
        http_in_use = true;
        let token = e.grafana_token_env.is_some() || e.grafana_token_file.is_some();
        endpoint(&mut out, "grafana export", u, token);
    }
    if http_in_use {
        if let Some((var, val)) = PROXY_VARS
            .iter()
            .find_map(|v| env(v).filter(|x| !x.trim().is_empty()).map(|x| (v, x)))
        {
            out.push(format!(
                "HTTP requests go through the proxy in {var} ({}), which sees every request to a host NO_PROXY does not exclude",
                redact_url(&val)
            ));
        }
    }
    out
}

/// Credentials set for an HTTP endpoint besides its URL (custom headers count: they are
/// where API keys and tenant ids go).
fn http_credentials(a: &HttpAuth) -> bool {
    a.bearer_token_env.is_some()
        || a.bearer_token_file.is_some()
        || a.basic_user.is_some()
        || !a.headers.is_empty()
}

/// A warning when `url` sends credentials (given apart, or inside the URL) in clear to
/// another machine.
fn endpoint(out: &mut Vec<String>, what: &str, url: &str, given: bool) {
    let shown = redact_url(url);
    let in_url = shown != url;
    if (given || in_url) && clear_text(url) && !loopback(url) {
        out.push(format!(
            "{what}: credentials are sent unencrypted to {shown}: anyone on the network path can read them; use https:// (rediss:// for Valkey)"
        ));
    }
}

fn insecure(out: &mut Vec<String>, what: &str, on: bool) {
    if on {
        out.push(format!(
            "{what}: TLS certificate verification is OFF (insecure_skip_verify): the server is not authenticated, and credentials go to whoever answers"
        ));
    }
}

fn clear_text(url: &str) -> bool {
    let scheme = url.split("://").next().unwrap_or("").to_ascii_lowercase();
    matches!(scheme.as_str(), "http" | "redis" | "valkey")
}

/// The URL's host is this machine (nothing crosses a network).
fn loopback(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{PrometheusConfig, ValkeyConfig};

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn clear_text_credentials_to_another_host_are_named_redacted() {
        let cfg = Config {
            prometheus: Some(PrometheusConfig {
                url: "http://u:pw@prom.internal:9090".into(),
                auth: HttpAuth::default(),
            }),
            valkey: Some(ValkeyConfig::at("redis://:pw@10.0.0.5:6379")),
            ..Config::default()
        };
        let w = warnings(&cfg, &no_env);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("prometheus: credentials are sent unencrypted to http://u:REDACTED@prom.internal:9090"), "{w:?}");
        assert!(w[1].starts_with("valkey: credentials"), "{w:?}");
        assert!(w.iter().all(|x| !x.contains("pw@")), "{w:?}");
    }

    #[test]
    fn tls_loopback_and_no_credentials_need_no_warning() {
        let mut cfg = Config::default();
        let auth = HttpAuth {
            bearer_token_env: Some("T".into()),
            ..HttpAuth::default()
        };
        for url in [
            "https://prom.internal",
            "http://127.0.0.1:9090",
            "http://[::1]:9090",
            "http://localhost:9090",
        ] {
            cfg.prometheus = Some(PrometheusConfig {
                url: url.into(),
                auth: auth.clone(),
            });
            assert!(warnings(&cfg, &no_env).is_empty(), "{url}");
        }
        cfg.prometheus = Some(PrometheusConfig {
            url: "http://prom.internal".into(),
            auth: HttpAuth::default(),
        });
        assert!(warnings(&cfg, &no_env).is_empty());
        cfg.prometheus.as_mut().unwrap().auth = auth;
        assert_eq!(warnings(&cfg, &no_env).len(), 1);
    }

    #[test]
    fn insecure_tls_and_proxies_are_said() {
        let auth = HttpAuth {
            insecure_skip_verify: true,
            ..HttpAuth::default()
        };
        let cfg = Config {
            prometheus: Some(PrometheusConfig {
                url: "https://127.0.0.1:9090".into(),
                auth,
            }),
            ..Config::default()
        };
        let env = |v: &str| (v == "HTTPS_PROXY").then(|| "http://u:pp@proxy:3128".to_string());
        let w = warnings(&cfg, &env);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("TLS certificate verification is OFF"),
            "{w:?}"
        );
        assert!(
            w[1].contains("HTTPS_PROXY (http://u:REDACTED@proxy:3128)"),
            "{w:?}"
        );
    }
}
