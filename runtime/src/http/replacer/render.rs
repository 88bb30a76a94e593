//! How each placeholder [`Key`] renders from a request, as Caddy's
//! `addHTTPVarsToReplacer` (modules/caddyhttp/replacer.go) and its global
//! replacer (replacer.go) give it.

use super::clock;
use super::keys::{ErrorField, FileField, Key};
use super::query_pairs;
use crate::http::context::split_host;
use crate::http::Cx;
use http::header::HeaderName;
use std::fmt::Write;

/// The most of a file `{file.*}` reads, as Caddy's.
const FILE_PLACEHOLDER_MAX: u64 = 1024 * 1024;

impl Key {
    /// Appends the value to `out`; false when the value is unknown for this
    /// request (no error being handled, no such capture, …).
    pub fn render(&self, cx: &Cx<'_>, out: &mut String) -> bool {
        match self {
            Key::Static(s) => out.push_str(s),
            Key::Method => out.push_str(cx.parts.method.as_str()),
            Key::Scheme => out.push_str(cx.conn.scheme()),
            Key::Proto => out.push_str(proto(cx.parts.version)),
            Key::ProtoName => out.push_str(match cx.parts.version {
                http::Version::HTTP_2 => "HTTP/2",
                http::Version::HTTP_3 => "HTTP/3",
                v => proto(v),
            }),
            Key::Host => out.push_str(cx.host()),
            Key::Hostport => out.push_str(cx.hostport()),
            Key::Port => out.push_str(split_host(cx.hostport()).1),
            Key::Remote => cx.conn.write_remote(out),
            Key::RemoteHost => {
                let _ = write!(out, "{}", cx.remote_ip());
            }
            Key::RemotePort => {
                let _ = write!(out, "{}", cx.conn.remote_port());
            }
            Key::RemoteHostPrefix(bits) => remote_prefix(cx, bits, out),
            Key::Local | Key::LocalHost => match cx.conn.local {
                Some(a) if matches!(self, Key::Local) => {
                    let _ = write!(out, "{a}");
                }
                Some(a) => {
                    let _ = write!(out, "{}", crate::http::conn::canonical_ip(a.ip()));
                }
                None => {}
            },
            Key::LocalPort => {
                let _ = write!(out, "{}", cx.conn.local_port());
            }
            Key::ClientIp => {
                let _ = write!(out, "{}", cx.client_ip());
            }
            Key::Uri => out.push_str(cx.request_uri()),
            Key::UriEscaped => query_escape(cx.request_uri(), out),
            Key::Path => out.push_str(cx.path()),
            Key::PathEscaped => query_escape(cx.path(), out),
            Key::PathDir => out.push_str(split_dir(cx.path()).0),
            Key::PathFile => out.push_str(split_dir(cx.path()).1),
            Key::PathFileBase => {
                let file = split_dir(cx.path()).1;
                out.push_str(file.strip_suffix(ext(file)).unwrap_or(file));
            }
            Key::PathFileExt => out.push_str(ext(split_dir(cx.path()).1)),
            Key::PathSegment(n) => out.push_str(segment(cx.path(), *n)),
            Key::Query => out.push_str(cx.query()),
            Key::QueryEscaped => query_escape(cx.query(), out),
            Key::PrefixedQuery => prefixed(cx.query(), out),
            Key::QueryParam(name) => {
                let mut first = true;
                for (_, v) in query_pairs(cx.query()).filter(|(k, _)| k == &**name) {
                    if !std::mem::take(&mut first) {
                        out.push(',');
                    }
                    out.push_str(&v);
                }
            }
            Key::HostLabel(n) => {
                let label = cx.host().rsplit('.').nth(*n).unwrap_or("");
                out.extend(label.chars().map(|c| c.to_ascii_lowercase()));
            }
            Key::Header(name) => join_header(&cx.parts.headers, name, out),
            Key::RespHeader(name) => join_header(&cx.resp_headers, name, out),
            Key::Cookie(name) => render_cookie(cx, name, out),
            Key::OrigMethod => out.push_str(cx.orig_method.as_str()),
            Key::OrigUri => out.push_str(crate::http::context::request_uri_of(&cx.orig_uri)),
            Key::OrigPath => out.push_str(&orig_path(cx)),
            Key::OrigPathFile => out.push_str(split_dir(&orig_path(cx)).1),
            Key::OrigPathDir => out.push_str(split_dir(&orig_path(cx)).0),
            Key::OrigPathSegment(n) => out.push_str(segment(&orig_path(cx), *n)),
            Key::OrigQuery => out.push_str(cx.orig_uri.query().unwrap_or("")),
            Key::OrigPrefixedQuery => prefixed(cx.orig_uri.query().unwrap_or(""), out),
            Key::Body => {
                if let Some(b) = cx.body.buffered() {
                    out.push_str(&String::from_utf8_lossy(b));
                }
            }
            Key::BodyBase64 => {
                use base64::Engine as _;
                if let Some(b) = cx.body.buffered() {
                    base64::engine::general_purpose::STANDARD.encode_string(b, out);
                }
            }
            Key::File(path) => read_file(path, out),
            Key::Tls(field) => return super::tls::render(cx.conn.tls_info.as_deref(), field, out),
            Key::Uuid => out.push_str(cx.uuid()),
            Key::Duration => clock::write_go_duration(cx.start.elapsed(), out),
            Key::ShuttingDown => out.push_str(match cx.server.shutdown_at.get() {
                Some(_) => "true",
                None => "false",
            }),
            Key::TimeUntilShutdown => {
                if let Some(at) = cx.server.shutdown_at.get() {
                    let left = at.saturating_duration_since(tokio::time::Instant::now());
                    clock::write_go_duration(left, out);
                }
            }
            Key::DurationMs => {
                let _ = write!(out, "{}", cx.start.elapsed().as_secs_f64() * 1e3);
            }
            Key::Var(name) => out.push_str(cx.var(name).unwrap_or("")),
            Key::Regexp(key) => match cx.capture(key) {
                Some(v) => out.push_str(v),
                None => return false,
            },
            Key::Error(f) => return render_error(cx, *f, out),
            Key::FileMatch(f) => return render_file(cx, *f, out),
            Key::AuthUserId => match cx.auth_user.as_deref() {
                Some(u) => out.push_str(u),
                None => return false,
            },
            Key::Time(f) => clock::write_now(*f, out),
        }
        true
    }

