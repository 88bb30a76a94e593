//! Provisioning `reverse_proxy` from its JSON: every field is decoded and
//! either implemented or rejected with its JSON path; nothing is ignored.

use super::config::HandlerConfig;
use super::handle_response::{ResponseHandler, ResponseMatcher};
use super::health::{self, Passive};
use super::respond::Shared;
use super::response_body::FlushPolicy;
use super::selection::Policy;
use super::transport_fastcgi::FastcgiTransport;
use super::transport_http::{HttpTransport, HttpTransportConfig};
use super::upstreams::Upstream;
use super::{dynamic, Retry, ReverseProxy, Transport};
use crate::error::Error;
use crate::http::handlers::header_ops::{HeaderOps, HeaderOpsConfig};
use crate::http::routes::MatcherSets;
use crate::http::Handler;
use crate::registry::Provision;
use crate::util::IpNet;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The error for a `circuit_breaker`: Caddy's standard build registers
/// no module in `http.reverse_proxy.circuit_breakers` (they are plugins),
/// and neither does bellhop; the error names the module ID and the path.
fn circuit_breaker(cb: &serde_json::Map<String, Value>, p: &Provision<'_>, path: &str) -> Error {
    const NS: &str = "http.reverse_proxy.circuit_breakers";
    let at = format!("{path}.circuit_breaker");
    match p.module_name(cb, "type", NS, &at) {
        Err(e) => e,
        Ok((name, _)) => Error::UnknownModule {
            path: format!("{at}.type"),
            id: format!("{NS}.{name}"),
        },
    }
}

/// Builds the handler from its JSON at `path`.
pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let mut c: HandlerConfig = p.decode_text(v, path)?;
    if let Some(cb) = &c.circuit_breaker {
        return Err(circuit_breaker(cb, p, path));
    }
    let (transport, default_request_buffers) = transport(&c, p, path)?;
    let passive_cfg = c.health_checks.as_ref().and_then(|h| h.passive.clone());
    let max_fails = match &passive_cfg {
        Some(pc) if pc.max_fails == 0 => 1,
        Some(pc) => pc.max_fails,
        None => 0,
    };
    let unhealthy_count = passive_cfg
        .as_ref()
        .map_or(0, |pc| pc.unhealthy_request_count);
    let limits = match &transport {
        Transport::Http(t) => t.limits.clone(),
        Transport::Fastcgi(_) => Default::default(),
    };
    let upstreams = static_upstreams(&c, max_fails, unhealthy_count, &limits, path)?;
    let dynamic = match &c.dynamic_upstreams {
        Some(d) => Some(dynamic::Source::provision(
            d,
            p,
            &format!("{path}.dynamic_upstreams"),
        )?),
        None => None,
    };
    if upstreams.is_empty() && dynamic.is_none() {
        return Err(Error::config(format!("{path}.upstreams"), "no upstreams"));
    }
    let (policy, retry) = load_balancing(c.load_balancing.take(), p, path)?;
    let rewrite = match &c.rewrite {
        Some(r) => Some(crate::http::handlers::rewrite_handler(
            r,
            p,
            &format!("{path}.rewrite"),
        )?),
        None => None,
    };
    let handle_response = response_handlers(&c, p, path)?;
    // The upstream's status and headers are kept for placeholders only
    // where the config reads them.
    let text = v.get();
    let response_placeholders = retry.response_matchers.is_some()
        || text.contains("{http.reverse_proxy.header.")
        || text.contains("{http.reverse_proxy.status_");
    let mut shared_cfg = shared(&mut c, transport, passive_cfg.as_ref(), max_fails, path)?;
    shared_cfg.response_placeholders = response_placeholders;
    shared_cfg.records = p.proxy_placeholders;
    let shared = Arc::new(shared_cfg);
    let checker = match c.health_checks.as_ref().and_then(|h| h.active.as_ref()) {
        Some(a) if health::enabled(a) => Some(health::start(
            a,
            &upstreams,
            &shared,
            &format!("{path}.health_checks.active"),
        )?),
        _ => None,
    };
    Ok(Box::new(ReverseProxy {
        upstreams,
        dynamic,
        policy,
        retry,
        passive: passive_cfg.as_ref().map(Passive::new),
        request_buffers: if c.request_buffers != 0 {
            c.request_buffers
        } else {
            default_request_buffers
        },
        rewrite,
        handle_response,
        shared,
        checker,
    }))
}

/// What responses need from the handler: transport, header rules,
/// streaming settings, passive health.
fn shared(
    c: &mut HandlerConfig,
    transport: Transport,
    passive_cfg: Option<&super::config::PassiveConfig>,
    max_fails: usize,
    path: &str,
) -> Result<Shared, Error> {
    let trusted = trusted_proxies(&c.trusted_proxies, path)?;
    let (request_ops, response_ops, response_require) = header_ops(c.headers.take(), path)?;
    let d = |o: Option<crate::config::CaddyDuration>| o.map(|d| d.0).filter(|d| !d.is_zero());
    Ok(Shared {
        transport,
        trusted,
        request_ops,
        response_ops,
        response_require,
        response_buffers: c.response_buffers,
        stream_timeout: d(c.stream_timeout),
        stream_close_delay: d(c.stream_close_delay),
        stream_buffer: if c.stream_buffer_size > 0 {
            c.stream_buffer_size as usize
        } else {
            32 * 1024
        },
        passive: passive_cfg.map(Passive::new),
        max_fails,
        tunnels: Default::default(),
        flush: FlushPolicy::new(c.flush_interval),
        verbose: c.verbose_logs,
        response_placeholders: false,
        records: true,
    })
}

