//! `http.matchers.file`: matches when a file from `try_files` exists under
//! `root` (default `{http.vars.root}`, else the working directory), and
//! publishes it as `{http.matchers.file.relative|absolute|type|remainder}`.
//!
//! Entries may hold placeholders; an entry ending in `/` must be a
//! directory, others a regular file; `=404` answers that status.
//! `try_policy`: `first_exist` (default), `first_exist_fallback` (the last
//! entry is taken without looking), `smallest_size`, `largest_size`,
//! `most_recently_modified`. `split_path` cuts the path after the first of
//! its strings (`.php`), the rest being the remainder. Paths never leave
//! the root, whatever their `..`.

use crate::error::{Error, HttpError};
use crate::http::context::FileMatch;
use crate::http::replacer::Template;
use crate::http::{Cx, Matcher};
use crate::registry::Provision;
use crate::util::sanitized_join;
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use std::fs::Metadata;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    root: Option<String>,
    #[serde(default)]
    try_files: Vec<String>,
    try_policy: Option<String>,
    #[serde(default)]
    split_path: Vec<String>,
    fs: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Policy {
    FirstExist,
    FirstExistFallback,
    Smallest,
    Largest,
    Newest,
}

struct MatchFile {
    root: Template,
    /// Each pattern, and whether it ends with `/` (then only a directory
    /// matches; otherwise the expanded path is cleaned, so `/a.txt/` finds
    /// the file `a.txt`).
    try_files: Vec<(Template, bool)>,
    policy: Policy,
    split: Vec<String>,
}

pub fn new(v: &Value, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Matcher>, Error> {
    let c: Config = p.decode(v, path)?;
    if let Some(fs) = c.fs.filter(|f| !f.is_empty()) {
        p.require(&format!("caddy.fs.{fs}"), &format!("{path}.fs"))?;
    }
    let policy = match c.try_policy.as_deref() {
        None | Some("") | Some("first_exist") => Policy::FirstExist,
        Some("first_exist_fallback") => Policy::FirstExistFallback,
        Some("smallest_size") => Policy::Smallest,
        Some("largest_size") => Policy::Largest,
        Some("most_recently_modified") => Policy::Newest,
        Some(other) => {
            return Err(Error::config(
                format!("{path}.try_policy"),
                format!("unknown try policy {other}"),
            ))
        }
    };
    Ok(Box::new(MatchFile {
        root: Template::parse(c.root.as_deref().unwrap_or("{http.vars.root}")),
        try_files: c
            .try_files
            .iter()
            .map(|s| (Template::parse(s), s.ends_with('/')))
            .collect(),
        policy,
        split: c.split_path,
    }))
}

struct Candidate {
    relative: String,
    absolute: String,
    remainder: String,
}

impl MatchFile {
    fn candidate(&self, root: &str, file: &str, dir: bool) -> Candidate {
        let cleaned = crate::util::go_clean(file);
        let (file, remainder) = split_at(&cleaned, &self.split);
        let file = if dir {
            format!("{file}/")
        } else {
            file.to_string()
        };
        let file = file.as_str();
        let absolute = sanitized_join(root, file);
        let relative = crate::util::clean_path(&format!("/{file}"), true);
        Candidate {
            relative,
            absolute,
            remainder: remainder.to_string(),
        }
    }

    fn pick(&self, cx: &Cx<'_>) -> Result<Option<(Candidate, &'static str)>, HttpError> {
        let root = self.root.render(cx);
        let root = if root.is_empty() { ".".into() } else { root };
        let files: Vec<(String, bool)> = if self.try_files.is_empty() {
            vec![(cx.path().to_string(), false)]
        } else {
            self.try_files
                .iter()
                .map(|(t, dir)| (t.render(cx).into_owned(), *dir))
                .collect()
        };
        let mut best: Option<(Candidate, Metadata)> = None;
        for (i, (f, dir)) in files.iter().enumerate() {
            if let Some(code) = f.strip_prefix('=') {
                let status = code.parse().ok().and_then(|c| StatusCode::from_u16(c).ok());
                return Err(HttpError::new(
                    status.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    "try_files status",
                ));
            }
            let c = self.candidate(&root, f, *dir);
            if self.policy == Policy::FirstExistFallback && i == files.len() - 1 {
                return Ok(Some((c, "file")));
            }
            let Some(meta) = strict_exists(&c.absolute, *dir) else {
                continue;
            };
            if matches!(self.policy, Policy::FirstExist | Policy::FirstExistFallback) {
                let kind = if meta.is_dir() { "directory" } else { "file" };
                return Ok(Some((c, kind)));
            }
            let better = match &best {
                None => true,
                Some((_, b)) => match self.policy {
                    Policy::Smallest => meta.len() < b.len(),
                    Policy::Largest => meta.len() > b.len(),
                    _ => meta.modified().ok() > b.modified().ok(),
                },
            };
            if better {
                best = Some((c, meta));
            }
        }
        Ok(best.map(|(c, m)| (c, if m.is_dir() { "directory" } else { "file" })))
    }
}

/// Caddy's `firstSplit`: at the first occurrence of a split string
/// (case-insensitive), when it ends the file name (the end of the path or
/// a `/` follows); a split string found elsewhere is skipped.
fn split_at<'a>(file: &'a str, split: &[String]) -> (&'a str, &'a str) {
    let lower = file.to_ascii_lowercase();
    for s in split {
        if let Some(i) = lower.find(&s.to_ascii_lowercase()) {
            let end = i + s.len();
            if end == file.len() || file[end..].starts_with('/') {
                return (&file[..end], &file[end..]);
            }
        }
    }
    (file, "")
}

fn strict_exists(path: &str, want_dir: bool) -> Option<Metadata> {
    let meta = std::fs::metadata(path).ok()?;
    (meta.is_dir() == want_dir).then_some(meta)
}

impl Matcher for MatchFile {
    fn matches(&self, cx: &mut Cx<'_>) -> Result<bool, HttpError> {
        let Some((c, kind)) = self.pick(cx)? else {
            return Ok(false);
        };
        cx.file_match = Some(Box::new(FileMatch {
            relative: c.relative,
            absolute: c.absolute,
            kind,
            remainder: c.remainder,
        }));
        Ok(true)
    }
}
