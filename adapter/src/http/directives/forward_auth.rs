//! `forward_auth` (a `reverse_proxy` preset for authentication gateways):
//!
//! ```text
//! forward_auth [<matcher>] [<upstreams...>] {
//!     uri          <to>
//!     copy_headers <fields...> {
//!         <fields...>
//!     }
//!
//!     <any other reverse_proxy subdirectives...>
//! }
//! ```
//!
//! The proxy sends a `GET` to `uri` with `X-Forwarded-Method` and
//! `X-Forwarded-Uri` set; on a 2xx answer handling goes on, each copied
//! header (`Field` or `From>To`) first removed from the request and then
//! set from the gateway's response when it has it. Other answers are
//! written back to the client.

use super::reverse_proxy::{HeaderOps, Proxy, ResponseHandler};
use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::matchers::canonical_header_key;
use crate::http::obj::Obj;
use crate::http::value::ConfigValue;
use crate::http::value::{MatcherSet, Route};
use crate::syntax::Dispenser;
use serde_json::{json, Map};
use std::collections::BTreeMap;

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    if !h.next() {
        return Err(h.arg_err());
    }
    let user_matcher = h.extract_matcher_set()?;
    let mut d = Dispenser::new(h.tokens().to_vec());
    let (uri, copy) = take_auth_options(&mut d)?;
    let Some(uri) = uri else {
        return Err(d.err("the 'uri' subdirective is required"));
    };

    let mut proxy = Proxy::default();
    let mut up = HeaderOps::default();
    up.set("X-Forwarded-Method", "{http.request.method}");
    up.set("X-Forwarded-Uri", "{http.request.uri}");
    proxy.header_up = Some(up);
    let mut rewrite = Map::new();
    rewrite.insert("method".into(), "GET".into());
    rewrite.insert("uri".into(), uri.into());
    proxy.rewrite = Some(rewrite);
    proxy.handle_response.push(good_response_handler(&copy));

    let mut sub = h.sub(d.tokens().to_vec());
    sub.next();
    proxy.unmarshal(&mut sub.d)?;
    proxy.finalize(&mut sub)?;
    Ok(h.new_route(user_matcher, proxy.to_json()))
}

/// Reads and removes `uri` and `copy_headers` (first nesting level only);
/// returns the URI and the headers to copy (from → to, sorted by from).
fn take_auth_options(d: &mut Dispenser) -> Result<(Option<String>, BTreeMap<String, String>)> {
    let mut uri: Option<String> = None;
    let mut copy = BTreeMap::new();
    while d.next() {
        while d.next_block(0) {
            if d.nesting() != 1 {
                continue;
            }
            match d.val() {
                "uri" => {
                    if !d.next_arg() {
                        return Err(d.arg_err());
                    }
                    let v = d.val().to_string();
                    if uri.is_some() {
                        return Err(d.err(format!("cannot re-declare uri: {v}")));
                    }
                    uri = Some(v);
                    d.delete();
                    d.delete();
                }
                "copy_headers" => {
                    let mut args = d.remaining_args();
                    let nesting = d.nesting();
                    let mut had_block = false;
                    while d.next_block(nesting) {
                        had_block = true;
                        args.push(d.val().to_string());
                    }
                    let n = args.len() + 1 + if had_block { 2 } else { 0 };
                    for _ in 0..n {
                        d.delete();
                    }
                    for field in args {
                        match field.split_once('>') {
                            Some((from, to)) => {
                                let to = to.split('>').next().unwrap_or_default();
                                copy.insert(from.to_string(), to.to_string())
                            }
                            None => copy.insert(field.clone(), field),
                        };
                    }
                    if copy.is_empty() {
                        return Err(d.arg_err());
                    }
                }
                _ => {}
            }
        }
    }
    d.reset();
    Ok((uri, copy))
}

/// The 2xx handler: a no-op route, then per copied header a route deleting
/// it and one setting it from the response when that is not empty.
fn good_response_handler(copy: &BTreeMap<String, String>) -> ResponseHandler {
    let mut routes = vec![Route::with_handler(None, Obj::handler("vars").build())];
    for (from, to) in copy {
        let to = canonical_header_key(to);
        let placeholder = format!(
            "{{http.reverse_proxy.header.{}}}",
            canonical_header_key(from)
        );
        let delete = Obj::handler("headers")
            .set("request", json!({"delete": [to]}))
            .build();
        routes.push(Route::with_handler(None, delete));
        let set = Obj::handler("headers")
            .set("request", json!({"set": {to.clone(): [placeholder]}}))
            .build();
        let mut m = MatcherSet::new();
        m.insert("not".into(), json!([{"vars": {placeholder.clone(): [""]}}]));
        routes.push(Route::with_handler(Some(m), set));
    }
    ResponseHandler {
        matcher: Some(json!({"status_code": [2]})),
        status_code: None,
        routes: Some(routes),
    }
}
