//! Continuous HTTP/1.1 load for the upgrade tests: client threads that
//! either keep one connection alive across requests (reconnecting only
//! when a response says `Connection: close`) or open a new connection
//! per request. Nothing is retried: every failure is counted by kind.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the clients saw.
#[derive(Default)]
pub struct Tally {
    pub ok: AtomicUsize,
    pub refused: AtomicUsize,
    pub reset: AtomicUsize,
    pub failed: AtomicUsize,
    /// Reconnects after a `Connection: close` (not failures).
    pub closes: AtomicUsize,
    pub errors: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, e: &std::io::Error, what: &str) {
        let counter = match e.kind() {
            ErrorKind::ConnectionRefused => &self.refused,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                &self.reset
            }
            _ => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut errors = self.errors.lock().unwrap();
        if errors.len() < 20 {
            errors.push(format!("{what}: {e}"));
        }
    }

    pub fn get(&self, c: &AtomicUsize) -> usize {
        c.load(Ordering::Relaxed)
    }
}

/// Running client threads.
pub struct Load {
    pub tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts `keep_alive` + `fresh` clients against 127.0.0.1:`port`,
    /// each expecting `body`.
    pub fn start(port: u16, body: &'static str, keep_alive: usize, fresh: usize) -> Self {
        let tally = Arc::new(Tally::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for i in 0..keep_alive + fresh {
            let (tally, stop) = (tally.clone(), stop.clone());
            let reuse = i < keep_alive;
            threads.push(std::thread::spawn(move || {
                client(port, body, reuse, &tally, &stop)
            }));
        }
        Load {
            tally,
            stop,
            threads,
        }
    }

    /// Stops the clients and returns what they saw.
    pub fn finish(self) -> Arc<Tally> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        self.tally
    }
}

fn client(port: u16, body: &str, reuse: bool, tally: &Tally, stop: &AtomicBool) {
    let mut conn: Option<BufReader<TcpStream>> = None;
    while !stop.load(Ordering::Relaxed) {
        // A steady pace, not a flood: the machine also runs the servers.
        std::thread::sleep(Duration::from_millis(1));
        if conn.is_none() {
            match connect(port) {
                Ok(c) => conn = Some(BufReader::new(c)),
                Err(e) => {
                    tally.record(&e, "connect");
                    continue;
                }
            }
        }
        let c = conn.as_mut().unwrap();
        match request(c, reuse) {
            Ok((status, close, got)) if status == 200 && got == body => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
                if close || !reuse {
                    if reuse {
                        tally.closes.fetch_add(1, Ordering::Relaxed);
                    }
                    conn = None;
                }
            }
            Ok((status, _, got)) => {
                let e = std::io::Error::other(format!("status {status}, body {got:?}"));
                tally.record(&e, "response");
                conn = None;
            }
            Err(e) => {
                tally.record(
                    &e,
                    if reuse {
                        "keep-alive request"
                    } else {
                        "request"
                    },
                );
                conn = None;
            }
        }
    }
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// One request; the status, whether the server closes, and the body.
fn request(c: &mut BufReader<TcpStream>, reuse: bool) -> std::io::Result<(u16, bool, String)> {
    let close = if reuse { "" } else { "Connection: close\r\n" };
    let req = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{close}\r\n");
    c.get_mut().write_all(req.as_bytes())?;
    let mut line = String::new();
    if c.read_line(&mut line)? == 0 {
        return Err(ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let (mut length, mut closes) = (0usize, false);
    loop {
        line.clear();
        if c.read_line(&mut line)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').unwrap_or((l, ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap_or(0),
            "connection" => closes = value.trim().eq_ignore_ascii_case("close"),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    c.read_exact(&mut body)?;
    Ok((status, closes, String::from_utf8_lossy(&body).into_owned()))
}
