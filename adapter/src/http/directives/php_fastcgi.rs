//! `php_fastcgi` (a `reverse_proxy` preset for PHP over FastCGI):
//!
//! ```text
//! php_fastcgi [<matcher>] <php-fpm_gateways...> {
//!     root <path>
//!     split <substrings...>
//!     index <filename>|off
//!     try_files <files...>
//!     env [<key> <value>]
//!     resolve_root_symlink
//!     dial_timeout  <duration>
//!     read_timeout  <duration>
//!     write_timeout <duration>
//!     capture_stderr
//!
//!     <any other reverse_proxy subdirectives...>
//! }
//! ```
//!
//! Expands to three routes: a 308 redirect adding the trailing slash to
//! directory requests (when `{path}/index.php` is among the files tried),
//! a rewrite to the first existing file (`try_files`, falling back to the
//! index when the last entry is a PHP file), and the proxy for
//! `*.php` paths over the FastCGI transport. With a matcher they are
//! wrapped in a subroute under it; otherwise they stay together unwrapped.
//! `index off` drops the first two.

use super::reverse_proxy::{Fastcgi, Proxy};
use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use crate::http::value::{class, subroute_handler, ConfigValue, MatcherSet, Payload, Route};
use crate::syntax::Dispenser;
use serde_json::{json, Value};

/// What the block sets besides the transport.
struct Php {
    fcgi: Fastcgi,
    index: String,
    try_files: Vec<String>,
}

pub fn parse(h: &mut Helper) -> Result<Vec<ConfigValue>> {
    if !h.next() {
        return Err(h.arg_err());
    }
    let user_matcher = h.extract_matcher_set()?;
    let mut d = Dispenser::new(h.tokens().to_vec());
    let php = take_php_options(&mut d)?;
    let extensions = if php.fcgi.split_path.is_empty() {
        vec![".php".to_string()]
    } else {
        php.fcgi.split_path.clone()
    };
    let mut fcgi = php.fcgi.clone();
    fcgi.split_path = extensions.clone();

    let mut routes = Vec::new();
    if php.index != "off" {
        routes.extend(index_routes(&php, &extensions));
    }
    let mut proxy = Proxy::default();
    proxy.transport_raw = Some(fcgi.to_json());
    let mut sub = h.sub(d.tokens().to_vec());
    sub.next();
    proxy.unmarshal(&mut sub.d)?;
    proxy.finalize(&mut sub)?;
    let paths: Vec<String> = extensions.iter().map(|e| format!("*{e}")).collect();
    let mut set = MatcherSet::new();
    set.insert("path".into(), strings(&paths));
    routes.push(Route::with_handler(Some(set), proxy.to_json()));

    if user_matcher.is_some() {
        let handler = subroute_handler(&routes, None);
        return Ok(h.new_route(user_matcher, handler));
    }
    Ok(vec![ConfigValue::new(
        class::ROUTE,
        Payload::Routes(routes),
    )])
}

/// Reads and removes the `php_fastcgi` options of the block (only at the
/// first nesting level), leaving the `reverse_proxy` ones.
fn take_php_options(d: &mut Dispenser) -> Result<Php> {
    let mut php = Php {
        fcgi: Fastcgi::default(),
        index: "index.php".into(),
        try_files: Vec::new(),
    };
    while d.next() {
        while d.next_block(0) {
            if d.nesting() != 1 {
                continue;
            }
            let key = d.val().to_string();
            let mut probe = d.clone();
            let line_args = probe.remaining_args().len();
            let consumed = match key.as_str() {
                "root" | "dial_timeout" | "read_timeout" | "write_timeout" => 2,
                _ => line_args + 1,
            };
            match key.as_str() {
                "index" | "try_files" => {
                    let args = d.remaining_args();
                    let ok = if key == "index" {
                        args.len() == 1
                    } else {
                        !args.is_empty()
                    };
                    if !ok {
                        return Err(d.arg_err());
                    }
                    if key == "index" {
                        php.index = args[0].clone();
                    } else {
                        php.try_files = args;
                    }
                }
                _ => {
                    if !php.fcgi.option(d, &key, false)? {
                        continue;
                    }
                }
            }
            for _ in 0..consumed {
                d.delete();
            }
        }
    }
    d.reset();
    Ok(php)
}

/// The canonical-path redirect (if the directory index is tried) and the
/// `try_files` rewrite.
fn index_routes(php: &Php, extensions: &[String]) -> Vec<Route> {
    let dir_index = format!("{{http.request.uri.path}}/{}", php.index);
    let (try_files, policy, redirect) = if php.try_files.is_empty() {
        let tf = vec![
            "{http.request.uri.path}".to_string(),
            dir_index.clone(),
            php.index.clone(),
        ];
        (tf, "first_exist_fallback", true)
    } else {
        let last_php = php.try_files.last().is_some_and(|f| f.ends_with(".php"));
        let policy = if last_php { "first_exist_fallback" } else { "" };
        let redirect = php.try_files.contains(&dir_index);
        (php.try_files.clone(), policy, redirect)
    };
    let mut routes = Vec::new();
    if redirect {
        let mut set = MatcherSet::new();
        set.insert(
            "file".into(),
            Obj::new().set("try_files", strings(&[&dir_index])).build(),
        );
        set.insert("not".into(), json!([{"path": ["*/"]}]));
        let handler = Obj::handler("static_response")
            .set(
                "headers",
                json!({"Location": ["{http.request.orig_uri.path}/{http.request.orig_uri.prefixed_query}"]}),
            )
            .set("status_code", 308)
            .build();
        routes.push(Route::with_handler(Some(set), handler));
    }
    let mut set = MatcherSet::new();
    let file = Obj::new()
        .opt("try_files", strings(&try_files))
        .opt("try_policy", policy)
        .opt("split_path", strings(extensions))
        .build();
    set.insert("file".into(), file);
    let rewrite: Value = Obj::handler("rewrite")
        .set("uri", "{http.matchers.file.relative}")
        .build();
    routes.push(Route::with_handler(Some(set), rewrite));
    routes
}
