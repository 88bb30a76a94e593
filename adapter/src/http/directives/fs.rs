//! `fs` (the file system for later handlers such as `file_server` and the
//! `file` matcher; a `vars` handler setting `fs`):
//!
//! ```text
//! fs [<matcher>] <filesystem>
//! ```
//!
//! The file system is a name defined with the `filesystem` global option.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    if !h.next_arg() || h.next_arg() {
        return Err(h.arg_err());
    }
    Ok(Obj::handler("vars").set("fs", h.val()).build())
}
