//! The `bellhop` command line: a thin shell over the adapter and the runtime.
//!
//! One file per subcommand. Exit codes: 0 ok, 1 config error (the
//! diagnostic on stderr), 2 usage error (clap's own exit code for usage).

mod adapt;
mod fmt;
mod input;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// A Caddy-compatible web server and reverse proxy.
#[derive(Parser, Debug)]
#[command(name = "bellhop", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Adapt a Caddyfile to Caddy's canonical JSON config.
    Adapt(adapt::Args),
    /// Format a Caddyfile as `caddy fmt` does.
    Fmt(fmt::Args),
    /// Print bellhop's version.
    Version,
}

/// How a command ended, mapped to the process exit code.
pub enum Outcome {
    Ok,
    /// A configuration error (already reported): exit 1.
    ConfigError,
    /// A usage error (already reported): exit 2.
    UsageError,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Adapt(args) => adapt::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Version => {
            println!("bellhop {}", env!("CARGO_PKG_VERSION"));
            Ok(Outcome::Ok)
        }
    };
    match outcome {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::ConfigError) => ExitCode::from(1),
        Ok(Outcome::UsageError) => ExitCode::from(2),
        Err(e) => {
            eprintln!("bellhop: {e:#}");
            ExitCode::from(1)
        }
    }
}
