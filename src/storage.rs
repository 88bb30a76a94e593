//! `bellhop storage export|import`: the storage a config names (its
//! top-level `storage`, else the default file system) written to a tar
//! archive, or filled from one, as `caddy storage` does: one entry per
//! key, named by the key, mode 0600. A user moves certificates, keys, the
//! internal CA and ACME accounts from `file_system` to `redis` and back.
//!
//! Import refuses an entry that is not a plain relative key (absolute,
//! `..`, empty): a file-system storage would write outside its folder.

use crate::config_source::{self, AdapterName};
use crate::Outcome;
use anyhow::{bail, Context, Result};
use bellhop_runtime::tls::storage::Storage;
use std::io::{Read, Write};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Write every key of the config's storage to a tar archive.
    Export {
        /// The config naming the storage.
        #[arg(long, short = 'c')]
        config: String,
        /// The config adapter (inferred from the file name when omitted).
        #[arg(long, short = 'a', value_enum)]
        adapter: Option<AdapterName>,
        /// The archive to write (`-`: standard output).
        #[arg(long, short = 'o')]
        output: String,
    },
    /// Store every file of a tar archive into the config's storage.
    Import {
        /// The config naming the storage.
        #[arg(long, short = 'c')]
        config: String,
        /// The config adapter (inferred from the file name when omitted).
        #[arg(long, short = 'a', value_enum)]
        adapter: Option<AdapterName>,
        /// The archive to read (`-`: standard input).
        #[arg(long, short = 'i')]
        input: String,
    },
}

pub fn run(cmd: Command) -> Result<Outcome> {
    match cmd {
        Command::Export {
            config,
            adapter,
            output,
        } => {
            let Some(storage) = storage_of(&config, adapter)? else {
                return Ok(Outcome::ConfigError);
            };
            let out: Box<dyn Write> = match output.as_str() {
                "-" => Box::new(std::io::stdout().lock()),
                file => Box::new(
                    std::fs::File::create(file)
                        .with_context(|| format!("opening output file {file}"))?,
                ),
            };
            let n = export(&storage, out)?;
            eprintln!("Exported {n} keys from {}", storage.describe(""));
        }
        Command::Import {
            config,
            adapter,
            input,
        } => {
            let Some(storage) = storage_of(&config, adapter)? else {
                return Ok(Outcome::ConfigError);
            };
            let inp: Box<dyn Read> = match input.as_str() {
                "-" => Box::new(std::io::stdin().lock()),
                file => Box::new(
                    std::fs::File::open(file)
                        .with_context(|| format!("opening input file {file}"))?,
                ),
            };
            let n = import(&storage, inp)?;
            println!(
                "Successfully imported storage ({n} keys into {})",
                storage.describe("")
            );
        }
    }
    Ok(Outcome::Ok)
}

/// The storage `config` names; `None` once a config error is reported.
fn storage_of(config: &str, adapter: Option<AdapterName>) -> Result<Option<Storage>> {
    let json = match config_source::load(config, adapter) {
        Ok(j) => j,
        Err(e) => {
            e.report();
            return Ok(None);
        }
    };
    let v: serde_json::Value =
        serde_json::from_slice(&json).with_context(|| format!("{config}: not JSON"))?;
    match Storage::from_config(v.get("storage").and_then(|s| s.as_object()), "storage") {
        Ok(s) => Ok(Some(s)),
        Err(e) => {
            eprintln!("bellhop: {config}: invalid config: {e}");
            Ok(None)
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Writes every key to a tar archive on `out`; how many.
fn export(storage: &Storage, out: impl Write) -> Result<usize> {
    let keys = storage.try_list("").context("listing the storage")?;
    let mut tar = tar::Builder::new(out);
    let mut n = 0;
    for key in keys {
        let Some(value) = storage
            .read(&key)
            .with_context(|| format!("reading {key}"))?
        else {
            tracing::warn!("key: {key} removed while export is in-progress");
            continue;
        };
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o600);
        h.set_size(value.len() as u64);
        h.set_mtime(now());
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, &key, value.as_slice())
            .with_context(|| format!("writing archive: {key}"))?;
        n += 1;
    }
    tar.into_inner().context("writing archive")?.flush()?;
    Ok(n)
}

/// A key an archive entry may name: relative, without `.` or `..`.
fn key_of(path: &std::path::Path) -> Option<String> {
    let key = path.to_str()?.trim_start_matches("./");
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    ok.then(|| key.to_string())
}

/// Stores every regular file of the archive on `inp`; how many.
fn import(storage: &Storage, inp: impl Read) -> Result<usize> {
    let mut tar = tar::Archive::new(inp);
    let mut n = 0;
    for entry in tar.entries().context("reading archive")? {
        let mut entry = entry.context("reading archive")?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry.path().context("reading archive")?.into_owned();
        if !entry.header().entry_type().is_file() {
            bail!("archive entry {}: not a regular file", path.display());
        }
        let Some(key) = key_of(&path) else {
            bail!(
                "archive entry {:?}: not a storage key (absolute, empty, or with . or ..)",
                path.display().to_string()
            );
        };
        let mut value = Vec::new();
        entry
            .read_to_end(&mut value)
            .with_context(|| format!("reading archive: {key}"))?;
        storage
            .write(&key, &value, true)
            .with_context(|| format!("storing {key}"))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_storage() {
        assert_eq!(
            key_of("certificates/a/a.crt".as_ref()).as_deref(),
            Some("certificates/a/a.crt")
        );
        assert_eq!(
            key_of("./acme/x.json".as_ref()).as_deref(),
            Some("acme/x.json")
        );
        for bad in ["", "/etc/passwd", "a/../../x", "a//b", "./"] {
            assert_eq!(key_of(bad.as_ref()), None, "{bad}");
        }
    }

    #[test]
    fn an_export_imports_into_another_storage_whole() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let from = Storage::new(a.path());
        from.write("certificates/x/a.test/a.test.crt", b"crt", false)
            .unwrap();
        from.write("acme/ca/users/u/account.json", b"{}", true)
            .unwrap();
        let mut archive = Vec::new();
        assert_eq!(export(&from, &mut archive).unwrap(), 2);
        let to = Storage::new(b.path());
        assert_eq!(import(&to, archive.as_slice()).unwrap(), 2);
        assert_eq!(to.try_list("").unwrap(), from.try_list("").unwrap());
        assert_eq!(
            to.read("certificates/x/a.test/a.test.crt")
                .unwrap()
                .unwrap(),
            b"crt"
        );
        // An entry escaping the storage is refused, and nothing is written
        // outside it.
        let mut evil = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o600);
        h.set_entry_type(tar::EntryType::Regular);
        // `append_data` refuses `..`; write the name as an attacker would.
        h.as_gnu_mut().unwrap().name[..9].copy_from_slice(b"../escape");
        h.set_cksum();
        evil.append(&h, &b"x"[..]).unwrap();
        let evil = evil.into_inner().unwrap();
        let e = import(&to, evil.as_slice()).unwrap_err();
        assert!(e.to_string().contains("../escape"), "{e}");
        assert!(!b.path().parent().unwrap().join("escape").exists());
    }
}