fn transport(c: &HandlerConfig, p: &Provision<'_>, path: &str) -> Result<(Transport, i64), Error> {
    let Some(t) = &c.transport else {
        let t = HttpTransport::provision(
            &HttpTransportConfig::default(),
            None,
            &format!("{path}.transport"),
        )?;
        return Ok((Transport::Http(Arc::new(t)), 0));
    };
    let tpath = format!("{path}.transport");
    let (name, _) = p.module_name(t, "protocol", "http.reverse_proxy.transport", &tpath)?;
    let mut obj = t.clone();
    obj.remove("protocol");
    let v = Value::Object(obj);
    match name {
        "http" => {
            let cfg: HttpTransportConfig = p.decode(&v, &tpath)?;
            Ok((
                Transport::Http(Arc::new(HttpTransport::provision(&cfg, Some(p), &tpath)?)),
                0,
            ))
        }
        "fastcgi" => Ok((
            Transport::Fastcgi(Box::new(FastcgiTransport::provision(&v, p, &tpath)?)),
            4096,
        )),
        other => Err(Error::UnknownModule {
            path: format!("{tpath}.protocol"),
            id: format!("http.reverse_proxy.transport.{other}"),
        }),
    }
}

fn static_upstreams(
    c: &HandlerConfig,
    max_fails: usize,
    unhealthy_count: usize,
    limits: &super::pool::PoolLimits,
    path: &str,
) -> Result<Vec<Upstream>, Error> {
    let mut upstreams = Vec::new();
    for (i, u) in c.upstreams.iter().enumerate() {
        let upath = format!("{path}.upstreams[{i}]");
        if !u.lookup_srv.is_empty() {
            return Err(Error::config(
                format!("{upath}.lookup_srv"),
                "SRV lookups: not implemented by bellhop yet",
            ));
        }
        let max_req = if u.max_requests == 0 {
            unhealthy_count
        } else {
            u.max_requests
        };
        upstreams.extend(Upstream::provision(
            &u.dial,
            max_req,
            max_fails,
            limits,
            &format!("{upath}.dial"),
        )?);
    }
    Ok(upstreams)
}

type HeaderRules = (HeaderOps, HeaderOps, Option<ResponseMatcher>);

/// `headers`: the request operations, the response operations and their
/// `require` condition.
fn header_ops(
    headers: Option<super::config::HeadersConfig>,
    path: &str,
) -> Result<HeaderRules, Error> {
    let headers = headers.unwrap_or_default();
    let request_ops = match &headers.request {
        Some(r) => HeaderOps::provision(r, &format!("{path}.headers.request"))?,
        None => HeaderOps::default(),
    };
    let (response_ops, response_require) = match headers.response {
        Some(r) => {
            // `deferred` is read by Caddy's `headers` handler only; the
            // proxy applies its response operations to the upstream's
            // response before writing it whatever `deferred` says
            // (reverseproxy.go `finalizeResponse`), and so does bellhop.
            let _parity = r.deferred;
            let ops = HeaderOpsConfig {
                add: r.add,
                set: r.set,
                delete: r.delete,
                replace: r.replace,
            };
            (
                HeaderOps::provision(&ops, &format!("{path}.headers.response"))?,
                r.require.as_ref().map(ResponseMatcher::new),
            )
        }
        None => (HeaderOps::default(), None),
    };
    Ok((request_ops, response_ops, response_require))
}

/// `load_balancing`: the selection policy and the retry settings.
fn load_balancing(
    lb: Option<super::config::LoadBalancing>,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<(Policy, Retry), Error> {
    let lb = lb.unwrap_or_default();
    let lpath = format!("{path}.load_balancing");
    let policy = match &lb.selection_policy {
        Some(s) => Policy::provision(s, p, &format!("{lpath}.selection_policy"))?,
        None => Policy::Random,
    };
    let try_duration = lb.try_duration.map(|d| d.0).unwrap_or_default();
    let mut try_interval = lb.try_interval.map(|d| d.0).unwrap_or_default();
    if !try_duration.is_zero() && try_interval.is_zero() {
        try_interval = Duration::from_millis(250);
    }
    let matchers = if lb.retry_match.is_empty() {
        None
    } else {
        Some(MatcherSets::provision(
            &lb.retry_match,
            p,
            &format!("{lpath}.retry_match"),
        )?)
    };
    let with_expr: Vec<_> = lb
        .retry_match
        .iter()
        .filter(|set| set.contains_key("expression"))
        .cloned()
        .collect();
    let response_matchers = if with_expr.is_empty() {
        None
    } else {
        Some(MatcherSets::provision(
            &with_expr,
            p,
            &format!("{lpath}.retry_match"),
        )?)
    };
    Ok((
        policy,
        Retry {
            retries: lb.retries,
            try_duration,
            try_interval,
            matchers,
            response_matchers,
        },
    ))
}

fn trusted_proxies(list: &[String], path: &str) -> Result<Vec<IpNet>, Error> {
    let mut trusted = Vec::new();
    for (i, t) in list.iter().enumerate() {
        trusted.push(
            t.parse::<IpNet>()
                .map_err(|e| Error::config(format!("{path}.trusted_proxies[{i}]"), e))?,
        );
    }
    Ok(trusted)
}

fn response_handlers(
    c: &HandlerConfig,
    p: &mut Provision<'_>,
    path: &str,
) -> Result<Vec<ResponseHandler>, Error> {
    let mut handle_response = Vec::new();
    for (i, rh) in c.handle_response.iter().enumerate() {
        handle_response.push(ResponseHandler::provision(
            rh,
            p,
            &format!("{path}.handle_response[{i}]"),
        )?);
    }
    Ok(handle_response)
}
