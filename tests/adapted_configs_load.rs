//! Every config the adapter produces — from our golden cases in
//! `testdata/http/` and from Caddy's in `shared/conformance/` next to the
//! checkout or above it (when present) — must fit the runtime's typed model. Modules the runtime does
//! not implement yet are reported by ID and listed. Any other failure (an
//! unknown field, a feature not implemented, a malformed value) must be a
//! known gap listed in `testdata/runtime_gaps.txt`; a new one fails the
//! test, and so does a listed gap that no longer fails (remove it).

use bellhop_adapter::golden::{self, Expected};
use bellhop_runtime::Error;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("testdata/http")];
    // `../shared` from the main checkout; the nearest `shared/` above a
    // git worktree (`/work/wt/x` → `/work/shared`).
    let conformance = root
        .ancestors()
        .skip(1)
        .map(|a| a.join("shared/conformance/caddyfile_adapt"))
        .find(|d| d.is_dir());
    dirs.extend(conformance);
    dirs
}

#[test]
fn adapted_configs_fit_the_runtime_model() {
    // Provisioning opens log files with relative names (`access.log`):
    // they land in a scratch directory, not in the repository.
    // One level down, so that a relative `../` (Caddy's leaf-verifier
    // folder case) is the scratch directory too, not the system's /tmp.
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path().join("cwd");
    std::fs::create_dir(&cwd).unwrap();
    std::env::set_current_dir(&cwd).unwrap();
    // Caddy's socket-activation case names its descriptors through the
    // environment (`bind fd/{env.CADDY_HTTP_FD}`), as a systemd unit's
    // `Environment=` would; the runtime replaces `{env.*}` in listen
    // addresses and refuses an unset one. Validation checks the address
    // syntax only: whether descriptor 3 is an inherited socket is checked
    // when it is bound (as whether a port is free is), so these need not
    // be open here. This is the only test of this binary: no other thread
    // reads the environment meanwhile.
    for (name, fd) in [
        ("CADDY_HTTP_FD", "3"),
        ("CADDY_HTTPS_FD", "4"),
        ("CADDY_HTTP3_FD", "5"),
    ] {
        std::env::set_var(name, fd);
    }
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut failures = BTreeMap::new();
    let (mut loaded, mut checked) = (0, 0);
    for dir in dirs() {
        for path in golden::case_files(&dir).unwrap() {
            let case = golden::read_case(&path).unwrap();
            if !matches!(case.expected, Expected::Json(_)) {
                continue;
            }
            let Ok(adapted) = bellhop_adapter::adapt("Caddyfile", &case.caddyfile) else {
                continue; // adapter gaps are the conformance runner's business
            };
            checked += 1;
            let json = bellhop_adapter::json::to_go_string(&adapted.config);
            match bellhop_runtime::validate(json.as_bytes()) {
                Ok(()) => loaded += 1,
                Err(Error::UnknownModule { id, .. }) => {
                    missing.entry(id).or_default().push(case.name.clone())
                }
                Err(e) => {
                    failures.insert(case.name.clone(), e.to_string());
                }
            }
        }
    }
    println!("{checked} adapted configs checked, {loaded} provisioned in full");
    println!("modules the runtime lacks ({}):", missing.len());
    for (id, cases) in &missing {
        println!("  {id}: {} case(s), e.g. {}", cases.len(), cases[0]);
    }
    assert!(checked > 0, "no adapted config was checked");
    let known = known_gaps();
    for (name, err) in &failures {
        println!("gap {name}: {err}");
    }
    let new: Vec<String> = failures
        .iter()
        .filter(|(n, _)| !known.contains(*n))
        .map(|(n, e)| format!("{n}: {e}"))
        .collect();
    let fixed: Vec<&String> = known
        .iter()
        .filter(|n| !failures.contains_key(*n))
        .collect();
    assert!(
        new.is_empty(),
        "{} adapted configs do not fit the runtime model:\n{}",
        new.len(),
        new.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "these gaps are fixed; remove them from testdata/runtime_gaps.txt: {fixed:?}"
    );
}

/// Case names listed in `testdata/runtime_gaps.txt` (`#` comments).
fn known_gaps() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/runtime_gaps.txt");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}
