//! Automatic HTTPS, inferred at provision time as Caddy does: servers
//! not listening only on the HTTP port get TLS; the host names of their
//! routes' host matchers get managed certificates (public names from ACME,
//! `localhost`, IPs and internal names from the internal CA; `*.ts.net`
//! names from tailscaled, unmanaged); and an
//! HTTP→HTTPS redirect (308) is served on the HTTP port.
//!
//! Honoured per server: `automatic_https.disable`, `disable_redirects`,
//! `disable_certificates`, `skip`, `skip_certificates`,
//! `ignore_loaded_certificates`.

use crate::config::{AutoHttpsConfig, HandlerConfig, HttpApp, RouteConfig, ServerConfig};
use crate::error::Error;
use crate::listeners::{address, Network};
use crate::tls::issuer::{default_internal, AutoPolicy};
use crate::tls::TlsBuilder;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

/// Caddy's default ports.
pub const DEFAULT_HTTP_PORT: u16 = 80;
pub const DEFAULT_HTTPS_PORT: u16 = 443;
/// The name of the server Caddy creates for redirects.
pub const REDIRECT_SERVER: &str = "remaining_auto_https_redirects";

/// A server as automatic HTTPS leaves it (borrowed from the config unless
/// redirect routes were added to it).
pub struct Planned<'a> {
    pub name: String,
    pub config: Cow<'a, ServerConfig>,
    /// Its connection policies, when it speaks TLS.
    pub tls: Option<Vec<Map<String, Value>>>,
}

/// Whether certmagic would manage a certificate for `name` at all.
pub fn qualifies(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains(['{', '}', ' ', '/', '\\', ','])
        && name != "*"
        && (!name.contains('*') || (name.starts_with("*.") && name.matches('*').count() == 1))
}

/// Whether `name` is for a public CA (not an IP, not internal).
pub fn is_public(name: &str) -> bool {
    let n = name.trim_start_matches("*.").to_ascii_lowercase();
    let internal = n == "localhost"
        || [".localhost", ".local", ".internal", ".home.arpa"]
            .iter()
            .any(|s| n.ends_with(s));
    qualifies(name) && n.trim_matches(['[', ']']).parse::<IpAddr>().is_err() && !internal
}

fn ports(srv: &ServerConfig, path: &str) -> Result<Vec<address::ListenAddr>, Error> {
    let mut out = Vec::new();
    for (i, a) in srv.listen.iter().enumerate() {
        out.extend(address::parse(a).map_err(|e| Error::config(format!("{path}.listen[{i}]"), e))?);
    }
    Ok(out)
}

/// The host names of a server's top-level host matchers.
fn route_hosts(routes: &[RouteConfig]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in routes {
        for set in &r.matchers {
            if let Some(Value::Array(hosts)) = set.get("host") {
                out.extend(
                    hosts
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_lowercase),
                );
            }
        }
    }
    out
}

fn redirect_route(hosts: Option<Vec<String>>, port: u16, https_port: u16) -> RouteConfig {
    let mut to = "https://{http.request.host}".to_string();
    if port != https_port {
        to.push_str(&format!(":{port}"));
    }
    to.push_str("{http.request.uri}");
    let mut set = Map::new();
    set.insert("protocol".into(), json!("http"));
    if let Some(h) = hosts {
        set.insert("host".into(), json!(h));
    }
    let mut body = Map::new();
    body.insert("status_code".into(), json!(308));
    body.insert(
        "headers".into(),
        json!({"Location": [to], "Connection": ["close"]}),
    );
    body.insert("close".into(), json!(true));
    RouteConfig {
        matchers: vec![set],
        handle: vec![HandlerConfig::new("static_response", body)],
        ..Default::default()
    }
}

fn host_port(a: &address::ListenAddr, port: u16) -> String {
    let prefix = match a.network {
        Network::Tcp4 => "tcp4/",
        Network::Tcp6 => "tcp6/",
        _ => "",
    };
    if a.host.contains(':') {
        format!("{prefix}[{}]:{port}", a.host)
    } else {
        format!("{prefix}{}:{port}", a.host)
    }
}

