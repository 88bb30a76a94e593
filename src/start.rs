//! `bellhop start`: run bellhop in the background and return once its
//! config has loaded (exit 0), or with the reason it did not (exit 1).
//!
//! Like Caddy's: the child is `bellhop run --pingback ADDR …` with the
//! same config flags; we give it a random secret on its standard input,
//! and it connects back to ADDR with the secret and `ok` or the error.
//! Its standard output and error stay ours (the terminal's), so its log
//! goes where the user looks.

use crate::config_source::AdapterName;
use crate::Outcome;
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long the child may take to load its config.
const START_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Environment file(s) to load first.
    #[command(flatten)]
    pub env: crate::info::EnvFiles,
    /// The config file (default `./Caddyfile` when it exists).
    #[arg(long, short = 'c')]
    config: Option<String>,
    /// The config adapter (inferred from the file name when omitted).
    #[arg(long, short = 'a', value_enum)]
    adapter: Option<AdapterName>,
    /// Reload the config file whenever it changes.
    #[arg(long)]
    watch: bool,
    /// Start from the last autosaved config, when there is one.
    #[arg(long)]
    resume: bool,
    /// Worker processes (see `bellhop run --workers`).
    #[arg(long, value_name = "N|auto")]
    workers: Option<crate::workers::WorkerCount>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the start pingback")?;
    listener.set_nonblocking(true)?;
    let secret = random_secret()?;
    let mut cmd = Command::new(std::env::current_exe().context("finding bellhop's own path")?);
    cmd.arg("run")
        .arg("--pingback")
        .arg(listener.local_addr()?.to_string());
    if let Some(c) = &args.config {
        cmd.arg("--config").arg(c);
    }
    if let Some(a) = args.adapter {
        cmd.arg("--adapter").arg(match a {
            AdapterName::Caddyfile => "caddyfile",
            AdapterName::Json => "json",
        });
    }
    if args.watch {
        cmd.arg("--watch");
    }
    if args.resume {
        cmd.arg("--resume");
    }
    if let Some(w) = args.workers {
        cmd.arg("--workers").arg(w.0.to_string());
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .context("starting bellhop run")?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{secret}").context("handing the secret to bellhop run")?;
    }
    match wait_for_pingback(&listener, &secret, &mut child)? {
        Ok(()) => {
            println!(
                "Successfully started bellhop (pid={}) - bellhop is running in the background",
                child.id()
            );
            Ok(Outcome::Ok)
        }
        Err(reason) => {
            eprintln!("bellhop start: {reason}");
            Ok(Outcome::ConfigError)
        }
    }
}

/// Waits for the child's report; `Ok(Err(reason))` when it failed.
fn wait_for_pingback(
    listener: &TcpListener,
    secret: &str,
    child: &mut Child,
) -> Result<Result<(), String>> {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false)?;
                stream.set_read_timeout(Some(Duration::from_secs(10)))?;
                let mut lines = BufReader::new(stream).lines();
                if lines.next().transpose()?.as_deref() != Some(secret) {
                    continue; // not our child
                }
                let status = lines.next().transpose()?.unwrap_or_default();
                return Ok(match status.strip_prefix("error: ") {
                    None if status == "ok" => Ok(()),
                    Some(e) => Err(e.to_string()),
                    None => Err(format!("unexpected report from bellhop run: {status:?}")),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e).context("waiting for bellhop run"),
        }
        if let Some(status) = child.try_wait()? {
            return Ok(Err(format!(
                "bellhop run exited ({status}) before loading its config"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    bail!("bellhop run did not load its config within {START_TIMEOUT:?}")
}

/// 16 random bytes, hex.
fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
