//! `bellhop completion <shell>` (a completion script for bash, zsh, fish,
//! elvish or PowerShell on stdout) and `bellhop manpage --directory DIR`
//! (a man page per command), both from the command line's own
//! definitions, as Caddy generates them from its commands.

use crate::Outcome;
use anyhow::{Context, Result};

#[derive(clap::Args, Debug)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManpageArgs {
    /// The folder to write the pages to.
    #[arg(long, short = 'o')]
    directory: std::path::PathBuf,
}

pub fn completion(args: CompletionArgs, mut cmd: clap::Command) -> Result<Outcome> {
    clap_complete::generate(args.shell, &mut cmd, "bellhop", &mut std::io::stdout());
    Ok(Outcome::Ok)
}

pub fn manpage(args: ManpageArgs, cmd: clap::Command) -> Result<Outcome> {
    std::fs::create_dir_all(&args.directory)
        .with_context(|| format!("creating {}", args.directory.display()))?;
    clap_mangen::generate_to(cmd, &args.directory)
        .with_context(|| format!("writing man pages to {}", args.directory.display()))?;
    println!("Man pages written to {}", args.directory.display());
    Ok(Outcome::Ok)
}