/// Applies automatic HTTPS to the http app, adding managed names and
/// policies to `tls`; returns every server to provision.
pub fn plan<'a>(app: &'a HttpApp, tls: &mut TlsBuilder) -> Result<Vec<Planned<'a>>, Error> {
    let http_port = app.http_port.unwrap_or(DEFAULT_HTTP_PORT);
    let https_port = app.https_port.unwrap_or(DEFAULT_HTTPS_PORT);
    let mut planned = Vec::new();
    let mut cert_names = BTreeSet::new();
    // domain → (redirect listener, the HTTPS port it redirects to)
    let mut redirects: BTreeMap<String, (String, u16)> = BTreeMap::new();
    let no_settings = AutoHttpsConfig::default();
    for (name, srv) in &app.servers {
        let path = format!("apps.http.servers.{name}");
        let mut tls_policies =
            (!srv.tls_connection_policies.is_empty()).then(|| srv.tls_connection_policies.clone());
        let ah = srv.automatic_https.as_ref().unwrap_or(&no_settings);
        let listen = ports(srv, &path)?;
        let tcp: Vec<_> = listen
            .iter()
            .filter(|a| a.network != Network::Unix)
            .collect();
        if ah.disable {
            planned.push(Planned {
                name: name.clone(),
                config: Cow::Borrowed(srv),
                tls: tls_policies,
            });
            continue;
        }
        if !tcp.iter().any(|a| a.port != http_port) {
            tracing::info!(server_name = %name, http_port, "server is listening only on the HTTP port, so no automatic HTTPS will be applied to this server");
            planned.push(Planned {
                name: name.clone(),
                config: Cow::Borrowed(srv),
                tls: tls_policies,
            });
            continue;
        }
        if tls_policies.is_none() && !tcp.iter().any(|a| a.port != https_port) {
            tracing::info!(server_name = %name, https_port, "server is listening only on the HTTPS port but has no TLS connection policies; adding one to enable TLS");
            tls_policies = Some(vec![Map::new()]);
        }
        // The adapter lists every `http://` site in `skip`: look names up
        // in sets, not lists, or a large config takes quadratic time.
        let skip = str_set(&ah.skip);
        let domains: BTreeSet<String> = route_hosts(&srv.routes)
            .into_iter()
            .filter(|d| !skip.contains(d.as_str()))
            .collect();
        if domains.is_empty() {
            planned.push(Planned {
                name: name.clone(),
                config: Cow::Borrowed(srv),
                tls: tls_policies,
            });
            continue;
        }
        let skip_certificates = str_set(&ah.skip_certificates);
        for d in &domains {
            if !qualifies(d) || skip_certificates.contains(d.as_str()) || ah.disable_certificates {
                continue;
            }
            if !ah.ignore_loaded_certificates && tls.has_loaded(d) {
                tracing::info!(domain = %d, server_name = %name, "skipping automatic certificate management because one or more matching certificates are already loaded");
                continue;
            }
            cert_names.insert(d.clone());
        }
        tls_policies.get_or_insert_with(|| vec![Map::new()]);
        if !ah.disable_redirects {
            tracing::info!(server_name = %name, "enabling automatic HTTP->HTTPS redirects");
            for a in &tcp {
                for d in &domains {
                    let e = redirects
                        .entry(d.clone())
                        .or_insert((host_port(a, http_port), a.port));
                    if a.port == https_port {
                        *e = (host_port(a, http_port), a.port);
                    }
                }
            }
        }
        planned.push(Planned {
            name: name.clone(),
            config: Cow::Borrowed(srv),
            tls: tls_policies,
        });
    }
    add_policies(tls, &cert_names);
    add_redirects(&mut planned, redirects, https_port)?;
    Ok(planned)
}

fn str_set(list: &[String]) -> HashSet<&str> {
    list.iter().map(String::as_str).collect()
}

