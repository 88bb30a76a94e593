//! The HTTP server type: Caddyfile server blocks → Caddy's canonical JSON,
//! as Caddy's `httpcaddyfile` package does it, in layers:
//!
//! 1. keys checked (no directive names, no `@matcher` as a site address);
//! 2. global options ([`options`]), one file per option under `options/`;
//! 3. named routes (`&(name) { … }`) parsed into routes for `invoke`;
//! 4. per site block ([`site`]): placeholder shorthands replaced
//!    ([`shorthands`]), `@name` matchers defined ([`matchers`]), each
//!    directive run through the registry ([`registry`], [`directives`]),
//!    its config values piled up by class ([`value`]);
//! 5. assembly ([`assemble`]): sites paired with listener addresses,
//!    routes sorted by directive order ([`order`]), subroutes, auto-HTTPS,
//!    TLS and logging.
//!
//! # Adding a directive
//!
//! 1. Create `http/directives/NAME.rs` with a `//!` doc giving the
//!    directive's Caddyfile syntax (as Caddy's docs write it) and one
//!    `pub fn parse`:
//!    - a *handler directive* (optional matcher, one handler) has
//!      `fn parse(h: &mut Helper) -> Result<Value>`: the matcher token is
//!      already removed; `h.next()` moves onto the directive name, then use
//!      the [`Helper`]'s dispenser methods (`next_arg`, `remaining_args`,
//!      `next_block(0)`, `arg_err`, `error`) and return the handler JSON
//!      built with [`obj::Obj`]: `Obj::handler("static_response")…`;
//!    - any other directive has
//!      `fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>>` and returns
//!      values of the classes in [`value::class`] (use
//!      `h.extract_matcher_set()` and `h.new_route(…)` for routes).
//! 2. Add `mod NAME;` and one `reg.register_handler("NAME", NAME::parse)`
//!    (or `reg.register`) line to `register_standard` in
//!    `http/directives.rs`. If it is a handler, it must be in
//!    [`order::DEFAULT_DIRECTIVE_ORDER`] (already true for Caddy's own).
//! 3. Add golden cases `testdata/http/NAME*.caddyfiletest`.
//!
//! Key order: handler objects (and everything inside them) are printed
//! with keys sorted, because Caddy round-trips module objects through a Go
//! map (`JSONModuleObject`); [`value::Route::to_json`] sorts handlers, so a
//! directive need not care. Plain structs that are not modules (server,
//! TLS automation and connection policies, logs, matchers) keep Go struct
//! field order: insert keys in the order the Go struct declares its
//! fields (serde_json's `preserve_order` is on); Go map values (`servers`,
//! header maps, `logs`) are sorted by key (`obj::sorted_map`, `BTreeMap`).
//! Go's `omitempty` is [`obj::Obj::opt`].

// Errors carry their source text and span (a large type); they are rare and
// end the adaptation, so their size does not matter on the happy path.
#![allow(clippy::result_large_err)]

pub mod address;
pub mod assemble;
pub mod directives;
pub mod duration;
pub mod goconv;
pub mod gosort;
pub mod helper;
pub mod matchers;
pub mod obj;
pub mod options;
pub mod order;
pub mod registry;
pub mod response_matchers;
pub mod shorthands;
pub mod site;
pub mod subroute;
#[cfg(test)]
pub(crate) mod testutil;
pub mod value;

pub use helper::Helper;
pub use options::Options;
pub use registry::Directives;
pub use value::ConfigValue;

use crate::error::{Error, Result, Warning};
use crate::syntax::ServerBlock;
use address::Address;
use helper::{Env, State};
use serde_json::Value;
use shorthands::ShorthandReplacer;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Adapts parsed server blocks (global options block first, if any) to
/// Caddy's JSON config; returns it with the warnings (those given first).
pub fn adapt(blocks: Vec<ServerBlock>, warnings_in: Vec<Warning>) -> Result<(Value, Vec<Warning>)> {
    let directives = Directives::standard();
    check_keys(&blocks, &directives)?;
    let (options, blocks) = options::evaluate(blocks, &directives)?;
    let env = Env {
        options,
        directives,
    };
    let mut state = State {
        warnings: warnings_in,
        ..State::default()
    };
    let replacer = ShorthandReplacer::new();
    let (named, blocks): (Vec<_>, Vec<_>) = blocks.into_iter().partition(|b| b.is_named_route);
    let (named_routes, invokes) = named_routes(named, &env, &replacer)?;
    state.named_route_invokes = invokes;
    let mut sites = Vec::with_capacity(blocks.len());
    for b in blocks {
        let mut site = site::parse_site(b, &env, &mut state, &replacer)?;
        site.parsed_keys = parse_keys(&site)?;
        sites.push(site);
    }
    let config = assemble::build(sites, &env, &named_routes, &mut state)?;
    Ok((config, state.warnings))
}

/// Rejects `@matcher` and known directive names used as site addresses.
fn check_keys(blocks: &[ServerBlock], directives: &Directives) -> Result<()> {
    for b in blocks {
        for (j, k) in b.keys.iter().enumerate() {
            let msg = if j == 0 && k.text.starts_with('@') {
                format!(
                    "{}:{}: cannot define a matcher outside of a site block: '{}'",
                    k.file.name, k.line, k.text
                )
            } else if directives.contains(&k.text) {
                format!("{}:{}: parsed '{}' as a site address, but it is a known directive; directives must appear in a site block", k.file.name, k.line, k.text)
            } else {
                continue;
            };
            let mut err = Error::plain(msg);
            err.attach(k, "not a site address");
            return Err(err);
        }
    }
    Ok(())
}

