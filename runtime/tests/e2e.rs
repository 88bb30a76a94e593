//! End-to-end tests of bellhop-runtime: one binary, real sockets on
//! 127.0.0.1 port 0, real HTTP/1.1 and HTTP/2 (h2c) clients.

#[path = "e2e/dns_responder.rs"]
mod dns_responder;
#[path = "e2e/h3_support.rs"]
mod h3_support;
#[path = "e2e/hostile_support.rs"]
mod hostile_support;
#[path = "e2e/log_capture.rs"]
mod log_capture;
#[path = "e2e/redis_support.rs"]
mod redis_support;
#[path = "e2e/support.rs"]
mod support;
#[path = "e2e/tls_support.rs"]
mod tls_support;

#[path = "e2e/acme_account_lock.rs"]
mod acme_account_lock;
#[path = "e2e/acme_pebble.rs"]
mod acme_pebble;
#[path = "e2e/acme_pebble_chains.rs"]
mod acme_pebble_chains;
#[path = "e2e/acme_server.rs"]
mod acme_server;
#[path = "e2e/auth.rs"]
mod auth;
#[path = "e2e/caddy_cases.rs"]
mod caddy_cases;
#[path = "e2e/config_errors.rs"]
mod config_errors;
#[path = "e2e/desync.rs"]
mod desync;
#[path = "e2e/dns_support.rs"]
mod dns_support;
#[path = "e2e/encode.rs"]
mod encode;
#[path = "e2e/expressions.rs"]
mod expressions;
#[path = "e2e/file_server.rs"]
mod file_server;
#[path = "e2e/go_regexp.rs"]
mod go_regexp;
#[path = "e2e/h1_server.rs"]
mod h1_server;
#[path = "e2e/h3.rs"]
mod h3;
#[path = "e2e/h3_resilience.rs"]
mod h3_resilience;
#[path = "e2e/handlers_core.rs"]
mod handlers_core;
#[path = "e2e/handlers_more.rs"]
mod handlers_more;
#[path = "e2e/handoff.rs"]
mod handoff;
#[path = "e2e/hostile.rs"]
mod hostile;
#[path = "e2e/io_idle.rs"]
mod io_idle;
#[path = "e2e/io_min_rate.rs"]
mod io_min_rate;
#[path = "e2e/logging.rs"]
mod logging;
#[path = "e2e/matchers_basic.rs"]
mod matchers_basic;
#[path = "e2e/matchers_more.rs"]
mod matchers_more;
#[path = "e2e/named_routes.rs"]
mod named_routes;
#[path = "e2e/observability.rs"]
mod observability;
#[path = "e2e/ports.rs"]
mod ports;
#[path = "e2e/proxy.rs"]
mod proxy;
#[path = "e2e/proxy_client_cert.rs"]
mod proxy_client_cert;
#[path = "e2e/proxy_dns.rs"]
mod proxy_dns;
#[path = "e2e/proxy_fastcgi.rs"]
mod proxy_fastcgi;
#[path = "e2e/proxy_forward.rs"]
mod proxy_forward;
#[path = "e2e/proxy_headers.rs"]
mod proxy_headers;
#[path = "e2e/proxy_health.rs"]
mod proxy_health;
#[path = "e2e/proxy_keepalive.rs"]
mod proxy_keepalive;
#[path = "e2e/proxy_lb.rs"]
mod proxy_lb;
#[path = "e2e/proxy_policies.rs"]
mod proxy_policies;
#[path = "e2e/proxy_protocol.rs"]
mod proxy_protocol;
#[path = "e2e/proxy_renegotiation.rs"]
mod proxy_renegotiation;
#[path = "e2e/proxy_stream.rs"]
mod proxy_stream;
#[path = "e2e/proxy_support.rs"]
mod proxy_support;
#[path = "e2e/proxy_transport.rs"]
mod proxy_transport;
#[path = "e2e/proxy_upgrade.rs"]
mod proxy_upgrade;
#[path = "e2e/push.rs"]
mod push;
#[path = "e2e/redis_cluster.rs"]
mod redis_cluster;
#[path = "e2e/redis_storage.rs"]
mod redis_storage;
#[path = "e2e/request_body.rs"]
mod request_body;
#[path = "e2e/routes.rs"]
mod routes;
#[path = "e2e/routes_many_hosts.rs"]
mod routes_many_hosts;
#[path = "e2e/server.rs"]
mod server;
#[path = "e2e/stop.rs"]
mod stop;
#[path = "e2e/templates.rs"]
mod templates;
#[path = "e2e/tls.rs"]
mod tls;
#[path = "e2e/tls_managed.rs"]
mod tls_managed;
#[path = "e2e/tls_managers.rs"]
mod tls_managers;
#[path = "e2e/tls_ocsp.rs"]
mod tls_ocsp;
#[path = "e2e/tls_on_demand.rs"]
mod tls_on_demand;
#[path = "e2e/tls_reuse_keys.rs"]
mod tls_reuse_keys;
#[path = "e2e/tls_storage_lock.rs"]
mod tls_storage_lock;
#[path = "e2e/url_pattern.rs"]
mod url_pattern;
