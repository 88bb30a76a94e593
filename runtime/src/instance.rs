//! A provisioned config: immutable once built. Provisioning decodes and
//! builds every module, and (unless only validating) obtains every listener
//! from the pool, before anything is swapped in; a failure leaves nothing
//! behind, since leases release themselves when dropped.

use crate::config::Config;
use crate::config::HttpApp;
use crate::error::Error;
use crate::http::metrics::Metrics;
use crate::http::server::Server;
use crate::listeners::{Lease, ListenAddr, Pool};
use crate::registry::{Module, Provision, Registry};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A provisioned, immutable config.
pub struct Instance {
    pub servers: Vec<Server>,
    /// Socket ID → index into `servers`.
    by_socket: Vec<(u64, usize)>,
    leases: Mutex<Vec<Lease>>,
    /// `apps.http.grace_period` (`None`: wait for connections forever).
    pub grace_period: Option<Duration>,
    /// `apps.http.shutdown_delay`: how long a stopping process keeps
    /// serving, with `{http.shutting_down}` true, before the grace period.
    pub shutdown_delay: Option<Duration>,
    /// The `tls` app: certificates and their management.
    pub tls: Option<crate::tls::TlsApp>,
    /// The HTTP metrics, when this config collects them.
    pub metrics: Option<Arc<Metrics>>,
    /// The `logging` app's loggers; process logs follow them once live.
    logging: Arc<crate::logging::Logging>,
    /// The task pushing the metrics over OTLP (`metrics.otlp`).
    otlp_push: Option<tokio::task::AbortHandle>,
}

impl Instance {
    /// Provisions `config`; with a `pool`, obtains its listeners too.
    pub fn provision(
        config: &Config,
        registry: &Registry,
        pool: Option<&Pool>,
    ) -> Result<Instance, Error> {
        Self::provision_with(config, registry, pool, &Default::default())
    }

    /// Like [`Instance::provision`], counting HTTP metrics (when the config
    /// collects them) into `metrics`, which outlives configs.
    pub fn provision_with(
        config: &Config,
        registry: &Registry,
        pool: Option<&Pool>,
        metrics: &Arc<Metrics>,
    ) -> Result<Instance, Error> {
        let p = &mut Provision::new(registry);
        p.proxy_placeholders = config.proxy_placeholders.0;
        check_modules(config, p)?;
        crate::config::unread::logging_admin(config)?;
        if let Some(app) = &config.apps.http {
            crate::config::unread::http_app(app)?;
        }
        if config.apps.http.as_ref().is_some_and(wants_metrics) {
            p.metrics = Some(metrics.clone());
        }
        let logging = Arc::new(crate::logging::Logging::provision(
            config.logging.as_ref(),
            p,
        )?);
        p.logging = Some(logging.clone());
        let mut servers = Vec::new();
        let (mut grace_period, mut shutdown_delay) = (None, None);
        let mut tls = crate::tls::TlsBuilder::provision(config)?;
        let planned = match &config.apps.http {
            Some(app) => crate::http::autohttps::plan(app, &mut tls)?,
            None => Vec::new(),
        };
        let mut tls = tls.finish()?;
        p.tls = Some(tls.state.clone());
        if let (Some(app), Some(_)) = (&config.apps.http, &p.metrics) {
            p.metric_hosts = crate::http::metrics::hosts::HostLabels::provision(app, &planned);
        }
        if let Some(app) = &config.apps.http {
            grace_period = app.grace_period.map(|d| d.0).filter(|d| !d.is_zero());
            shutdown_delay = app.shutdown_delay.map(|d| d.0).filter(|d| !d.is_zero());
        }
        for planned in &planned {
            let path = format!("apps.http.servers.{}", planned.name);
            let mut server = Server::provision(&planned.name, &planned.config, p, &path)?;
            if let Some(policies) = &planned.tls {
                server.tls = Some(std::sync::Arc::new(
                    crate::tls::policy::ServerTls::provision(
                        policies,
                        &tls.state,
                        &server.settings.alpn(),
                        planned.config.strict_sni_host,
                        &format!("{path}.tls_connection_policies"),
                    )?,
                ));
            }
            crate::http::h3::provision(&mut server);
            servers.push(server);
        }
        let asked = std::mem::take(&mut *p.manage.lock().unwrap_or_else(|e| e.into_inner()));
        tls.manage(asked);
        let mut leases = Vec::new();
        let mut by_socket: Vec<(u64, usize)> = Vec::new();
        if let Some(pool) = pool {
            for (i, s) in servers.iter().enumerate() {
                for (j, addr) in s.listen.iter().enumerate() {
                    let protocols = s.listen_protocols[j];
                    if addr.network.is_datagram() {
                        protocols.check_datagram(addr)?;
                        let udp = crate::http::h3::lease_datagram(pool, s, addr)?;
                        if let Some(udp) = udp {
                            if claim(&mut by_socket, &servers, i, &udp, addr)? {
                                leases.push(udp);
                            }
                        }
                        continue;
                    }
                    let (lease, udp) = lease_with_udp(pool, s, addr, protocols.h3)?;
                    if !claim(&mut by_socket, &servers, i, &lease, addr)? {
                        continue;
                    }
                    leases.push(lease);
                    if let Some(udp) = udp {
                        by_socket.push((udp.socket.id, i));
                        leases.push(udp);
                    }
                }
            }
        }
        let mut otlp_push = None;
        if pool.is_some() {
            tls.start();
            let otlp = config
                .apps
                .http
                .as_ref()
                .and_then(|a| a.metrics.as_ref())
                .is_some_and(|m| m.otlp);
            if let (true, Some(m)) = (otlp, &p.metrics) {
                otlp_push = crate::http::metrics::otlp::start(m.clone());
            }
        }
        Ok(Instance {
            metrics: p.metrics.clone(),
            tls: Some(tls),
            servers,
            by_socket,
            leases: Mutex::new(leases),
            grace_period,
            shutdown_delay,
            logging,
            otlp_push,
        })
    }

