//! Caddy's `/config/…` paths on the raw JSON (`unsyncedConfigAccess`).
//!
//! A path is `/config` followed by object keys and array indices. GET
//! reads (a missing final key reads as `null`); POST appends to an array
//! or sets a key; PUT inserts (409 when the key exists; creating missing
//! parent objects); PATCH replaces (404 when missing); DELETE removes.
//! A final `/...` expands an array body into the target array. The
//! `@id` index maps user IDs to the path of the object holding them.

use super::ApiError;
use http::{Method, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::hash::Hasher;

/// The parts of `path` (percent-decoded), and whether it ended in `/...`.
fn split(path: &str) -> Result<(Vec<String>, bool), ApiError> {
    let clean = path.trim_matches('/');
    let mut parts: Vec<String> = clean
        .split('/')
        .filter(|_| !clean.is_empty())
        .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
        .collect();
    let ellipsis = parts.last().is_some_and(|p| p == "...");
    if ellipsis {
        parts.pop();
    }
    if parts.is_empty() {
        return Err(ApiError::bad_request("no traversable path"));
    }
    Ok((parts, ellipsis))
}

fn invalid_at(parts: &[String], i: usize) -> ApiError {
    ApiError::bad_request(format!(
        "invalid traversal path at: {}",
        parts[..=i.min(parts.len() - 1)].join("/")
    ))
}

/// Reads the value at a `/config/…` path of `root` (the config document).
pub fn read<'a>(root: &'a Value, path: &str) -> Result<Option<&'a Value>, ApiError> {
    let (parts, _) = split(path)?;
    if parts[0] != "config" {
        return Err(invalid_at(&parts, 0));
    }
    let mut cur = root;
    for (i, part) in parts.iter().enumerate().skip(1) {
        let next = match cur {
            Value::Object(m) => m.get(part),
            Value::Array(a) => Some(&a[index(&parts, i, a.len(), false)?]),
            _ => return Err(invalid_at(&parts, i)),
        };
        match next {
            Some(v) => cur = v,
            None if i + 1 == parts.len() => return Ok(None),
            None => return Err(invalid_at(&parts, i + 1)),
        }
    }
    Ok(Some(cur))
}

/// The GET body at `path`: JSON and a newline, as Caddy encodes it.
pub fn read_encoded(root: &Value, path: &str) -> Result<Vec<u8>, ApiError> {
    let v = read(root, path)?;
    let mut out = serde_json::to_vec(v.unwrap_or(&Value::Null))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// The ETag of the body read at `path`: `"<path> <hash>"`.
pub fn etag(path: &str, body: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    h.write(body);
    format!("\"{path} {:016x}\"", h.finish())
}

/// Parses an array index and checks its bounds (`insert`: may equal len).
fn index(parts: &[String], i: usize, len: usize, insert: bool) -> Result<usize, ApiError> {
    let part = &parts[i];
    let at = || parts[..=i].join("/");
    let idx: usize = part
        .parse()
        .map_err(|_| ApiError::bad_request(format!("[/{}] invalid array index '{part}'", at())))?;
    if idx > len || (idx == len && !insert) {
        return Err(ApiError::bad_request(format!(
            "[/{}] array index out of bounds: {part}",
            at()
        )));
    }
    Ok(idx)
}

/// Applies a write `method` at `path` of `doc`, a document whose single
/// key `config` holds the config.
pub fn write(
    doc: &mut Value,
    method: &Method,
    path: &str,
    body: Option<Value>,
) -> Result<(), ApiError> {
    let (parts, ellipsis) = split(path)?;
    let n = parts.len();
    let mut cur = doc;
    for i in 0..n {
        match cur {
            Value::Object(map) => {
                if i + 2 == n && map.get(&parts[i]).is_some_and(Value::is_array) {
                    let Some(Value::Array(arr)) = map.get_mut(&parts[i]) else {
                        unreachable!("checked to be an array")
                    };
                    return array_op(arr, method, &parts, body, ellipsis);
                }
                if i + 1 == n {
                    return object_op(map, method, &parts, path, body, ellipsis);
                }
                let missing = map.get(&parts[i]).is_none_or(Value::is_null);
                if missing && *method == Method::PUT {
                    map.insert(parts[i].clone(), Value::Object(Map::new()));
                }
                cur = match map.get_mut(&parts[i]) {
                    Some(v) => v,
                    None => return Err(invalid_at(&parts, i + 1)),
                };
            }
            Value::Array(arr) if i + 1 == n => {
                return array_op(arr, method, &parts, body, ellipsis);
            }
            Value::Array(arr) => {
                let idx = index(&parts, i, arr.len(), false)?;
                cur = &mut arr[idx];
            }
            _ => return Err(invalid_at(&parts, i)),
        }
    }
    Ok(())
}

/// Appends `body` to `arr`, expanding it when `ellipsis`.
fn append(arr: &mut Vec<Value>, body: Value, ellipsis: bool) -> Result<(), ApiError> {
    if !ellipsis {
        arr.push(body);
        return Ok(());
    }
    match body {
        Value::Array(items) => {
            arr.extend(items);
            Ok(())
        }
        _ => Err(ApiError::bad_request("final element is not an array")),
    }
}

/// A write on an element of `arr`; the last part is its index (ignored
/// by POST, which appends).
fn array_op(
    arr: &mut Vec<Value>,
    method: &Method,
    parts: &[String],
    body: Option<Value>,
    ellipsis: bool,
) -> Result<(), ApiError> {
    let body = body.unwrap_or(Value::Null);
    if *method == Method::POST {
        return append(arr, body, ellipsis);
    }
    let last = parts.len() - 1;
    let idx = index(parts, last, arr.len(), *method == Method::PUT)?;
    match *method {
        Method::PUT => arr.insert(idx, body),
        Method::PATCH => arr[idx] = body,
        Method::DELETE => {
            arr.remove(idx);
        }
        _ => return Err(unrecognized(method)),
    }
    Ok(())
}

/// A write on key `parts[last]` of `map`.
fn object_op(
    map: &mut Map<String, Value>,
    method: &Method,
    parts: &[String],
    path: &str,
    body: Option<Value>,
    ellipsis: bool,
) -> Result<(), ApiError> {
    let key = &parts[parts.len() - 1];
    let body = body.unwrap_or(Value::Null);
    let exists = map.contains_key(key);
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("[{path}] key does not exist: {key}"),
        )
    };
    match *method {
        Method::POST => match map.get_mut(key) {
            Some(Value::Array(arr)) => return append(arr, body, ellipsis),
            _ => {
                map.insert(key.clone(), body);
            }
        },
        Method::PUT if exists => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("[{path}] key already exists: {key}"),
            ))
        }
        Method::PUT => {
            map.insert(key.clone(), body);
        }
        Method::PATCH if !exists => return Err(not_found()),
        Method::PATCH => {
            map.insert(key.clone(), body);
        }
        Method::DELETE if !exists => return Err(not_found()),
        Method::DELETE => {
            map.shift_remove(key);
        }
        _ => return Err(unrecognized(method)),
    }
    Ok(())
}

