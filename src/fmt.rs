//! `bellhop fmt`: format a Caddyfile as `caddy fmt` does; print it, write
//! it back (`--overwrite`) or show what would change (`--diff`).

use crate::{input, Outcome};
use anyhow::{Context, Result};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The Caddyfile to format (`-` for standard input).
    #[arg(default_value = "Caddyfile")]
    file: String,
    /// Write the formatted text back to the file.
    #[arg(long, short = 'w', conflicts_with = "diff")]
    overwrite: bool,
    /// Print a diff of the changes instead of the formatted text.
    #[arg(long, short = 'd')]
    diff: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let text = input::read(&args.file)?;
    let formatted = bellhop_adapter::syntax::format::format(&text);
    if args.overwrite {
        if args.file == "-" {
            eprintln!("bellhop fmt: --overwrite needs a file, not standard input");
            return Ok(Outcome::UsageError);
        }
        if formatted != text {
            std::fs::write(&args.file, &formatted)
                .with_context(|| format!("writing {}", args.file))?;
        }
    } else if args.diff {
        print!(
            "{}",
            bellhop_adapter::syntax::format::diff(&text, &formatted)
        );
    } else {
        print!("{formatted}");
    }
    Ok(Outcome::Ok)
}
