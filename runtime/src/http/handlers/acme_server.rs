//! `http.handlers.acme_server`: an ACME server (RFC 8555) issuing
//! certificates from a CA of the `pki` app, as Caddy's `acmeserver` does
//! with smallstep's CA. Requests under `path_prefix` (default `/acme/`) are
//! served here; others go on to the next handler.
//!
//! The directory is at `<path_prefix><ca>/directory` (the CA's ID names the
//! provisioner, as in Caddy: `https://host/acme/local/directory`), and every
//! link is `https://` on `host` (else the request's Host), as smallstep
//! builds them. Certificates are signed by the CA's intermediate (its root
//! with `sign_with_root`), valid `lifetime` (default 12 h, less than the
//! intermediate's), for exactly the order's names, which `policy` must
//! allow (`policy.rs`). `challenges` limits the challenge types offered
//! (default all of `http-01`, `dns-01`, `tls-alpn-01`); `resolvers` are
//! the DNS servers validation uses (`validate.rs`). Objects: `store.rs`;
//! the endpoints: `api.rs` and `orders.rs`; signed requests: `jws.rs`.
//!
//! Caddyfile: `acme_server [<matcher>] { ca <id>; lifetime <duration>;
//! resolvers <addresses...>; challenges <types...>; allow_wildcard_names;
//! allow|deny { domains <names...>; ip_ranges <cidrs...> }; sign_with_root }`.

mod api;
mod jws;
mod orders;
mod policy;
mod store;
mod validate;

use crate::config::CaddyDuration;
use crate::error::{Error, HttpError};
use crate::http::handlers::reverse_proxy::resolver::DnsResolver;
use crate::http::{BoxFuture, Cx, Flow, Handler, Step};
use crate::registry::Provision;
use crate::tls::TlsState;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_PREFIX: &str = "/acme/";
const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The largest request body read (a JWS with a CSR is a few KiB).
const MAX_BODY: u64 = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    ca: Option<String>,
    lifetime: Option<CaddyDuration>,
    host: Option<String>,
    path_prefix: Option<String>,
    #[serde(default)]
    sign_with_root: bool,
    #[serde(default)]
    resolvers: Vec<String>,
    #[serde(default)]
    challenges: Vec<String>,
    policy: Option<policy::PolicyJson>,
}

/// A provisioned ACME server.
pub struct AcmeServer {
    ca: String,
    lifetime: Duration,
    host: Option<String>,
    /// The path prefix, with a leading and a trailing slash.
    prefix: String,
    sign_with_root: bool,
    challenges: Vec<&'static str>,
    policy: policy::Policy,
    resolver: Arc<DnsResolver>,
    tls: Arc<TlsState>,
    store: Arc<store::Store>,
}

fn challenge_types(list: &[String], path: &str) -> Result<Vec<&'static str>, Error> {
    let mut out = Vec::new();
    for (i, c) in list.iter().enumerate() {
        out.push(match c.trim().to_ascii_lowercase().as_str() {
            "http-01" => "http-01",
            "dns-01" => "dns-01",
            "tls-alpn-01" => "tls-alpn-01",
            _ => {
                return Err(Error::config(
                    format!("{path}.challenges[{i}]"),
                    format!("acme challenge {c:?} is not supported"),
                ))
            }
        });
    }
    if out.is_empty() {
        out = vec!["http-01", "dns-01", "tls-alpn-01"];
    }
    Ok(out)
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let tls = p
        .tls
        .clone()
        .ok_or_else(|| Error::config(path, "the acme_server handler needs the tls app"))?;
    let ca =
        c.ca.filter(|s| !s.is_empty())
            .unwrap_or_else(|| crate::tls::pki::DEFAULT_CA.to_string());
    let lifetime = c.lifetime.map(|d| d.0).filter(|d| !d.is_zero());
    let lifetime = lifetime.unwrap_or(DEFAULT_LIFETIME);
    let intermediate = tls
        .with_ca(&ca, |ca| {
            let f = &ca.intermediate.facts;
            Ok(Duration::from_secs(
                (f.not_after - f.not_before).max(0) as u64
            ))
        })
        .map_err(|e| Error::config(format!("{path}.ca"), e))?;
    if lifetime >= intermediate {
        return Err(Error::config(
            format!("{path}.lifetime"),
            format!(
                "certificate lifetime ({lifetime:?}) should be less than intermediate certificate lifetime ({intermediate:?})"
            ),
        ));
    }
    let mut prefix = c.path_prefix.filter(|s| !s.is_empty());
    let prefix = prefix.take().unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    let prefix = format!("/{}/", prefix.trim_matches('/')).replace("//", "/");
    let resolver = DnsResolver::uncached(&c.resolvers, &format!("{path}.resolvers"))?;
    let policy = policy::Policy::provision(c.policy, &format!("{path}.policy"))?;
    if policy.allows_all() {
        tracing::warn!(
            target: "http.handlers.acme_server",
            ca = %ca,
            "acme_server policy has no allow/deny rules; order identifiers are unrestricted (allow-all)"
        );
    }
    Ok(Box::new(AcmeServer {
        store: store::shared(&tls.storage, &ca),
        challenges: challenge_types(&c.challenges, path)?,
        ca,
        lifetime,
        host: c.host.filter(|h| !h.is_empty()),
        prefix,
        sign_with_root: c.sign_with_root,
        policy,
        resolver,
        tls,
    }))
}

impl Handler for AcmeServer {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if cx.parts.uri.path().starts_with(&self.prefix) {
            Step::Async
        } else {
            Step::Next
        }
    }

    fn handle_async<'s>(&'s self, cx: &'s mut Cx<'_>) -> BoxFuture<'s, Result<Flow, HttpError>> {
        Box::pin(async move {
            cx.body.limit(MAX_BODY);
            if cx.body.read_whole().await.is_err() {
                return Ok(Flow::Respond(
                    api::Problem::new("malformed", "the request body could not be read").reply(),
                ));
            }
            Ok(Flow::Respond(api::serve(self, cx).await))
        })
    }
}

impl AcmeServer {
    /// The base of every link: `https://<host><prefix><ca>`.
    fn base(&self, cx: &Cx<'_>) -> String {
        let host = match &self.host {
            Some(h) => h.clone(),
            None => cx
                .parts
                .headers
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
                .or_else(|| cx.parts.uri.authority().map(|a| a.to_string()))
                .unwrap_or_default(),
        };
        format!("https://{host}{}{}", self.prefix, self.ca)
    }
}
