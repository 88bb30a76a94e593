//! `header` matcher (`http.matchers.header`): `header <field> [<value>]`,
//! `header !<field>` (field must be absent). Values of one field merge;
//! field names are canonicalized as Go's `http.Header.Add` does (but not
//! for `!field`).

use super::canonical_header_key;
use crate::error::Result;
use crate::http::obj::sorted_map;
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut fields: Vec<(String, Option<Vec<String>>)> = Vec::new();
    while d.next() {
        let Some(field) = d.next_arg_value() else {
            return Err(d.err("malformed header matcher: expected field"));
        };
        if let Some(field) = field.strip_prefix('!') {
            if field.is_empty() {
                return Err(
                    d.err("malformed header matcher: must have field name following ! character")
                );
            }
            set(&mut fields, field.to_string(), None);
            if d.next_arg() {
                return Err(d.err(
                    "malformed header matcher: null matching headers cannot have a field value",
                ));
            }
        } else {
            let Some(val) = d.next_arg_value() else {
                return Err(d.err("malformed header matcher: expected both field and value"));
            };
            add(&mut fields, canonical_header_key(&field), val);
        }
        super::no_block(d, "header")?;
    }
    Ok(to_json(fields))
}

fn set(fields: &mut Vec<(String, Option<Vec<String>>)>, key: String, v: Option<Vec<String>>) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = v,
        None => fields.push((key, v)),
    }
}

fn add(fields: &mut Vec<(String, Option<Vec<String>>)>, key: String, val: String) {
    match fields.iter_mut().find(|(k, _)| *k == key) {
        Some((_, Some(vals))) => vals.push(val),
        Some(entry) => entry.1 = Some(vec![val]),
        None => fields.push((key, Some(vec![val]))),
    }
}

fn to_json(fields: Vec<(String, Option<Vec<String>>)>) -> Value {
    sorted_map(
        fields
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Some(vals) => Value::Array(vals.into_iter().map(Value::String).collect()),
                    None => Value::Null,
                };
                (k, v)
            })
            .collect(),
    )
}
