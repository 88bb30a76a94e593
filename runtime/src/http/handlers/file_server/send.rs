//! Sending one file: precompressed siblings, validators (`ETag`,
//! `Last-Modified`) and `304`, single ranges, content types, and a body
//! that reads small files at once and streams large ones.

use super::cache::FileCache;
use super::conditional::{self, useful_mtime, Decision};
use crate::error::HttpError;
use crate::http::{Body, Cx, Response};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::StatusCode;
use std::fs::Metadata;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::UNIX_EPOCH;

/// Larger files are streamed in chunks of this size.
const CHUNK: u64 = 256 * 1024;

fn accepts(cx: &Cx<'_>, enc: &str) -> bool {
    cx.parts
        .headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case(enc) && !q_zero
        })
}

/// Caddy's ETag: modification time (ns) and size in base 36, with a dash
/// between (only for a file with a useful modification time).
fn etag(modified: std::time::SystemTime, len: u64) -> HeaderValue {
    let nanos = modified
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Written in place (no strings per response): a quote, at most 25
    // digits for the time (36^25 > 2^128), a dash, at most 13 for the
    // size, a quote.
    let mut tag = [b'"'; 41];
    let mut at = base36(nanos, &mut tag, 1);
    tag[at] = b'-';
    at = base36(u128::from(len), &mut tag, at + 1);
    HeaderValue::from_bytes(&tag[..=at]).expect("quotes, digits and a dash")
}

/// Writes `n` in base 36 into `out` from `at`; where it ended.
fn base36(mut n: u128, out: &mut [u8], at: usize) -> usize {
    const D: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut digits = [0u8; 25];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = D[(n % 36) as usize];
        n /= 36;
        if n == 0 {
            break;
        }
    }
    let d = &digits[i..];
    out[at..at + d.len()].copy_from_slice(d);
    at + d.len()
}

/// A file's `Last-Modified` (formatted in place: no string per response).
fn last_modified(m: std::time::SystemTime) -> Option<HeaderValue> {
    use std::io::Write;
    let mut date = [0u8; 29];
    write!(&mut date[..], "{}", httpdate::HttpDate::from(m)).ok()?;
    HeaderValue::from_bytes(&date).ok()
}

/// The ETag from the first sidecar `path + ext` that exists (Caddy's
/// `etag_file_extensions`), newlines removed; `None` when there is none.
async fn sidecar_etag(path: &str, exts: &[String]) -> Result<Option<String>, HttpError> {
    for ext in exts {
        let sidecar = format!("{path}{ext}");
        match tokio::fs::read(&sidecar).await {
            Ok(bytes) => {
                let tag: String = String::from_utf8_lossy(&bytes).replace('\n', "");
                return Ok(Some(tag));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(HttpError::internal(format!(
                    "cannot read etag from file {sidecar}: {e}"
                )))
            }
        }
    }
    Ok(None)
}

/// Files next to the one served that change the response.
#[derive(Clone, Copy)]
pub struct Sidecars<'a> {
    /// (encoding, file suffix), in preference order.
    pub precompressed: &'a [(&'static str, &'static str)],
    /// Suffixes of files holding the ETag.
    pub etag_exts: &'a [String],
    /// Contents of recently served files.
    pub cache: &'a super::cache::FileCache,
}

/// Builds the response for `path` (already checked to be a file).
pub async fn file(
    cx: &Cx<'_>,
    path: &str,
    meta: Metadata,
    sidecars: Sidecars<'_>,
    status: Option<StatusCode>,
) -> Result<Response, HttpError> {
    let precompressed = sidecars.precompressed;
    // The thread's spare map (the writer keeps it again): no allocation
    // per response.
    let mut headers = crate::http::spare::header_map(8);
    headers.insert(header::CONTENT_TYPE, super::mime::of(path));
    let (mut send_path, mut send_meta) = (std::borrow::Cow::Borrowed(path), meta);
    // Vary on every file, compressed or not, so caches key by encoding
    // (Caddy #5849).
    const VARY: HeaderValue = HeaderValue::from_static("Accept-Encoding");
    headers.insert(header::VARY, VARY);
    if !precompressed.is_empty() {
        for (enc, suffix) in precompressed {
            if !accepts(cx, enc) {
                continue;
            }
            let candidate = format!("{path}{suffix}");
            if let Ok(m) = std::fs::metadata(&candidate) {
                if m.is_file() {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
                    (send_path, send_meta) = (candidate.into(), m);
                    break;
                }
            }
        }
    }
    // No date validators for a file dated at the Unix epoch, as Caddy's.
    let modified = send_meta.modified().ok();
    let mtime = useful_mtime(modified);
    let useful = modified.filter(|_| mtime.is_some());
    let tag = match sidecar_etag(&send_path, sidecars.etag_exts).await? {
        Some(t) if !t.is_empty() => {
            Some(HeaderValue::from_str(&t).map_err(|e| HttpError::internal(e.to_string()))?)
        }
        _ => useful.map(|m| etag(m, send_meta.len())),
    };
    if let Some(t) = &tag {
        headers.insert(header::ETAG, t.clone());
    }
    if let Some(v) = useful.and_then(last_modified) {
        headers.insert(header::LAST_MODIFIED, v);
    }
    let decision = match status {
        None => conditional::check(cx, tag.as_ref().and_then(|t| t.to_str().ok()), mtime),
        Some(_) => Decision::Serve {
            honour_range: false,
        },
    };
    let honour_range = match decision {
        Decision::Serve { honour_range } => honour_range,
        Decision::PreconditionFailed => {
            return Ok(super::super::status_response(
                StatusCode::PRECONDITION_FAILED,
            ))
        }
        Decision::NotModified => return Ok(not_modified(&headers)),
    };
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let size = send_meta.len();
    let ranged = honour_range.then(|| conditional::range(cx, size)).flatten();
    let (code, start, len) = match (status, ranged) {
        (None, Some(Ok((s, e)))) => {
            let v = format!("bytes {s}-{e}/{size}");
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&v).map_err(|e| HttpError::internal(e.to_string()))?,
            );
            (StatusCode::PARTIAL_CONTENT, s, e - s + 1)
        }
        (None, Some(Err(()))) => {
            let mut r = super::super::status_response(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        (s, _) => (s.unwrap_or(StatusCode::OK), 0, size),
    };
    // (`HeaderValue::from(u64)` formats into a buffer of its own and
    // then shares it: two allocations, where this is one.)
    let mut digits = itoa::Buffer::new();
    let length = HeaderValue::from_str(digits.format(len)).expect("digits");
    headers.insert(header::CONTENT_LENGTH, length);
    let body = if cx.parts.method == http::Method::HEAD {
        Body::Empty
    } else {
        open_body(&send_path, &send_meta, start, len, sidecars.cache)?
    };
    let mut r = Response::new(body);
    *r.status_mut() = code;
    crate::http::spare::discard_header_map(std::mem::replace(r.headers_mut(), headers));
    Ok(r)
}

