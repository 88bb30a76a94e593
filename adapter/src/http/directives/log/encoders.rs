//! Log encoders for `log { format … }` (`caddy.logging.encoders.*`):
//!
//! ```text
//! format console | json {
//!     message_key <key>  level_key <key>  time_key <key>  name_key <key>
//!     caller_key <key>   stacktrace_key <key>  line_ending <char>
//!     time_format <format>  time_local  duration_format <format>
//!     level_format <format>
//! }
//! format filter {
//!     wrap <encoder> ...
//!     fields { <field> <filter> ... }
//!     <field> <filter> ...
//! }
//! format append { wrap <encoder> ...  fields { <field> <value> }  <field> <value> }
//! format journald { wrap <encoder> ... }
//! ```
//!
//! Field filters: `delete`, `rename <name>`, `replace [<value>]`,
//! `ip_mask [<ipv4_cidr> [<ipv6_cidr>]] { ipv4 <cidr>  ipv6 <cidr> }`,
//! `query { replace|hash|delete <param> [<value>] }`,
//! `cookie { replace|hash|delete <name> [<value>] }`,
//! `regexp <pattern> <value>` (several on one field become `multi_regexp`),
//! `hash`.

use crate::error::Result;
use crate::http::directives::tls::issuers::generic_module;
use crate::syntax::Dispenser;
use serde_json::{Map, Value};

const CONFIG_KEYS: &[&str] = &[
    "message_key",
    "level_key",
    "time_key",
    "name_key",
    "caller_key",
    "stacktrace_key",
    "line_ending",
    "time_format",
    "duration_format",
    "level_format",
];

/// Parses an encoder; `d` is on the module name.
pub fn parse(d: &mut Dispenser) -> Result<Value> {
    let name = d.val().to_string();
    let mut seg = d.new_from_next_segment();
    seg.next();
    let d = &mut seg;
    let mut m = Map::new();
    m.insert("format".into(), name.as_str().into());
    match name.as_str() {
        "console" | "json" => encoder_config(d, &mut m)?,
        "filter" => filter(d, &mut m)?,
        "append" => append(d, &mut m)?,
        "journald" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            while d.next_block(0) {
                match d.val() {
                    "wrap" => wrap(d, &mut m)?,
                    other => return Err(d.err(format!("unrecognized subdirective {other}"))),
                }
            }
        }
        _ => return Ok(generic_module(d, "format", &name)),
    }
    Ok(Value::Object(m))
}

fn wrap(d: &mut Dispenser, m: &mut Map<String, Value>) -> Result<()> {
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    let inner = parse(d)?;
    m.insert("wrap".into(), inner);
    Ok(())
}

/// Caddy's `LogEncoderConfig` options.
fn encoder_config(d: &mut Dispenser, m: &mut Map<String, Value>) -> Result<()> {
    if d.next_arg() {
        return Err(d.arg_err());
    }
    while d.next_block(0) {
        let sub = d.val().to_string();
        if sub == "time_local" {
            if d.next_arg() {
                return Err(d.arg_err());
            }
            m.insert("time_local".into(), true.into());
            continue;
        }
        if !CONFIG_KEYS.contains(&sub.as_str()) {
            return Err(d.err(format!("unrecognized subdirective {sub}")));
        }
        let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        if d.next_arg() {
            return Err(d.arg_err());
        }
        m.insert(sub, v.into());
    }
    Ok(())
}

fn filter(d: &mut Dispenser, m: &mut Map<String, Value>) -> Result<()> {
    wrapped_fields(d, m, field_filter)
}

/// The block shared by the `filter` and `append` encoders: `wrap <encoder>`,
/// a `fields { … }` block, or field lines directly; each field line is
/// parsed by `field` into the encoder's `fields` map.
fn wrapped_fields(
    d: &mut Dispenser,
    m: &mut Map<String, Value>,
    field: fn(&mut Dispenser, &mut Map<String, Value>) -> Result<()>,
) -> Result<()> {
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let mut fields = Map::new();
    while d.next_block(0) {
        match d.val() {
            "wrap" => wrap(d, m)?,
            "fields" => {
                let nesting = d.nesting();
                while d.next_block(nesting) {
                    field(d, &mut fields)?;
                }
            }
            _ => field(d, &mut fields)?,
        }
    }
    if !fields.is_empty() {
        m.insert("fields".into(), Value::Object(fields));
    }
    Ok(())
}