    /// The server that serves the socket with this ID.
    pub fn server_for(&self, socket_id: u64) -> Option<&Server> {
        self.by_socket
            .iter()
            .find(|(id, _)| *id == socket_id)
            .map(|(_, i)| &self.servers[*i])
    }

    /// Marks every server as shutting down at `at` (`{http.shutting_down}`,
    /// `{http.time_until_shutdown}`).
    pub fn schedule_shutdown(&self, at: tokio::time::Instant) {
        for s in &self.servers {
            let _ = s.shutdown_at.set(at);
        }
    }

    /// The session ticket key rotation of this config (`None`: tickets
    /// disabled, or no TLS app).
    pub fn ticket_rotation(&self) -> Option<crate::tls::tickets::Rotation> {
        self.tls.as_ref().and_then(|t| t.state.ticket_rotation)
    }

    /// What a config changes in the process when it goes live (never
    /// before, so a config that fails to load changes nothing): each TCP
    /// listener's socket options, from the server that serves it, and the
    /// session ticket key rotation.
    pub fn go_live(&self) {
        crate::logging::process::follow(&self.logging);
        for s in self.servers.iter().filter(|s| !s.listen.is_empty()) {
            let protocols = s.settings.protocols();
            tracing::info!(target: "http", name = %s.name, %protocols, "server running");
        }
        if let Some(r) = self.ticket_rotation() {
            crate::tls::tickets::keys().configure(&r);
        }
        for socket in self.sockets() {
            let Some(server) = self.server_for(socket.id) else {
                continue;
            };
            let k = server.settings.tcp_keepalive;
            if let Some(Err(e)) = socket.with_listener(|l| l.set_keepalive(k)) {
                tracing::warn!(listener = %socket.key, error = %e, "cannot set TCP keep-alive");
            }
        }
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
    /// Returns the sockets no other config holds: they are closing.
    pub fn release_listeners(
        &self,
        grace: Option<Duration>,
    ) -> Vec<std::sync::Arc<crate::listeners::Socket>> {
        let leases = std::mem::take(&mut *self.leases.lock().unwrap_or_else(|e| e.into_inner()));
        let ms = grace.map_or(u64::MAX, |g| g.as_millis() as u64);
        for l in &leases {
            l.socket
                .grace_ms
                .store(ms, std::sync::atomic::Ordering::Release);
        }
        let sockets: Vec<_> = leases.iter().map(|l| l.socket.clone()).collect();
        drop(leases);
        sockets.into_iter().filter(|s| *s.stop.borrow()).collect()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(t) = &self.otlp_push {
            t.abort();
        }
        for s in &self.servers {
            s.cleanup();
        }
    }
}

/// Records that server `i` serves `lease`'s socket; `false` when it does
/// already (an address listed twice), an error when another server does.
fn claim(
    by_socket: &mut Vec<(u64, usize)>,
    servers: &[Server],
    i: usize,
    lease: &Lease,
    addr: &crate::listeners::ListenAddr,
) -> Result<bool, Error> {
    match by_socket.iter().find(|(id, _)| *id == lease.socket.id) {
        Some((_, other)) if *other != i => Err(Error::Listen {
            address: addr.key(),
            message: format!(
                "used by both servers {} and {}",
                servers[*other].name, servers[i].name
            ),
        }),
        Some(_) => Ok(false),
        None => {
            by_socket.push((lease.socket.id, i));
            Ok(true)
        }
    }
}

/// A lease on `addr`, and the UDP lease on the same port when `server`
/// serves HTTP/3 there. On an ephemeral port (`:0`) the kernel picks the
/// TCP port, which another socket may already hold over UDP: then up to 8
/// other ports are tried before the error is reported.
fn lease_with_udp(
    pool: &Pool,
    server: &Server,
    addr: &ListenAddr,
    h3: bool,
) -> Result<(Lease, Option<Lease>), Error> {
    let mut tries = 0;
    loop {
        let lease = pool.obtain(addr)?;
        match crate::http::h3::lease(pool, server, addr, &lease, h3) {
            Ok(udp) => return Ok((lease, udp)),
            Err(Error::Listen { .. }) if addr.port == 0 && tries < 8 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Whether the HTTP app collects metrics: `apps.http.metrics` is set, or
/// a `metrics` handler would have nothing to serve otherwise.
fn wants_metrics(app: &HttpApp) -> bool {
    app.metrics.is_some()
        || app.servers.values().any(|s| s.metrics.is_some())
        || app.servers.values().any(|s| {
            s.routes
                .iter()
                .chain(s.errors.iter().flat_map(|e| e.routes.iter()))
                .chain(s.named_routes.values())
                .flat_map(|r| r.handle.iter())
                .any(|h| h.name_str() == Some("metrics") || h.body_mentions_handler("metrics"))
        })
}

/// Rejects apps, storage modules and logging sinks bellhop lacks.
fn check_modules(config: &Config, p: &mut Provision<'_>) -> Result<(), Error> {
    for name in config.apps.other.keys() {
        match p.require(name, &format!("apps.{name}"))? {
            Module::App => {}
            _ => return Err(Error::config(format!("apps.{name}"), "not an app module")),
        }
    }
    if let Some(events) = config.apps.other.get("events") {
        crate::config::events::check(events)?;
    }
    if let Some(fs) = config.apps.other.get("caddy.filesystems") {
        crate::config::filesystems::check(fs)?;
    }
    if let Some(storage) = &config.storage {
        p.module_name(storage, "module", "caddy.storage", "storage")?;
    }
    Ok(())
}
