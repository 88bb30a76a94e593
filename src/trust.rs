//! `bellhop trust`: prints the internal CA's root certificate (its path in
//! storage and its PEM), creating the CA if needed; with `--install`,
//! installs it into the system trust store (`update-ca-certificates`,
//! which needs root).

use crate::Outcome;
use anyhow::{bail, Context, Result};
use bellhop_runtime::tls::storage::Storage;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Storage root (default: $XDG_DATA_HOME/bellhop or ~/.local/share/bellhop).
    #[arg(long)]
    storage: Option<PathBuf>,
    /// The CA's ID in the `pki` app.
    #[arg(long, default_value = "local")]
    ca: String,
    /// Install the root into the system trust store.
    #[arg(long)]
    install: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let storage = match args.storage {
        Some(dir) => Storage::new(dir),
        None => Storage::new(bellhop_runtime::tls::storage::default_root()),
    };
    let (path, pem) = bellhop_runtime::tls::root_certificate(&storage, &args.ca)
        .context("loading the internal CA")?;
    println!("{path}");
    print!("{pem}");
    if args.install {
        install(&args.ca, &pem)?;
    }
    Ok(Outcome::Ok)
}

#[derive(clap::Args, Debug)]
pub struct UntrustArgs {
    /// The CA's ID in the `pki` app.
    #[arg(long, default_value = "local")]
    ca: String,
}

/// `bellhop untrust`: removes what `trust --install` put into the system
/// trust store (`update-ca-certificates --fresh`, which needs root).
pub fn untrust(args: UntrustArgs) -> Result<Outcome> {
    let dest =
        PathBuf::from("/usr/local/share/ca-certificates").join(format!("bellhop-{}.crt", args.ca));
    match std::fs::remove_file(&dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("{} is not installed; nothing to remove", dest.display());
            return Ok(Outcome::Ok);
        }
        Err(e) => {
            return Err(e).with_context(|| format!("removing {} (needs root)", dest.display()))
        }
    }
    let status = std::process::Command::new("update-ca-certificates")
        .arg("--fresh")
        .status()
        .context("running update-ca-certificates")?;
    if !status.success() {
        bail!("update-ca-certificates failed: {status}");
    }
    eprintln!("removed {} from the system trust store", dest.display());
    Ok(Outcome::Ok)
}

fn install(ca: &str, pem: &str) -> Result<()> {
    let dir = PathBuf::from("/usr/local/share/ca-certificates");
    let dest = dir.join(format!("bellhop-{ca}.crt"));
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&dest, pem))
        .with_context(|| format!("writing {} (installing needs root)", dest.display()))?;
    let status = std::process::Command::new("update-ca-certificates")
        .status()
        .context("running update-ca-certificates")?;
    if !status.success() {
        bail!("update-ca-certificates failed: {status}");
    }
    eprintln!("installed {} into the system trust store", dest.display());
    Ok(())
}
