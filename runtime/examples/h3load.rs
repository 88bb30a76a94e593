//! `h3load`: a small HTTP/3 load generator (quinn + h3 + rustls with the
//! ring provider), for comparing servers where `oha` cannot connect. Against
//! Caddy 2.6.2, `oha --http-version 3` never completes a request, even on
//! one connection; its ClientHello offers X25519MLKEM768 first (Caddy's
//! debug log shows it), which Caddy's older TLS stack probably lacks, so
//! the handshake needs a retry that does not complete. This client
//! offers X25519, P-256 and P-384, and opens each connection from its own
//! UDP socket: Caddy 2.6.2 also stalls when several connections share one
//! client port.
//!
//! ```text
//! cargo run --release -p bellhop-runtime --example h3load -- \
//!     https://localhost:18300/ [-c CONNS] [-m STREAMS] [-d SECONDS]
//! ```
//!
//! Prints requests/s, p50/p99 latency, and errors. The certificate is not
//! verified (a benchmark against self-signed certificates).

use bellhop_runtime::http::handlers::reverse_proxy::NoVerify;
use bytes::{Buf, Bytes};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    url: http::Uri,
    conns: usize,
    streams: usize,
    secs: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        url: http::Uri::from_static("https://localhost/"),
        conns: 16,
        streams: 1,
        secs: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match x.as_str() {
            "-c" => a.conns = num("-c")?.max(1),
            "-m" => a.streams = num("-m")?.max(1),
            "-d" => a.secs = num("-d")? as u64,
            url => a.url = url.parse().map_err(|e| format!("{url}: {e}"))?,
        }
    }
    Ok(a)
}

type Send = h3::client::SendRequest<h3_quinn::OpenStreams, Bytes>;

/// Connects from an endpoint (UDP socket) of its own: Caddy 2.6.2's QUIC
/// stack stalls handshakes of several connections from one client port.
async fn connect(client: &quinn::ClientConfig, url: &http::Uri) -> Result<Send, String> {
    let mut endpoint =
        quinn::Endpoint::client("0.0.0.0:0".parse().unwrap()).map_err(|e| e.to_string())?;
    endpoint.set_default_client_config(client.clone());
    let host = url.host().ok_or("URL without host")?;
    let port = url.port_u16().unwrap_or(443);
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .find(|a| a.is_ipv4())
        .ok_or("no IPv4 address")?;
    let conn = endpoint
        .connect(addr, host)
        .map_err(|e| e.to_string())?
        .await
        .map_err(|e| e.to_string())?;
    let (mut driver, send) = h3::client::new(h3_quinn::Connection::new(conn))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = std::future::poll_fn(|cx| driver.poll_close(cx)).await;
    });
    Ok(send)
}

/// One request; its latency.
async fn one(send: &mut Send, url: &http::Uri) -> Result<Duration, String> {
    let start = Instant::now();
    let req = http::Request::get(url.clone()).body(()).unwrap();
    let mut s = send.send_request(req).await.map_err(|e| e.to_string())?;
    s.finish().await.map_err(|e| e.to_string())?;
    let resp = s.recv_response().await.map_err(|e| e.to_string())?;
    while let Some(mut chunk) = s.recv_data().await.map_err(|e| e.to_string())? {
        chunk.advance(chunk.remaining());
    }
    if !resp.status().is_success() {
        return Err(format!("status {}", resp.status()));
    }
    Ok(start.elapsed())
}

/// Requests one after another on one stream slot until `until`.
async fn worker(mut send: Send, url: http::Uri, until: Instant) -> (Vec<u32>, u64) {
    let (mut lat, mut errors) = (Vec::new(), 0);
    while Instant::now() < until {
        match tokio::time::timeout_at(until.into(), one(&mut send, &url)).await {
            Ok(Ok(d)) => lat.push(d.as_micros() as u32),
            Ok(Err(_)) => errors += 1,
            Err(_) => break, // cut at the deadline: not counted
        }
    }
    (lat, errors)
}

async fn run(a: Args) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify))
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h3".to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| e.to_string())?;
    let client = quinn::ClientConfig::new(Arc::new(quic));
    let mut sends = Vec::new();
    for _ in 0..a.conns {
        sends.push(connect(&client, &a.url).await?);
    }
    let started = Instant::now();
    let until = started + Duration::from_secs(a.secs);
    let mut tasks = Vec::new();
    for send in &sends {
        for _ in 0..a.streams {
            tasks.push(tokio::spawn(worker(send.clone(), a.url.clone(), until)));
        }
    }
    let (mut lat, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.map_err(|e| e.to_string())?;
        lat.extend(l);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)));
    let ms = |v: Option<&u32>| v.map_or(f64::NAN, |&us| f64::from(us) / 1000.0);
    println!(
        "requests {} in {secs:.2}s: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, errors {errors}",
        lat.len(),
        lat.len() as f64 / secs,
        ms(pct(0.50)),
        ms(pct(0.99)),
    );
    Ok(())
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("h3load: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(run(a)) {
        eprintln!("h3load: {e}");
        std::process::exit(1);
    }
}