fn unrecognized(method: &Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("method {method} not allowed"),
    )
}

/// Maps each `"@id"` in `v` (a string or number) to the path of the
/// object that holds it. `path` is a scratch buffer holding `v`'s path.
pub fn index_ids(
    v: &Value,
    path: &mut String,
    out: &mut HashMap<String, String>,
) -> Result<(), ApiError> {
    let len = path.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k == "@id" {
                    let id = match child {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => {
                            return Err(ApiError::bad_request(format!(
                                "{path}: @id field must be a string or number"
                            )))
                        }
                    };
                    out.insert(id, path.clone());
                } else if matches!(child, Value::Object(_) | Value::Array(_)) {
                    path.push('/');
                    path.push_str(k);
                    index_ids(child, path, out)?;
                    path.truncate(len);
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                if matches!(child, Value::Object(_) | Value::Array(_)) {
                    use std::fmt::Write as _;
                    let _ = write!(path, "/{i}");
                    index_ids(child, path, out)?;
                    path.truncate(len);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> Value {
        json!({ "config": v })
    }

    #[test]
    fn post_appends_put_inserts_patch_replaces_delete_removes() {
        let mut d = doc(json!({"a": [1, 2]}));
        write(&mut d, &Method::POST, "/config/a", Some(json!(3))).unwrap();
        write(&mut d, &Method::POST, "/config/a/...", Some(json!([4, 5]))).unwrap();
        write(&mut d, &Method::PUT, "/config/a/0", Some(json!(0))).unwrap();
        write(&mut d, &Method::PATCH, "/config/a/1", Some(json!(9))).unwrap();
        write(&mut d, &Method::DELETE, "/config/a/5", None).unwrap();
        assert_eq!(d["config"]["a"], json!([0, 9, 2, 3, 4]));
        let e = write(&mut d, &Method::PUT, "/config/a", Some(json!(1))).unwrap_err();
        assert_eq!(e.status, StatusCode::CONFLICT);
        let e = write(&mut d, &Method::PATCH, "/config/b", Some(json!(1))).unwrap_err();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        write(&mut d, &Method::PUT, "/config/x/y/z", Some(json!("deep"))).unwrap();
        assert_eq!(
            read(&d["config"], "/config/x/y/z").unwrap(),
            Some(&json!("deep"))
        );
        let e = write(&mut d, &Method::PATCH, "/config/a/7", Some(json!(1))).unwrap_err();
        assert!(e.message.contains("out of bounds"), "{}", e.message);
    }

    #[test]
    fn reads_missing_keys_as_null_and_names_bad_paths() {
        let root = json!({"a": {"b": [true]}});
        assert_eq!(read(&root, "/config/a/c").unwrap(), None);
        assert_eq!(read(&root, "/config/a/b/0").unwrap(), Some(&json!(true)));
        let e = read(&root, "/config/a/b/0/x").unwrap_err();
        assert_eq!(e.message, "invalid traversal path at: config/a/b/0/x");
        assert!(read(&root, "/config/a/b/x").is_err());
    }

    #[test]
    fn indexes_ids_by_path() {
        let root =
            json!({"apps": {"http": {"servers": {"s": {"routes": [{"@id": "r1"}, {"@id": 7}]}}}}});
        let mut idx = HashMap::new();
        index_ids(&root, &mut "/config".to_string(), &mut idx).unwrap();
        assert_eq!(idx["r1"], "/config/apps/http/servers/s/routes/0");
        assert_eq!(idx["7"], "/config/apps/http/servers/s/routes/1");
        let bad = json!({"@id": true});
        assert!(index_ids(&bad, &mut "/config".to_string(), &mut idx).is_err());
    }
}
