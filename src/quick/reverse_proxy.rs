//! `bellhop reverse-proxy`: a reverse proxy from `--from` to one or more
//! `--to` upstreams, as `caddy reverse-proxy`: `--from` (default
//! `localhost`) is served over HTTPS when it names a host and no
//! `http://` scheme or port 80, with `--internal-certs` from the internal
//! CA and `--disable-redirects` binding no HTTP port; `--to` addresses
//! (a port range is one upstream per port) are dialled over HTTP unless
//! one says `https://` (`--insecure` skips verifying it);
//! `--header-up`/`--header-down` set headers, `--change-host-header` sends
//! the upstream's host as `Host`.

use crate::Outcome;
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address on which to receive traffic.
    #[arg(long, short = 'f', default_value = "localhost")]
    from: String,
    /// Upstream address(es) to which traffic should be sent.
    #[arg(long, short = 't', value_delimiter = ',')]
    to: Vec<String>,
    /// Set upstream Host header to address of upstream.
    #[arg(long, short = 'c')]
    change_host_header: bool,
    /// Disable TLS verification (WARNING: DISABLES SECURITY BY NOT VERIFYING TLS CERTIFICATES!).
    #[arg(long)]
    insecure: bool,
    /// Disable HTTP->HTTPS redirects.
    #[arg(long, short = 'r')]
    disable_redirects: bool,
    /// Use internal CA for issuing certs.
    #[arg(long, short = 'i')]
    internal_certs: bool,
    /// Set a request header to send to the upstream (format: "Field: value").
    #[arg(long, short = 'H')]
    header_up: Vec<String>,
    /// Set a response header to send back to the client (format: "Field: value").
    #[arg(long, short = 'd')]
    header_down: Vec<String>,
    /// Enable the access log.
    #[arg(long)]
    access_log: bool,
    /// Enable verbose debug logs.
    #[arg(long, short = 'v')]
    debug: bool,
}

/// `--from` as Caddy's site address: (scheme, host, port).
fn from_addr(from: &str) -> Result<(String, String, String)> {
    let bad = || anyhow::anyhow!("invalid downstream address {from}");
    let (scheme, rest) = match from.split_once("://") {
        Some((s, r)) => (s.to_string(), r),
        None => (String::new(), from),
    };
    if rest.contains('/') {
        bail!("paths are not allowed: {from}");
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            (h.trim_matches(['[', ']']).to_string(), p.to_string())
        }
        _ => (rest.to_string(), String::new()),
    };
    if !port.is_empty() && port.parse::<u16>().is_err() {
        return Err(bad());
    }
    let scheme = match scheme.as_str() {
        "" if port == "80" || host.is_empty() => "http".to_string(),
        "" => "https".to_string(),
        "http" | "https" => scheme,
        _ => return Err(bad()),
    };
    let port = match (port.is_empty(), scheme.as_str()) {
        (true, "http") => "80".to_string(),
        (true, _) => "443".to_string(),
        _ => port,
    };
    Ok((scheme, host, port))
}

