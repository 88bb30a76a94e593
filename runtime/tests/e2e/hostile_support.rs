//! Raw HTTP/1 exchanges for the hostile-input tests: bellhop as a reverse
//! proxy in front of a raw-socket backend that records every byte it
//! receives, and a client that sends exact bytes and reports the answer,
//! whether the connection was closed after it, and what reached the
//! backend.

#![allow(dead_code)]

use crate::proxy_support::{bellhop, proxy, raw_backend};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A proxy in front of a recording backend.
pub struct Rig {
    pub server: crate::support::TestServer,
    /// Every byte the backend received, over all its connections.
    pub seen: Arc<Mutex<Vec<u8>>>,
    /// Connections the backend accepted.
    pub conns: Arc<Mutex<usize>>,
    /// The connection (1, 2, … in the order accepted) that received the
    /// latest whole request.
    pub last_conn: Arc<Mutex<usize>>,
    /// The connections the proxy has closed.
    pub closed: Arc<Mutex<Vec<usize>>>,
    _backend: tokio::task::JoinHandle<()>,
}

/// What came back for one raw exchange.
#[derive(Debug)]
pub struct Exchange {
    /// The status codes of the responses read, in order.
    pub statuses: Vec<u16>,
    /// Whether the server closed the connection (within the wait).
    pub closed: bool,
    pub raw: String,
}

impl Rig {
    /// Starts the backend (answering every request `200 ok`, framing
    /// request bodies by Content-Length or chunked) and bellhop.
    pub async fn start() -> Rig {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::new(Mutex::new(0usize));
        let last_conn = Arc::new(Mutex::new(0usize));
        let closed = Arc::new(Mutex::new(Vec::new()));
        let (s2, c2, l2, d2) = (
            seen.clone(),
            conns.clone(),
            last_conn.clone(),
            closed.clone(),
        );
        let (addr, task) = raw_backend(move |c| {
            let (seen, conns, last, done) = (s2.clone(), c2.clone(), l2.clone(), d2.clone());
            let id = {
                let mut n = conns.lock().unwrap();
                *n += 1;
                *n
            };
            async move {
                backend_conn(c, seen, id, last).await;
                done.lock().unwrap().push(id);
            }
        })
        .await;
        let server = bellhop(proxy(&[addr], serde_json::json!({})));
        Rig {
            server,
            seen,
            conns,
            last_conn,
            closed,
            _backend: task,
        }
    }

    /// What the backend received, as text.
    pub fn seen(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Sends `bytes` on a new connection and reads until the server closes
    /// it or goes quiet for `wait`.
    pub async fn send(&self, bytes: &[u8], wait: Duration) -> Exchange {
        raw_exchange(self.server.addr, bytes, wait).await
    }
}

/// Sends `bytes` to `addr` and reads until close or `wait` of silence.
pub async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8], wait: Duration) -> Exchange {
    let mut c = TcpStream::connect(addr).await.unwrap();
    let _ = c.write_all(bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match tokio::time::timeout(wait, c.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    let raw = String::from_utf8_lossy(&out).into_owned();
    let statuses = raw
        .match_indices("HTTP/1.")
        .filter_map(|(i, _)| raw.get(i + 9..i + 12)?.parse().ok())
        .collect();
    Exchange {
        statuses,
        closed,
        raw,
    }
}

/// One backend connection (`id`): records bytes, answers each request,
/// notes itself in `last` as the latest to receive one.
async fn backend_conn(
    mut c: TcpStream,
    seen: Arc<Mutex<Vec<u8>>>,
    id: usize,
    last: Arc<Mutex<usize>>,
) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        while let Some(len) = request_len(&buf) {
            buf.drain(..len);
            *last.lock().unwrap() = id;
            let body = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            if c.write_all(body).await.is_err() {
                return;
            }
        }
        match c.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                seen.lock().unwrap().extend_from_slice(&chunk[..n]);
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
}

/// The length of the first complete request in `buf` (head and body,
/// framed by Content-Length or a chunked coding), if it is all there.
pub fn request_len(buf: &[u8]) -> Option<usize> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    if field("transfer-encoding:").is_some_and(|v| v.contains("chunked")) {
        let mut at = head_end;
        loop {
            let line_end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
            let size_text = String::from_utf8_lossy(&buf[at..line_end]);
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            at = line_end + 2;
            if size == 0 {
                let end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at + 2;
                return Some(end);
            }
            if buf.len() < at + size + 2 {
                return None;
            }
            at += size + 2;
        }
    }
    let len: usize = field("content-length:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (buf.len() >= head_end + len).then_some(head_end + len)
}
