//! `bellhop adapt`: Caddyfile → canonical JSON on standard output;
//! warnings on standard error as `file:line: message`.

use crate::{input, Outcome};
use anyhow::Result;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Environment file(s) to load first.
    #[command(flatten)]
    pub env: crate::info::EnvFiles,
    /// The Caddyfile to adapt (`-` for standard input).
    #[arg(long, short = 'c', default_value = "Caddyfile")]
    config: String,
    /// Indent the JSON as `caddy adapt --pretty` does (tabs).
    #[arg(long, short = 'p')]
    pretty: bool,
    /// Also provision the result in the runtime (no socket is bound).
    #[arg(long)]
    validate: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let text = input::read(&args.config)?;
    let name = input::display_name(&args.config);
    let adapted = match bellhop_adapter::adapt(&name, &text) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{:?}", miette::Report::new(e));
            return Ok(Outcome::ConfigError);
        }
    };
    for w in &adapted.warnings {
        eprintln!("warning: {w}");
    }
    let json = if args.pretty {
        bellhop_adapter::json::to_go_pretty(&adapted.config)
    } else {
        bellhop_adapter::json::to_go_string(&adapted.config)
    };
    if args.validate {
        let compact = bellhop_adapter::json::to_go_string(&adapted.config);
        if let Err(e) = bellhop_runtime::validate(compact.as_bytes()) {
            eprintln!("bellhop: {name}: invalid config: {e}");
            return Ok(Outcome::ConfigError);
        }
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{json}").and_then(|()| out.flush()) {
        // A closed pipe (`bellhop adapt | head`) is not an error.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    // The process ends next: freeing a large config tree piece by piece
    // would only cost time.
    std::mem::forget(adapted);
    std::mem::forget(json);
    Ok(Outcome::Ok)
}
