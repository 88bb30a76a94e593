//! A tiny authoritative DNS server over UDP on 127.0.0.1:0 for the
//! dynamic-upstream tests: it answers A and SRV questions from a table
//! the test can change while it runs, counts the questions it got, and
//! can be switched to answer SERVFAIL. Names are matched without case and
//! without the final dot; unknown names get NXDOMAIN, known names without
//! records of the asked type an empty answer. TTLs are 0, so only
//! bellhop's own `refresh` cache keeps answers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

/// One record of the table.
#[derive(Debug, Clone)]
pub enum Rec {
    A(Ipv4Addr),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: String,
    },
}

/// A running DNS server.
pub struct DnsServer {
    pub addr: SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<Rec>>>>,
    queries: Arc<Mutex<Vec<String>>>,
    failing: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DnsServer {
    /// Starts a server with an empty table.
    pub async fn start() -> DnsServer {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<Rec>>>> = Arc::default();
        let queries: Arc<Mutex<Vec<String>>> = Arc::default();
        let failing = Arc::new(AtomicBool::new(false));
        let (r, q, f) = (records.clone(), queries.clone(), failing.clone());
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                if let Some(resp) = answer(&buf[..n], &r, &q, &f) {
                    let _ = sock.send_to(&resp, from).await;
                }
            }
        });
        DnsServer {
            addr,
            records,
            queries,
            failing,
            task,
        }
    }

    /// Replaces the records of `name`.
    pub fn set(&self, name: &str, recs: Vec<Rec>) {
        self.records
            .lock()
            .unwrap()
            .insert(name.to_lowercase(), recs);
    }

    /// Removes `name` (NXDOMAIN from now on).
    pub fn remove(&self, name: &str) {
        self.records.lock().unwrap().remove(&name.to_lowercase());
    }

    /// Whether to answer every question with SERVFAIL.
    pub fn fail(&self, on: bool) {
        self.failing.store(on, Ordering::SeqCst);
    }

    /// How many questions about `name` arrived so far.
    pub fn asked(&self, name: &str) -> usize {
        let name = name.to_lowercase();
        self.queries
            .lock()
            .unwrap()
            .iter()
            .filter(|q| **q == name)
            .count()
    }
}

fn answer(
    q: &[u8],
    records: &Mutex<HashMap<String, Vec<Rec>>>,
    queries: &Mutex<Vec<String>>,
    failing: &AtomicBool,
) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let (name, end) = read_name(q, 12)?;
    let qtype = u16::from_be_bytes([*q.get(end)?, *q.get(end + 1)?]);
    let question = q.get(12..end + 4)?;
    queries.lock().unwrap().push(name.clone());
    let recs = records.lock().unwrap().get(&name).cloned();
    let rcode = match (&recs, failing.load(Ordering::SeqCst)) {
        (_, true) => 2,
        (None, _) => 3,
        _ => 0,
    };
    let answers: Vec<Vec<u8>> = match (&recs, rcode) {
        (Some(recs), 0) => recs.iter().filter_map(|r| record(r, qtype)).collect(),
        _ => Vec::new(),
    };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&q[0..2]);
    out.push(0x84 | (q[2] & 0x01)); // response, authoritative, RD copied
    out.push(0x80 | rcode); // recursion available
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for a in answers {
        out.extend_from_slice(&a);
    }
    Some(out)
}

/// A resource record answering `qtype`, named by a pointer to the
/// question's name.
fn record(r: &Rec, qtype: u16) -> Option<Vec<u8>> {
    let (rtype, rdata) = match r {
        Rec::A(ip) if qtype == 1 => (1u16, ip.octets().to_vec()),
        Rec::Srv {
            priority,
            weight,
            port,
            target,
        } if qtype == 33 => {
            let mut d = Vec::new();
            for n in [priority, weight, port] {
                d.extend_from_slice(&n.to_be_bytes());
            }
            for label in target.trim_end_matches('.').split('.') {
                d.push(label.len() as u8);
                d.extend_from_slice(label.as_bytes());
            }
            d.push(0);
            (33, d)
        }
        _ => return None,
    };
    let mut out = vec![0xC0, 0x0C];
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // class IN
    out.extend_from_slice(&0u32.to_be_bytes()); // TTL
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    Some(out)
}

/// The name starting at `at` (no compression in questions), lowercased,
/// and the offset after it.
fn read_name(q: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = *q.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(at..at + len)?).to_lowercase());
        at += len;
    }
    Some((labels.join("."), at))
}
