//! The `tls` directive's `client_auth` block (Caddy's
//! `caddytls.ClientAuthentication`):
//!
//! ```text
//! client_auth {
//!     mode                   [request|require|verify_if_given|require_and_verify]
//!     trust_pool             <module> [<args...>] { … }
//!     trusted_leaf_cert      <base64_der>
//!     trusted_leaf_cert_file <filename>
//!     verifier               <module> …
//!     # deprecated, become an inline trust pool:
//!     trusted_ca_cert        <base64_der>
//!     trusted_ca_cert_file   <filename>
//! }
//! ```
//!
//! Trust pools (`tls.ca_pool.source.*`): `inline { trust_der <der...> }`,
//! `file [<pem_files...>] { pem_file <files...> }`, `pki_root`/
//! `pki_intermediate [<ca...>] { authority <ca...> }`, `storage`, `http`,
//! `lazy`, `combined { source <module> … }`. Verifier `leaf` with loaders
//! `file <files...>` and `folder <folders...>` (one-liner or block).

use super::issuers::generic_module;
use crate::error::Result;
use crate::http::obj::strings;
use crate::http::value::module_json;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

const POOL_CONFLICT: &str =
    "cannot specify both 'trust_pool' and 'trusted_ca_cert' or 'trusted_ca_cert_file'";

/// Parses the `client_auth` segment (`d` over it, before its name) into
/// the `client_authentication` JSON in Go field order.
pub fn parse(d: &mut Dispenser) -> Result<Value> {
    d.next();
    while d.next_arg() {}
    let (mut ca, mut ca_certs, mut leaf_certs, mut verifiers) = (None, vec![], vec![], vec![]);
    let mut mode = String::new();
    let nesting = d.nesting();
    while d.next_block(nesting) {
        let sub = d.val().to_string();
        match sub.as_str() {
            "mode" => {
                if d.count_remaining_args() > 1 || !d.next_arg() {
                    return Err(d.arg_err());
                }
                mode = d.val().to_string();
            }
            "trusted_ca_cert" | "trusted_ca_cert_file" if ca.is_some() => {
                return Err(d.err(POOL_CONFLICT))
            }
            "trusted_ca_cert" | "trusted_leaf_cert" => {
                let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                let list = if sub == "trusted_ca_cert" {
                    &mut ca_certs
                } else {
                    &mut leaf_certs
                };
                list.push(v);
            }
            "trusted_ca_cert_file" | "trusted_leaf_cert_file" => {
                let file = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                let ders = pem_file_ders(&file).map_err(|e| d.err(e))?;
                let list = if sub == "trusted_ca_cert_file" {
                    &mut ca_certs
                } else {
                    &mut leaf_certs
                };
                list.extend(ders);
            }
            "trust_pool" => {
                if !ca_certs.is_empty() {
                    return Err(d.err(POOL_CONFLICT));
                }
                if !d.next_arg() {
                    return Err(d.arg_err());
                }
                ca = Some(trust_pool(d)?);
            }
            "verifier" => {
                if !d.next_arg() {
                    return Err(d.arg_err());
                }
                verifiers.push(verifier(d)?);
            }
            _ => return Err(d.err(format!("unknown subdirective for client_auth: {sub}"))),
        }
    }
    if !ca_certs.is_empty() {
        let mut m = Map::new();
        m.insert("provider".into(), "inline".into());
        m.insert("trusted_ca_certs".into(), strings(&ca_certs));
        ca = Some(Value::Object(m));
    }
    let mut out = Map::new();
    if let Some(ca) = ca {
        out.insert("ca".into(), module_json(&ca));
    }
    if !leaf_certs.is_empty() {
        out.insert("trusted_leaf_certs".into(), strings(&leaf_certs));
    }
    if !verifiers.is_empty() {
        let v = verifiers.iter().map(module_json).collect();
        out.insert("verifiers".into(), Value::Array(v));
    }
    if !mode.is_empty() {
        out.insert("mode".into(), mode.into());
    }
    Ok(Value::Object(out))
}

