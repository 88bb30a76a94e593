//! Module registry: Caddy's module IDs mapped to constructors.
//!
//! Registration is explicit ([`register_standard`]), never global magic.
//! The lifecycle of a module follows Caddy's: *load* (its JSON is decoded,
//! strictly, by the constructor), *provision/validate* (the constructor
//! compiles what it needs and rejects bad values, naming the JSON path),
//! *use* (serving requests through an immutable instance), *cleanup*
//! ([`crate::http::Handler::cleanup`] when the config is unloaded).
//!
//! Namespaces whose members bellhop implements as a closed set (encoders,
//! log writers, password hashes) are registered as [`Module::Provided`]; the
//! owning module asks [`Provision::require`] so that an unknown member is
//! reported by its full ID, like every other module.

use crate::config::{decode, HandlerConfig, RouteConfig};
use crate::error::Error;
use crate::http::metrics::{Instrumented, Metrics};
use crate::http::routes::RouteList;
use crate::http::{Handler, Matcher};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builds a handler from its JSON (without the `handler` key) at a path.
pub type HandlerCtor = fn(&RawValue, &mut Provision<'_>, &str) -> Result<Box<dyn Handler>, Error>;

/// Builds a matcher from its JSON value at a path.
pub type MatcherCtor = fn(&Value, &mut Provision<'_>, &str) -> Result<Box<dyn Matcher>, Error>;

/// What a module ID stands for.
#[derive(Clone, Copy)]
pub enum Module {
    /// A top-level app (`http`).
    App,
    /// `http.handlers.*`.
    Handler(HandlerCtor),
    /// `http.matchers.*`.
    Matcher(MatcherCtor),
    /// A member of a closed set decoded by its owner module.
    Provided,
}

/// Module IDs and their constructors.
#[derive(Clone, Default)]
pub struct Registry {
    modules: BTreeMap<&'static str, Module>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry with every module bellhop implements.
    pub fn standard() -> Self {
        let mut r = Self::new();
        register_standard(&mut r);
        r
    }

    /// Registers `id`, replacing an earlier registration.
    pub fn register(&mut self, id: &'static str, module: Module) {
        self.modules.insert(id, module);
    }

    /// The registered IDs, sorted.
    pub fn ids(&self) -> Vec<&'static str> {
        self.modules.keys().copied().collect()
    }

    /// The module registered as `id`.
    pub fn get(&self, id: &str) -> Option<Module> {
        self.modules.get(id).copied()
    }
}

/// Registers every standard module of bellhop.
/// The modules bellhop has that Caddy's standard build does not (plugins
/// in Caddy, or bellhop's own); `list-modules` calls them non-standard.
pub const BELLHOPS_OWN: &[&str] = &["caddy.config_loaders.redis", "caddy.storage.redis"];

/// Whether `id` is one of [`BELLHOPS_OWN`].
pub fn is_bellhops_own(id: &str) -> bool {
    BELLHOPS_OWN.contains(&id)
}

pub fn register_standard(r: &mut Registry) {
    r.register("http", Module::App);
    r.register("tls", Module::App);
    r.register("pki", Module::App);
    r.register("events", Module::App);
    r.register("caddy.filesystems", Module::App);
    r.register("tls.issuance.acme", Module::Provided);
    r.register("tls.issuance.internal", Module::Provided);
    r.register("tls.issuance.zerossl", Module::Provided);
    r.register("caddy.storage.file_system", Module::Provided);
    r.register("caddy.storage.redis", Module::Provided);
    r.register("http.ip_sources.static", Module::Provided);
    for id in [
        "caddy.logging.cores.mock",
        "caddy.logging.writers.stdout",
        "caddy.logging.writers.stderr",
        "caddy.logging.writers.discard",
        "caddy.logging.writers.file",
        "caddy.logging.writers.net",
        "caddy.logging.encoders.json",
        "caddy.logging.encoders.console",
        "caddy.logging.encoders.append",
        "caddy.logging.encoders.filter",
        "caddy.logging.encoders.journald",
        "caddy.logging.encoders.filter.delete",
        "caddy.logging.encoders.filter.replace",
        "caddy.logging.encoders.filter.hash",
        "caddy.logging.encoders.filter.ip_mask",
        "caddy.logging.encoders.filter.query",
        "caddy.logging.encoders.filter.cookie",
        "caddy.logging.encoders.filter.set_cookie",
        "caddy.logging.encoders.filter.regexp",
        "caddy.logging.encoders.filter.multi_regexp",
        "caddy.logging.encoders.filter.rename",
    ] {
        r.register(id, Module::Provided);
    }
    // modules that live inside other modules' config (admin endpoints,
    // TLS loaders, handshake matchers, trust pools, proxies): registered so
    // that `list-modules` names them
    for id in [
        "admin.api.load",
        "admin.api.metrics",
        "admin.api.pki",
        "admin.api.reverse_proxy",
        "caddy.config_loaders.http",
        "caddy.config_loaders.redis",
        "caddy.listeners.http_redirect",
        "caddy.listeners.proxy_protocol",
        "caddy.listeners.tls",
        "caddy.network_proxy.none",
        "caddy.network_proxy.url",
        "tls.certificates.automate",
        "tls.certificates.load_files",
        "tls.certificates.load_folders",
        "tls.certificates.load_pem",
        "tls.certificates.load_storage",
        "tls.handshake_match.local_ip",
        "tls.handshake_match.remote_ip",
        "tls.handshake_match.sni",
        "tls.handshake_match.sni_regexp",
        "tls.get_certificate.http",
        "tls.get_certificate.tailscale",
        "tls.permission.http",
        "tls.stek.distributed",
        "tls.stek.standard",
        "tls.ca_pool.source.inline",
        "tls.ca_pool.source.file",
        "tls.ca_pool.source.system",
        "tls.ca_pool.source.pki_root",
        "tls.ca_pool.source.pki_intermediate",
        "tls.ca_pool.source.storage",
        "tls.ca_pool.source.lazy",
        "tls.ca_pool.source.http",
        "tls.ca_pool.source.combined",
        "tls.client_auth.verifier.leaf",
        "tls.leaf_cert_loader.file",
        "tls.leaf_cert_loader.folder",
        "tls.leaf_cert_loader.pem",
        "tls.leaf_cert_loader.storage",
    ] {
        r.register(id, Module::Provided);
    }
    crate::http::handlers::register(r);
    crate::http::matchers::register(r);
}

/// The state of provisioning one config: the registry, and what modules
/// of the server being provisioned may refer to (its named routes, by
/// name, as indexes into the server's list).
pub struct Provision<'r> {
    pub registry: &'r Registry,
    named: BTreeMap<String, usize>,
    /// The name of the server being provisioned.
    pub server: String,
    /// Set when the config collects metrics: handlers are instrumented.
    pub metrics: Option<Arc<Metrics>>,
    /// Which hosts get their own label, with per-host metrics.
    pub metric_hosts: Option<Arc<crate::http::metrics::hosts::HostLabels>>,
    /// The config's loggers, for servers' access logs.
    pub logging: Option<Arc<crate::logging::Logging>>,
    /// The config's TLS state, once the `tls` app is provisioned (the
    /// `acme_server` handler signs with its CAs).
    pub tls: Option<Arc<crate::tls::TlsState>>,
    /// The server being provisioned logs each handler it enters
    /// (`logs.trace`).
    pub trace: bool,
    /// A route of the server being provisioned has a `push` handler.
    pub pushes: bool,
    /// The config may name a `http.reverse_proxy.*` placeholder.
    pub proxy_placeholders: bool,
    /// Names modules ask the `tls` app to manage (a `reverse_proxy`'s
    /// `client_certificate_automate`), as Caddy's `tlsApp.Manage`.
    pub manage: std::sync::Mutex<Vec<String>>,
}

