//! `transport fastcgi` (`http.reverse_proxy.transport.fastcgi`):
//!
//! ```text
//! transport fastcgi {
//!     root <path>
//!     split <at...>
//!     env <key> <value>
//!     resolve_root_symlink
//!     dial_timeout  <duration>
//!     read_timeout  <duration>
//!     write_timeout <duration>
//!     capture_stderr
//! }
//! ```
//!
//! [`Fastcgi::option`] is shared with `php_fastcgi`, whose block takes the
//! same options (plus `index` and `try_files`).

use super::units::{duration_arg_unquoted, one_arg};
use crate::error::Result;
use crate::http::obj::{sorted_map, strings, Obj};
use crate::syntax::Dispenser;
use serde_json::Value;

/// The FastCGI transport's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fastcgi {
    pub root: String,
    pub split_path: Vec<String>,
    pub resolve_root_symlink: bool,
    pub env: Vec<(String, String)>,
    pub dial_timeout: i64,
    pub read_timeout: i64,
    pub write_timeout: i64,
    pub capture_stderr: bool,
}

impl Fastcgi {
    /// Parses the block of `transport fastcgi` (a dispenser over that
    /// segment, cursor on `fastcgi`).
    pub fn parse(d: &mut Dispenser) -> Result<Self> {
        let mut t = Self::default();
        while d.next_block(0) {
            let key = d.val().to_string();
            if !t.option(d, &key, true)? {
                return Err(d.err(format!("unrecognized subdirective {key}")));
            }
        }
        Ok(t)
    }

    /// Handles one option (cursor on its name); false if `key` is none.
    /// `strict` refuses arguments after the flag options (the transport
    /// does, `php_fastcgi` does not).
    pub fn option(&mut self, d: &mut Dispenser, key: &str, strict: bool) -> Result<bool> {
        match key {
            "root" => self.root = one_arg(d)?,
            "split" => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                self.split_path = args;
            }
            "env" => {
                let args = d.remaining_args();
                let [k, v] = args.as_slice() else {
                    return Err(d.arg_err());
                };
                match self.env.iter_mut().find(|(ek, _)| ek == k) {
                    Some(e) => e.1 = v.clone(),
                    None => self.env.push((k.clone(), v.clone())),
                }
            }
            "resolve_root_symlink" | "capture_stderr" => {
                if strict && d.next_arg() {
                    return Err(d.arg_err());
                }
                if !strict {
                    d.remaining_args();
                }
                if key == "capture_stderr" {
                    self.capture_stderr = true;
                } else {
                    self.resolve_root_symlink = true;
                }
            }
            "dial_timeout" => self.dial_timeout = duration_arg_unquoted(d, "timeout")?,
            "read_timeout" => self.read_timeout = duration_arg_unquoted(d, "timeout")?,
            "write_timeout" => self.write_timeout = duration_arg_unquoted(d, "timeout")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The transport's JSON (with `"protocol": "fastcgi"`).
    pub fn to_json(&self) -> Value {
        let env = sorted_map(
            self.env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        );
        Obj::module("protocol", "fastcgi")
            .opt("root", self.root.as_str())
            .opt("split_path", strings(&self.split_path))
            .opt("resolve_root_symlink", self.resolve_root_symlink)
            .opt("env", env)
            .opt("dial_timeout", self.dial_timeout)
            .opt("read_timeout", self.read_timeout)
            .opt("write_timeout", self.write_timeout)
            .opt("capture_stderr", self.capture_stderr)
            .build()
    }
}
