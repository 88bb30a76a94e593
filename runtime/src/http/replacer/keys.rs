//! The placeholder keys bellhop knows, parsed from their names once (how
//! each renders is in `render.rs`).

use super::clock::TimeFormat;
use http::header::HeaderName;
use std::fmt::Write;

/// A parsed placeholder.
#[derive(Debug, Clone)]
pub enum Key {
    /// Known when the config is provisioned (`{env.*}`, `{system.*}`).
    Static(Box<str>),
    /// `true` once a `shutdown_delay` runs.
    ShuttingDown,
    /// The time left of a running `shutdown_delay` (empty without one).
    TimeUntilShutdown,
    Method,
    Scheme,
    Proto,
    ProtoName,
    Host,
    Hostport,
    Port,
    Remote,
    RemoteHost,
    RemotePort,
    /// `{http.request.remote.host/V4,V6}`: the remote IP's prefix.
    RemoteHostPrefix(Box<str>),
    Local,
    LocalHost,
    LocalPort,
    ClientIp,
    Uri,
    UriEscaped,
    Path,
    PathEscaped,
    PathDir,
    PathFile,
    PathFileBase,
    PathFileExt,
    PathSegment(usize),
    Query,
    QueryEscaped,
    PrefixedQuery,
    QueryParam(Box<str>),
    HostLabel(usize),
    Header(HeaderName),
    Cookie(Box<str>),
    OrigMethod,
    OrigUri,
    OrigPath,
    OrigPathFile,
    OrigPathDir,
    OrigPathSegment(usize),
    OrigQuery,
    OrigPrefixedQuery,
    Body,
    BodyBase64,
    /// `{http.response.header.*}`: the response headers set so far.
    RespHeader(HeaderName),
    /// `{file.PATH}`: the file's contents, read when rendered.
    File(Box<str>),
    /// `{http.request.tls.FIELD}`, the field lowercased.
    Tls(Box<str>),
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
            return Some(header_key(v, Key::Header));
        }
        if let Some(v) = rq("http.response.header.") {
            return Some(header_key(v, Key::RespHeader));
        }
        if let Some(v) = rq("http.request.orig_uri.path.") {
            return v.parse().ok().map(Key::OrigPathSegment);
        }
        if let Some(v) = rq("http.request.remote.host/") {
            return Some(Key::RemoteHostPrefix(v.into()));
        }
        if let Some(v) = rq("http.request.tls.") {
            return Some(Key::Tls(v.to_ascii_lowercase().into()));
        }
        if let Some(v) = rq("file.") {
            return Some(Key::File(v.into()));
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
            "http.request.proto_name" => Key::ProtoName,
            "http.request.host" => Key::Host,
            "http.request.hostport" => Key::Hostport,
            "http.request.port" => Key::Port,
            "http.request.remote" => Key::Remote,
            "http.request.remote.host" => Key::RemoteHost,
            "http.request.remote.port" => Key::RemotePort,
            "http.request.local" => Key::Local,
            "http.request.local.host" => Key::LocalHost,
            "http.request.local.port" => Key::LocalPort,
            "http.vars.client_ip" => Key::ClientIp,
            "http.request.uri" => Key::Uri,
            "http.request.uri_escaped" => Key::UriEscaped,
            "http.request.uri.path" => Key::Path,
            "http.request.uri.path_escaped" => Key::PathEscaped,
            "http.request.uri.path.dir" => Key::PathDir,
            "http.request.uri.path.file" => Key::PathFile,
            "http.request.uri.path.file.base" => Key::PathFileBase,
            "http.request.uri.path.file.ext" => Key::PathFileExt,
            "http.request.uri.query" => Key::Query,
            "http.request.uri.query_escaped" => Key::QueryEscaped,
            "http.request.uri.prefixed_query" => Key::PrefixedQuery,
            "http.request.orig_method" => Key::OrigMethod,
            "http.request.orig_uri" => Key::OrigUri,
            "http.request.orig_uri.path" => Key::OrigPath,
            "http.request.orig_uri.path.file" => Key::OrigPathFile,
            "http.request.orig_uri.path.dir" => Key::OrigPathDir,
            "http.request.orig_uri.query" => Key::OrigQuery,
            "http.request.orig_uri.prefixed_query" => Key::OrigPrefixedQuery,
            "http.request.body" => Key::Body,
            "http.request.body_base64" => Key::BodyBase64,
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
            "http.shutting_down" => Key::ShuttingDown,
            "http.time_until_shutdown" => Key::TimeUntilShutdown,
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
            Key::Tls(k) => write!(out, "http.request.tls.{k}"),
            Key::AuthUserId => write!(out, "http.auth.user.id"),
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

/// A header placeholder; a name that is no header name renders empty,
/// as Caddy finds no such header.
fn header_key(name: &str, key: fn(HeaderName) -> Key) -> Key {
    HeaderName::from_bytes(name.as_bytes()).map_or(Key::Static("".into()), key)
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