impl<'r> Provision<'r> {
    /// Starts provisioning with `registry`.
    pub fn new(registry: &'r Registry) -> Self {
        Provision {
            registry,
            logging: None,
            tls: None,
            trace: false,
            pushes: false,
            proxy_placeholders: true,
            manage: std::sync::Mutex::new(Vec::new()),
            named: BTreeMap::new(),
            server: String::new(),
            metrics: None,
            metric_hosts: None,
        }
    }

    /// Fails unless `id` is registered; `path` names where it was asked for.
    pub fn require(&self, id: &str, path: &str) -> Result<Module, Error> {
        self.registry.get(id).ok_or_else(|| Error::UnknownModule {
            path: path.to_string(),
            id: id.to_string(),
        })
    }

    /// The module name under `key` of a module object (`"handler"`,
    /// `"output"`, …), checked against the registry as `namespace.name`.
    pub fn module_name<'v>(
        &self,
        obj: &'v Map<String, Value>,
        key: &str,
        namespace: &str,
        path: &str,
    ) -> Result<(&'v str, Module), Error> {
        self.module_named(obj.get(key), key, namespace, path)
    }

    /// Like [`Provision::module_name`], from the value of `key` itself.
    fn module_named<'v>(
        &self,
        value: Option<&'v Value>,
        key: &str,
        namespace: &str,
        path: &str,
    ) -> Result<(&'v str, Module), Error> {
        let key_path = format!("{path}.{key}");
        let name = match value {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err(Error::config(key_path, "module name must be a string")),
            None => {
                return Err(Error::config(
                    path,
                    format!("module name missing: expected `{key}`"),
                ))
            }
        };
        let module = self.require(&format!("{namespace}.{name}"), &key_path)?;
        Ok((name, module))
    }

    /// Provisions one handler object (`{"handler": "...", ...}`); the
    /// module decodes the rest of the object in place.
    pub fn handler(&mut self, h: &HandlerConfig, path: &str) -> Result<Box<dyn Handler>, Error> {
        let (name, module) =
            self.module_named(h.name.as_ref(), "handler", "http.handlers", path)?;
        let Module::Handler(ctor) = module else {
            return Err(Error::config(path, "not a handler module"));
        };
        let mut handler = ctor(&h.body, self, path)?;
        if let (true, Some(logging)) = (self.trace, &self.logging) {
            let body = h.body.get();
            handler = crate::http::trace_log::Traced::wrap(handler, name, body, logging.clone());
        }
        Ok(match (&self.metrics, &self.metric_hosts) {
            (Some(m), None) => Instrumented::wrap(handler, m.series(&self.server, name)),
            (Some(m), Some(labels)) => Instrumented::per_host(
                handler,
                crate::http::metrics::hosts::HostSeries::provision(
                    m,
                    labels.clone(),
                    &self.server,
                    name,
                ),
            ),
            (None, _) => handler,
        })
    }

    /// Provisions one matcher of a matcher set.
    pub fn matcher(
        &mut self,
        name: &str,
        value: &Value,
        path: &str,
    ) -> Result<Box<dyn Matcher>, Error> {
        let id = format!("http.matchers.{name}");
        match self.require(&id, path)? {
            Module::Matcher(ctor) => ctor(value, self, path),
            _ => Err(Error::config(path, "not a matcher module")),
        }
    }

    /// Decodes a handler's config struct (its object as JSON text)
    /// strictly, naming `path` on error.
    pub fn decode_text<'v, T: serde::Deserialize<'v>>(
        &self,
        raw: &'v RawValue,
        path: &str,
    ) -> Result<T, Error> {
        crate::config::decode_text(raw, path)
    }

    /// Decodes a module's config struct strictly, naming `path` on error.
    pub fn decode<'v, T: serde::Deserialize<'v>>(
        &self,
        value: &'v Value,
        path: &str,
    ) -> Result<T, Error> {
        decode(value, path)
    }

    /// Provisions a server's `named_routes` in two phases: every name is
    /// declared first, so routes may invoke each other (even recursively;
    /// the depth is bounded when serving), then each is provisioned. The
    /// result is indexed as [`Provision::named_route`] answers.
    pub fn provision_named(
        &mut self,
        named: &BTreeMap<String, RouteConfig>,
        path: &str,
    ) -> Result<Vec<RouteList>, Error> {
        self.named = named.keys().cloned().zip(0..).collect();
        let mut lists = Vec::with_capacity(named.len());
        for (name, rc) in named {
            let list =
                RouteList::provision(std::slice::from_ref(rc), self, &format!("{path}.{name}"))?;
            lists.push(list);
        }
        Ok(lists)
    }

    /// The index of a named route of the server being provisioned.
    pub fn named_route(&self, name: &str) -> Option<usize> {
        self.named.get(name).copied()
    }
}
