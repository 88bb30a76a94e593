//! What the binary says about itself and its surroundings, as Caddy's
//! commands do: `environ` (and `run --environ`), `--envfile` loading,
//! `build-info`, and `list-modules` with `--json`, `--versions`,
//! `--packages` and `--skip-standard`.

use crate::Outcome;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::io::Write;

/// Caddy's `parseEnvFile`: `KEY=VALUE` lines, `#` comments, `export `
/// prefixes, quoted values spanning lines.
pub fn parse_env(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let mut n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, val)) = line.split_once('=') else {
            bail!("can't parse line {n}; line should be in KEY=VALUE format");
        };
        let key = key.strip_prefix("export ").unwrap_or(key);
        if key.is_empty() {
            bail!("missing or empty key on line {n}");
        }
        if key.contains(' ') {
            bail!("invalid key on line {n}: contains whitespace: {key}");
        }
        if val.starts_with([' ', '\t']) {
            bail!("invalid value on line {n}: whitespace before value: '{val}'");
        }
        let mut val = match val.split_once('#') {
            Some((v, _)) => v.trim_end_matches([' ', '\t']).to_string(),
            None => val.to_string(),
        };
        if let Some(q) = val.chars().next().filter(|c| *c == '"' || *c == '\'') {
            let (qs, escaped) = (q.to_string(), format!("\\{q}"));
            let mut current = line.to_string();
            while !current.ends_with(q) || current.ends_with(&escaped) {
                val = val.replace(&escaped, &qs);
                let Some((j, next)) = lines.next() else { break };
                n = j + 1;
                current = next.replace(&escaped, &qs);
                val = format!("{val}\n{current}");
            }
            let _ = n;
            val = val.strip_prefix(q).unwrap_or(&val).to_string();
            val = val.strip_suffix(q).unwrap_or(&val).to_string();
        }
        out.insert(key.to_string(), val);
    }
    Ok(out)
}

/// `--envfile FILE` (repeatable): `KEY=VALUE` files loaded into the
/// environment before anything else (`run`, `start`, `adapt`,
/// `validate`, `environ`).
#[derive(clap::Args, Debug, Default)]
pub struct EnvFiles {
    /// Environment file(s) to load (KEY=VALUE lines).
    #[arg(long = "envfile", value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,
}

/// Loads `--envfile` files into the environment; a variable already set
/// keeps its value, as Caddy's.
pub fn load_env_files(files: &[std::path::PathBuf]) -> Result<()> {
    for f in files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading environment file {}", f.display()))?;
        let vars = parse_env(&text)
            .with_context(|| format!("parsing environment file {}", f.display()))?;
        for (k, v) in vars {
            if std::env::var_os(&k).is_none() {
                std::env::set_var(k, v);
            }
        }
    }
    Ok(())
}

/// Caddy's `printEnvironment`: bellhop's folders and build, then every
/// variable.
pub fn print_environment() {
    let home = std::env::var("HOME").unwrap_or_default();
    let data = bellhop_runtime::tls::storage::default_root();
    let config_dir = bellhop_runtime::admin::persist::config_dir().unwrap_or_default();
    let autosave = bellhop_runtime::admin::persist::autosave_path().unwrap_or_default();
    let cwd = std::env::current_dir()
        .map_or_else(|e| format!("<error: {e}>"), |d| d.display().to_string());
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "bellhop.HomeDir={home}");
    let _ = writeln!(out, "bellhop.AppDataDir={}", data.display());
    let _ = writeln!(out, "bellhop.AppConfigDir={}", config_dir.display());
    let _ = writeln!(out, "bellhop.ConfigAutosavePath={}", autosave.display());
    let _ = writeln!(out, "bellhop.Version={}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(out, "runtime.OS={}", std::env::consts::OS);
    let _ = writeln!(out, "runtime.ARCH={}", std::env::consts::ARCH);
    let _ = writeln!(out, "runtime.NumCPU={cpus}");
    let _ = writeln!(out, "os.Getwd={cwd}\n");
    for (k, v) in std::env::vars_os() {
        let _ = writeln!(out, "{}={}", k.to_string_lossy(), v.to_string_lossy());
    }
}

