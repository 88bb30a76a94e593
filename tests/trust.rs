//! `bellhop trust --install` and `bellhop untrust` with the real system
//! trust store (Debian's `update-ca-certificates`): as root, the internal
//! CA's root goes into `/etc/ssl/certs/ca-certificates.crt` and out again;
//! as another user, installing fails saying it needs root. The CA gets an
//! ID of its own (`--ca`), so the test touches no other certificate, and a
//! guard takes the root out again if the test fails half-way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

fn bellhop(args: &[&str], storage: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(args)
        .arg("--storage")
        .arg(storage)
        .output()
        .unwrap()
}

fn untrust(ca: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bellhop"))
        .args(["untrust", "--ca", ca])
        .output()
        .unwrap()
}

/// The base64 body of the PEM certificate in `out`'s standard output.
fn pem_body(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    assert!(body.len() > 100, "no certificate printed: {text}");
    body
}

fn bundle_has(body: &str) -> bool {
    let bundle: String = std::fs::read_to_string(BUNDLE)
        .unwrap_or_default()
        .lines()
        .collect();
    bundle.contains(body)
}

/// Takes the test's root out of the store whatever happens.
struct Installed(String);

impl Drop for Installed {
    fn drop(&mut self) {
        let file = PathBuf::from("/usr/local/share/ca-certificates")
            .join(format!("bellhop-{}.crt", self.0));
        if file.exists() {
            let _ = untrust(&self.0);
        }
    }
}

#[test]
fn trust_install_and_untrust_use_the_system_store() {
    let dir = tempfile::tempdir().unwrap();
    let ca = format!("trusttest{}", std::process::id());
    let root = rustix::process::geteuid().is_root();
    if !root {
        let out = bellhop(&["trust", "--ca", &ca, "--install"], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("needs root"), "{err}");
        return;
    }
    let _guard = Installed(ca.clone());
    let out = bellhop(&["trust", "--ca", &ca, "--install"], dir.path());
    assert!(out.status.success(), "{out:?}");
    let body = pem_body(&out);
    assert!(bundle_has(&body), "the root is not in {BUNDLE}");
    // `trust` without --install prints the same root and changes nothing.
    assert_eq!(
        pem_body(&bellhop(&["trust", "--ca", &ca], dir.path())),
        body
    );

    let out = untrust(&ca);
    assert!(out.status.success(), "{out:?}");
    assert!(!bundle_has(&body), "the root is still in {BUNDLE}");
    let again = untrust(&ca);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to remove"));
}
