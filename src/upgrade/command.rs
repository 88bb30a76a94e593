//! `bellhop upgrade`: ask a running bellhop to replace itself with a new
//! binary without dropping a connection.
//!
//! Through the admin API (`POST /upgrade`, the address found as `reload`
//! and `stop` find it), the answer says whether the new process took over
//! and, when not, why (exit 1). With `--pidfile FILE` (and no `--address`)
//! it sends SIGUSR2 to the PID in FILE instead and waits until FILE names
//! a new, live process.

use super::pidfile;
use crate::config_source::{self, AdapterName};
use crate::reload::admin_address;
use crate::Outcome;
use anyhow::{bail, Context, Result};
use bellhop_runtime::admin::client;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The admin API address of the running bellhop.
    #[arg(long)]
    address: Option<String>,
    /// A config file whose `admin.listen` names the address.
    #[arg(long, short = 'c')]
    config: Option<String>,
    /// The adapter of `--config` (inferred from the file name when omitted).
    #[arg(long, short = 'a', value_enum)]
    adapter: Option<AdapterName>,
    /// Signal the PID in this file (SIGUSR2) instead of using the admin API.
    #[arg(long)]
    pidfile: Option<PathBuf>,
    /// The binary to start (default: the running one's path, which after a
    /// package upgrade is the new file). Admin API only.
    #[arg(long)]
    binary: Option<PathBuf>,
    /// How long the new process may take to serve, in seconds.
    #[arg(long, default_value_t = super::DEFAULT_TIMEOUT.as_secs_f64())]
    timeout: f64,
}

pub fn run(args: Args) -> Result<Outcome> {
    if !(args.timeout > 0.0 && args.timeout < 86_400.0) {
        eprintln!("bellhop upgrade: --timeout must be between 0 and 86400 seconds");
        return Ok(Outcome::UsageError);
    }
    let timeout = Duration::from_secs_f64(args.timeout);
    if let (Some(pidfile), None) = (&args.pidfile, &args.address) {
        if args.binary.is_some() {
            eprintln!(
                "bellhop upgrade: --binary needs the admin API (drop --pidfile or add --address)"
            );
            return Ok(Outcome::UsageError);
        }
        return by_signal(pidfile, timeout);
    }
    let json = match &args.config {
        Some(path) => match config_source::load(path, args.adapter) {
            Ok(j) => Some(j),
            Err(e) => {
                e.report();
                return Ok(Outcome::ConfigError);
            }
        },
        None => None,
    };
    let address = admin_address(args.address.as_deref(), json.as_deref());
    let mut body = serde_json::json!({"timeout_ms": timeout.as_millis() as u64});
    if let Some(b) = &args.binary {
        let b = std::path::absolute(b).unwrap_or_else(|_| b.clone());
        body["binary"] = serde_json::Value::String(b.display().to_string());
    }
    let reply = send(&address, body.to_string().into_bytes(), timeout)?;
    if !reply.ok() {
        eprintln!(
            "bellhop upgrade: {address} (HTTP {}): {}",
            reply.status,
            reply.error_message()
        );
        return Ok(Outcome::ConfigError);
    }
    let v: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
    println!(
        "bellhop upgraded: pid {} hands over to pid {}",
        v["old_pid"], v["pid"]
    );
    Ok(Outcome::Ok)
}

/// `POST /upgrade`, waiting as long as the upgrade may take.
fn send(address: &str, body: Vec<u8>, timeout: Duration) -> Result<client::Reply> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let headers = [("Content-Type", "application/json")];
        let call = client::request(address, "POST", "/upgrade", &headers, body);
        match tokio::time::timeout(timeout + Duration::from_secs(10), call).await {
            Ok(r) => r.map_err(anyhow::Error::msg),
            Err(_) => bail!("admin endpoint {address}: no answer within {timeout:?}"),
        }
    })
}

/// SIGUSR2 to the PID in `pidfile`; waits until the file names another
/// live process.
fn by_signal(pidfile: &Path, timeout: Duration) -> Result<Outcome> {
    let Some(old) = pidfile::read(pidfile) else {
        bail!(
            "{}: no PID in it (is bellhop running with --pidfile?)",
            pidfile.display()
        );
    };
    let pid = rustix::process::Pid::from_raw(old as i32)
        .with_context(|| format!("{}: invalid PID {old}", pidfile.display()))?;
    rustix::process::kill_process(pid, rustix::process::Signal::USR2)
        .with_context(|| format!("signalling pid {old}"))?;
    let deadline = Instant::now() + timeout + Duration::from_secs(1);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        match pidfile::read(pidfile) {
            Some(new) if new != old && Path::new(&format!("/proc/{new}")).exists() => {
                println!("bellhop upgraded: pid {old} hands over to pid {new}");
                return Ok(Outcome::Ok);
            }
            _ => {}
        }
    }
    eprintln!(
        "bellhop upgrade: no new process took over from pid {old} within {timeout:?}; it keeps serving (its log says why)"
    );
    Ok(Outcome::ConfigError)
}
