//! Loading a config for `run`, `validate` and `adapt --validate`: a file
//! (or standard input) read through the right adapter, giving JSON bytes.
//!
//! The adapter is inferred from the file name as Caddy does: a base name
//! starting with `Caddyfile`, or ending in `.caddyfile` (ignoring case), is a Caddyfile;
//! anything else is JSON.

use crate::input;
use anyhow::{bail, Result};
use std::path::Path;

/// Which adapter reads a config file.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterName {
    Caddyfile,
    Json,
}

/// Why a config could not be loaded: the Caddyfile diagnostic is kept
/// whole so the caller can render it with its span.
pub enum LoadError {
    Caddyfile(bellhop_adapter::Error),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for LoadError {
    fn from(e: anyhow::Error) -> Self {
        LoadError::Other(e)
    }
}

impl LoadError {
    /// Prints the error on standard error (a miette report for Caddyfiles).
    pub fn report(self) {
        match self {
            LoadError::Caddyfile(e) => eprintln!("{:?}", miette::Report::new(e)),
            LoadError::Other(e) => eprintln!("bellhop: {e:#}"),
        }
    }
}

/// The adapter for `path` when none was given.
pub fn infer_adapter(path: &str) -> AdapterName {
    let base = Path::new(path)
        .file_name()
        .map(|b| b.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // Case-insensitive, as Caddy compares the lowercased base name.
    if path == "-" || base.starts_with("caddyfile") || base.ends_with(".caddyfile") {
        AdapterName::Caddyfile
    } else {
        AdapterName::Json
    }
}

/// Reads `path` and returns the JSON config, printing adapter warnings.
pub fn load(path: &str, adapter: Option<AdapterName>) -> Result<Vec<u8>, LoadError> {
    let text = input::read(path)?;
    match adapter.unwrap_or_else(|| infer_adapter(path)) {
        AdapterName::Json => {
            if text.trim().is_empty() {
                return Err(anyhow::anyhow!("{path}: empty config").into());
            }
            Ok(text.into_bytes())
        }
        AdapterName::Caddyfile => {
            let adapted = bellhop_adapter::adapt(&input::display_name(path), &text)
                .map_err(LoadError::Caddyfile)?;
            for w in &adapted.warnings {
                eprintln!("warning: {w}");
            }
            Ok(bellhop_adapter::json::to_go_string(&adapted.config).into_bytes())
        }
    }
}

/// The config file `run` uses when none is named: `./Caddyfile` if there.
pub fn default_config() -> Result<Option<String>> {
    if Path::new("Caddyfile").is_file() {
        return Ok(Some("Caddyfile".into()));
    }
    if Path::new("Caddyfile").exists() {
        bail!("./Caddyfile exists but is not a file");
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapter_follows_file_name() {
        assert_eq!(infer_adapter("Caddyfile"), AdapterName::Caddyfile);
        assert_eq!(infer_adapter("/etc/Caddyfile.prod"), AdapterName::Caddyfile);
        assert_eq!(infer_adapter("site.caddyfile"), AdapterName::Caddyfile);
        assert_eq!(infer_adapter("site.Caddyfile"), AdapterName::Caddyfile);
        assert_eq!(infer_adapter("caddyfile.dev"), AdapterName::Caddyfile);
        assert_eq!(infer_adapter("caddy.json"), AdapterName::Json);
        assert_eq!(infer_adapter("-"), AdapterName::Caddyfile);
    }
}
