//! `file` matcher (`http.matchers.file`):
//!
//! ```text
//! file [<files...>] {
//!     root       <path>
//!     try_files  <files...>
//!     try_policy first_exist|first_exist_fallback|smallest_size|largest_size|most_recently_modified
//!     split_path <delims...>
//! }
//! ```

use crate::error::Result;
use crate::http::obj::{strings, Obj};
use crate::syntax::Dispenser;
use serde_json::Value;

#[derive(Default)]
struct MatchFile {
    root: String,
    try_files: Vec<String>,
    try_policy: String,
    split_path: Vec<String>,
}

pub fn parse(d: &mut Dispenser, _name: &str) -> Result<Value> {
    let mut m = MatchFile::default();
    while d.next() {
        m.try_files.extend(d.remaining_args());
        while d.next_block(0) {
            subdirective(d, &mut m)?;
        }
    }
    Ok(Obj::new()
        .opt("root", m.root)
        .opt("try_files", strings(&m.try_files))
        .opt("try_policy", m.try_policy)
        .opt("split_path", strings(&m.split_path))
        .build())
}

fn subdirective(d: &mut Dispenser, m: &mut MatchFile) -> Result<()> {
    match d.val() {
        "root" => m.root = d.next_arg_value().ok_or_else(|| d.arg_err())?,
        "try_files" => {
            m.try_files.extend(d.remaining_args());
            if m.try_files.is_empty() {
                return Err(d.arg_err());
            }
        }
        "try_policy" => m.try_policy = d.next_arg_value().ok_or_else(|| d.arg_err())?,
        "split_path" => {
            m.split_path = d.remaining_args();
            if m.split_path.is_empty() {
                return Err(d.arg_err());
            }
        }
        other => return Err(d.err(format!("unrecognized subdirective: {other}"))),
    }
    Ok(())
}
