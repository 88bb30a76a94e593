//! The `tls` and `pki` apps: certificates (loaded and managed), issuers,
//! storage, connection policies, and the TLS accept path.
//!
//! Code map:
//! - `config`: the strict serde model of both apps and of connection
//!   policies; `der`: the few X.509 facts read from certificates.
//! - `cache`: certificates indexed by name for the handshake (lock-free
//!   reads); `load`: `load_files`, `load_folders`, `load_pem`, `load_storage`.
//! - `storage`: the `file_system` storage and its locks.
//! - `pki`: the internal CA; `issuer`: issuers and automation policies;
//!   `keys`: the key types of managed certificates; `on_demand`:
//!   certificates issued during the handshake, gated by a permission check;
//!   `acme` (+ `acme/`): the ACME issuer; `challenge`: live ACME answers;
//!   `automate`: obtaining, storing and renewing managed certificates.
//! - `policy`, `suites`, `client_auth`: connection policies → rustls
//!   configs; `accept`: the handshake and request-time TLS checks.
//!
//! Lifecycle: [`TlsBuilder`] decodes the apps and loads certificates;
//! automatic HTTPS adds names and policies to it; [`TlsBuilder::finish`]
//! freezes it into a shared [`TlsState`]; [`TlsApp`] runs management for a
//! live config and stops it when the config is unloaded.

pub mod accept;
pub mod acme;
pub mod automate;
pub mod ca_pool;
pub mod cache;
pub mod challenge;
pub mod clean;
pub mod client_auth;
pub mod client_leaf;
pub mod config;
pub mod der;
pub mod http_source;
pub mod identity;
pub mod issuer;
pub mod keys;
pub mod load;
pub mod managers;
pub mod ocsp;
pub mod on_demand;
pub mod pki;
pub mod policy;
pub mod quic;
pub mod renegotiation;
pub mod stek;
pub mod storage;
pub mod suites;
pub mod tickets;
pub mod zerossl;

use crate::config::{decode, Config};
use crate::error::Error;
use cache::{Cert, CertCache};
use config::{CaConfig, PkiAppConfig, TlsAppConfig};
use issuer::{AutoPolicy, Issuer};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use storage::Storage;

/// certmagic's default interval between renewal checks.
const DEFAULT_RENEW_INTERVAL: Duration = Duration::from_secs(600);
/// Caddy's default `storage_clean_interval`.
const DEFAULT_CLEAN_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// certmagic's `OCSPCheckInterval`.
const DEFAULT_OCSP_INTERVAL: Duration = Duration::from_secs(3600);

/// What the TLS side of a config shares with its handshakes and tasks.
pub struct TlsState {
    pub cache: CertCache,
    pub storage: Storage,
    pub ticketer: Option<Arc<dyn rustls::server::ProducesTickets>>,
    /// The session ticket key rotation, applied when the config goes live.
    pub ticket_rotation: Option<tickets::Rotation>,
    /// Where `tls.stek.distributed` keeps the keys (`tls/stek.rs`).
    pub stek_storage: Option<Storage>,
    pub policies: Vec<AutoPolicy>,
    /// The fallback policy for names no policy covers (ACME).
    pub default_policy: AutoPolicy,
    pub renew_interval: Duration,
    /// OCSP stapling (`tls/ocsp.rs`).
    pub ocsp: ocsp::OcspSettings,
    /// Storage cleaning (`tls/clean.rs`).
    pub clean: clean::CleanSettings,
    /// Set when a policy enables on-demand TLS.
    pub on_demand: Option<on_demand::OnDemandState>,
    pki: BTreeMap<String, CaConfig>,
    cas: Mutex<BTreeMap<String, pki::Ca>>,
    /// One issuance per name at a time (see `automate::obtain`).
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for TlsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsState").finish_non_exhaustive()
    }
}

impl TlsState {
    /// Runs `f` with the CA `id`, loading or creating it first.
    pub fn with_ca<T>(
        &self,
        id: &str,
        f: impl FnOnce(&pki::Ca) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut cas = self.cas.lock().unwrap_or_else(|e| e.into_inner());
        if !cas.contains_key(id) {
            let cfg = self.pki.get(id).cloned().unwrap_or_default();
            let at = format!("apps.pki.certificate_authorities.{id}");
            let ca =
                pki::Ca::load_or_create(id, &cfg, &self.storage, &at).map_err(|e| e.to_string())?;
            cas.insert(id.to_string(), ca);
        }
        let ca = cas.get_mut(id).ok_or("CA vanished")?;
        ca.maintain().map_err(|e| e.to_string())?;
        f(ca)
    }

    /// The automation policy for `name`.
    pub fn policy_for(&self, name: &str) -> &AutoPolicy {
        self.policies
            .iter()
            .find(|p| p.covers(name) && !p.issuers.is_empty())
            .unwrap_or(&self.default_policy)
    }
}

