//! Reading a config file or standard input (`-`), as the subcommands do.

use anyhow::{Context, Result};
use std::io::Read;
use std::path::Path;

/// The name to show for a config read from `path` (`-` is standard input,
/// shown as `Caddyfile` as Caddy does).
pub fn display_name(path: &str) -> String {
    if path == "-" {
        "Caddyfile".to_string()
    } else {
        path.to_string()
    }
}

/// Reads `path`, or standard input when it is `-`.
pub fn read(path: &str) -> Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(Path::new(path)).with_context(|| format!("reading {path}"))
}
