//! `bellhop reload`: send a config file to a running bellhop's admin API
//! (`POST /load`), adapting it here first. `--force` reloads even an
//! identical config (`Cache-Control: must-revalidate`).
//!
//! The admin address is, in order: `--address`, the config's own
//! `admin.listen`, `BELLHOP_ADMIN`, then `localhost:2019`. This module
//! also holds the small helpers `stop` and `start` share.

use crate::config_source::{self, AdapterName};
use crate::Outcome;
use anyhow::{Context, Result};
use bellhop_runtime::admin::client::{self, Reply};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The config file to load.
    #[arg(long, short = 'c')]
    config: String,
    /// The config adapter (inferred from the file name when omitted).
    #[arg(long, short = 'a', value_enum)]
    adapter: Option<AdapterName>,
    /// The admin API address of the running bellhop.
    #[arg(long)]
    address: Option<String>,
    /// Reload even when the config is unchanged.
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let json = match config_source::load(&args.config, args.adapter) {
        Ok(j) => j,
        Err(e) => {
            e.report();
            return Ok(Outcome::ConfigError);
        }
    };
    let address = admin_address(args.address.as_deref(), Some(&json));
    let mut headers = vec![("Content-Type", "application/json")];
    if args.force {
        headers.push(("Cache-Control", "must-revalidate"));
    }
    let reply = send(&address, "POST", "/load", &headers, json)?;
    if !reply.ok() {
        eprintln!(
            "bellhop reload: {} (HTTP {}): {}",
            args.config,
            reply.status,
            reply.error_message()
        );
        return Ok(Outcome::ConfigError);
    }
    Ok(Outcome::Ok)
}

/// The admin address to talk to (see the module docs).
pub fn admin_address(explicit: Option<&str>, config_json: Option<&[u8]>) -> String {
    if let Some(a) = explicit.filter(|a| !a.trim().is_empty()) {
        return a.trim().to_string();
    }
    let from_config = config_json
        .and_then(|j| serde_json::from_slice::<serde_json::Value>(j).ok())
        .and_then(|v| v["admin"]["listen"].as_str().map(String::from))
        .filter(|l| !l.is_empty());
    if let Some(l) = from_config {
        return l;
    }
    std::env::var("BELLHOP_ADMIN")
        .ok()
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| bellhop_runtime::admin::DEFAULT_LISTEN.to_string())
}

/// Sends one admin request (within 60 s), on a small async runtime.
pub fn send(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Reply> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let call = client::request(address, method, path, headers, body);
        match tokio::time::timeout(Duration::from_secs(60), call).await {
            Ok(r) => r.map_err(anyhow::Error::msg),
            Err(_) => anyhow::bail!("admin endpoint {address}: no answer within 60 s"),
        }
    })
}
