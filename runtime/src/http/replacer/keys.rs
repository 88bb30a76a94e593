//! The placeholder keys bellhop knows, parsed from their names once, and
//! how each renders from a request.

use super::clock::{self, TimeFormat};
use super::query_pairs;
use crate::http::context::split_host;
use crate::http::Cx;
use http::header::HeaderName;
use std::fmt::Write;

/// A parsed placeholder.
#[derive(Debug, Clone)]
pub enum Key {
    /// Known when the config is provisioned (`{env.*}`, `{system.*}`).
    Static(Box<str>),
    Method,
    Scheme,
    Proto,
    Host,
    Hostport,
    Port,
    Remote,
    RemoteHost,
    RemotePort,
    Local,
    LocalHost,
    LocalPort,
    ClientIp,
    Uri,
    Path,
    PathDir,
    PathFile,
    PathFileBase,
    PathFileExt,
    PathSegment(usize),
    Query,
    PrefixedQuery,
    QueryParam(Box<str>),
    HostLabel(usize),
    Header(HeaderName),
    Cookie(Box<str>),
    OrigMethod,
    OrigUri,
    OrigPath,
    OrigQuery,
    Uuid,
    Duration,
    DurationMs,
    Var(Box<str>),
    Regexp(Box<str>),
    Error(ErrorField),
    FileMatch(FileField),
    AuthUserId,
    Time(TimeFormat),
}

/// `{http.error.*}`.
#[derive(Debug, Clone, Copy)]
pub enum ErrorField {
    StatusCode,
    StatusText,
    Message,
    Trace,
    Id,
}

/// `{http.matchers.file.*}`.
#[derive(Debug, Clone, Copy)]
pub enum FileField {
    Relative,
    Absolute,
    Type,
    Remainder,
}

impl Key {
    /// Parses a placeholder name; `None` when bellhop does not know it.
    pub fn parse(name: &str) -> Option<Key> {
        if let Some(k) = Self::fixed(name) {
            return Some(k);
        }
        let rq = |p: &str| name.strip_prefix(p);
        if let Some(v) = rq("env.") {
            return Some(Key::Static(std::env::var(v).unwrap_or_default().into()));
        }
        if let Some(v) = rq("http.request.header.") {
            return HeaderName::from_bytes(v.as_bytes()).ok().map(Key::Header);
        }
        if let Some(v) = rq("http.request.uri.query.") {
            return Some(Key::QueryParam(v.into()));
        }
        if let Some(v) = rq("http.request.uri.path.") {
            return v.parse().ok().map(Key::PathSegment);
        }
        if let Some(v) = rq("http.request.host.labels.") {
            return v.parse().ok().map(Key::HostLabel);
        }
        if let Some(v) = rq("http.request.cookie.") {
            return Some(Key::Cookie(v.into()));
        }
        if let Some(v) = rq("http.vars.") {
            return Some(Key::Var(v.into()));
        }
        if let Some(v) = rq("http.regexp.") {
            return Some(Key::Regexp(v.into()));
        }
        if let Some(v) = rq("time.now") {
            return TimeFormat::parse(v).map(Key::Time);
        }
        None
    }

    fn fixed(name: &str) -> Option<Key> {
        use ErrorField as E;
        use FileField as F;
        Some(match name {
            "http.request.method" => Key::Method,
            "http.request.scheme" => Key::Scheme,
            "http.request.proto" => Key::Proto,
            "http.request.host" => Key::Host,
            "http.request.hostport" => Key::Hostport,
            "http.request.port" => Key::Port,
            "http.request.remote" => Key::Remote,
            "http.request.remote.host" => Key::RemoteHost,
            "http.request.remote.port" => Key::RemotePort,
            "http.request.local" => Key::Local,
            "http.request.local.host" => Key::LocalHost,
            "http.request.local.port" => Key::LocalPort,
            "http.request.client_ip" | "http.vars.client_ip" => Key::ClientIp,
            "http.request.uri" => Key::Uri,
            "http.request.uri.path" => Key::Path,
            "http.request.uri.path.dir" => Key::PathDir,
            "http.request.uri.path.file" => Key::PathFile,
            "http.request.uri.path.file.base" => Key::PathFileBase,
            "http.request.uri.path.file.ext" => Key::PathFileExt,
            "http.request.uri.query" => Key::Query,
            "http.request.uri.prefixed_query" => Key::PrefixedQuery,
            "http.request.orig_method" => Key::OrigMethod,
            "http.request.orig_uri" => Key::OrigUri,
            "http.request.orig_uri.path" => Key::OrigPath,
            "http.request.orig_uri.query" => Key::OrigQuery,
            "http.request.uuid" => Key::Uuid,
            "http.request.duration" => Key::Duration,
            "http.request.duration_ms" => Key::DurationMs,
            "http.error.status_code" => Key::Error(E::StatusCode),
            "http.error.status_text" => Key::Error(E::StatusText),
            "http.error.message" => Key::Error(E::Message),
            "http.error.trace" => Key::Error(E::Trace),
            "http.error.id" => Key::Error(E::Id),
            "http.matchers.file.relative" => Key::FileMatch(F::Relative),
            "http.matchers.file.absolute" => Key::FileMatch(F::Absolute),
            "http.matchers.file.type" => Key::FileMatch(F::Type),
            "http.matchers.file.remainder" => Key::FileMatch(F::Remainder),
            "http.auth.user.id" => Key::AuthUserId,
            "system.hostname" => Key::Static(hostname().into()),
            "system.slash" => Key::Static("/".into()),
            "system.os" => Key::Static(std::env::consts::OS.into()),
            "system.arch" => Key::Static(go_arch().into()),
            "system.wd" => Key::Static(
                std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
                    .into(),
            ),
            _ => return None,
        })
    }