fn parse_keys(site: &site::Site) -> Result<Vec<Address>> {
    site.keys
        .iter()
        .map(|k| {
            Address::parse(&k.text)
                .map(Address::normalize)
                .map_err(|mut e| {
                    e.message = format!("parsing key: {}", e.message);
                    e.attach(k, "invalid site address");
                    e
                })
        })
        .collect()
}

/// The named routes by name, and for each the names its `invoke`s refer to.
type NamedRoutes = (BTreeMap<String, Value>, BTreeMap<String, BTreeSet<String>>);

/// Parses `&(name) { … }` blocks into routes (a single unmatched route's
/// handlers, or a subroute), keyed by name, noting which named routes
/// each one invokes.
fn named_routes(
    blocks: Vec<ServerBlock>,
    env: &Env,
    replacer: &ShorthandReplacer,
) -> Result<NamedRoutes> {
    let mut out = BTreeMap::new();
    let mut invokes = BTreeMap::new();
    let mut state = State::default();
    for mut b in blocks {
        if b.segments.is_empty() {
            continue;
        }
        let mut body = Vec::new();
        for seg in &mut b.segments {
            replacer.apply(seg);
            body.extend(seg.iter().cloned());
        }
        let Some(key) = b.keys.first().cloned() else {
            continue;
        };
        let whole = wrap_named_route(&key, body);
        let name = key
            .text
            .trim_start_matches("&(")
            .trim_end_matches(')')
            .to_string();
        if out.contains_key(&name) {
            return Err(crate::error::Error::at(
                &key,
                format!("cannot have duplicate named_routes: {name}"),
            ));
        }
        state.caddyfiles = site::block_files(&b.segments);
        let keys: Rc<[crate::syntax::Token]> = Rc::from(b.keys);
        let mut h = Helper::new(whole, env, &mut state, Rc::default(), keys);
        let routes = subroute::parse_segment_as_routes(&mut h)?;
        let route = match routes.as_slice() {
            [only] if only.matchers.is_empty() => value::Route {
                handlers: only.handlers.clone(),
                ..Default::default()
            },
            _ => value::Route::with_handler(None, value::subroute_handler(&routes, None)),
        };
        invokes.insert(name.clone(), std::mem::take(&mut state.invoked));
        out.insert(name, route.to_json());
    }
    Ok((out, invokes))
}

/// The named route's tokens as one `NAME { … }` segment (the braces are
/// synthesized when the parser gave only the inner directives).
fn wrap_named_route(
    key: &crate::syntax::Token,
    body: Vec<crate::syntax::Token>,
) -> Vec<crate::syntax::Token> {
    if body.first().is_some_and(|t| t.text == key.text) {
        return body;
    }
    let mut open = key.clone();
    open.text = "{".into();
    let mut close = key.clone();
    close.text = "}".into();
    close.line = body
        .last()
        .map_or(key.line, |t| t.line + t.num_line_breaks())
        + 1;
    let mut out = Vec::with_capacity(body.len() + 3);
    out.push(key.clone());
    out.push(open);
    out.extend(body);
    out.push(close);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(src: &str) -> Result<Value> {
        adapt(testutil::blocks(src), Vec::new()).map(|(v, _)| v)
    }

    #[test]
    fn respond_on_port_80() {
        let v = run(":80 {\n respond \"hi\"\n}").unwrap();
        assert_eq!(
            v,
            json!({"apps": {"http": {"servers": {"srv0": {
                "listen": [":80"],
                "routes": [{"handle": [{"body": "hi", "handler": "static_response"}]}]
            }}}}})
        );
    }

    #[test]
    fn host_site_is_wrapped_with_host_matcher() {
        let v = run("example.com {\n reverse_proxy localhost:3001\n}").unwrap();
        let srv = &v["apps"]["http"]["servers"]["srv0"];
        assert_eq!(srv["listen"], json!([":443"]));
        assert_eq!(
            srv["routes"][0]["match"],
            json!([{"host": ["example.com"]}])
        );
        assert_eq!(srv["routes"][0]["terminal"], json!(true));
        let inner = &srv["routes"][0]["handle"][0]["routes"][0]["handle"][0];
        assert_eq!(
            inner,
            &json!({"handler": "reverse_proxy", "upstreams": [{"dial": "localhost:3001"}]})
        );
    }

    #[test]
    fn directive_as_address_and_unknown_directive() {
        let e = run("handle {\n respond x\n}").unwrap_err();
        assert!(e.message.contains("parsed 'handle' as a site address"));
        let e = run(":80 {\n reverse_prxy x\n}").unwrap_err();
        assert!(e.message.contains("unrecognized directive: reverse_prxy"));
        assert_eq!(e.help_text(), Some("did you mean reverse_proxy?"));
    }

    #[test]
    fn handle_groups_and_matchers() {
        let src = ":80 {\n @a path /a\n handle @a {\n respond a\n }\n handle {\n respond b\n }\n}";
        let v = run(src).unwrap();
        let routes = &v["apps"]["http"]["servers"]["srv0"]["routes"];
        assert_eq!(routes[0]["group"], routes[1]["group"]);
        assert_eq!(routes[0]["match"], json!([{"path": ["/a"]}]));
    }
}
