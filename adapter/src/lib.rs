//! bellhop-adapter: Caddyfile text → Caddy's canonical JSON config.
//!
//! Layout, from text to JSON:
//! - `syntax`: the Caddyfile syntax, knowing no directive names. The pest
//!   grammar (`grammar/caddyfile.pest`) lexes; `syntax::parse` groups tokens
//!   into server blocks and expands `import`, snippets and named routes;
//!   `syntax::Dispenser` is the cursor directive parsers use;
//!   `syntax::format` is `bellhop fmt`.
//! - `http`: the HTTP server type: addresses, global options, one file per
//!   directive, route sorting, server and TLS assembly.
//! - `json`: Go-compatible JSON printing (`adapt --pretty` is byte-identical
//!   to `caddy adapt --pretty`).
//! - `error`: [`Error`] (a miette diagnostic with the span) and [`Warning`].
//!
//! Invariant: this crate opens no socket and knows no runtime type; its
//! output is plain JSON.

pub mod error;
pub mod golden;
pub mod json;
pub mod syntax;

pub use error::{Error, Result, Warning};
