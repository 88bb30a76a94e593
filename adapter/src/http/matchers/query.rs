//! `query` matcher (`http.matchers.query`): `query <key>=<val>...`;
//! values of one key merge.

use crate::error::Result;
use crate::http::obj::{sorted_map, strings};
use crate::syntax::Dispenser;
use serde_json::Value;

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    while d.next() {
        for q in d.remaining_args() {
            if q.is_empty() {
                continue;
            }
            let Some((k, v)) = q.split_once('=') else {
                return Err(d.err(format!(
                    "malformed query matcher token: {}; must be in param=val format",
                    d.val()
                )));
            };
            match out.iter_mut().find(|(f, _)| f == k) {
                Some((_, vals)) => vals.push(v.to_string()),
                None => out.push((k.to_string(), vec![v.to_string()])),
            }
        }
        super::no_block(d, "query")?;
    }
    Ok(sorted_map(
        out.into_iter().map(|(k, v)| (k, strings(&v))).collect(),
    ))
}
