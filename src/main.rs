//! The `bellhop` command line: a thin shell over the adapter and the runtime.
//!
//! Exit codes: 0 ok, 1 config error (diagnostic on stderr), 2 usage error.

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
    /// Print bellhop's version.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("bellhop {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
