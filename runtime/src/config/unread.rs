//! Every config field bellhop decodes but does not act on, in one place,
//! each with why: **refused** when set (the load fails naming the field),
//! or **accepted** because what it tunes does not exist in bellhop, so
//! any value is met as it is (`disable_storage_check` with no check).
//!
//! The compiler keeps this list complete: the config model's fields are
//! `pub(crate)`, so a field that no code reads is a `dead_code` warning,
//! which CI denies; reading a field here is what acknowledges it. The
//! test below fails if anything else silences such a field (a
//! `let _ = field` or an `allow(dead_code)` on anything but a module
//! name), so nothing can be accepted and then quietly ignored.

use super::{Config, HttpApp, ServerConfig};
use crate::error::Error;
use crate::tls::config::{AcmeIssuerConfig, CaConfig, InternalIssuerConfig, TlsAppConfig};

/// Fails with `why` at `path` when `set`.
fn refuse(set: bool, path: impl Into<String>, why: &str) -> Result<(), Error> {
    match set {
        true => Err(Error::config(path, why)),
        false => Ok(()),
    }
}

/// The `http` app and its servers.
pub(crate) fn http_app(app: &HttpApp) -> Result<(), Error> {
    // `metrics.otlp`: http/metrics/otlp.rs.
    for (name, s) in &app.servers {
        server(s, &format!("apps.http.servers.{name}"))?;
    }
    Ok(())
}

fn server(s: &ServerConfig, path: &str) -> Result<(), Error> {
    // Accepted: hyper reads an HTTP/1 request body while the response is
    // written (full duplex) whatever the setting.
    let _full_duplex_always = s.enable_full_duplex;
    if let Some(a) = &s.automatic_https {
        refuse(
            a.prefer_wildcard,
            format!("{path}.automatic_https.prefer_wildcard"),
            "removed in Caddy 2.11, which refuses it as an unknown field (as bellhop does)",
        )?;
    }
    // `logs.trace`: http/trace_log.rs.
    Ok(())
}

/// The `logging` and `admin` sections.
pub(crate) fn logging_admin(config: &Config) -> Result<(), Error> {
    // Accepted: the sink receives the log output of Go's standard
    // library in Caddy; nothing in bellhop writes there.
    let _no_stdlib_log = config.logging.as_ref().map(|l| l.sink.is_some());
    let Some(admin) = &config.admin else {
        return Ok(());
    };
    // `identity`: tls/identity.rs; `remote`: admin/remote.rs.
    if let Some(c) = &admin.config {
        // Read when the admin API runs the config (admin/loader.rs);
        // checked here so that `validate` names a bad loader too.
        crate::admin::loader::Source::provision(c)?;
    }
    Ok(())
}

/// The `tls` app.
pub(crate) fn tls_app(app: &TlsAppConfig) -> Result<(), Error> {
    // Accepted: bellhop makes no storage self-check at start, and
    // resolvers serve only DNS-01, which is refused with its provider.
    let _no_storage_check = app.disable_storage_check;
    let _dns_only = app.resolvers.is_some();
    // `cache.capacity`: tls/cache.rs.
    Ok(())
}

/// A CA of the `pki` app.
pub(crate) fn ca(c: &CaConfig) {
    // Accepted: the intermediate is checked at every issuance, so any
    // maintenance interval is met. (`storage`, `root` and `intermediate`:
    // tls/pki.rs and tls/pki/files.rs.)
    let _checked_always = c.maintenance_interval;
}

/// The `acme` issuer.
pub(crate) fn acme_issuer(c: &AcmeIssuerConfig) {
    let _module_name = &c.module;
    // `preferred_chains` and `certificate_lifetime`: tls/acme.rs.
    if let Some(ch) = &c.challenges {
        // Accepted: challenges are answered by bellhop's own HTTP and TLS
        // servers on every address and port they listen on; no separate
        // solver binds a host or an alternate port.
        let _own_servers = &ch.bind_host;
        let _http_port = ch.http.as_ref().map(|h| h.alternate_port);
        let _tls_port = ch.tls_alpn.as_ref().map(|h| h.alternate_port);
    }
}

/// A log encoder's options bellhop has no use for.
pub(crate) fn encoder(caller_key: &Option<String>, stacktrace_key: &Option<String>) {
    // Accepted: bellhop's entries carry no caller and no stack trace, so
    // the keys they would go under name nothing. (`duration_format`:
    // logging/durations.rs.)
    let _no_caller = caller_key;
    let _no_stack = stacktrace_key;
}

