//! The values directive parsers return, and the route type they mostly
//! build: Caddy's `ConfigValue` (a class plus a value, "piled up" per site
//! block and consulted when the servers and apps are assembled) and
//! `caddyhttp.Route`.

use serde_json::{Map, Value};

/// A matcher set: matcher module name → its JSON (a Go map, so printed
/// sorted by key; keep it a `BTreeMap` until it is turned into JSON).
pub type MatcherSet = std::collections::BTreeMap<String, Value>;

/// The classes of config values, as Caddy names them.
pub mod class {
    /// An HTTP route of the site (sorted by directive order).
    pub const ROUTE: &str = "route";
    /// A route of `handle_errors`.
    pub const ERROR_ROUTE: &str = "error_route";
    /// A `bind` directive's listener addresses.
    pub const BIND: &str = "bind";
    /// A named custom log (`log` directive).
    pub const CUSTOM_LOG: &str = "custom_log";
    /// A named route that `invoke` refers to.
    pub const NAMED_ROUTE: &str = "named_route";
    /// A listener wrapper JSON object.
    pub const LISTENER_WRAPPER: &str = "listener_wrapper";
    /// A TLS connection policy (JSON object).
    pub const TLS_CONNECTION_POLICY: &str = "tls.connection_policy";
    /// A certificate issuer (JSON object with "module").
    pub const TLS_CERT_ISSUER: &str = "tls.cert_issuer";
    /// A certificate manager (JSON object with "via").
    pub const TLS_CERT_MANAGER: &str = "tls.cert_manager";
    /// A certificate loader: JSON `{"<loader module>": <config>}`; array
    /// configs of one module (`load_files`, …) are concatenated.
    pub const TLS_CERT_LOADER: &str = "tls.cert_loader";
    /// Reuse private keys on renewal (any value).
    pub const TLS_REUSE_PRIVATE_KEYS: &str = "tls.reuse_private_keys";
    /// The key type for the site's certificates (string).
    pub const TLS_KEY_TYPE: &str = "tls.key_type";
    /// On-demand TLS for the site (bool).
    pub const TLS_ON_DEMAND: &str = "tls.on_demand";
    /// Force automation even if a loaded certificate covers the names.
    pub const TLS_FORCE_AUTOMATE: &str = "tls.force_automate";
    /// The insecure secrets log file (string).
    pub const TLS_INSECURE_SECRETS_LOG: &str = "tls.insecure_secrets_log";
    /// The renewal window ratio (number).
    pub const TLS_RENEWAL_WINDOW_RATIO: &str = "tls.renewal_window_ratio";
    /// A CA the PKI app must have (its ID, a string), from `acme_server`.
    pub const PKI_CA: &str = "pki.ca";
    /// `tls` with no settings besides disabling (`tls off` is gone in v2,
    /// kept for completeness of the pile).
    pub const TLS_OFF: &str = "tls.off";
}

/// What a config value holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// One route (Caddy's `caddyhttp.Route`).
    Route(Route),
    /// Routes to keep together and in order without wrapping them in a
    /// subroute handler (Caddy's `caddyhttp.Subroute` used as a value).
    Routes(Vec<Route>),
    /// A named custom log.
    Log(NamedLog),
    /// Any other JSON value.
    Json(Value),
}

/// One value produced by a directive, tagged by class.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigValue {
    pub class: String,
    pub value: Payload,
    /// The directive that produced it (set by the framework; `handle_path`
    /// is normalized to `handle`).
    pub directive: String,
}

impl ConfigValue {
    /// A value of `class` holding `value`.
    pub fn new(class: &str, value: Payload) -> Self {
        Self {
            class: class.to_string(),
            value,
            directive: String::new(),
        }
    }

    /// A value of `class` holding JSON.
    pub fn json(class: &str, value: Value) -> Self {
        Self::new(class, Payload::Json(value))
    }

    /// The JSON payload, if it is one.
    pub fn as_json(&self) -> Option<&Value> {
        match &self.value {
            Payload::Json(v) => Some(v),
            _ => None,
        }
    }
}

/// A named custom log, as the `log` directive and the `log` global option
/// produce it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NamedLog {
    pub name: String,
    /// Hostnames the log is limited to (`hostnames` subdirective).
    pub hostnames: Vec<String>,
    /// The `caddy.CustomLog` JSON object; `None` when only a name is set.
    pub log: Option<Map<String, Value>>,
    /// `no_hostname`: do not associate with the site's hosts.
    pub no_hostname: bool,
}

/// Caddy's `caddyhttp.Route`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Route {
    pub group: String,
    pub matchers: Vec<MatcherSet>,
    pub handlers: Vec<Value>,
    pub terminal: bool,
}

impl Route {
    /// A route with one handler and an optional matcher set.
    pub fn with_handler(matcher: Option<MatcherSet>, handler: Value) -> Self {
        Self {
            matchers: matcher.into_iter().collect(),
            handlers: vec![handler],
            ..Self::default()
        }
    }

