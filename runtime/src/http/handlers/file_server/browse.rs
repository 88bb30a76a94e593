//! Directory listings (`browse`), in HTML or, for `Accept:
//! application/json`, JSON with Caddy's field names; and content types by
//! file extension.

use crate::error::HttpError;
use crate::http::{Body, Cx, Flow, Response};
use http::header::{HeaderValue, CONTENT_TYPE};
use serde_json::json;
use std::time::UNIX_EPOCH;

/// The content type of a file name, by extension.
pub fn mime(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/vnd.microsoft.icon",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Lists `dir` (the request path is `req_path`), skipping hidden entries.
pub async fn listing(
    cx: &Cx<'_>,
    dir: &str,
    req_path: &str,
    hidden: impl Fn(&str) -> bool,
) -> Result<Flow, HttpError> {
    let io = |e: std::io::Error| HttpError::internal(format!("listing {dir}: {e}"));
    let mut rd = tokio::fs::read_dir(dir).await.map_err(io)?;
    let mut items = Vec::new();
    while let Some(entry) = rd.next_entry().await.map_err(io)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let full = format!("{}/{name}", dir.trim_end_matches('/'));
        if hidden(&full) {
            continue;
        }
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        items.push(Item::new(name, &full, meta).await);
    }
    // Caddy's default order: directories first, then by name.
    items.sort_by(|a, b| {
        (!a.is_dir, a.name.to_lowercase()).cmp(&(!b.is_dir, b.name.to_lowercase()))
    });
    let last_modified = items.iter().filter_map(|i| i.mod_time).max();
    let wants_json = cx
        .parts
        .headers
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|a| a.to_ascii_lowercase().contains("application/json"));
    let (body, ctype) = if wants_json {
        let list: Vec<_> = items.iter().map(Item::json).collect();
        // Go's encoder escapes <, > and & and ends with a newline.
        let text = serde_json::Value::Array(list)
            .to_string()
            .replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026");
        (text + "\n", "application/json; charset=utf-8")
    } else {
        let mut html = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1><table>\n",
            escape(req_path)
        );
        for i in &items {
            html.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td></tr>\n",
                escape(&i.url),
                escape(&i.name),
                i.size
            ));
        }
        html.push_str("</table></body></html>\n");
        (html, "text/html; charset=utf-8")
    };
    let mut r = Response::new(Body::from_bytes(body));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(
        http::header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    if let Some(t) = last_modified {
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(t)) {
            h.insert(http::header::LAST_MODIFIED, v);
        }
    }
    Ok(Flow::Respond(r))
}

/// One entry of a listing, as Caddy's `fileInfo`.
struct Item {
    /// The name, with a `/` after a directory's.
    name: String,
    size: u64,
    /// `./name`, escaped.
    url: String,
    mod_time: Option<std::time::SystemTime>,
    mode: u32,
    is_dir: bool,
    is_symlink: bool,
}

impl Item {
    /// `meta` is the entry's own (a symlink is not followed); a symlink to
    /// a directory lists as a directory, with its target's size.
    async fn new(name: String, full: &str, meta: std::fs::Metadata) -> Item {
        let is_symlink = meta.file_type().is_symlink();
        let target = match is_symlink {
            true => tokio::fs::metadata(full).await.ok(),
            false => None,
        };
        let is_dir = meta.is_dir() || target.as_ref().is_some_and(|t| t.is_dir());
        let size = target.as_ref().map_or(meta.len(), |t| t.len());
        let name = if is_dir { format!("{name}/") } else { name };
        Item {
            url: format!("./{}", crate::util::go_escape_path(&name)),
            name,
            size,
            mod_time: meta.modified().ok(),
            mode: go_file_mode(&meta),
            is_dir,
            is_symlink,
        }
    }

    fn json(&self) -> serde_json::Value {
        let mod_time = self
            .mod_time
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(rfc3339_nano)
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
        json!({"name": self.name, "size": self.size, "url": self.url, "mod_time": mod_time,
            "mode": self.mode, "is_dir": self.is_dir, "is_symlink": self.is_symlink})
    }
}

/// Go's `time.Time` JSON form in UTC (RFC 3339, trailing zeros of the
/// fraction dropped).
fn rfc3339_nano(d: std::time::Duration) -> String {
    let c = crate::http::replacer::clock::civil(d.as_secs() as i64);
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if d.subsec_nanos() > 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `os.FileMode` of a file: permission bits and Go's type bits.
fn go_file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let raw = meta.permissions().mode();
    let ft = meta.file_type();
    let mut m = raw & 0o777;
    let bits = [
        (ft.is_dir(), 1 << 31),
        (ft.is_symlink(), 1 << 27),
        (ft.is_block_device(), 1 << 26),
        (ft.is_fifo(), 1 << 25),
        (ft.is_socket(), 1 << 24),
        (raw & 0o4000 != 0, 1 << 23),
        (raw & 0o2000 != 0, 1 << 22),
        (ft.is_char_device(), (1 << 26) | (1 << 21)),
        (raw & 0o1000 != 0, 1 << 20),
    ];
    for (on, bit) in bits {
        if on {
            m |= bit;
        }
    }
    m
}
