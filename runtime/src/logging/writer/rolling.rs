//! The file writer's rolling file, as Caddy's (lumberjack, then timberjack
//! in 2.11) does it.
//!
//! - By size: past `roll_size_mb` (default 100) the file is renamed to
//!   `NAME-YYYY-MM-DDTHH-MM-SS.mmm.EXT` and a new one started.
//! - By time: `roll_interval`, `roll_at`, `roll_minutes` (`schedule.rs`);
//!   the writer thread wakes at the deadline, so a file rolls on time even
//!   when nothing is written then (an empty file is not rolled).
//! - Compression of rolled files: `roll_compression` `gzip` (the default,
//!   as Caddy's), `zstd` or `none`; the legacy `roll_gzip: false` means
//!   `none` unless `roll_compression` says otherwise. A rolled file is
//!   compressed on a thread of its own (`….log.gz`, `….log.zst`), so the
//!   writer never waits for it.
//! - At most `roll_keep` (default 10) rolled files younger than
//!   `roll_keep_days` (default 90) are kept, compressed or not.
//!
//! Timestamps are UTC, or the system zone's with `roll_local_time`.

use super::schedule::Schedule;
use super::FileConfig;
use crate::error::Error;
use crate::http::replacer::clock::civil;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How rolled files are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The suffix compressed files get.
    fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
        }
    }
}

/// A log file that rolls by size and time.
pub struct Rolling {
    path: PathBuf,
    file: File,
    size: u64,
    pub(super) max: Option<u64>,
    keep: usize,
    keep_for: Duration,
    mode: u32,
    compression: Compression,
    schedule: Option<Schedule>,
    /// `roll_local_time`: backup names in the system's zone.
    local: bool,
    started: SystemTime,
    deadline: Option<SystemTime>,
}

fn parse_mode(m: &Option<String>, default: u32, path: &str) -> Result<u32, Error> {
    match m.as_deref() {
        None | Some("") | Some("from_file") => Ok(default),
        Some(s) => u32::from_str_radix(s, 8)
            .map_err(|_| Error::config(path, format!("invalid file mode {s:?}"))),
    }
}

fn compression(c: &FileConfig, path: &str) -> Result<Compression, Error> {
    match c.roll_compression.as_deref() {
        Some("gzip") => Ok(Compression::Gzip),
        Some("zstd") => Ok(Compression::Zstd),
        Some("none") => Ok(Compression::None),
        None | Some("") if c.roll_gzip == Some(false) => Ok(Compression::None),
        None | Some("") => Ok(Compression::Gzip),
        Some(other) => Err(Error::config(
            format!("{path}.roll_compression"),
            format!("unknown compression {other:?}: expected gzip, zstd or none"),
        )),
    }
}

impl Rolling {
    /// Opens (creating it and its directory) the file of `c`.
    pub fn open(c: &FileConfig, path: &str) -> Result<Rolling, Error> {
        let compression = compression(c, path)?;
        let schedule = Schedule::parse(
            c.roll_interval.as_ref(),
            c.roll_at.as_ref(),
            c.roll_minutes.as_ref(),
            path,
        )?;
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
        let now = SystemTime::now();
        let schedule = schedule.filter(|_| rolls);
        Ok(Rolling {
            path: file_path,
            file,
            size,
            max: rolls.then(|| c.roll_size_mb.filter(|n| *n > 0).unwrap_or(100) * 1024 * 1024),
            keep: c.roll_keep.unwrap_or(10) as usize,
            keep_for: Duration::from_secs(u64::from(c.roll_keep_days.unwrap_or(90)) * 86_400),
            mode,
            compression,
            deadline: schedule.as_ref().and_then(|s| s.next(now, now)),
            schedule,
            local: c.roll_local_time == Some(true),
            started: now,
        })
    }

    /// When the file must roll next by time, if it rolls by time.
    pub fn deadline(&self) -> Option<SystemTime> {
        self.deadline
    }

    /// Rolls the file if its time has come (an empty file only starts a
    /// new period).
    pub fn on_timer(&mut self) {
        let now = SystemTime::now();
        if self.deadline.is_some_and(|d| d <= now) {
            if self.size > 0 {
                self.roll_or_go_on();
            } else {
                self.restart(now);
            }
        }
    }