/// The `tls`/`pki` apps while a config is being provisioned.
pub struct TlsBuilder {
    pub app: TlsAppConfig,
    pub pki: PkiAppConfig,
    pub storage: Storage,
    pub loaded: Vec<Cert>,
    pub policies: Vec<AutoPolicy>,
    /// Names to manage: the `automate` loader plus automatic HTTPS.
    pub managed: Vec<String>,
    pub on_demand: Option<on_demand::OnDemandState>,
}

impl TlsBuilder {
    /// Decodes the apps and runs the certificate loaders.
    pub fn provision(config: &Config) -> Result<TlsBuilder, Error> {
        let app: TlsAppConfig = match config.apps.other.get("tls") {
            Some(v) => decode(v, "apps.tls")?,
            None => TlsAppConfig::default(),
        };
        let pki: PkiAppConfig = match config.apps.other.get("pki") {
            Some(v) => decode(v, "apps.pki")?,
            None => PkiAppConfig::default(),
        };
        if let Some(dns) = &app.dns {
            return Err(acme::dns_unsupported(dns, "apps.tls.dns"));
        }
        crate::config::unread::tls_app(&app)?;
        for ca in pki.certificate_authorities.values() {
            crate::config::unread::ca(ca);
        }
        if app.ech.is_some() {
            return Err(Error::config(
                "apps.tls.ech",
                "encrypted ClientHello (ECH) is not supported by bellhop",
            ));
        }
        let storage = Storage::from_config(config.storage.as_ref(), "storage")?;
        let mut loaded = Vec::new();
        let mut managed = Vec::new();
        if let Some(c) = &app.certificates {
            loaded = load::load_all(c, &storage, "apps.tls.certificates")?;
            managed.extend(c.automate.iter().map(|n| n.to_lowercase()));
        }
        let mut policies = Vec::new();
        if let Some(identity) = identity::policy(config.admin.as_ref())? {
            managed.extend(identity.subjects.iter().cloned());
            policies.push(identity);
        }
        let mut on_demand = None;
        if let Some(a) = &app.automation {
            let od_at = "apps.tls.automation.on_demand";
            let od = on_demand::OnDemandState::provision(a.on_demand.as_ref(), od_at)?;
            for (i, p) in a.policies.iter().enumerate() {
                let at = format!("apps.tls.automation.policies[{i}]");
                let compiled = AutoPolicy::provision(p, &at)?;
                if compiled.on_demand && on_demand::unbounded(&compiled) && !od.has_permission() {
                    return Err(Error::config(
                        format!("{at}.on_demand"),
                        "on-demand TLS cannot be enabled without a permission module to prevent abuse; set apps.tls.automation.on_demand.permission (Caddyfile: on_demand_tls { ask URL })",
                    ));
                }
                policies.push(compiled);
            }
            if policies.iter().any(|p| p.on_demand) {
                on_demand = Some(od);
            }
        }
        Ok(TlsBuilder {
            app,
            pki,
            storage,
            loaded,
            policies,
            managed,
            on_demand,
        })
    }

    /// Whether a loaded certificate covers `name`.
    pub fn has_loaded(&self, name: &str) -> bool {
        self.loaded
            .iter()
            .any(|c| c.names.iter().any(|n| policy::name_matches(n, name)))
    }

    /// Whether an explicit policy lists `name` among its subjects.
    pub fn has_policy_for(&self, name: &str) -> bool {
        self.policies
            .iter()
            .any(|p| p.subjects.iter().any(|s| s == name))
    }

    /// The user's catch-all policy issuers, if any (automatic HTTPS
    /// inherits them for public names).
    pub fn catch_all_issuers(&self) -> Option<Vec<Arc<Issuer>>> {
        self.policies
            .iter()
            .find(|p| p.subjects.is_empty() && !p.issuers.is_empty())
            .map(|p| p.issuers.clone())
    }