/// Implicit automation policies for the names no explicit policy lists.
fn add_policies(tls: &mut TlsBuilder, names: &BTreeSet<String>) {
    let (mut public, mut internal, mut tailscale) = (Vec::new(), Vec::new(), Vec::new());
    for d in names {
        if tls.has_policy_for(d) {
            tls.managed.push(d.clone());
            continue;
        }
        if is_tailscale(d) {
            // Not managed here: tailscaled has the certificate.
            tailscale.push(d.clone());
            continue;
        }
        tls.managed.push(d.clone());
        if is_public(d) {
            public.push(d.clone())
        } else {
            internal.push(d.clone())
        }
    }
    if !public.is_empty() {
        let issuers = tls
            .catch_all_issuers()
            .unwrap_or_else(|| vec![std::sync::Arc::new(crate::tls::acme::default_issuer())]);
        let p = AutoPolicy::with_issuers(public.clone(), issuers);
        tracing::info!(domains = ?public, "enabling automatic TLS certificate management (public CA)");
        tls.policies.insert(0, p);
    }
    if !internal.is_empty() {
        tracing::info!(domains = ?internal, "enabling automatic TLS certificate management (internal CA)");
        tls.policies
            .insert(0, AutoPolicy::with_issuer(internal, default_internal()));
    }
    if !tailscale.is_empty() {
        tracing::info!(domains = ?tailscale, "certificates from tailscaled (get_certificate tailscale)");
        let mut p = AutoPolicy::with_issuers(tailscale, Vec::new());
        p.managers.push(crate::tls::managers::Manager::Tailscale);
        tls.policies.insert(0, p);
    }
}

/// A tailnet name, whose certificate tailscaled has (Caddy's
/// `isTailscaleDomain`).
fn is_tailscale(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".ts.net")
}

fn add_redirects(
    planned: &mut Vec<Planned<'_>>,
    redirects: BTreeMap<String, (String, u16)>,
    https_port: u16,
) -> Result<(), Error> {
    let mut by_addr: BTreeMap<(String, u16), Vec<String>> = BTreeMap::new();
    for (d, key) in redirects {
        by_addr.entry(key).or_default().push(d);
    }
    let mut remaining = Vec::new();
    let mut remaining_addrs = Vec::new();
    for ((addr, port), domains) in by_addr {
        let route = redirect_route(Some(domains), port, https_port);
        let key = address::parse(&addr).map_err(|e| Error::config("apps.http", e))?;
        let existing = planned.iter_mut().find(|p| {
            p.config.listen.iter().any(|l| {
                address::parse(l)
                    .is_ok_and(|ls| ls.iter().any(|x| key.iter().any(|k| k.key() == x.key())))
            })
        });
        match existing {
            Some(p) => {
                tracing::warn!(server_name = %p.name, interface = %addr, "user server is listening on same interface as automatic HTTP->HTTPS redirects; user-configured routes might override these redirects");
                let routes = &mut p.config.to_mut().routes;
                routes.push(route);
                routes.push(redirect_route(None, https_port, DEFAULT_HTTPS_PORT));
            }
            None => {
                remaining.push(route);
                if !remaining_addrs.contains(&addr) {
                    remaining_addrs.push(addr);
                }
            }
        }
    }
    if !remaining.is_empty() {
        remaining.push(redirect_route(None, https_port, DEFAULT_HTTPS_PORT));
        planned.push(Planned {
            name: REDIRECT_SERVER.into(),
            config: Cow::Owned(ServerConfig {
                listen: remaining_addrs,
                routes: remaining,
                ..Default::default()
            }),
            tls: None,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_lists_leave_out_exactly_their_names() {
        let json = br#"{"apps":{"http":{"servers":{"s":{"listen":[":8443"],
            "routes":[{"match":[{"host":["a.test","b.test","c.test"]}]}],
            "automatic_https":{"skip":["a.test"],"skip_certificates":["b.test","c.tes"]}}}}}}"#;
        let config = crate::config::Config::from_json(json).unwrap();
        let mut tls = TlsBuilder::provision(&config).unwrap();
        let planned = plan(config.apps.http.as_ref().unwrap(), &mut tls).unwrap();
        assert_eq!(tls.managed, ["c.test"], "no certificate for a skipped name");
        let redirects = planned.iter().find(|p| p.name == REDIRECT_SERVER).unwrap();
        let hosts = route_hosts(&redirects.config.routes);
        assert_eq!(hosts, BTreeSet::from(["b.test".into(), "c.test".into()]));
        let user = planned.iter().find(|p| p.name == "s").unwrap();
        assert!(matches!(user.config, Cow::Borrowed(_)), "not copied");
    }

    #[test]
    fn names_are_classified_like_certmagic() {
        assert!(is_public("example.com") && is_public("*.example.com"));
        for n in [
            "localhost",
            "a.localhost",
            "printer.local",
            "x.internal",
            "127.0.0.1",
            "::1",
        ] {
            assert!(qualifies(n) && !is_public(n), "{n}");
        }
        for n in ["", "*", "a.*.com", "{host}", "a b"] {
            assert!(!qualifies(n), "{n:?}");
        }
    }
}