    /// Whether rendering reads the request body (`{http.request.body}`).
    pub fn reads_body(&self) -> bool {
        matches!(self, Key::Body | Key::BodyBase64)
    }
}

fn proto(v: http::Version) -> &'static str {
    match v {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// Go's `URL.RequestURI()`: the escaped path and the query.
fn prefixed(query: &str, out: &mut String) {
    if !query.is_empty() {
        out.push('?');
        out.push_str(query);
    }
}

fn orig_path<'c>(cx: &'c Cx<'_>) -> std::borrow::Cow<'c, str> {
    crate::http::context::decode_path(cx.orig_uri.path())
}

/// Segment `n` of a path, counted after its leading slash.
fn segment(path: &str, n: usize) -> &str {
    let p = path.strip_prefix('/').unwrap_or(path);
    p.split('/').nth(n).unwrap_or("")
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str, out: &mut String) {
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// `{http.request.remote.host/V4,V6}`: the prefix of the remote IP with
/// V4 bits (V6 bits for IPv6 when given); empty on bad bits.
fn remote_prefix(cx: &Cx<'_>, bits: &str, out: &mut String) {
    let ip = cx.remote_ip();
    let (v4, v6) = bits.split_once(',').unwrap_or((bits, bits));
    let want = if ip.is_ipv6() { v6 } else { v4 };
    let Ok(n) = want.parse::<u32>() else { return };
    let masked = match ip {
        std::net::IpAddr::V4(v4) if n <= 32 => {
            let m = u32::from(v4).checked_shr(32 - n).unwrap_or(0);
            std::net::IpAddr::V4(m.checked_shl(32 - n).unwrap_or(0).into())
        }
        std::net::IpAddr::V6(v6) if n <= 128 => {
            let m = u128::from(v6).checked_shr(128 - n).unwrap_or(0);
            std::net::IpAddr::V6(m.checked_shl(128 - n).unwrap_or(0).into())
        }
        _ => return,
    };
    let _ = write!(out, "{masked}/{n}");
}

/// Go's `path.Split`: everything up to the last slash, and the rest.
fn split_dir(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => (&p[..=i], &p[i + 1..]),
        None => ("", p),
    }
}

/// Go's `path.Ext` of a file name.
fn ext(file: &str) -> &str {
    file.rfind('.').map_or("", |i| &file[i..])
}

/// The values of header `name`, joined with `,` as Caddy's replacer joins
/// them.
pub fn join_header(headers: &http::HeaderMap, name: &HeaderName, out: &mut String) {
    for (i, v) in headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
}

/// A cookie's value (empty when the request has none of that name, as
/// Caddy 2.11.7 answers). Names compare case-insensitively.
fn render_cookie(cx: &Cx<'_>, name: &str, out: &mut String) {
    for h in cx.parts.headers.get_all(http::header::COOKIE) {
        let Ok(h) = h.to_str() else { continue };
        for pair in h.split(';') {
            let (k, v) = pair.trim().split_once('=').unwrap_or((pair.trim(), ""));
            if k.eq_ignore_ascii_case(name) {
                out.push_str(v.trim_matches('"'));
                return;
            }
        }
    }
}

/// `{file.PATH}`: up to 1 MiB of the file, one trailing newline removed;
/// empty when it cannot be read.
fn read_file(path: &str, out: &mut String) {
    use std::io::Read;
    let mut buf = Vec::new();
    let read =
        std::fs::File::open(path).and_then(|f| f.take(FILE_PLACEHOLDER_MAX).read_to_end(&mut buf));
    if let Err(e) = read {
        tracing::error!(file = path, error = %e, "placeholder: failed to read file");
        return;
    }
    let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    out.push_str(&String::from_utf8_lossy(body));
}

fn render_error(cx: &Cx<'_>, f: ErrorField, out: &mut String) -> bool {
    let Some(e) = &cx.error else { return false };
    let _ = match f {
        ErrorField::StatusCode => write!(out, "{}", e.status.as_u16()),
        ErrorField::StatusText => write!(out, "{}", e.status.canonical_reason().unwrap_or("")),
        ErrorField::Message => write!(out, "{}", e.message),
        ErrorField::Trace => write!(out, "{}", e.trace),
        ErrorField::Id => write!(out, "{}", e.id),
    };
    true
}

fn render_file(cx: &Cx<'_>, f: FileField, out: &mut String) -> bool {
    let Some(m) = &cx.file_match else {
        return false;
    };
    out.push_str(match f {
        FileField::Relative => &m.relative,
        FileField::Absolute => &m.absolute,
        FileField::Type => m.kind,
        FileField::Remainder => &m.remainder,
    });
    true
}
