//! The conformance runner: adapts every `.caddyfiletest` in a directory
//! (default `../shared/conformance/caddyfile_adapt`, Caddy's own golden
//! cases) and compares with the expectation.
//!
//! ```text
//! bellhop-conformance [--ratchet FILE] [--update-ratchet] [--verbose] [DIR]
//! ```
//!
//! Prints a line per failing case, the count of byte-identical pretty
//! outputs, and last `N passed, M failed`. With `--ratchet`, exits 1 when a
//! case the file lists does not pass (a regression); `--update-ratchet`
//! rewrites the file with the cases that pass now.

use bellhop_adapter::golden::{self, Case, Outcome};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_DIR: &str = "../shared/conformance/caddyfile_adapt";

struct Args {
    dir: PathBuf,
    ratchet: Option<PathBuf>,
    update: bool,
    verbose: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        dir: PathBuf::from(DEFAULT_DIR),
        ratchet: None,
        update: false,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ratchet" => args.ratchet = Some(it.next().ok_or("--ratchet needs a file")?.into()),
            "--update-ratchet" => args.update = true,
            "--verbose" | "-v" => args.verbose = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown flag {s}")),
            s => args.dir = PathBuf::from(s),
        }
    }
    if args.update && args.ratchet.is_none() {
        return Err("--update-ratchet needs --ratchet FILE".into());
    }
    Ok(args)
}

/// Adapts a case as Caddy's runner does (file name `Caddyfile`), turning a
/// panic into a failure so one bad case cannot stop the run.
fn run_case(case: &Case) -> Outcome {
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        bellhop_adapter::adapt("Caddyfile", &case.caddyfile)
            .map(|a| {
                let pretty = bellhop_adapter::json::to_go_pretty(&a.config);
                (a.config, pretty)
            })
            .map_err(|e| e.message)
    }));
    match result {
        Ok(r) => golden::check(case, r),
        Err(_) => Outcome::Fail("the adapter panicked".into()),
    }
}

fn read_ratchet(path: &PathBuf) -> Result<Vec<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_ratchet(path: &PathBuf, passing: &[String]) -> Result<(), String> {
    let mut text = String::from(
        "# Conformance cases that pass (bellhop-conformance --update-ratchet).\n\
         # CI fails when one of these stops passing.\n",
    );
    for name in passing {
        text.push_str(name);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: bellhop-conformance [--ratchet FILE] [--update-ratchet] [--verbose] [DIR]");
            return ExitCode::from(2);
        }
    };
    let files = match golden::case_files(&args.dir) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bellhop-conformance: {e}");
            return ExitCode::from(2);
        }
    };
    panic::set_hook(Box::new(|_| {}));
    let (mut passing, mut failed, mut identical) = (Vec::new(), 0usize, 0usize);
    for path in &files {
        let outcome = match golden::read_case(path) {
            Ok(case) => run_case(&case),
            Err(e) => Outcome::Fail(e),
        };
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        match outcome {
            Outcome::Pass { identical: same } => {
                identical += usize::from(same);
                if args.verbose && !same {
                    println!("PASS {name} (pretty output not byte-identical)");
                }
                passing.push(name);
            }
            Outcome::Fail(reason) => {
                failed += 1;
                println!("FAIL {name}: {reason}");
            }
        }
    }
    println!(
        "pretty output byte-identical: {identical} of {}",
        files.len()
    );
    let mut code = ExitCode::SUCCESS;
    if let Some(ratchet) = &args.ratchet {
        if args.update {
            if let Err(e) = write_ratchet(ratchet, &passing) {
                eprintln!("bellhop-conformance: {e}");
                code = ExitCode::from(2);
            }
        } else {
            match read_ratchet(ratchet) {
                Ok(listed) => {
                    let regressed: Vec<&String> =
                        listed.iter().filter(|n| !passing.contains(n)).collect();
                    for n in &regressed {
                        println!(
                            "REGRESSION {n}: listed in {} but not passing",
                            ratchet.display()
                        );
                    }
                    if !regressed.is_empty() {
                        code = ExitCode::FAILURE;
                    }
                }
                Err(e) => {
                    eprintln!("bellhop-conformance: {e}");
                    code = ExitCode::from(2);
                }
            }
        }
    }
    println!("{} passed, {failed} failed", passing.len());
    code
}