/// `build-info`: what this binary is and was built from.
pub fn build_info() -> Result<Outcome> {
    println!("bellhop {}", env!("CARGO_PKG_VERSION"));
    println!(
        "path\t{}",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    println!(
        "target\t{}-{}",
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    println!(
        "profile\t{}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    for (name, version) in [
        ("bellhop-adapter", env!("CARGO_PKG_VERSION")),
        ("bellhop-runtime", env!("CARGO_PKG_VERSION")),
    ] {
        println!("dep\t{name}\t{version}");
    }
    Ok(Outcome::Ok)
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Print package paths.
    #[arg(long)]
    packages: bool,
    /// Print version information.
    #[arg(long)]
    versions: bool,
    /// Skip printing standard modules.
    #[arg(long, short = 's')]
    skip_standard: bool,
    /// Print modules in JSON format.
    #[arg(long)]
    json: bool,
}

/// `list-modules`: Caddy's standard modules bellhop implements, then
/// bellhop's own (`Non-standard`), with their counts.
pub fn list_modules(args: ListArgs) -> Result<Outcome> {
    let mut ids = bellhop_runtime::module_ids();
    // The binary, not the runtime, carries the Caddyfile adapter.
    ids.push("caddy.adapters.caddyfile");
    ids.sort_unstable();
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    let package = |id: &str| {
        if id == "caddy.adapters.caddyfile" {
            "bellhop-adapter"
        } else {
            "bellhop-runtime"
        }
    };
    let (standard, own): (Vec<&str>, Vec<&str>) = ids
        .into_iter()
        .partition(|id| !bellhop_runtime::registry::is_bellhops_own(id));
    if args.json {
        let mut items = Vec::new();
        let mut add = |list: &[&str], kind: &str| {
            for id in list {
                items.push(serde_json::json!({"module_name": id, "module_type": kind, "version": version, "package_url": package(id)}));
            }
        };
        if !args.skip_standard {
            add(&standard, "standard");
        }
        add(&own, "non-standard");
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(Outcome::Ok);
    }
    let line = |id: &str| {
        let mut l = id.to_string();
        if args.versions {
            l += &format!(" {version}");
        }
        if args.packages {
            l += &format!(" {}", package(id));
        }
        l
    };
    if !args.skip_standard {
        for id in &standard {
            println!("{}", line(id));
        }
        println!("\n  Standard modules: {}", standard.len());
    }
    if !own.is_empty() {
        if !standard.is_empty() && !args.skip_standard {
            println!();
        }
        for id in &own {
            println!("{}", line(id));
        }
        println!("\n  Non-standard modules: {}", own.len());
    }
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_as_caddy_reads_them() {
        let text = "# comment\nexport A=1\nB=two # trailing\nC=\"multi\nline\"\nD='it\\'s'\n\nE=\n";
        let m = parse_env(text).unwrap();
        assert_eq!(m["A"], "1");
        assert_eq!(m["B"], "two");
        assert_eq!(m["C"], "multi\nline");
        // As Go's: an escaped quote is unescaped only in a value that spans lines.
        assert_eq!(m["D"], "it\\'s");
        assert_eq!(m["E"], "");
        assert!(parse_env("NOEQUALS\n")
            .unwrap_err()
            .to_string()
            .contains("line 1"));
        assert!(parse_env("A B=1")
            .unwrap_err()
            .to_string()
            .contains("whitespace"));
        assert!(parse_env("A= 1")
            .unwrap_err()
            .to_string()
            .contains("whitespace before value"));
        assert!(parse_env("=1")
            .unwrap_err()
            .to_string()
            .contains("empty key"));
    }
}
