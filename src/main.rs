//! The `bellhop` command line: a thin shell over the adapter and the runtime.
//!
//! One file per subcommand. Exit codes: 0 ok, 1 config or start-up error
//! (the diagnostic on stderr), 2 usage error (clap's own code for usage)
//! or a forced quit (a second interrupt during a graceful stop).

mod adapt;
mod completion;
mod config_source;
mod fmt;
mod hash_password;
mod info;
mod input;
mod live;
mod logging;
mod notify;
mod quick;
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
    /// Remove the internal CA's root certificate from the system trust store.
    Untrust(trust::UntrustArgs),
    /// Simple, hard-coded HTTP responses for development and testing.
    Respond(quick::respond::Args),
    /// Spins up a production-ready file server.
    FileServer(quick::file_server::Args),
    /// A quick and production-ready reverse proxy.
    ReverseProxy(quick::reverse_proxy::Args),
    /// Hashes a password (for basic_auth) and writes it to stdout.
    HashPassword(hash_password::Args),
    /// Prints the environment.
    Environ(info::EnvFiles),
    /// Prints information about this build.
    BuildInfo,
    /// One worker process of `run --workers N` (started by the supervisor).
    #[command(hide = true)]
    Worker,
    /// List the module IDs this build implements.
    ListModules(info::ListArgs),
    /// Print a shell completion script.
    Completion(completion::CompletionArgs),
    /// Write man pages for every command.
    Manpage(completion::ManpageArgs),
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
    let matches = <Cli as clap::CommandFactory>::command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let env_files = match &cli.command {
        Command::Run(a) => Some(&a.env),
        Command::Start(a) => Some(&a.env),
        Command::Adapt(a) => Some(&a.env),
        Command::Validate(a) => Some(&a.env),
        Command::Environ(e) => Some(e),
        _ => None,
    };
    if let Some(Err(e)) = env_files.map(|e| info::load_env_files(&e.files)) {
        eprintln!("bellhop: {e:#}");
        return ExitCode::from(1);
    }
    // `respond`: whether --status was given (a bare number argument is
    // the status only when it was not).
    let status_given = matches
        .subcommand_matches("respond")
        .is_some_and(|m| m.value_source("status") == Some(clap::parser::ValueSource::CommandLine));
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
        Command::Untrust(args) => trust::untrust(args),
        Command::Respond(args) => quick::respond::run(args, status_given),
        Command::FileServer(args) => quick::file_server::run(args),
        Command::ReverseProxy(args) => quick::reverse_proxy::run(args),
        Command::HashPassword(args) => hash_password::run(args),
        Command::Environ(_) => {
            info::print_environment();
            Ok(Outcome::Ok)
        }
        Command::BuildInfo => info::build_info(),
        Command::ListModules(args) => info::list_modules(args),
        Command::Completion(args) => {
            completion::completion(args, <Cli as clap::CommandFactory>::command())
        }
        Command::Manpage(args) => {
            completion::manpage(args, <Cli as clap::CommandFactory>::command())
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
