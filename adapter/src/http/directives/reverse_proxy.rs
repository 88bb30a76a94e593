//! `reverse_proxy` (`http.handlers.reverse_proxy`):
//!
//! ```text
//! reverse_proxy [<matcher>] [<upstreams...>] {
//!     # backends
//!     to      <upstreams...>
//!     dynamic <module> ...
//!     # load balancing, health checks (see `reverse_proxy/lb.rs`)
//!     lb_policy <name> [<options...>]
//!     lb_retries | lb_try_duration | lb_try_interval | lb_retry_match
//!     health_* …  fail_duration | max_fails | unhealthy_*
//!     # streaming
//!     flush_interval     <duration>
//!     request_buffers    <size>|unlimited
//!     response_buffers   <size>|unlimited
//!     stream_timeout     <duration>
//!     stream_close_delay <duration>
//!     stream_buffer_size <size>
//!     verbose_logs
//!     # request manipulation
//!     trusted_proxies [private_ranges] <ranges...>
//!     header_up   [+|-]<field> [<value|regexp> [<replacement>]]
//!     header_down [+|-]<field> [<value|regexp> [<replacement>]]
//!     method <method>
//!     rewrite <to>
//!     # round trip
//!     transport http|fastcgi { … }
//!     # responses
//!     @name { status <code...>  header <field> [<value>] }
//!     replace_status [<matcher>] <status_code>
//!     handle_response [<matcher>] { <directives...> }
//! }
//! ```
//!
//! All upstreams share one scheme: `https://` enables TLS on the HTTP
//! transport, `h2c://` (or `unix+h2c//`) sets its versions to `h2c 2`; an
//! explicit transport is kept, an empty HTTP transport omitted.
//! [`Proxy`] is also the base of `php_fastcgi` and `forward_auth`.

mod dynamic;
mod fastcgi;
mod headers;
mod lb;
mod response;
mod transport;
mod units;
mod upstreams;

pub use fastcgi::Fastcgi;
pub use headers::HeaderOps;
pub use response::ResponseHandler;

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use crate::syntax::{Dispenser, Token};
use serde_json::{Map, Value};
use units::{int_or_duration_arg, one_arg, parse_bytes};

/// The handler under construction (Caddy's `reverseproxy.Handler`, plus
/// what its Caddyfile unmarshaler keeps between steps).
#[derive(Debug, Default)]
pub struct Proxy {
    pub upstreams: Vec<String>,
    scheme: String,
    dynamic: Option<Value>,
    lb: Option<Map<String, Value>>,
    active: Option<Map<String, Value>>,
    passive: Option<Map<String, Value>>,
    /// `headers.request` / `headers.response` (`None`: not configured).
    pub header_up: Option<HeaderOps>,
    pub header_down: Option<HeaderOps>,
    /// `rewrite`: method and URI.
    pub rewrite: Option<Map<String, Value>>,
    /// The encoded transport set before parsing (`php_fastcgi`).
    pub transport_raw: Option<Value>,
    transport: Option<(String, Map<String, Value>)>,
    trusted_proxies: Vec<String>,
    /// Scalar handler fields (flush interval, buffers, stream options).
    scalars: Obj,
    matchers: response::ResponseMatchers,
    pub handle_response: Vec<ResponseHandler>,
    handle_response_segments: Vec<Vec<Token>>,
}

/// The handler directive: `h` is before the directive name.
pub fn parse(h: &mut Helper) -> Result<Value> {
    let mut p = Proxy::default();
    h.next();
    p.unmarshal(&mut h.d)?;
    p.finalize(h)?;
    Ok(p.to_json())
}

impl Proxy {
    /// Reads the directive's arguments and block (cursor on the directive
    /// name); Caddy's `UnmarshalCaddyfile`.
    pub fn unmarshal(&mut self, d: &mut Dispenser) -> Result<()> {
        for up in d.remaining_args() {
            self.add_upstream(d, &up)?;
        }
        while d.next_block(0) {
            let key = d.val().to_string();
            if key.starts_with('@') {
                let seg = d.next_segment();
                response::parse_matcher(seg, &mut self.matchers)?;
                continue;
            }
            if !self.option(d, &key)?
                && !lb::lb_option(d, &mut self.lb, &key)?
                && !lb::health_option(d, &mut self.active, &mut self.passive, &key)?
                && !self.stream_option(d, &key)?
            {
                return Err(d.err(format!("unrecognized subdirective {key}")));
            }
        }
        self.settle_transport(d)
    }

