//! `templates` (`templates` handler: executes responses as Go templates):
//!
//! ```text
//! templates [<matcher>] {
//!     mime       <types...>
//!     between    <open_delim> <close_delim>
//!     root       <path>
//!     extensions {
//!         <module_name> [...]
//!     }
//! }
//! ```
//!
//! As in Caddy, a subdirective name it does not know is skipped (its
//! arguments are then read as further subdirectives), and `root` reads
//! one argument without rejecting more. `extensions` loads template
//! function modules (`http.handlers.templates.functions.*`); Caddy's
//! standard distribution has none, so naming one is an error.

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::{strings, Obj};
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let mut mime: Vec<String> = Vec::new();
    let mut between: Vec<String> = Vec::new();
    let mut root = String::new();
    let mut extensions_seen = false;
    while h.next_block(0) {
        match h.val() {
            "mime" => {
                mime = h.remaining_args();
                if mime.is_empty() {
                    return Err(h.arg_err());
                }
            }
            "between" => {
                between = h.remaining_args();
                if between.len() != 2 {
                    return Err(h.arg_err());
                }
            }
            "root" => {
                let Some(r) = h.next_arg_value() else {
                    return Err(h.arg_err());
                };
                root = r;
            }
            "extensions" => {
                if h.next_arg() {
                    return Err(h.arg_err());
                }
                if extensions_seen {
                    return Err(h.error("extensions already specified"));
                }
                parse_extensions(h)?;
                extensions_seen = true;
            }
            _ => {}
        }
    }
    Ok(Obj::handler("templates")
        .opt("file_root", root)
        .opt("mime_types", strings(&mime))
        .opt("delimiters", strings(&between))
        .build())
}

/// The `extensions` block: each line names a template function module.
/// None is registered in the standard distribution; an empty block is
/// accepted.
fn parse_extensions(h: &mut Helper) -> Result<()> {
    let nesting = h.nesting();
    if h.next_block(nesting) {
        let id = format!("http.handlers.templates.functions.{}", h.val());
        return Err(h.error(format!(
            "getting module named '{id}': module not registered: {id}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::http::testutil::adapt;
    use serde_json::{json, Value};

    fn handler(src: &str) -> Value {
        adapt(src).unwrap()["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0].clone()
    }

    #[test]
    fn all_subdirectives() {
        let h = handler(
            ":80 {\n templates {\n mime text/html text/plain\n between <% %>\n root /srv\n }\n}",
        );
        assert_eq!(
            h,
            json!({"delimiters": ["<%", "%>"], "file_root": "/srv", "handler": "templates",
                   "mime_types": ["text/html", "text/plain"]})
        );
    }

    #[test]
    fn unknown_subdirective_is_skipped() {
        let h = handler(":80 {\n templates {\n bogus\n root /srv\n }\n}");
        assert_eq!(h["file_root"], json!("/srv"));
    }

    #[test]
    fn errors() {
        let e = adapt(":80 {\n templates {\n between <%\n }\n}").unwrap_err();
        assert!(e.message.contains("wrong argument count"));
        let e = adapt(":80 {\n templates {\n extensions {\n foo\n }\n }\n}").unwrap_err();
        assert!(e
            .message
            .contains("module not registered: http.handlers.templates.functions.foo"));
    }
}
