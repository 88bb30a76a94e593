//! `uri` (a `rewrite` handler that manipulates the URI):
//!
//! ```text
//! uri [<matcher>] strip_prefix <target>
//! uri [<matcher>] strip_suffix <target>
//! uri [<matcher>] replace      <target> <replacement> [<limit>]
//! uri [<matcher>] path_regexp  <target> <replacement>
//! uri [<matcher>] query        [-|+]<param> [<value>]
//! uri [<matcher>] query        <param> <search_regexp> <replacement>
//! uri [<matcher>] query        <param>><new_name>
//! uri [<matcher>] query {
//!     <param> [<value>] [<replacement>]
//!     ...
//! }
//! ```
//!
//! Query operations: `-param` deletes, `+param value` adds, `a>b`
//! renames, three words replace by regexp, `param value` sets. They are
//! given either on the directive line or in a block, not both. Arguments
//! are taken as written (`"\}"` stays `\}`, for brace escapes).

use crate::error::Result;
use crate::http::helper::Helper;
use crate::http::obj::Obj;
use serde_json::Value;

pub fn parse(h: &mut Helper) -> Result<Value> {
    h.next();
    let args = h.remaining_args();
    let Some(op) = args.first() else {
        return Err(h.arg_err());
    };
    let rewrite = Obj::handler("rewrite");
    let rewrite = match op.as_str() {
        "strip_prefix" | "strip_suffix" => {
            let [_, target] = args.as_slice() else {
                return Err(h.arg_err());
            };
            let key = format!("strip_path_{}", &op["strip_".len()..]);
            rewrite.opt(&key, target.as_str())
        }
        "replace" => {
            let (find, replace, limit) = match args.as_slice() {
                [_, f, r] => (f, r, 0),
                [_, f, r, l] => (f, r, parse_limit(h, l)?),
                _ => return Err(h.arg_err()),
            };
            let sub = Obj::new()
                .opt("find", find.as_str())
                .opt("replace", replace.as_str())
                .opt("limit", limit)
                .build();
            rewrite.set("uri_substring", Value::Array(vec![sub]))
        }
        "path_regexp" => {
            let [_, find, replace] = args.as_slice() else {
                return Err(h.arg_err());
            };
            let re = Obj::new()
                .opt("find", find.as_str())
                .opt("replace", replace.as_str())
                .build();
            rewrite.set("path_regexp", Value::Array(vec![re]))
        }
        "query" => rewrite.set("query", parse_query(h, &args[1..])?),
        other => {
            return Err(h.error(format!("unrecognized URI manipulation '{other}'")));
        }
    };
    Ok(rewrite.build())
}

/// The optional replacement limit: a Go integer (`strconv.Atoi`).
fn parse_limit(h: &Helper, lim: &str) -> Result<i64> {
    let digits = lim.strip_prefix(['+', '-']).unwrap_or(lim);
    let valid = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let why = match lim.parse::<i64>() {
        Ok(n) if valid => return Ok(n),
        _ if valid => "value out of range",
        _ => "invalid syntax",
    };
    Err(h.error(format!(
        "limit must be an integer; invalid: strconv.Atoi: parsing {lim:?}: {why}"
    )))
}

/// The query operations, from the line (`args`) or from the block.
#[derive(Default)]
struct QueryOps {
    rename: Vec<Value>,
    set: Vec<Value>,
    add: Vec<Value>,
    replace: Vec<Value>,
    delete: Vec<String>,
}

fn parse_query(h: &mut Helper, args: &[String]) -> Result<Value> {
    if args.len() > 3 {
        return Err(h.arg_err());
    }
    let mut ops = QueryOps::default();
    let on_line = !args.is_empty();
    if on_line {
        apply_query_op(h, &mut ops, args)?;
    }
    while h.next_block(0) {
        if on_line {
            return Err(h.error("Cannot specify uri query rewrites in both argument and block"));
        }
        let mut line = vec![h.val().to_string()];
        line.extend(h.remaining_args());
        apply_query_op(h, &mut ops, &line)?;
    }
    // a pointer in Go: present (maybe empty) once `query` is used
    Ok(Obj::new()
        .opt("rename", Value::Array(ops.rename))
        .opt("set", Value::Array(ops.set))
        .opt("add", Value::Array(ops.add))
        .opt("replace", Value::Array(ops.replace))
        .opt("delete", crate::http::obj::strings(&ops.delete))
        .build())
}

fn key_val(key: &str, val: &str) -> Value {
    Obj::new().opt("key", key).opt("val", val).build()
}

fn apply_query_op(h: &Helper, ops: &mut QueryOps, args: &[String]) -> Result<()> {
    let key = args[0].as_str();
    if let Some(k) = key.strip_prefix('-') {
        let [_] = args else {
            return Err(h.arg_err());
        };
        ops.delete.push(k.trim_start_matches('-').to_string());
    } else if let Some(k) = key.strip_prefix('+') {
        let [_, val] = args else {
            return Err(h.arg_err());
        };
        ops.add.push(key_val(k.trim_start_matches('+'), val));
    } else if key.contains('>') {
        let [_] = args else {
            return Err(h.arg_err());
        };
        let mut parts = key.split('>');
        let from = parts.next().unwrap_or_default();
        let to = parts.next().unwrap_or_default();
        ops.rename.push(key_val(from, to));
    } else if let [_, search, replace] = args {
        ops.replace.push(
            Obj::new()
                .opt("key", key)
                .opt("search_regexp", search.as_str())
                .opt("replace", replace.as_str())
                .build(),
        );
    } else {
        let [_, val] = args else {
            return Err(h.arg_err());
        };
        ops.set.push(key_val(key, val));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::http::testutil::adapt;
    use serde_json::{json, Value};

    fn handler(line: &str) -> Value {
        let v = adapt(&format!(":80 {{\n{line}\n}}")).unwrap();
        v["apps"]["http"]["servers"]["srv0"]["routes"][0]["handle"][0].clone()
    }

    #[test]
    fn strip_and_replace() {
        assert_eq!(
            handler("uri strip_prefix /api")["strip_path_prefix"],
            json!("/api")
        );
        assert_eq!(
            handler("uri strip_suffix .php")["strip_path_suffix"],
            json!(".php")
        );
        assert_eq!(
            handler("uri replace a b -1")["uri_substring"],
            json!([{"find": "a", "limit": -1, "replace": "b"}])
        );
        assert_eq!(
            handler("uri path_regexp ^/x /y")["path_regexp"],
            json!([{"find": "^/x", "replace": "/y"}])
        );
    }

    #[test]
    fn query_forms() {
        assert_eq!(handler("uri query")["query"], json!({}));
        assert_eq!(
            handler("uri query a>b>c")["query"],
            json!({"rename": [{"key": "a", "val": "b"}]})
        );
        assert_eq!(handler("uri query --x")["query"], json!({"delete": ["x"]}));
    }

    #[test]
    fn errors() {
        let e = adapt(":80 {\nuri replace a b x\n}").unwrap_err();
        assert!(e.message.contains("limit must be an integer; invalid"));
        let e = adapt(":80 {\nuri query a b {\n c d\n}\n}").unwrap_err();
        assert!(e.message.contains("both argument and block"));
        let e = adapt(":80 {\nuri bogus a\n}").unwrap_err();
        assert!(e.message.contains("unrecognized URI manipulation 'bogus'"));
        let e = adapt(":80 {\nuri query -a b\n}").unwrap_err();
        assert!(e.message.contains("wrong argument count"));
    }
}