    /// Freezes the builder into the shared state.
    pub fn finish(self) -> Result<TlsApp, Error> {
        let tickets = self.app.session_tickets.clone().unwrap_or_default();
        let (ticket_rotation, stek_storage) = match tickets.disabled {
            true => (None, None),
            false => {
                let (r, distributed) =
                    tickets::Rotation::from_config(&tickets, "apps.tls.session_tickets")?;
                // the key source's own storage, else the config's
                let storage = distributed.map(|own| own.unwrap_or_else(|| self.storage.clone()));
                (Some(r), storage)
            }
        };
        let ticketer: Option<Arc<dyn rustls::server::ProducesTickets>> = ticket_rotation
            .map(|_| Arc::new(tickets::Ticketer) as Arc<dyn rustls::server::ProducesTickets>);
        // An automation interval, or its default when unset or zero.
        let automation = self.app.automation.as_ref();
        let interval = |pick: fn(&config::Automation) -> Option<crate::config::CaddyDuration>,
                        default: Duration| {
            automation
                .and_then(pick)
                .map(|d| d.0)
                .filter(|d| !d.is_zero())
                .unwrap_or(default)
        };
        let renew_interval = interval(|a| a.renew_interval, DEFAULT_RENEW_INTERVAL);
        let default_policy = AutoPolicy::with_issuer(Vec::new(), acme::default_issuer());
        let ocsp = ocsp::OcspSettings {
            disabled_for_loaded: self.app.disable_ocsp_stapling,
            interval: interval(|a| a.ocsp_interval, DEFAULT_OCSP_INTERVAL),
        };
        let clean = clean::CleanSettings {
            disabled: self.app.disable_storage_clean,
            interval: interval(|a| a.storage_clean_interval, DEFAULT_CLEAN_INTERVAL),
        };
        let state = TlsState {
            cache: CertCache::with_capacity(
                self.app
                    .cache
                    .as_ref()
                    .and_then(|c| c.capacity)
                    .unwrap_or(0),
            ),
            storage: self.storage,
            ticketer,
            ticket_rotation,
            stek_storage,
            policies: self.policies,
            default_policy,
            renew_interval,
            ocsp,
            clean,
            on_demand: self.on_demand,
            pki: self.pki.certificate_authorities,
            cas: Mutex::new(BTreeMap::new()),
            inflight: Mutex::new(HashMap::new()),
        };
        for c in self.loaded {
            state.cache.insert(Arc::new(c));
        }
        let mut managed = self.managed;
        managed.sort();
        managed.dedup();
        Ok(TlsApp {
            state: Arc::new(state),
            managed,
            tasks: Mutex::new(Vec::new()),
        })
    }
}

/// The TLS side of a provisioned config.
pub struct TlsApp {
    pub state: Arc<TlsState>,
    pub managed: Vec<String>,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

impl TlsApp {
    /// Adds `names` (lower-cased) to the names managed from the start.
    pub fn manage(&mut self, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        self.managed
            .extend(names.into_iter().map(|n| n.to_lowercase()));
        self.managed.sort();
        self.managed.dedup();
    }

    /// Starts managing certificates: names the internal CA can sign are
    /// ready when this returns; the rest are obtained in the background,
    /// and everything is renewed until the config is unloaded.
    pub fn start(&self) {
        let pending = automate::manage_now(&self.state, &self.managed);
        let renewing = tokio::spawn(automate::maintain(self.state.clone(), pending));
        let stapling = tokio::spawn(ocsp::maintain(self.state.clone()));
        let cleaning = tokio::spawn(clean::maintain(self.state.clone()));
        let mut tasks = vec![
            renewing.abort_handle(),
            stapling.abort_handle(),
            cleaning.abort_handle(),
        ];
        if let (Some(storage), Some(r)) = (&self.state.stek_storage, self.state.ticket_rotation) {
            tasks.push(tokio::spawn(stek::maintain(storage.clone(), r)).abort_handle());
        }
        *self.tasks.lock().unwrap_or_else(|e| e.into_inner()) = tasks;
        tracing::info!(target: "tls.cache.maintenance", "started background certificate maintenance");
    }
}

impl Drop for TlsApp {
    fn drop(&mut self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }
}

/// The root certificate of the internal CA `ca` in `storage` (created if
/// missing): its path and PEM, for `bellhop trust`.
pub fn root_certificate(storage: &Storage, ca: &str) -> Result<(String, String), Error> {
    let at = format!("apps.pki.certificate_authorities.{ca}");
    let ca = pki::Ca::load_or_create(ca, &CaConfig::default(), storage, &at)?;
    Ok((ca.root_path(), ca.root.pem.clone()))
}

/// The admin API's view of the CAs (`GET /pki/ca/<id>`): the `pki` app's
/// authorities, and any CA the internal issuer has put to use.
impl crate::admin::hooks::CaSource for TlsState {
    fn ca(&self, id: &str) -> Option<crate::admin::hooks::CaInfo> {
        let in_use = self
            .cas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(id);
        if !in_use && !self.pki.contains_key(id) {
            return None;
        }
        self.with_ca(id, |ca| {
            Ok(crate::admin::hooks::CaInfo {
                id: ca.id.clone(),
                name: ca.name.clone(),
                root_common_name: ca.root.facts.common_name.clone().unwrap_or_default(),
                intermediate_common_name: ca
                    .intermediate
                    .facts
                    .common_name
                    .clone()
                    .unwrap_or_default(),
                root_certificate: ca.root.pem.clone(),
                intermediate_certificate: ca.intermediate.pem.clone(),
            })
        })
        .ok()
    }
}
