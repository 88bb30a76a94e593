//! Log writers (`caddy.logging.writers.stdout|stderr|discard|file`).
//!
//! A writer hands preformatted lines to its own thread over a bounded
//! channel, so a request never waits on the disk (only when the channel is
//! full does it wait, which bounds memory). The thread writes through a
//! buffer and flushes whenever it has drained the channel. The thread ends,
//! after flushing, when the last handle of its writer is dropped.
//!
//! The file writer rolls by size as Caddy's (lumberjack) does: past
//! `roll_size_mb` (default 100) the file is renamed to
//! `NAME-YYYY-MM-DDTHH-MM-SS.mmm.EXT` and a new one started; at most
//! `roll_keep` (default 10) old files younger than `roll_keep_days`
//! (default 90) are kept. Timestamps are UTC (`roll_local_time` is
//! accepted, but bellhop has no time zone database).

use crate::error::Error;
use crate::http::replacer::clock::civil;
use serde::Deserialize;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Lines a writer queues before callers wait.
const QUEUE: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[allow(dead_code)]
    output: String,
    filename: String,
    mode: Option<String>,
    dir_mode: Option<String>,
    /// Caddy's `roll`: false disables rolling (`roll_disabled` in the
    /// Caddyfile).
    roll: Option<bool>,
    roll_size_mb: Option<u64>,
    roll_keep: Option<u32>,
    roll_keep_days: Option<u32>,
    roll_local_time: Option<bool>,
    roll_compression: Option<String>,
    roll_gzip: Option<bool>,
    roll_interval: Option<serde_json::Value>,
    roll_at: Option<serde_json::Value>,
    roll_minutes: Option<serde_json::Value>,
}

/// A handle to a writer thread (`None`: discard).
#[derive(Clone)]
pub struct Writer {
    tx: Option<SyncSender<Vec<u8>>>,
    /// Whether the output is a terminal (console encoding by default).
    pub terminal: bool,
}

impl Writer {
    /// Provisions writer `output` from its JSON at `path`.
    pub fn provision(output: &str, v: &serde_json::Value, path: &str) -> Result<Writer, Error> {
        use std::io::IsTerminal;
        let only_output = |v: &serde_json::Value| {
            let extra = v
                .as_object()
                .and_then(|o| o.keys().find(|k| *k != "output").cloned());
            match extra {
                Some(k) => Err(Error::config(format!("{path}.{k}"), "unknown field")),
                None => Ok(()),
            }
        };
        match output {
            "stdout" => {
                only_output(v)?;
                Ok(spawn(io::stdout(), io::stdout().is_terminal()))
            }
            "stderr" => {
                only_output(v)?;
                Ok(Writer::stderr())
            }
            "discard" => {
                only_output(v)?;
                Ok(Writer {
                    tx: None,
                    terminal: false,
                })
            }
            _ => {
                let c: FileConfig = crate::config::decode(v, path)?;
                Ok(spawn(Rolling::open(&c, path)?, false))
            }
        }
    }

    /// Standard error.
    pub fn stderr() -> Writer {
        use std::io::IsTerminal;
        spawn(io::stderr(), io::stderr().is_terminal())
    }

    /// Queues one line (or several), waiting only when the queue is full.
    pub fn write(&self, line: Vec<u8>) {
        let Some(tx) = &self.tx else { return };
        if let Err(TrySendError::Full(line)) = tx.try_send(line) {
            let _ = tx.send(line);
        }
    }
}

fn spawn<W: Write + Send + 'static>(out: W, terminal: bool) -> Writer {
    let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE);
    let spawned = std::thread::Builder::new()
        .name("bellhop-log".into())
        .spawn(move || pump(rx, out));
    Writer {
        tx: spawned.ok().map(|_| tx),
        terminal,
    }
}

