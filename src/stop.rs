//! `bellhop stop`: ask a running bellhop to stop gracefully through its
//! admin API (`POST /stop`). The address comes from `--address`, else
//! the `admin.listen` of `--config`, else `BELLHOP_ADMIN`, else
//! `localhost:2019`.

use crate::config_source::{self, AdapterName};
use crate::reload::{admin_address, send};
use crate::Outcome;
use anyhow::Result;

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
}

pub fn run(args: Args) -> Result<Outcome> {
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
    let reply = send(&address, "POST", "/stop", &[], Vec::new())?;
    if !reply.ok() {
        eprintln!(
            "bellhop stop: {address} (HTTP {}): {}",
            reply.status,
            reply.error_message()
        );
        return Ok(Outcome::ConfigError);
    }
    eprintln!("bellhop stop: stop requested at {address}");
    Ok(Outcome::Ok)
}