/// A `sni_regexp` handshake matcher's `name`.
pub(crate) fn sni_regexp_name(r: &crate::tls::config::SniRegexp) {
    // Accepted: Caddy files the captures under this name in the
    // replacer of the handshake's context, and its HTTP servers give a
    // handshake none (the matcher then fills a replacer of its own that
    // nothing reads), so in Caddy's standard build nothing sees them
    // either.
    let _no_reader = &r.name;
}

/// The `zerossl` issuer.
pub(crate) fn zerossl_issuer(c: &crate::tls::config::ZeroSslIssuerConfig) {
    let _module_name = &c.module;
    // Accepted: the validation file is served by bellhop's own HTTP
    // servers on every address and port they listen on; no separate
    // solver binds a host or an alternate port. (`cname_validation`:
    // refused in tls/zerossl.rs, it needs a DNS provider.)
    let _own_servers = &c.listen_host;
    let _http_port = c.alternate_http_port;
}

/// The `internal` issuer.
pub(crate) fn internal_issuer(c: &InternalIssuerConfig) {
    let _module_name = &c.module;
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Each refused field fails the load naming itself; the accepted ones
    /// load.
    #[test]
    fn refused_fields_name_themselves() {
        let srv = |extra: serde_json::Value| {
            let mut s = json!({"listen": ["127.0.0.1:0"], "routes": []});
            for (k, v) in extra.as_object().unwrap() {
                s[k] = v.clone();
            }
            json!({"apps": {"http": {"servers": {"s": s}}}})
        };
        let tls = |app: serde_json::Value| json!({"apps": {"tls": app}});
        let acme = |extra: serde_json::Value| {
            let mut i = json!({"module": "acme"});
            for (k, v) in extra.as_object().unwrap() {
                i[k] = v.clone();
            }
            tls(json!({"automation": {"policies": [{"subjects": ["a.test"], "issuers": [i]}]}}))
        };
        let refused = [
            (
                srv(json!({"automatic_https": {"prefer_wildcard": true}})),
                "automatic_https.prefer_wildcard",
            ),
            (
                tls(json!({"session_tickets": {"key_source": {"provider": "vault"}}})),
                "apps.tls.session_tickets.key_source.provider",
            ),
            (
                acme(json!({"preferred_chains": {"largest": true}})),
                "issuers[0].preferred_chains",
            ),
            (
                acme(json!({"certificate_lifetime": "0s"})),
                "issuers[0].certificate_lifetime",
            ),
        ];
        for (config, at) in refused {
            let e = match crate::validate(config.to_string().as_bytes()) {
                Ok(()) => panic!("{at}: loaded"),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(at), "{at}: {e}");
        }
        let accepted = [
            srv(json!({"enable_full_duplex": true, "trusted_proxies_unix": true})),
            tls(
                json!({"disable_ocsp_stapling": true, "disable_storage_check": true, "disable_storage_clean": true}),
            ),
            acme(
                json!({"challenges": {"bind_host": "127.0.0.1", "http": {"alternate_port": 8080}}}),
            ),
            acme(
                json!({"certificate_lifetime": "24h", "preferred_chains": {"smallest": true, "root_common_name": ["R"]}}),
            ),
            json!({"logging": {"sink": {"writer": {"output": "stderr"}},
                   "logs": {"l": {"encoder": {"format": "json", "caller_key": "c", "duration_format": "seconds"}}}}}),
        ];
        for config in accepted {
            crate::validate(config.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{config}: {e}"));
        }
    }

    /// Module-name keys: decoded so `deny_unknown_fields` accepts them,
    /// read by the code that chose the module.
    const DISCRIMINATORS: &[&str] = &["format", "output", "wrapper", "source", "policy", "module"];

    #[test]
    fn nothing_else_silences_an_unread_field() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut bad = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.ends_with("config/unread.rs") || p.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                let lines: Vec<&str> = text.lines().collect();
                for (i, l) in lines.iter().enumerate() {
                    let t = l.trim();
                    let silenced_read =
                        t.starts_with("let _ = c.") || t.starts_with("let _ = (&c.");
                    let allowed_field = t == "#[allow(dead_code)]"
                        && lines.get(i + 1).is_some_and(|n| {
                            let field = n
                                .trim()
                                .trim_start_matches("pub(crate) ")
                                .split(':')
                                .next()
                                .unwrap_or("");
                            !DISCRIMINATORS.contains(&field)
                        });
                    if silenced_read || allowed_field {
                        bad.push(format!("{}:{}: {t}", p.display(), i + 1));
                    }
                }
            }
        }
        assert!(
            bad.is_empty(),
            "unread config fields belong in config/unread.rs, refused or accepted with why:\n{}",
            bad.join("\n")
        );
    }
}