/// `<field> <filter> …` at the cursor (on the field name).
fn field_filter(d: &mut Dispenser, fields: &mut Map<String, Value>) -> Result<()> {
    let field = d.val().to_string();
    let name = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    let mut seg = d.new_from_next_segment();
    seg.next();
    let f = filter_module(&mut seg, &name)?;
    if name == "regexp" {
        let op = |f: &Value| serde_json::json!({"regexp": f["regexp"].clone(), "value": f["value"].clone()});
        let merged = match fields.get(&field) {
            Some(prev) if prev["filter"] == "regexp" => {
                serde_json::json!({"filter": "multi_regexp", "operations": [op(prev), op(&f)]})
            }
            Some(prev) if prev["filter"] == "multi_regexp" => {
                let mut prev = prev.clone();
                if let Some(Value::Array(ops)) = prev.get_mut("operations") {
                    ops.push(op(&f));
                }
                prev
            }
            _ => f,
        };
        fields.insert(field, merged);
        return Ok(());
    }
    fields.insert(field, f);
    Ok(())
}

fn filter_module(d: &mut Dispenser, name: &str) -> Result<Value> {
    let mut m = Map::new();
    m.insert("filter".into(), name.into());
    match name {
        "delete" | "hash" => {
            if d.next_arg() {
                return Err(d.arg_err());
            }
        }
        "rename" => {
            let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
            m.insert("name".into(), v.into());
        }
        "replace" => {
            if let Some(v) = d.next_arg_value() {
                m.insert("value".into(), v.into());
            }
        }
        "regexp" => {
            let a = d.args(2).ok_or_else(|| d.arg_err())?;
            m.insert("regexp".into(), a[0].as_str().into());
            m.insert("value".into(), a[1].as_str().into());
        }
        "ip_mask" => ip_mask(d, &mut m)?,
        "query" | "cookie" => actions(d, name, &mut m)?,
        _ => return Ok(generic_module(d, "filter", name)),
    }
    Ok(Value::Object(m))
}

fn cidr(d: &Dispenser, v: &str) -> Result<i64> {
    v.parse()
        .map_err(|e| d.err(format!("error parsing {v}: {e}")))
}

fn ip_mask(d: &mut Dispenser, m: &mut Map<String, Value>) -> Result<()> {
    let args = d.remaining_args();
    if args.len() > 2 {
        return Err(d.arg_err());
    }
    for (v, key) in args.iter().zip(["ipv4_cidr", "ipv6_cidr"]) {
        m.insert(key.into(), cidr(d, v)?.into());
    }
    while d.next_block(0) {
        let key = match d.val() {
            "ipv4" => "ipv4_cidr",
            "ipv6" => "ipv6_cidr",
            other => return Err(d.err(format!("unrecognized subdirective {other}"))),
        };
        let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        m.insert(key.into(), cidr(d, &v)?.into());
    }
    Ok(())
}

/// `query` / `cookie` filters: `replace <name> <value>`, `hash <name>`,
/// `delete <name>` lines.
fn actions(d: &mut Dispenser, filter: &str, m: &mut Map<String, Value>) -> Result<()> {
    let key = if filter == "query" {
        "parameter"
    } else {
        "name"
    };
    let mut list = Vec::new();
    while d.next_block(0) {
        let kind = d.val().to_string();
        let target = d.next_arg_value().ok_or_else(|| d.arg_err())?;
        let mut a = Map::new();
        a.insert("type".into(), kind.as_str().into());
        a.insert(key.into(), target.into());
        match kind.as_str() {
            "replace" => {
                let v = d.next_arg_value().ok_or_else(|| d.arg_err())?;
                a.insert("value".into(), v.into());
            }
            "hash" | "delete" => {}
            other => return Err(d.err(format!("unrecognized subdirective {other}"))),
        }
        if d.next_arg() {
            return Err(d.arg_err());
        }
        list.push(Value::Object(a));
    }
    m.insert("actions".into(), Value::Array(list));
    Ok(())
}

fn append(d: &mut Dispenser, m: &mut Map<String, Value>) -> Result<()> {
    wrapped_fields(d, m, append_field)
}

/// `<field> <value>`: numbers and booleans keep their JSON type.
fn append_field(d: &mut Dispenser, fields: &mut Map<String, Value>) -> Result<()> {
    let field = d.val().to_string();
    let raw = d.next_arg_value().ok_or_else(|| d.arg_err())?;
    if d.next_arg() {
        return Err(d.arg_err());
    }
    let v = if let Ok(i) = raw.parse::<i64>() {
        Value::from(i)
    } else if let Some(n) = raw
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
    {
        Value::Number(n)
    } else if let Ok(b) = raw.parse::<bool>() {
        Value::Bool(b)
    } else {
        Value::String(raw)
    };
    fields.insert(field, v);
    Ok(())
}
