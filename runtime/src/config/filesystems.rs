//! The `caddy.filesystems` app (named file systems for `file_server fs`):
//! each entry's `file_system` is a `caddy.fs.*` module, of which Caddy's
//! standard build has none, so an entry names a module bellhop lacks as
//! Caddy lacks it; the app itself (empty, or entries without a file
//! system) is checked and loads.

use crate::error::Error;
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesystemsApp {
    #[serde(default)]
    filesystems: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    #[serde(default)]
    name: String,
    file_system: Option<Map<String, Value>>,
}

/// Checks `apps["caddy.filesystems"]`.
pub(crate) fn check(app: &Value) -> Result<(), Error> {
    let at = "apps.caddy.filesystems";
    let a: FilesystemsApp = super::decode(app, at)?;
    for (i, e) in a.filesystems.iter().enumerate() {
        let _name = &e.name;
        if let Some(fs) = &e.file_system {
            let backend = fs.get("backend").and_then(Value::as_str).unwrap_or("");
            return Err(Error::UnknownModule {
                path: format!("{at}.filesystems[{i}].file_system.backend"),
                id: format!("caddy.fs.{backend}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn entries_name_the_missing_backend() {
        let v = |app: serde_json::Value| {
            let cfg = json!({"apps": {"caddy.filesystems": app}});
            crate::validate(cfg.to_string().as_bytes()).map_err(|e| e.to_string())
        };
        v(json!({"filesystems": []})).unwrap();
        let e =
            v(json!({"filesystems": [{"name": "assets", "file_system": {"backend": "embedded"}}]}))
                .unwrap_err();
        assert!(
            e.contains("filesystems[0].file_system.backend") && e.contains("caddy.fs.embedded"),
            "{e}"
        );
    }
}
