//! `file_server` (static files; `file_server` handler):
//!
//! ```text
//! file_server [<matcher>] [browse] {
//!     fs            <filesystem>
//!     root          <path>
//!     hide          <files...>
//!     index         <files...>
//!     browse        [<template_file>] {
//!         reveal_symlinks
//!         sort          [name|namedirfirst|size|time] [asc|desc]
//!         file_limit    <number>
//!     }
//!     precompressed [<formats...>]
//!     status        <status>
//!     disable_canonical_uris
//!     pass_thru
//!     etag_file_extensions <extensions...>
//! }
//! ```
//!
//! `precompressed` without formats means `br zstd gzip`. The config files
//! the site was read from are always added to `hide` (as `./Caddyfile`
//! when they have no directory), unless a `hide` pattern covers them
//! already; see [`hide`].

mod hide;

use crate::error::Result;
use crate::http::goconv::{atoi, weak_string};
use crate::http::helper::Helper;
use crate::http::obj::{sorted_map, strings, Obj};
use serde_json::Value;

/// The precompressed formats of Caddy's standard distribution
/// (`http.precompressed.*`).
const PRECOMPRESSED: &[&str] = &["br", "gzip", "zstd"];

/// Browse sort options.
const SORT_OPTIONS: &[&str] = &["name", "namedirfirst", "size", "time", "asc", "desc"];

#[derive(Default)]
struct FileServer {
    fs: String,
    root: String,
    hide: Vec<String>,
    index: Vec<String>,
    browse: Option<Obj>,
    canonical_uris: Option<bool>,
    status: String,
    pass_thru: bool,
    /// Formats configured (a Go map: accumulates over repeated lines).
    precompressed: Vec<String>,
    precompressed_order: Vec<String>,
    etag_file_extensions: Vec<String>,
}

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut fsrv = FileServer::default();
    match h.remaining_args().as_slice() {
        [] => {}
        [b] if b == "browse" => fsrv.browse = Some(Obj::new()),
        _ => return Err(h.arg_err()),
    }
    let nesting = h.nesting();
    while h.next_block(nesting) {
        subdirective(h, &mut fsrv)?;
    }
    for file in h.caddyfiles().to_vec() {
        if let Some(path) = hide::config_file_entry(&file, &fsrv.hide) {
            fsrv.hide.push(path);
        }
    }
    Ok(fsrv.to_json())
}

fn subdirective(h: &mut Helper, fsrv: &mut FileServer) -> Result<()> {
    match h.val() {
        "fs" => {
            let Some(fs) = h.next_arg_value() else {
                return Err(h.arg_err());
            };
            if !fsrv.fs.is_empty() {
                return Err(h.error("file system already specified"));
            }
            fsrv.fs = fs;
        }
        // Repeated `hide` lines add up, as Caddy's.
        "hide" => fsrv.hide.extend(non_empty_args(h)?),
        "index" => fsrv.index = non_empty_args(h)?,
        "root" => match h.next_arg_value() {
            Some(root) => fsrv.root = root,
            None => return Err(h.arg_err()),
        },
        "browse" => {
            if fsrv.browse.is_some() {
                return Err(h.error("browsing is already configured"));
            }
            fsrv.browse = Some(browse(h)?);
        }
        "precompressed" => precompressed(h, fsrv)?,
        "status" => match h.next_arg_value() {
            Some(s) => fsrv.status = s,
            None => return Err(h.arg_err()),
        },
        "disable_canonical_uris" => {
            no_args(h)?;
            fsrv.canonical_uris = Some(false);
        }
        "pass_thru" => {
            no_args(h)?;
            fsrv.pass_thru = true;
        }
        "etag_file_extensions" => fsrv.etag_file_extensions = non_empty_args(h)?,
        other => return Err(h.error(format!("unknown subdirective '{other}'"))),
    }
    Ok(())
}

fn non_empty_args(h: &mut Helper) -> Result<Vec<String>> {
    let args = h.remaining_args();
    if args.is_empty() {
        return Err(h.arg_err());
    }
    Ok(args)
}

fn no_args(h: &mut Helper) -> Result<()> {
    if h.next_arg() {
        return Err(h.arg_err());
    }
    Ok(())
}

/// `browse [<template_file>] { … }`.
fn browse(h: &mut Helper) -> Result<Obj> {
    let template = h.next_arg_value().unwrap_or_default();
    let (mut reveal, mut sort, mut limit) = (false, Vec::new(), 0);
    let nesting = h.nesting();
    while h.next_block(nesting) {
        match h.val() {
            "reveal_symlinks" => {
                if reveal {
                    return Err(h.error("Symlinks path reveal is already enabled"));
                }
                reveal = true;
            }
            "sort" => {
                while h.next_arg() {
                    let opt = h.val().to_string();
                    if !SORT_OPTIONS.contains(&opt.as_str()) {
                        return Err(h.error(format!("unknown sort option '{opt}'")));
                    }
                    sort.push(opt);
                }
            }
            "file_limit" => {
                let args = h.remaining_args();
                let [n] = args.as_slice() else {
                    return Err(h.error("file_limit should have an integer value"));
                };
                if limit != 0 {
                    return Err(h.error("file_limit is already enabled"));
                }
                limit = atoi(n).unwrap_or(0);
            }
            other => return Err(h.error(format!("unknown subdirective '{other}'"))),
        }
    }
    Ok(Obj::new()
        .opt("template_file", template)
        .opt("reveal_symlinks", reveal)
        .opt("sort", strings(&sort))
        .opt("file_limit", limit))
}

/// `precompressed [<formats...>]`.
fn precompressed(h: &mut Helper, fsrv: &mut FileServer) -> Result<()> {
    let mut order = h.remaining_args();
    if order.is_empty() {
        order = vec!["br".into(), "zstd".into(), "gzip".into()];
    }
    for format in &order {
        if !PRECOMPRESSED.contains(&format.as_str()) {
            return Err(h.error(format!(
                "getting module named 'http.precompressed.{format}': module not registered: http.precompressed.{format}"
            )));
        }
        if !fsrv.precompressed.contains(format) {
            fsrv.precompressed.push(format.clone());
        }
    }
    fsrv.precompressed_order = order;
    Ok(())
}

impl FileServer {
    fn to_json(&self) -> Value {
        let precompressed = sorted_map(
            self.precompressed
                .iter()
                .map(|f| (f.clone(), Value::Object(Default::default())))
                .collect(),
        );
        Obj::handler("file_server")
            .opt("fs", self.fs.as_str())
            .opt("root", self.root.as_str())
            .opt("hide", strings(&self.hide))
            .opt("index_names", strings(&self.index))
            .some("browse", self.browse.clone())
            .some("canonical_uris", self.canonical_uris)
            .some(
                "status_code",
                (!self.status.is_empty()).then(|| weak_string(&self.status)),
            )
            .opt("pass_thru", self.pass_thru)
            .opt("precompressed", precompressed)
            .opt("precompressed_order", strings(&self.precompressed_order))
            .opt("etag_file_extensions", strings(&self.etag_file_extensions))
            .build()
    }
}
