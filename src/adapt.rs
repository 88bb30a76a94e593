//! `bellhop adapt`: Caddyfile → canonical JSON on standard output;
//! warnings on standard error as `file:line: message`.

use crate::{input, Outcome};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct Args {
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
    println!("{json}");
    Ok(Outcome::Ok)
}
