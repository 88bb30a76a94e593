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
        let is_dir = meta.is_dir();
        let url = crate::http::handlers::rewrite_encode(&if is_dir {
            format!("{name}/")
        } else {
            name.clone()
        });
        let mod_time = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        items.push((name, meta.len(), url, mod_time, is_dir));
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let wants_json = cx
        .parts
        .headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    let (body, ctype) = if wants_json {
        let list: Vec<_> = items
            .iter()
            .map(|(name, size, url, mt, is_dir)| {
                json!({"name": name, "size": size, "url": url, "mod_time": mt, "is_dir": is_dir})
            })
            .collect();
        (
            serde_json::Value::Array(list).to_string(),
            "application/json",
        )
    } else {
        let mut html = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1><table>\n",
            escape(req_path)
        );
        for (name, size, url, _, is_dir) in &items {
            let shown = if *is_dir {
                format!("{name}/")
            } else {
                name.clone()
            };
            html.push_str(&format!(
                "<tr><td><a href=\"./{}\">{}</a></td><td>{}</td></tr>\n",
                escape(url),
                escape(&shown),
                size
            ));
        }
        html.push_str("</table></body></html>\n");
        (html, "text/html; charset=utf-8")
    };
    let mut r = Response::new(Body::from_bytes(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    Ok(Flow::Respond(r))
}