    fn add_upstream(&mut self, d: &Dispenser, up: &str) -> Result<()> {
        let wrap = |m: String| d.err(format!("parsing upstream '{up}': {m}"));
        let pa = upstreams::parse_address(up).map_err(wrap)?;
        match pa.scheme.as_str() {
            "wss" => {
                return Err(wrap(
                    "the scheme wss:// is only supported in browsers; use https:// instead".into(),
                ))
            }
            "ws" => {
                return Err(wrap(
                    "the scheme ws:// is only supported in browsers; use http:// instead".into(),
                ))
            }
            "https" | "http" | "h2c" | "" => {}
            s => return Err(wrap(format!("unsupported URL scheme {s}://"))),
        }
        if !self.scheme.is_empty() && pa.scheme != self.scheme {
            return Err(wrap(format!("for now, all proxy upstreams must use the same scheme (transport protocol); expecting '{}://' but got '{}://'", self.scheme, pa.scheme)));
        }
        self.scheme = pa.scheme.clone();
        self.upstreams.extend(upstreams::dials(&pa).map_err(wrap)?);
        Ok(())
    }

    /// Backends, request manipulation, transport and responses; false if
    /// `key` is none of them.
    fn option(&mut self, d: &mut Dispenser, key: &str) -> Result<bool> {
        match key {
            "to" => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                for up in args {
                    self.add_upstream(d, &up)?;
                }
            }
            "dynamic" => {
                if !d.next_arg() {
                    return Err(d.arg_err());
                }
                if self.dynamic.is_some() {
                    return Err(d.err("dynamic upstreams already specified"));
                }
                self.dynamic = Some(dynamic::parse_dynamic(d)?);
            }
            "trusted_proxies" => {
                while d.next_arg() {
                    if d.val() == "private_ranges" {
                        self.trusted_proxies
                            .extend(PRIVATE_RANGES.iter().map(|s| s.to_string()));
                    } else {
                        self.trusted_proxies.push(d.val().to_string());
                    }
                }
            }
            "header_up" | "header_down" => self.header_op(d, key == "header_up")?,
            "method" | "rewrite" => {
                let v = one_arg(d)?;
                let field = if key == "method" { "method" } else { "uri" };
                self.rewrite
                    .get_or_insert_default()
                    .insert(field.into(), v.into());
                if d.next_arg() {
                    return Err(d.arg_err());
                }
            }
            "transport" => self.parse_transport(d)?,
            "handle_response" => self.handle_response_segments.push(d.next_segment()),
            "replace_status" => {
                let rh = response::parse_replace_status(d, &self.matchers)?;
                self.handle_response.push(rh);
            }
            "verbose_logs" => {
                if self.scalars.0.contains_key("verbose_logs") {
                    return Err(d.err("verbose_logs already specified"));
                }
                self.scalars.put("verbose_logs", true);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn header_op(&mut self, d: &mut Dispenser, up: bool) -> Result<()> {
        let ops = if up {
            self.header_up.get_or_insert_default()
        } else {
            self.header_down.get_or_insert_default()
        };
        let args = d.remaining_args();
        let res = match args.as_slice() {
            [f] => ops.apply(f, "", None),
            [f, v] => ops.apply(f, v, None),
            [f, v, r] => ops.apply(f, v, Some(r)),
            _ => return Err(d.arg_err()),
        };
        res.map_err(|e| d.err(e))
    }

    fn stream_option(&mut self, d: &mut Dispenser, key: &str) -> Result<bool> {
        match key {
            "flush_interval" | "stream_timeout" | "stream_close_delay" => {
                let v = int_or_duration_arg(d)?;
                self.scalars.0.remove(key);
                self.scalars.put_opt(key, v);
            }
            "request_buffers" | "response_buffers" => {
                let v = one_arg(d)?;
                let size = if v == "unlimited" {
                    -1
                } else {
                    let n = parse_bytes(&v)
                        .map_err(|e| d.err(format!("invalid byte size '{v}': {e}")))?;
                    n as i64
                };
                if d.next_arg() {
                    return Err(d.arg_err());
                }
                self.scalars.0.remove(key);
                self.scalars.put_opt(key, size);
            }
            "stream_buffer_size" => {
                let v = one_arg(d)?;
                let n = parse_bytes(&v)
                    .map_err(|e| d.err(format!("invalid stream buffer size '{v}': {e}")))?;
                if d.next_arg() {
                    return Err(d.arg_err());
                }
                self.scalars.0.remove(key);
                self.scalars.put_opt(key, n);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn parse_transport(&mut self, d: &mut Dispenser) -> Result<()> {
        if !d.next_arg() {
            return Err(d.arg_err());
        }
        if self.transport_raw.is_some() || self.transport.is_some() {
            return Err(d.err("transport already specified"));
        }
        let name = d.val().to_string();
        let mut sub = d.new_from_next_segment();
        sub.next();
        let fields = match name.as_str() {
            "http" => transport::parse_http(&mut sub)?,
            "fastcgi" => match Fastcgi::parse(&mut sub)?.to_json() {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            other => return Err(d.err(format!("getting module named 'http.reverse_proxy.transport.{other}': module not registered: http.reverse_proxy.transport.{other}"))),
        };
        self.transport = Some((name, fields));
        Ok(())
    }

    /// The transport checks at the end of the block: the upstreams'
    /// scheme against the transport's TLS, h2c versions, and the encoding.
    fn settle_transport(&mut self, d: &Dispenser) -> Result<()> {
        let scheme = self.scheme.as_str();
        if (scheme == "https" || scheme == "h2c") && self.transport.is_none() {
            self.transport = Some(("http".into(), Map::new()));
        }
        let Some((name, mut fields)) = self.transport.take() else {
            return Ok(());
        };
        if name == "http" {
            let tls = fields.contains_key("tls");
            if scheme == "https" && !tls {
                fields.insert("tls".into(), Value::Object(Map::new()));
            }
            if scheme == "http" && tls {
                return Err(d.err("upstream address scheme is HTTP but transport is configured for HTTP+TLS (HTTPS)"));
            }
            if scheme == "h2c" {
                fields.insert("versions".into(), strings(&["h2c", "2"]));
            }
            if fields.is_empty() {
                return Ok(());
            }
        } else if scheme == "https" {
            return Err(d.err("upstreams are configured for HTTPS but transport module does not support TLS: *fastcgi.Transport"));
        }
        fields.remove("protocol");
        let mut t = Obj::module("protocol", &name);
        t.0.extend(fields);
        self.transport_raw = Some(t.build());
        Ok(())
    }

    /// Parses the `handle_response` blocks (Caddy's
    /// `FinalizeUnmarshalCaddyfile`).
    pub fn finalize(&mut self, h: &mut Helper) -> Result<()> {
        let segs = std::mem::take(&mut self.handle_response_segments);
        response::finalize(h, segs, &self.matchers, &mut self.handle_response)
    }

    /// The handler's JSON.
    pub fn to_json(&self) -> Value {
        let upstreams: Vec<Value> = self
            .upstreams
            .iter()
            .map(|u| Obj::new().set("dial", u.as_str()).build())
            .collect();
        let health = (self.active.is_some() || self.passive.is_some()).then(|| {
            Obj::new()
                .some("active", self.active.clone())
                .some("passive", self.passive.clone())
                .build()
        });
        let headers = (self.header_up.is_some() || self.header_down.is_some()).then(|| {
            Obj::new()
                .some("request", self.header_up.as_ref().map(HeaderOps::to_json))
                .some(
                    "response",
                    self.header_down.as_ref().map(HeaderOps::to_json),
                )
                .build()
        });
        let handle_response: Vec<Value> = self
            .handle_response
            .iter()
            .map(ResponseHandler::to_json)
            .collect();
        let mut o = Obj::handler("reverse_proxy")
            .some("transport", self.transport_raw.clone())
            .some("load_balancing", self.lb.clone())
            .some("health_checks", health)
            .opt("upstreams", Value::Array(upstreams))
            .some("dynamic_upstreams", self.dynamic.clone())
            .opt("trusted_proxies", strings(&self.trusted_proxies))
            .some("headers", headers)
            .some("rewrite", self.rewrite.clone())
            .opt("handle_response", Value::Array(handle_response));
        o.0.extend(self.scalars.0.clone());
        o.build()
    }
}

/// Caddy's `internal.PrivateRangesCIDR()` (`private_ranges`).
pub const PRIVATE_RANGES: &[&str] = &[
    "192.168.0.0/16",
    "172.16.0.0/12",
    "10.0.0.0/8",
    "127.0.0.1/8",
    "fd00::/8",
    "::1",
];