    fn restart(&mut self, now: SystemTime) {
        self.started = now;
        self.deadline = self.schedule.as_ref().and_then(|s| s.next(now, now));
    }

    /// Rolls; when that fails, logs why and keeps writing to the current
    /// file (a lost line is worse than a big file).
    fn roll_or_go_on(&mut self) {
        if let Err(e) = self.roll() {
            tracing::error!(file = %self.path.display(), error = %e, "rolling log file");
            self.restart(SystemTime::now());
        }
    }

    /// Renames the current file aside, starts a new one, compresses the
    /// rolled one and prunes old ones.
    fn roll(&mut self) -> io::Result<()> {
        let now = SystemTime::now();
        let backup = backup_name(&self.path, now, self.local);
        std::fs::rename(&self.path, &backup)?;
        self.file = open_append(&self.path, self.mode)?;
        self.size = 0;
        self.restart(now);
        let pruner = Pruner {
            path: self.path.clone(),
            keep: self.keep,
            keep_for: self.keep_for,
            local: self.local,
        };
        match self.compression {
            Compression::None => pruner.prune(),
            c => {
                let spawned = std::thread::Builder::new()
                    .name("bellhop-log-compress".into())
                    .spawn(move || {
                        if let Err(e) = compress(&backup, c) {
                            tracing::error!(file = %backup.display(), error = %e, "compressing rolled log file");
                        }
                        pruner.prune();
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "starting log compression");
                }
            }
        }
        Ok(())
    }
}

impl Write for Rolling {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let by_size = self
            .max
            .is_some_and(|max| self.size + buf.len() as u64 > max);
        let by_time = self.deadline.is_some_and(|d| d <= SystemTime::now());
        if self.size > 0 && (by_size || by_time) {
            self.roll_or_go_on();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Compresses `file` next to itself (`.gz`/`.zst`), then removes it.
fn compress(file: &Path, c: Compression) -> io::Result<()> {
    let mut target = file.as_os_str().to_owned();
    target.push(c.suffix());
    let mut partial = target.clone();
    partial.push(".tmp");
    let mut input = File::open(file)?;
    let out = io::BufWriter::new(File::create(&partial)?);
    match c {
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            io::copy(&mut input, &mut enc)?;
            enc.finish()?.flush()?;
        }
        Compression::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(out, 3)?;
            io::copy(&mut input, &mut enc)?;
            enc.finish()?.flush()?;
        }
        Compression::None => return Ok(()),
    }
    std::fs::rename(&partial, &target)?;
    std::fs::remove_file(file)
}

/// Deletes rolled files beyond `roll_keep` or older than `roll_keep_days`.
struct Pruner {
    path: PathBuf,
    keep: usize,
    keep_for: Duration,
    local: bool,
}

impl Pruner {
    fn prune(&self) {
        let (dir, stem, ext) = parts(&self.path);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let prefix = format!("{stem}-");
        let mut backups: Vec<(String, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let name = [".gz", ".zst"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(&name);
                let stamp = name.strip_prefix(&prefix)?.strip_suffix(&ext)?;
                (stamp.len() == 23).then(|| (stamp.to_string(), e.path()))
            })
            .collect();
        backups.sort_by(|a, b| b.0.cmp(&a.0));
        let oldest = backup_stamp(SystemTime::now() - self.keep_for, self.local);
        for (i, (stamp, p)) in backups.iter().enumerate() {
            let too_many = self.keep > 0 && i >= self.keep;
            let too_old = !self.keep_for.is_zero() && *stamp < oldest;
            if too_many || too_old {
                let _ = std::fs::remove_file(p);
            }
        }
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

/// `2006-01-02T15-04-05.000`, in UTC or (`local`) the system's zone.
fn backup_stamp(t: SystemTime, local: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let offset = if local {
        crate::util::localtime::offset_secs(secs)
    } else {
        0
    };
    let c = civil(secs + i64::from(offset));
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

fn backup_name(p: &Path, t: SystemTime, local: bool) -> PathBuf {
    let (dir, stem, ext) = parts(p);
    dir.join(format!("{stem}-{}{ext}", backup_stamp(t, local)))
}
