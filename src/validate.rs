//! `bellhop validate`: adapt (if needed) and provision a config without
//! serving it; every module is loaded and checked, no socket is bound.

use crate::config_source::{self, AdapterName};
use crate::Outcome;
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Environment file(s) to load first.
    #[command(flatten)]
    pub env: crate::info::EnvFiles,
    /// The config file.
    #[arg(long, short = 'c', default_value = "Caddyfile")]
    config: String,
    /// The config adapter (inferred from the file name when omitted).
    #[arg(long, short = 'a', value_enum)]
    adapter: Option<AdapterName>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let json = match config_source::load(&args.config, args.adapter) {
        Ok(j) => j,
        Err(e) => {
            e.report();
            return Ok(Outcome::ConfigError);
        }
    };
    match bellhop_runtime::validate(&json) {
        Ok(()) => {
            println!("Valid configuration");
            Ok(Outcome::Ok)
        }
        Err(e) => {
            eprintln!("bellhop: {}: invalid config: {e}", args.config);
            Ok(Outcome::ConfigError)
        }
    }
}