/// A `--to` address: its scheme (if given) and the dial addresses.
fn to_addr(to: &str) -> Result<(Option<String>, Vec<String>)> {
    let bad = || anyhow::anyhow!("invalid upstream address {to}");
    let (scheme, rest) = match to.split_once("://") {
        Some((s @ ("http" | "https" | "h2c"), r)) => (Some(s.to_string()), r),
        Some(_) => return Err(bad()),
        None => (None, to),
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('/') {
        return Err(bad());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => (h, p.to_string()),
        _ => (
            rest,
            match scheme.as_deref() {
                Some("https") => "443".into(),
                _ => "80".into(),
            },
        ),
    };
    if host.is_empty() {
        return Err(bad());
    }
    let (a, b) = port.split_once('-').unwrap_or((&port, &port));
    let (a, b): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if b < a {
        return Err(bad());
    }
    Ok((scheme, (a..=b).map(|p| format!("{host}:{p}")).collect()))
}

/// The config the flags describe.
pub fn build(args: &Args) -> Result<Vec<u8>> {
    if args.to.is_empty() {
        bail!("--to is required");
    }
    let (scheme, host, port) = from_addr(&args.from)?;
    let mut upstreams = Vec::new();
    let mut to_scheme = None;
    for t in &args.to {
        let (s, dials) = to_addr(t).with_context(|| format!("invalid upstream address {t}"))?;
        if to_scheme.is_none() {
            to_scheme = s;
        }
        upstreams.extend(dials.into_iter().map(|d| json!({"dial": d})));
    }
    let mut transport = json!({"protocol": "http"});
    if to_scheme.as_deref() == Some("https") {
        transport["tls"] = if args.insecure {
            json!({"insecure_skip_verify": true})
        } else {
            json!({})
        };
    }
    let mut handler =
        json!({"handler": "reverse_proxy", "transport": transport, "upstreams": upstreams});
    let mut up = super::headers(&args.header_up, "header-up")?;
    let down = super::headers(&args.header_down, "header-down")?;
    if args.change_host_header {
        up.insert(
            "Host".into(),
            json!(["{http.reverse_proxy.upstream.hostport}"]),
        );
    }
    if !up.is_empty() || !down.is_empty() {
        let mut h = json!({});
        if !up.is_empty() {
            h["request"] = json!({"set": up});
        }
        if !down.is_empty() {
            h["response"] = json!({"set": down});
        }
        handler["headers"] = h;
    }
    let mut route = json!({"handle": [handler]});
    if !host.is_empty() {
        route["match"] = json!([{"host": [host]}]);
    }
    let mut server = json!({"listen": [format!(":{port}")], "routes": [route]});
    if args.access_log {
        server["logs"] = json!({});
    }
    if scheme == "http" {
        server["automatic_https"] = json!({"disable": true});
    } else if args.disable_redirects {
        server["automatic_https"] = json!({"disable_redirects": true});
    }
    let mut apps = json!({"http": {"servers": {"proxy": server}}});
    if args.internal_certs && !host.is_empty() {
        apps["tls"] = json!({"automation": {"policies": [{"subjects": [host], "issuers": [{"module": "internal"}]}]}});
    }
    Ok(super::config(apps, args.debug))
}

pub fn run(args: Args) -> Result<Outcome> {
    let json = build(&args)?;
    let v: Value = serde_json::from_slice(&json)?;
    let to: Vec<&Value> = v["apps"]["http"]["servers"]["proxy"]["routes"][0]["handle"][0]
        ["upstreams"]
        .as_array()
        .map(|u| u.iter().map(|u| &u["dial"]).collect())
        .unwrap_or_default();
    eprintln!("bellhop proxying from {} to {:?}", args.from, to);
    crate::run::serve_built(json, "reverse-proxy", false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_as_caddy_reads_them() {
        let f = |s: &str| from_addr(s).unwrap();
        assert_eq!(
            f("localhost"),
            ("https".into(), "localhost".into(), "443".into())
        );
        assert_eq!(f(":8080"), ("http".into(), "".into(), "8080".into()));
        assert_eq!(
            f("example.com:80"),
            ("http".into(), "example.com".into(), "80".into())
        );
        assert_eq!(
            f("http://example.com"),
            ("http".into(), "example.com".into(), "80".into())
        );
        assert!(from_addr("example.com/path").is_err());
        assert_eq!(to_addr("localhost:9000-9002").unwrap().1.len(), 3);
        assert_eq!(
            to_addr("https://api.test").unwrap(),
            (Some("https".into()), vec!["api.test:443".into()])
        );
        assert_eq!(
            to_addr("127.0.0.1:3000").unwrap(),
            (None, vec!["127.0.0.1:3000".into()])
        );
        assert!(to_addr("ftp://x").is_err());
    }
}