    /// Appends the value to `out`; false when the value is unknown for this
    /// request (no error being handled, no such capture, …).
    pub fn render(&self, cx: &Cx<'_>, out: &mut String) -> bool {
        match self {
            Key::Static(s) => out.push_str(s),
            Key::Method => out.push_str(cx.parts.method.as_str()),
            Key::Scheme => out.push_str(cx.conn.scheme()),
            Key::Proto => out.push_str(proto(cx.parts.version)),
            Key::Host => out.push_str(cx.host()),
            Key::Hostport => out.push_str(cx.hostport()),
            Key::Port => render_port(cx, out),
            Key::Remote => cx.conn.write_remote(out),
            Key::RemoteHost => {
                let _ = write!(out, "{}", cx.remote_ip());
            }
            Key::RemotePort => {
                let _ = write!(out, "{}", cx.conn.remote_port());
            }
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
            Key::Uri => out.push_str(cx.parts.uri.path_and_query().map_or("/", |pq| pq.as_str())),
            Key::Path => out.push_str(cx.path()),
            Key::PathDir => out.push_str(split_dir(cx.path()).0),
            Key::PathFile => out.push_str(split_dir(cx.path()).1),
            Key::PathFileBase => {
                let file = split_dir(cx.path()).1;
                out.push_str(file.strip_suffix(ext(file)).unwrap_or(file));
            }
            Key::PathFileExt => out.push_str(ext(split_dir(cx.path()).1)),
            Key::PathSegment(n) => {
                let p = cx.path().trim_start_matches('/');
                out.push_str(p.split('/').nth(*n).unwrap_or(""));
            }
            Key::Query => out.push_str(cx.query()),
            Key::PrefixedQuery => {
                if !cx.query().is_empty() {
                    out.push('?');
                    out.push_str(cx.query());
                }
            }
            Key::QueryParam(name) => {
                if let Some((_, v)) = query_pairs(cx.query()).find(|(k, _)| k == &**name) {
                    out.push_str(&v);
                }
            }
            Key::HostLabel(n) => {
                let labels = cx.host().rsplit('.');
                out.push_str(labels.clone().nth(*n).unwrap_or(""));
            }
            Key::Header(name) => join_header(cx, name, out),
            Key::Cookie(name) => render_cookie(cx, name, out),
            Key::OrigMethod => out.push_str(cx.orig_method.as_str()),
            Key::OrigUri => out.push_str(cx.orig_uri.path_and_query().map_or("/", |p| p.as_str())),
            Key::OrigPath => out.push_str(&crate::http::context::decode_path(cx.orig_uri.path())),
            Key::OrigQuery => out.push_str(cx.orig_uri.query().unwrap_or("")),
            Key::Uuid => out.push_str(cx.uuid()),
            Key::Duration => clock::write_go_duration(cx.start.elapsed(), out),
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
            Key::AuthUserId => out.push_str(cx.auth_user.as_deref().unwrap_or("")),
            Key::Time(f) => clock::write_now(*f, out),
        }
        true
    }

    /// Whether Caddy's replacer gives this placeholder as a number (the
    /// status of an error, ports, the duration in milliseconds), which
    /// matters where values keep their type (CEL expressions).
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Key::Error(ErrorField::StatusCode)
                | Key::Port
                | Key::RemotePort
                | Key::LocalPort
                | Key::DurationMs
        )
    }

    /// Writes the placeholder's name, for keys unknown at render time.
    pub fn write_name(&self, out: &mut String) {
        let _ = match self {
            Key::Regexp(k) => write!(out, "http.regexp.{k}"),
            Key::Error(f) => write!(out, "http.error.{}", format!("{f:?}").to_lowercase()),
            Key::FileMatch(f) => write!(
                out,
                "http.matchers.file.{}",
                format!("{f:?}").to_lowercase()
            ),
            other => write!(out, "{other:?}"),
        };
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

fn render_port(cx: &Cx<'_>, out: &mut String) {
    let (_, port) = split_host(cx.hostport());
    if port.is_empty() {
        let _ = write!(out, "{}", cx.conn.local_port());
    } else {
        out.push_str(port);
    }
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

fn join_header(cx: &Cx<'_>, name: &HeaderName, out: &mut String) {
    for (i, v) in cx.parts.headers.get_all(name).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&String::from_utf8_lossy(v.as_bytes()));
    }
}

fn render_cookie(cx: &Cx<'_>, name: &str, out: &mut String) {
    for h in cx.parts.headers.get_all(http::header::COOKIE) {
        let Ok(h) = h.to_str() else { continue };
        for pair in h.split(';') {
            let (k, v) = pair.trim().split_once('=').unwrap_or((pair.trim(), ""));
            if k == name {
                out.push_str(v.trim_matches('"'));
                return;
            }
        }
    }
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

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// The architecture under Go's name, as Caddy reports it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}
