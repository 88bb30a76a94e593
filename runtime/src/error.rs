//! Errors of the runtime.
//!
//! Two kinds: [`Error`] for everything that goes wrong while loading,
//! provisioning or binding a config (it always names the place: a JSON path,
//! a module ID or a network address), and [`HttpError`] for what goes wrong
//! while serving one request. An `HttpError` records who is at fault, as
//! pingora's errors do: the downstream client (4xx), the upstream (502/504)
//! or the server itself (500). That choice decides the status code and
//! whether the error is logged as ours.

use http::StatusCode;
use std::borrow::Cow;
use std::fmt;

/// Why loading, validating or serving a config failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The JSON is malformed or does not fit the schema; `path` is the JSON
    /// path of the offending value (`apps.http.servers.srv0.routes[2]`).
    #[error("{path}: {message}")]
    Config { path: String, message: String },
    /// A module ID the runtime does not implement.
    #[error("{path}: module not implemented by bellhop: {id}")]
    UnknownModule { path: String, id: String },
    /// A listen address that cannot be parsed or bound.
    #[error("listen {address}: {message}")]
    Listen { address: String, message: String },
    /// Anything else, with its context.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// A config error at `path`.
    pub fn config(path: impl Into<String>, message: impl fmt::Display) -> Self {
        Error::Config {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// Who caused a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The client sent something wrong: a 4xx.
    Downstream,
    /// The backend failed: 502 or 504.
    Upstream,
    /// We failed: 500.
    Server,
}

/// A failed request, as a handler or matcher reports it.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The status the response gets (unless error routes decide otherwise).
    pub status: StatusCode,
    /// Who is at fault.
    pub fault: Fault,
    /// What went wrong, for logs and `{http.error.message}`.
    pub message: Cow<'static, str>,
    /// Where the error came from, for `{http.error.trace}`.
    pub trace: &'static str,
    /// A short random ID, for `{http.error.id}`.
    pub id: String,
}

impl HttpError {
    /// An error with an explicit status; the fault follows from the status.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        let fault = match status.as_u16() {
            400..=499 => Fault::Downstream,
            502..=504 => Fault::Upstream,
            _ => Fault::Server,
        };
        HttpError {
            status,
            fault,
            message: message.into(),
            trace: "",
            id: error_id(),
        }
    }

    /// The client's fault (4xx).
    pub fn downstream(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(status, message).with_fault(Fault::Downstream)
    }

    /// The upstream's fault: 502 Bad Gateway.
    pub fn upstream(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, message).with_fault(Fault::Upstream)
    }

    /// Our fault: 500.
    pub fn internal(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message).with_fault(Fault::Server)
    }

    /// Sets who is at fault.
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// Sets the origin shown by `{http.error.trace}`.
    pub fn with_trace(mut self, trace: &'static str) -> Self {
        self.trace = trace;
        self
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for HttpError {}

/// A 9-character ID like Caddy's error IDs (lower case and digits, without
/// the easily confused `l` and `o`), from a cheap per-thread PRNG.
fn error_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz0123456789";
    let mut n = crate::util::random_u64();
    (0..9)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}
