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
//! - `golden`: the `.caddyfiletest` case format, for the golden tests and
//!   the conformance runner (`bin/bellhop-conformance.rs`).
//! - `error`: [`Error`] (a miette diagnostic with the span) and [`Warning`].
//!
//! Invariant: this crate opens no socket and knows no runtime type; its
//! output is plain JSON.

pub mod error;
pub mod golden;
pub mod http;
pub mod json;
pub mod syntax;

pub use error::{Error, Result, Warning};

/// An adapted config and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct Adapted {
    pub config: serde_json::Value,
    pub warnings: Vec<Warning>,
}

/// Adapts Caddyfile `text` (read from `filename`, which anchors relative
/// imports and names the file in messages) to Caddy's JSON config.
#[allow(clippy::result_large_err)]
pub fn adapt(filename: &str, text: &str) -> Result<Adapted> {
    let parsed = syntax::parse(filename, text)?;
    let (config, mut warnings) = http::adapt(parsed.blocks, parsed.warnings)?;
    if let Some(w) = formatting_warning(filename, text) {
        warnings.insert(0, w);
    }
    Ok(Adapted { config, warnings })
}

/// Caddy's lint: a warning at the first line where `text` differs from its
/// formatted form.
fn formatting_warning(filename: &str, text: &str) -> Option<Warning> {
    let formatted = syntax::format::format(text);
    if formatted == text {
        return None;
    }
    let line = text
        .lines()
        .zip(formatted.lines())
        .position(|(a, b)| a != b)
        .map_or_else(
            || text.lines().count().min(formatted.lines().count()) + 1,
            |i| i + 1,
        );
    Some(Warning {
        file: filename.to_string(),
        line,
        directive: None,
        message:
            "Caddyfile input is not formatted; run 'bellhop fmt --overwrite' to fix inconsistencies"
                .to_string(),
    })
}
