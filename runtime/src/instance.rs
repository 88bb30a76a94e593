//! A provisioned config: immutable once built. Provisioning decodes and
//! builds every module, and (unless only validating) obtains every listener
//! from the pool, before anything is swapped in; a failure leaves nothing
//! behind, since leases release themselves when dropped.

use crate::config::Config;
use crate::error::Error;
use crate::http::server::Server;
use crate::listeners::{Lease, Pool};
use crate::registry::{Module, Provision, Registry};
use std::sync::Mutex;
use std::time::Duration;

/// A provisioned, immutable config.
pub struct Instance {
    pub servers: Vec<Server>,
    /// Socket ID → index into `servers`.
    by_socket: Vec<(u64, usize)>,
    leases: Mutex<Vec<Lease>>,
    /// `apps.http.grace_period` (`None`: wait for connections forever).
    pub grace_period: Option<Duration>,
}

impl Instance {
    /// Provisions `config`; with a `pool`, obtains its listeners too.
    pub fn provision(
        config: &Config,
        registry: &Registry,
        pool: Option<&Pool>,
    ) -> Result<Instance, Error> {
        let p = &mut Provision::new(registry);
        check_modules(config, p)?;
        let logging = crate::logging::Logging::provision(config.logging.as_ref(), p)?;
        p.logging = Some(std::sync::Arc::new(logging));
        let mut servers = Vec::new();
        let mut grace_period = None;
        if let Some(app) = &config.apps.http {
            grace_period = app.grace_period.map(|d| d.0).filter(|d| !d.is_zero());
            for (name, srv) in &app.servers {
                let path = format!("apps.http.servers.{name}");
                servers.push(Server::provision(name, srv, p, &path)?);
            }
        }
        let mut leases = Vec::new();
        let mut by_socket: Vec<(u64, usize)> = Vec::new();
        if let Some(pool) = pool {
            for (i, s) in servers.iter().enumerate() {
                for addr in &s.listen {
                    let lease = pool.obtain(addr)?;
                    if let Some((_, other)) =
                        by_socket.iter().find(|(id, _)| *id == lease.socket.id)
                    {
                        if *other != i {
                            return Err(Error::Listen {
                                address: addr.key(),
                                message: format!(
                                    "used by both servers {} and {}",
                                    servers[*other].name, s.name
                                ),
                            });
                        }
                        continue;
                    }
                    by_socket.push((lease.socket.id, i));
                    leases.push(lease);
                }
            }
        }
        Ok(Instance {
            servers,
            by_socket,
            leases: Mutex::new(leases),
            grace_period,
        })
    }

    /// The server that serves the socket with this ID.
    pub fn server_for(&self, socket_id: u64) -> Option<&Server> {
        self.by_socket
            .iter()
            .find(|(id, _)| *id == socket_id)
            .map(|(_, i)| &self.servers[*i])
    }

    /// The sockets this config listens on.
    pub fn sockets(&self) -> Vec<std::sync::Arc<crate::listeners::Socket>> {
        self.leases
            .lock()
            .map(|l| l.iter().map(|l| l.socket.clone()).collect())
            .unwrap_or_default()
    }

    /// Gives up this config's listeners: sockets no other config holds stop
    /// accepting and their connections drain within `grace`.
    pub fn release_listeners(&self, grace: Option<Duration>) {
        let leases = std::mem::take(&mut *self.leases.lock().unwrap_or_else(|e| e.into_inner()));
        let ms = grace.map_or(u64::MAX, |g| g.as_millis() as u64);
        for l in &leases {
            l.socket
                .grace_ms
                .store(ms, std::sync::atomic::Ordering::Release);
        }
        drop(leases);
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        for s in &self.servers {
            s.cleanup();
        }
    }
}

/// Rejects apps, storage modules and logging sinks bellhop lacks.
fn check_modules(config: &Config, p: &mut Provision<'_>) -> Result<(), Error> {
    for name in config.apps.other.keys() {
        match p.require(name, &format!("apps.{name}"))? {
            Module::App if name == "pki" => check_pki(&config.apps.other[name])?,
            Module::App => {}
            _ => return Err(Error::config(format!("apps.{name}"), "not an app module")),
        }
    }
    if let Some(storage) = &config.storage {
        p.module_name(storage, "module", "caddy.storage", "storage")?;
    }
    Ok(())
}

/// `apps.pki.certificate_authorities.NAME`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CaConfig {
    name: Option<String>,
    root_common_name: Option<String>,
    intermediate_common_name: Option<String>,
    intermediate_lifetime: Option<crate::config::CaddyDuration>,
    install_trust: Option<bool>,
    root: Option<serde_json::Map<String, serde_json::Value>>,
    intermediate: Option<serde_json::Map<String, serde_json::Value>>,
    storage: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `apps.pki`: certificate authorities serve only `tls internal`, which
/// bellhop does not offer yet, so a CA config is accepted as long as it
/// asks for nothing that would happen at load time (installing a root into
/// the system trust store, which Caddy does by default).
fn check_pki(v: &serde_json::Value) -> Result<(), Error> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Pki {
        #[serde(default)]
        certificate_authorities: std::collections::BTreeMap<String, CaConfig>,
    }
    let pki: Pki = crate::config::decode(v, "apps.pki")?;
    for (name, ca) in &pki.certificate_authorities {
        if ca.install_trust != Some(false) {
            return Err(Error::config(
                format!("apps.pki.certificate_authorities.{name}.install_trust"),
                "installing a root certificate into the system trust store is not implemented by bellhop; set install_trust to false (skip_install_trust)",
            ));
        }
    }
    Ok(())
}