/// A 304 as Go's `writeNotModified`: the validators and `Vary`, without
/// `Last-Modified` beside an `ETag`.
fn not_modified(headers: &http::HeaderMap) -> Response {
    let mut r = super::super::status_response(StatusCode::NOT_MODIFIED);
    let keep_date = !headers.contains_key(header::ETAG);
    for name in [header::ETAG, header::LAST_MODIFIED, header::VARY] {
        if name == header::LAST_MODIFIED && !keep_date {
            continue;
        }
        if let Some(v) = headers.get(&name) {
            r.headers_mut().insert(name, v.clone());
        }
    }
    r
}

/// The body: `len` bytes from `start`, from the cache when it holds this
/// version of the file, else read (and, when small enough, cached).
fn open_body(
    path: &str,
    meta: &Metadata,
    start: u64,
    len: u64,
    cache: &FileCache,
) -> Result<Body, HttpError> {
    use std::io::{Read, Seek};
    let io = |e: std::io::Error| HttpError::internal(format!("reading {path}: {e}"));
    let range = start as usize..(start + len) as usize;
    if let Some(all) = cache.get(path, meta) {
        return Ok(Body::from_bytes(all.slice(range)));
    }
    let mut f = std::fs::File::open(path).map_err(io)?;
    if FileCache::fits(meta) {
        let mut buf = Vec::with_capacity(meta.len() as usize);
        f.read_to_end(&mut buf).map_err(io)?;
        if buf.len() as u64 != meta.len() {
            // Changed since the stat: serve what the headers promised if
            // possible, and cache nothing.
            let end = range.end.min(buf.len());
            return Ok(Body::from_bytes(
                buf.get(range.start..end).unwrap_or_default().to_vec(),
            ));
        }
        let all = Bytes::from(buf);
        cache.insert(path, meta, all.clone());
        return Ok(Body::from_bytes(all.slice(range)));
    }
    if start > 0 {
        f.seek(std::io::SeekFrom::Start(start)).map_err(io)?;
    }
    Ok(Body::stream(FileBody {
        file: f,
        remaining: len,
    }))
}

/// Streams `remaining` bytes of a file in chunks of up to [`CHUNK`].
///
/// Files are read directly on the serving thread, as nginx does: reads of
/// cached pages take microseconds, far less than a hop to the blocking pool.
struct FileBody {
    file: std::fs::File,
    remaining: u64,
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        use std::io::Read;
        let this = self.get_mut();
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = this.remaining.min(CHUNK) as usize;
        // read_to_end fills spare capacity without zeroing it first.
        let mut buf = Vec::with_capacity(want);
        match (&mut this.file).take(want as u64).read_to_end(&mut buf) {
            Ok(n) if n < want => {
                return Poll::Ready(Some(Err(std::io::ErrorKind::UnexpectedEof.into())))
            }
            Ok(_) => {}
            Err(e) => return Poll::Ready(Some(Err(e))),
        }
        let filled = buf.len();
        this.remaining -= filled as u64;
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(buf)))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn etags_are_the_time_and_size_in_base_36() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        assert_eq!(super::etag(t, 4096), "\"cwyvpeni7w9h-35s\"");
        assert_eq!(super::etag(UNIX_EPOCH, 0), "\"0-0\"");
        assert_eq!(super::etag(UNIX_EPOCH, u64::MAX), "\"0-3w5e11264sgsf\"");
        let mut out = [0u8; 25];
        let end = super::base36(u128::MAX, &mut out, 0);
        assert_eq!(&out[..end], b"f5lxx1zz5pnorynqglhzmsp33");
    }

    #[test]
    fn last_modified_is_an_http_date() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let v = super::last_modified(t).unwrap();
        assert_eq!(v, "Tue, 14 Nov 2023 22:13:20 GMT");
    }
}