/// A trust pool module; `d` is on its name.
fn trust_pool(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    let d = &mut sub;
    let mut m = Map::new();
    m.insert("provider".into(), name.as_str().into());
    match name.as_str() {
        "inline" => list_pool(d, &mut m, "trust_der", "trusted_ca_certs", false)?,
        "file" => list_pool(d, &mut m, "pem_file", "pem_files", true)?,
        "pki_root" | "pki_intermediate" => list_pool(d, &mut m, "authority", "authority", true)?,
        "combined" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            let mut sources = Vec::new();
            while d.next_block(0) {
                if d.val() != "source" {
                    return Err(d.err(format!("unrecognized directive: {}", d.val())));
                }
                if !d.next_arg() {
                    return Err(d.arg_err());
                }
                sources.push(trust_pool(d)?);
            }
            m.insert("sources".into(), Value::Array(sources));
        }
        _ => return Ok(generic_module(d, "provider", &name)),
    }
    Ok(Value::Object(m))
}

/// A pool whose config is one list, given as arguments (if `inline_args`)
/// or as `<sub> <values...>` lines in its block.
fn list_pool(
    d: &mut Dispenser,
    m: &mut Map<String, Value>,
    sub: &str,
    key: &str,
    inline_args: bool,
) -> Result<()> {
    let mut vals = d.remaining_args();
    if !vals.is_empty() && !inline_args {
        return Err(d.arg_err());
    }
    while d.next_block(0) {
        if d.val() != sub {
            return Err(d.err(format!("unrecognized directive: {}", d.val())));
        }
        let more = d.remaining_args();
        if more.is_empty() {
            return Err(d.arg_err());
        }
        vals.extend(more);
    }
    if !vals.is_empty() {
        m.insert(key.into(), strings(&vals));
    }
    Ok(())
}

/// A client certificate verifier; `d` is on its name.
fn verifier(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    if name != "leaf" {
        return Ok(generic_module(&mut sub, "verifier", &name));
    }
    let d = &mut sub;
    let mut loaders = Vec::new();
    if d.count_remaining_args() > 1 {
        d.next_arg();
        loaders.push(leaf_loader(d)?);
    } else {
        while d.next_arg() {}
        while d.next_block(0) {
            loaders.push(leaf_loader(d)?);
        }
    }
    let mut m = Map::new();
    m.insert("verifier".into(), "leaf".into());
    if !loaders.is_empty() {
        m.insert("leaf_certs_loaders".into(), Value::Array(loaders));
    }
    Ok(Value::Object(m))
}

/// A leaf certificate loader (`file <files...>`, `folder <folders...>`,
/// others written through); `d` is on its name.
fn leaf_loader(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut sub = d.new_from_next_segment();
    sub.next();
    let key = match name.as_str() {
        "file" => "files",
        "folder" => "folders",
        _ => return Ok(generic_module(&mut sub, "loader", &name)),
    };
    let vals = sub.remaining_args();
    if vals.is_empty() {
        return Err(sub.arg_err());
    }
    let mut m = Map::new();
    m.insert("loader".into(), name.as_str().into());
    m.insert(key.into(), strings(&vals));
    Ok(Value::Object(m))
}

/// The base64 DER of every certificate in a PEM file (Caddy's
/// `convertPEMFilesToDER`).
pub fn pem_file_ders(filename: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(filename).map_err(|e| format!("open {filename}: {e}"))?;
    let none = || format!("no CERTIFICATE pem block found in {filename}");
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_end = after.find("-----").ok_or_else(none)?;
        let label = &after[..label_end];
        let body = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let end = body.find(&end_marker).ok_or_else(none)?;
        if label != "CERTIFICATE" {
            return Err(none());
        }
        let b64: String = body[..end]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        out.push(b64);
        rest = &body[end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err(none());
    }
    Ok(out)
}
