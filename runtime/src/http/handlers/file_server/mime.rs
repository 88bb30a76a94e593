//! Content types of served files, by file extension.

use http::HeaderValue;

/// The content type of a file name, by extension. The values are made at
/// compile time (made from a `&str` at run time, each of a value's bytes
/// is checked again per response), and the extension is compared as it
/// is, in any case (no lowercase copy).
pub fn of(path: &str) -> HeaderValue {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    TYPES
        .iter()
        .find(|(exts, _)| exts.iter().any(|e| e.eq_ignore_ascii_case(ext)))
        .map_or(OTHER, |(_, v)| v.clone())
}

const OTHER: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// Extensions (lowercase) and their types.
static TYPES: [(&[&str], HeaderValue); 23] = [
    (
        &["html", "htm"],
        HeaderValue::from_static("text/html; charset=utf-8"),
    ),
    (
        &["css"],
        HeaderValue::from_static("text/css; charset=utf-8"),
    ),
    (
        &["js", "mjs"],
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    ),
    (&["json"], HeaderValue::from_static("application/json")),
    (
        &["txt", "md"],
        HeaderValue::from_static("text/plain; charset=utf-8"),
    ),
    (
        &["xml"],
        HeaderValue::from_static("text/xml; charset=utf-8"),
    ),
    (&["svg"], HeaderValue::from_static("image/svg+xml")),
    (&["png"], HeaderValue::from_static("image/png")),
    (&["jpg", "jpeg"], HeaderValue::from_static("image/jpeg")),
    (&["gif"], HeaderValue::from_static("image/gif")),
    (&["webp"], HeaderValue::from_static("image/webp")),
    (&["avif"], HeaderValue::from_static("image/avif")),
    (
        &["ico"],
        HeaderValue::from_static("image/vnd.microsoft.icon"),
    ),
    (&["pdf"], HeaderValue::from_static("application/pdf")),
    (&["wasm"], HeaderValue::from_static("application/wasm")),
    (&["woff"], HeaderValue::from_static("font/woff")),
    (&["woff2"], HeaderValue::from_static("font/woff2")),
    (&["ttf"], HeaderValue::from_static("font/ttf")),
    (&["mp4"], HeaderValue::from_static("video/mp4")),
    (&["webm"], HeaderValue::from_static("video/webm")),
    (&["mp3"], HeaderValue::from_static("audio/mpeg")),
    (&["zip"], HeaderValue::from_static("application/zip")),
    (&["gz"], HeaderValue::from_static("application/gzip")),
];

#[cfg(test)]
mod tests {
    #[test]
    fn types_by_extension_in_any_case() {
        for (path, t) in [
            ("/a/index.html", "text/html; charset=utf-8"),
            ("/a/INDEX.HTM", "text/html; charset=utf-8"),
            ("x.Woff2", "font/woff2"),
            ("x.woff", "font/woff"),
            ("x.tar.gz", "application/gzip"),
            ("README", "application/octet-stream"),
            ("x.", "application/octet-stream"),
            ("x.htmlx", "application/octet-stream"),
        ] {
            assert_eq!(super::of(path), t, "{path}");
        }
    }
}
