//! Small global options:
//!
//! ```text
//! debug
//! grace_period <duration>      shutdown_delay <duration>
//! renew_interval <duration>    ocsp_interval <duration>
//! storage_clean_interval <duration>|off
//! storage_check off            persist_config off
//! default_sni <name>           fallback_sni <name>
//! local_certs                  skip_install_trust
//! key_type ed25519|p256|p384|rsa2048|rsa4096
//! ocsp_stapling off
//! renewal_window_ratio <ratio>
//! admin off | [<addr>] { origins … enforce_origin }
//! storage <module> { … }
//! ```

use super::Options;
use crate::error::Result;
use crate::http::duration::parse_duration;
use crate::http::obj::{strings, Obj};
use crate::http::registry::Directives;
use crate::syntax::Dispenser;
use serde_json::Value;

/// Options without arguments, stored as `true`.
pub fn parse_flag(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let name = d.val().to_string();
    if d.next_arg() {
        return Err(d.arg_err());
    }
    opts.values.insert(name, true.into());
    Ok(())
}

/// `debug`: sets the default logger level to DEBUG.
pub fn parse_debug(d: &mut Dispenser, opts: &mut Options, r: &Directives) -> Result<()> {
    parse_flag(d, opts, r)
}

/// Options with one string argument (`storage_check` and
/// `persist_config` accept only `off`).
pub fn parse_string(d: &mut Dispenser, opts: &mut Options, r: &Directives) -> Result<()> {
    super::acme::parse_string(d, opts, r)?;
    let name = d
        .tokens()
        .first()
        .map(|t| t.text.clone())
        .unwrap_or_default();
    if matches!(name.as_str(), "storage_check" | "persist_config") && opts.str(&name) != "off" {
        opts.values.remove(&name);
        return Err(d.err(format!("{name} must be 'off'")));
    }
    Ok(())
}

/// `storage_clean_interval <d>|off`.
pub fn parse_clean_interval(d: &mut Dispenser, opts: &mut Options, r: &Directives) -> Result<()> {
    let mut probe = d.clone();
    probe.next();
    if probe.next_arg() && probe.val() == "off" {
        opts.values
            .insert("storage_clean_interval".into(), false.into());
        return Ok(());
    }
    super::acme::parse_duration_opt(d, opts, r)
}

/// `ocsp_stapling off`.
pub fn parse_ocsp(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let Some(v) = d.next_arg_value() else {
        return Err(d.arg_err());
    };
    if d.next_arg() {
        return Err(d.arg_err());
    }
    if v != "off" {
        return Err(d.err(format!("invalid argument '{v}'")));
    }
    opts.values.insert(
        "ocsp_stapling".into(),
        Obj::new().set("disable_stapling", true).build(),
    );
    Ok(())
}

/// `renewal_window_ratio <ratio>`: a number in (0, 1).
pub fn parse_ratio(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let r: f64 = v.parse().map_err(|_| {
        d.err(format!(
            "parsing renewal_window_ratio: invalid number '{v}'"
        ))
    })?;
    if r <= 0.0 || r >= 1.0 {
        return Err(d.err("renewal_window_ratio must be between 0 and 1 (exclusive)"));
    }
    opts.values.insert(
        "renewal_window_ratio".into(),
        serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number),
    );
    Ok(())
}

/// `admin off` or `admin [<addr>] { origins …  enforce_origin }`; without
/// an address (and not `off`) the admin endpoint listens on Caddy's
/// default, `localhost:2019`.
pub fn parse_admin(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let mut admin = Obj::new();
    let mut listen = None;
    if let Some(addr) = d.next_arg_value() {
        if addr == "off" {
            if d.next() {
                return Err(d.err("No more option is allowed after turning off admin config"));
            }
            opts.values
                .insert("admin".into(), Obj::new().set("disabled", true).build());
            return Ok(());
        }
        listen = Some(addr);
        if d.next_arg() {
            return Err(d.arg_err());
        }
    }
    admin.put("listen", listen.unwrap_or_else(|| "localhost:2019".into()));
    let mut enforce = false;
    let mut origins = Vec::new();
    while d.next_block(0) {
        match d.val() {
            "enforce_origin" => enforce = true,
            "origins" => origins = d.remaining_args(),
            other => return Err(d.err(format!("unrecognized parameter '{other}'"))),
        }
    }
    admin.put_opt("enforce_origin", enforce);
    admin.put_opt("origins", strings(&origins));
    opts.values.insert("admin".into(), admin.build());
    Ok(())
}