    /// The route as JSON, fields in Go struct order, empty ones omitted.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if !self.group.is_empty() {
            m.insert("group".into(), Value::String(self.group.clone()));
        }
        if !self.matchers.is_empty() {
            let sets = self.matchers.iter().map(matcher_set_json).collect();
            m.insert("match".into(), Value::Array(sets));
        }
        if !self.handlers.is_empty() {
            let handlers = self.handlers.iter().map(module_json).collect();
            m.insert("handle".into(), Value::Array(handlers));
        }
        if self.terminal {
            m.insert("terminal".into(), Value::Bool(true));
        }
        Value::Object(m)
    }

    /// Like [`Route::to_json`], consuming the route: handlers are sorted in
    /// place rather than copied.
    pub fn into_json(self) -> Value {
        let mut m = Map::new();
        if !self.group.is_empty() {
            m.insert("group".into(), Value::String(self.group));
        }
        if !self.matchers.is_empty() {
            let sets = self.matchers.iter().map(matcher_set_json).collect();
            m.insert("match".into(), Value::Array(sets));
        }
        if !self.handlers.is_empty() {
            let mut handlers = self.handlers;
            handlers.iter_mut().for_each(sort_module);
            m.insert("handle".into(), Value::Array(handlers));
        }
        if self.terminal {
            m.insert("terminal".into(), Value::Bool(true));
        }
        Value::Object(m)
    }
}

/// A matcher set as a JSON object (keys sorted, as Go prints maps).
pub fn matcher_set_json(set: &MatcherSet) -> Value {
    Value::Object(set.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// A module object as Caddy prints it: round-tripped through a Go map,
/// so every object inside has its keys sorted.
pub fn module_json(v: &Value) -> Value {
    let mut c = v.clone();
    sort_module(&mut c);
    c
}

/// Sorts the keys of every object inside `v`, in place (objects already
/// in order are left as they are).
pub fn sort_module(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if !m.keys().is_sorted() {
                m.sort_keys();
            }
            m.values_mut().for_each(sort_module);
        }
        Value::Array(a) => a.iter_mut().for_each(sort_module),
        _ => {}
    }
}

/// Routes as a JSON array.
pub fn routes_json(routes: &[Route]) -> Value {
    Value::Array(routes.iter().map(Route::to_json).collect())
}

/// Routes as a JSON array, consuming them (no copies of the handlers).
pub fn routes_into_json(routes: Vec<Route>) -> Value {
    Value::Array(routes.into_iter().map(Route::into_json).collect())
}

/// Like [`subroute_handler`], consuming the routes.
pub fn subroute_handler_owned(routes: Vec<Route>, errors: Option<Vec<Route>>) -> Value {
    let mut m = Map::new();
    m.insert("handler".into(), Value::String("subroute".into()));
    if !routes.is_empty() {
        m.insert("routes".into(), routes_into_json(routes));
    }
    if let Some(errs) = errors {
        let mut e = Map::new();
        if !errs.is_empty() {
            e.insert("routes".into(), routes_into_json(errs));
        }
        m.insert("errors".into(), Value::Object(e));
    }
    Value::Object(m)
}

/// A `subroute` handler holding `routes` (and optional error routes).
pub fn subroute_handler(routes: &[Route], errors: Option<&[Route]>) -> Value {
    let mut m = Map::new();
    m.insert("handler".into(), Value::String("subroute".into()));
    if !routes.is_empty() {
        m.insert("routes".into(), routes_json(routes));
    }
    if let Some(errs) = errors {
        let mut e = Map::new();
        if !errs.is_empty() {
            e.insert("routes".into(), routes_json(errs));
        }
        m.insert("errors".into(), Value::Object(e));
    }
    Value::Object(m)
}

/// Merges adjacent routes with the same matchers, group and terminal flag
/// (Caddy's `consolidateRoutes`).
pub fn consolidate_routes(routes: Vec<Route>) -> Vec<Route> {
    let mut out: Vec<Route> = Vec::with_capacity(routes.len());
    for r in routes {
        if let Some(last) = out.last_mut() {
            if last.matchers == r.matchers && last.terminal == r.terminal && last.group == r.group {
                last.handlers.extend(r.handlers);
                continue;
            }
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn route_json_field_order_and_omission() {
        let mut set = MatcherSet::new();
        set.insert("path".into(), json!(["/a"]));
        let r = Route::with_handler(Some(set), json!({"handler": "x"}));
        let s = serde_json::to_string(&r.to_json()).unwrap();
        assert_eq!(
            s,
            r#"{"match":[{"path":["/a"]}],"handle":[{"handler":"x"}]}"#
        );
    }

    #[test]
    fn consolidation_merges_only_equal_neighbours() {
        let a = Route::with_handler(None, json!(1));
        let mut b = Route::with_handler(None, json!(2));
        let c = Route::with_handler(None, json!(3));
        b.group = "g".into();
        let out = consolidate_routes(vec![a.clone(), a, b, c]);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].handlers, vec![json!(1), json!(1)]);
    }
}
