//! The `bellhop` command line: a thin shell over the adapter and the runtime.
//!
//! One file per subcommand. Exit codes: 0 ok, 1 config or start-up error
//! (the diagnostic on stderr), 2 usage error (clap's own code for usage)
//! or a forced quit (a second interrupt during a graceful stop).

mod adapt;
mod config_source;
mod fmt;
mod input;
mod live;
mod logging;
mod notify;
mod reload;
mod run;
mod start;
mod stop;
mod storage;
mod trust;
mod upgrade;
mod validate;
mod workers;

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
    /// Serve a config in the foreground until interrupted.
    Run(run::Args),
    /// Start bellhop in the background; returns once the config loaded.
    Start(start::Args),
    /// Stop a running bellhop through its admin API.
    Stop(stop::Args),
    /// Load a config file into a running bellhop through its admin API.
    Reload(reload::Args),
    /// Replace a running bellhop with a new binary without dropping a
    /// connection (as SIGUSR2 does).
    Upgrade(upgrade::command::Args),
    /// Adapt and provision a config without serving it.
    Validate(validate::Args),
    /// Print (or install) the internal CA's root certificate.
    Trust(trust::Args),
    /// Export the storage a config names to a tar archive, or import one.
    #[command(subcommand)]
    Storage(storage::Command),
    /// One worker process of `run --workers N` (started by the supervisor).
    #[command(hide = true)]
    Worker,
    /// List the module IDs this build implements.
    ListModules,
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
    /// A forced quit during a graceful stop: exit 2.
    Forced,
}

fn main() -> ExitCode {
    // Diagnostics keep their lines whole (no wrapping), so a message can
    // be found with grep whatever the terminal's width.
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(miette::MietteHandlerOpts::new().wrap_lines(false).build())
    }));
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Adapt(args) => adapt::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Run(args) => run::run(args),
        Command::Start(args) => start::run(args),
        Command::Stop(args) => stop::run(args),
        Command::Reload(args) => reload::run(args),
        Command::Upgrade(args) => upgrade::command::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Trust(args) => trust::run(args),
        Command::Storage(cmd) => storage::run(cmd),
        Command::Worker => workers::worker::run(),
        Command::ListModules => {
            // the binary, not the runtime, carries the Caddyfile adapter
            let mut ids = bellhop_runtime::module_ids();
            ids.push("caddy.adapters.caddyfile");
            ids.sort_unstable();
            for id in ids {
                println!("{id}");
            }
            Ok(Outcome::Ok)
        }
        Command::Version => {
            println!("bellhop {}", env!("CARGO_PKG_VERSION"));
            Ok(Outcome::Ok)
        }
    };
    match outcome {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::ConfigError) => ExitCode::from(1),
        Ok(Outcome::UsageError | Outcome::Forced) => ExitCode::from(2),
        Err(e) => {
            eprintln!("bellhop: {e:#}");
            ExitCode::from(1)
        }
    }
}