/// `storage <module> { … }`: `file_system [<root>] { root <path> }` as
/// Caddy's file storage parses it, `redis` as pberkel/caddy-storage-redis
/// does (`storage_redis.rs`); another module is written through with the
/// block's keys and values.
pub fn parse_storage(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let module = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let v = if module == "file_system" {
        file_storage(d)?
    } else if module == "redis" {
        super::storage_redis::parse(d)?
    } else {
        let mut o = Obj::module("module", &module);
        while d.next_block(0) {
            let key = d.val().to_string();
            let vals = d.remaining_args();
            match vals.as_slice() {
                [one] => o.put(&key, one.as_str()),
                _ => o.put(&key, strings(&vals)),
            }
        }
        o.build()
    };
    opts.values.insert("storage".into(), v);
    Ok(())
}

/// `file_system [<root>] { root <path> }`.
fn file_storage(d: &mut Dispenser) -> Result<Value> {
    let mut root = d.next_arg_value().unwrap_or_default();
    if d.next_arg() {
        return Err(d.arg_err());
    }
    while d.next_block(0) {
        match d.val() {
            "root" => {
                let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                if !root.is_empty() {
                    return Err(d.err("root already set"));
                }
                root = v;
                if d.next_arg() {
                    return Err(d.arg_err());
                }
            }
            other => return Err(d.err(format!("unrecognized parameter '{other}'"))),
        }
    }
    if root.is_empty() {
        return Err(d.err("missing root path (to use default, omit storage config entirely)"));
    }
    Ok(Obj::module("module", "file_system")
        .set("root", root)
        .build())
}

/// Single-duration options.
pub fn parse_duration_opt(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    let name = d.val().to_string();
    let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let ns = parse_duration(&v).map_err(|e| d.err(e))?;
    opts.values.insert(name, ns.into());
    Ok(())
}

/// `on_demand_tls { ask <url>  permission <module>  interval <d>  burst <n> }`.
pub fn parse_on_demand(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let mut o = Obj::new();
    let mut any = false;
    while d.next_block(0) {
        any = true;
        let key = d.val().to_string();
        if matches!(key.as_str(), "ask" | "permission") {
            let mut probe = d.clone();
            if probe.next_arg() && o.0.contains_key("permission") {
                return Err(
                    probe.err("on-demand TLS permission module (or 'ask') already specified")
                );
            }
        }
        match d.val() {
            "ask" => {
                let url = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                o.put(
                    "permission",
                    Obj::new()
                        .set("endpoint", url)
                        .set("module", "http")
                        .build(),
                );
            }
            "permission" => {
                let m = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                let perm = if m == "http" {
                    // `permission http <endpoint>`: exactly one argument.
                    let url = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                    if d.next_arg() {
                        return Err(d.arg_err());
                    }
                    Obj::new().set("endpoint", url).set("module", "http")
                } else {
                    d.remaining_args();
                    Obj::module("module", &m)
                };
                let inner = d.nesting();
                while d.next_block(inner) {}
                o.put("permission", perm.build());
            }
            "interval" | "burst" => {
                return Err(d.err(format!(
                "the on_demand_tls '{}' option is no longer supported, remove it from your config",
                d.val()
            )))
            }
            other => return Err(d.err(format!("unrecognized parameter '{other}'"))),
        }
    }
    if !any {
        return Err(d.err("expected at least one config parameter for on_demand_tls"));
    }
    opts.values.insert("on_demand_tls".into(), o.build());
    Ok(())
}

/// `metrics { per_host  observe_catchall_hosts  otlp }`, written in Go's
/// field order whatever the order of the lines.
pub fn parse_metrics(d: &mut Dispenser, opts: &mut Options, _: &Directives) -> Result<()> {
    d.next();
    const FIELDS: [&str; 3] = ["per_host", "observe_catchall_hosts", "otlp"];
    let mut set = [false; 3];
    while d.next_block(0) {
        match FIELDS.iter().position(|f| *f == d.val()) {
            Some(i) => set[i] = true,
            // Caddy's own wording for this option.
            None => {
                return Err(d.err(format!("unrecognized servers option '{}'", d.val())));
            }
        }
    }
    let mut o = Obj::new();
    for (field, on) in FIELDS.iter().zip(set) {
        if on {
            o.put(field, true);
        }
    }
    opts.values.insert("metrics".into(), o.build());
    Ok(())
}
