//! bellhop-runtime: loads Caddy's canonical JSON config, provisions its
//! modules and serves it.
//!
//! Invariant: the runtime never sees Caddyfile text. Where it needs an
//! adapter (admin `POST /load` with `text/caddyfile`), the binary injects one.