fn pump<W: Write>(rx: Receiver<Vec<u8>>, out: W) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Ok(line) = rx.recv() {
        let _ = out.write_all(&line);
        while let Ok(more) = rx.try_recv() {
            let _ = out.write_all(&more);
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

/// A log file that rolls by size.
struct Rolling {
    path: PathBuf,
    file: File,
    size: u64,
    max: Option<u64>,
    keep: usize,
    keep_for: Duration,
    mode: u32,
}

fn parse_mode(m: &Option<String>, default: u32, path: &str) -> Result<u32, Error> {
    match m.as_deref() {
        None | Some("") | Some("from_file") => Ok(default),
        Some(s) => u32::from_str_radix(s, 8)
            .map_err(|_| Error::config(path, format!("invalid file mode {s:?}"))),
    }
}

impl Rolling {
    fn open(c: &FileConfig, path: &str) -> Result<Rolling, Error> {
        if c.roll_gzip == Some(true) || c.roll_compression.as_deref().is_some_and(|s| s != "none") {
            return Err(Error::config(
                format!("{path}.roll_compression"),
                "compressing rolled log files is not implemented by bellhop yet",
            ));
        }
        let timed = [
            ("roll_interval", c.roll_interval.is_some()),
            ("roll_at", c.roll_at.is_some()),
            ("roll_minutes", c.roll_minutes.is_some()),
        ];
        if let Some((field, _)) = timed.iter().find(|(_, set)| *set) {
            return Err(Error::config(
                format!("{path}.{field}"),
                "rolling log files by time is not implemented by bellhop yet (roll_size is)",
            ));
        }
        let _ = c.roll_local_time;
        let mode = parse_mode(&c.mode, 0o600, &format!("{path}.mode"))?;
        let dir_mode = parse_mode(&c.dir_mode, 0o700, &format!("{path}.dir_mode"))?;
        let file_path = PathBuf::from(&c.filename);
        let fail = |e: io::Error| {
            Error::config(format!("{path}.filename"), format!("{}: {e}", c.filename))
        };
        if let Some(dir) = file_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(dir_mode)
                .create(dir)
                .map_err(fail)?;
        }
        let file = open_append(&file_path, mode).map_err(fail)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let rolls = c.roll != Some(false);
        Ok(Rolling {
            path: file_path,
            file,
            size,
            max: rolls.then(|| c.roll_size_mb.filter(|n| *n > 0).unwrap_or(100) * 1024 * 1024),
            keep: c.roll_keep.unwrap_or(10) as usize,
            keep_for: Duration::from_secs(u64::from(c.roll_keep_days.unwrap_or(90)) * 86_400),
            mode,
        })
    }

    /// Renames the current file aside, starts a new one, prunes old ones.
    fn roll(&mut self) -> io::Result<()> {
        let backup = backup_name(&self.path, SystemTime::now());
        std::fs::rename(&self.path, &backup)?;
        self.file = open_append(&self.path, self.mode)?;
        self.size = 0;
        self.prune();
        Ok(())
    }

    fn prune(&self) {
        let (dir, stem, ext) = parts(&self.path);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut backups: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let stamp = name.strip_prefix(&format!("{stem}-"))?.strip_suffix(&ext)?;
                (stamp.len() == 23).then(|| (stamp.to_string(), e.path()))
            })
            .collect();
        backups.sort_by(|a, b| b.0.cmp(&a.0));
        let oldest = backup_stamp(SystemTime::now() - self.keep_for);
        for (i, (stamp, p)) in backups.iter().enumerate() {
            let too_many = self.keep > 0 && i >= self.keep;
            let too_old = !self.keep_for.is_zero() && *stamp < oldest;
            if too_many || too_old {
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

impl Write for Rolling {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(max) = self.max {
            if self.size > 0 && self.size + buf.len() as u64 > max {
                self.roll()?;
            }
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn open_append(p: &Path, mode: u32) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(mode)
        .open(p)
}

/// Directory, file stem and extension (with its dot) of `p`.
fn parts(p: &Path) -> (PathBuf, String, String) {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let stem = p
        .file_stem()
        .map_or(String::new(), |s| s.to_string_lossy().into_owned());
    let ext = p
        .extension()
        .map_or(String::new(), |e| format!(".{}", e.to_string_lossy()));
    (dir, stem, ext)
}

/// `2006-01-02T15-04-05.000`.
fn backup_stamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let c = civil(d.as_secs() as i64);
    format!(
        "{}-{:02}-{:02}T{:02}-{:02}-{:02}.{:03}",
        c.year,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
        d.subsec_millis()
    )
}

fn backup_name(p: &Path, t: SystemTime) -> PathBuf {
    let (dir, stem, ext) = parts(p);
    dir.join(format!("{stem}-{}{ext}", backup_stamp(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rolls_by_size_and_keeps_roll_keep_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let c = FileConfig {
            output: "file".into(),
            filename: path.display().to_string(),
            mode: None,
            dir_mode: None,
            roll: None,
            roll_interval: None,
            roll_at: None,
            roll_minutes: None,
            roll_size_mb: None,
            roll_keep: Some(2),
            roll_keep_days: None,
            roll_local_time: None,
            roll_compression: None,
            roll_gzip: None,
        };
        let mut r = Rolling::open(&c, "w").unwrap();
        r.max = Some(100);
        for i in 0..5 {
            r.write_all(&[b'a' + i; 60]).unwrap();
            r.write_all(&[b'a' + i; 60]).unwrap();
            std::thread::sleep(Duration::from_millis(3));
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names
            .iter()
            .all(|n| n.starts_with("access") && n.ends_with(".log")));
        assert_eq!(std::fs::read(&path).unwrap(), vec![b'e'; 60]);
        let newest_backup = dir.path().join(&names[1]);
        assert_eq!(std::fs::read(newest_backup).unwrap(), vec![b'e'; 60]);
    }
}
