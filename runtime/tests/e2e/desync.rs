//! The standing desync suite: every request of aws/http-desync-guardian's
//! classified corpus (testdata/http-desync-guardian, Apache-2.0) sent raw
//! to bellhop as a reverse proxy in front of a backend that records the
//! exact bytes it receives. Per class, as the corpus defines them:
//!
//! - Severe: 400 or 501, the connection closed, nothing forwarded;
//! - Ambiguous: refused the same way, or forwarded with one clean framing
//!   and the client's connection closed after the answer;
//! - Compliant: forwarded and answered 2xx;
//! - Acceptable: either, as long as what is forwarded is clean.
//!
//! Whatever is forwarded must be cleanly framed (at most one
//! Content-Length, never with Transfer-Encoding, a Transfer-Encoding only
//! `chunked`, no control characters in a header line), and the backend
//! must see no more requests than the client was answered for: nothing
//! smuggled. A GET or HEAD with a body, or a chunked request that also
//! had a length, is forwarded, and then neither its client nor its
//! upstream connection is reused; no chunked request's upstream
//! connection is reused. The process serves
//! normally afterwards.
//!
//! Where the corpus's label and RFC 9112 (or issue 15) disagree, the
//! answer is the RFC's, and [`expected_refusal`] says why, case by case.

use crate::hostile_support::{request_len, Rig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug)]
struct Case {
    file: String,
    name: String,
    tier: String,
    reason: String,
    /// All `Transfer-Encoding` values, joined with commas.
    te: Option<String>,
    raw: Vec<u8>,
}

fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/http-desync-guardian/cases.json"
    );
    let all: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    all.iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            let headers: Vec<(String, String)> = c["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_string(),
                        h[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let te: Vec<&str> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
                .map(|(_, v)| v.as_str())
                .collect();
            Case {
                file: s("file"),
                name: s("name"),
                tier: s("tier"),
                reason: s("reason"),
                te: (!te.is_empty()).then(|| te.join(",")),
                raw: raw_request(&s("method"), &s("uri"), &s("version"), &headers),
            }
        })
        .collect()
}

/// The request's bytes: its head (with a `Host` line first when the case
/// has none: the corpus is about framing, and HTTP/1.1 without `Host` is
/// refused before framing matters), then a body as its (plainly spelled)
/// framing headers announce one: `0` chunk for chunked, N bytes for a
/// Content-Length of N.
fn raw_request(method: &str, uri: &str, version: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut head = format!("{method} {uri}");
    if !version.is_empty() {
        head.push(' ');
        head.push_str(version);
    }
    head.push_str("\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str("Host: desync.test\r\n");
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let named = |want: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(want))
            .map(|(_, v)| v.trim())
    };
    let mut raw = head.into_bytes();
    if named("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        raw.extend_from_slice(b"0\r\n\r\n");
    } else if let Some(n) = named("content-length").and_then(|v| v.parse::<usize>().ok()) {
        raw.extend(std::iter::repeat_n(b'a', n.min(8 << 20)));
    }
    raw
}

/// The requests in `bytes` as the backend framed them, or why they are
/// not cleanly framed.
fn forwarded_requests(bytes: &[u8]) -> Result<usize, String> {
    let mut rest = bytes;
    let mut n = 0;
    while !rest.is_empty() {
        let head_end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("an incomplete request head")?;
        clean_head(&rest[..head_end])?;
        let len = request_len(rest).ok_or("an incomplete request body")?;
        rest = &rest[len..];
        n += 1;
    }
    Ok(n)
}

fn clean_head(head: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(head);
    let (mut cl, mut te) = (0, Vec::new());
    for line in text.split("\r\n").skip(1) {
        if line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(format!("a control character in {line:?}"));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("a line without a colon: {line:?}"));
        };
        if name.is_empty() || name.bytes().any(|b| !is_tchar(b)) {
            return Err(format!("a header name that is not a token: {name:?}"));
        }
        match name.to_ascii_lowercase().as_str() {
            "content-length" => cl += 1,
            "transfer-encoding" => te.push(value.trim().to_ascii_lowercase()),
            _ => {}
        }
    }
    if cl > 1 || (cl > 0 && !te.is_empty()) || te.iter().any(|t| t != "chunked") || te.len() > 1 {
        return Err(format!("ambiguous framing: {text:?}"));
    }
    Ok(())
}

/// Cases the corpus calls Compliant (or Ambiguous with one reading) that
/// bellhop answers otherwise, with the rule that decides it.
fn expected_refusal(case: &Case, raw_te: Option<&str>) -> Option<(&'static [u16], &'static str)> {
    if case.name == "Empty URI" {
        return Some((&[400], "RFC 9112 3.2: the request-target cannot be empty"));
    }
    let te = raw_te?.to_ascii_lowercase();
    let codings: Vec<&str> = te
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    if codings.iter().any(|c| c.contains(';')) {
        return Some((
            &[400, 501],
            "RFC 9112 7: chunked takes no parameters; a transfer-parameter needs `=`",
        ));
    }
    if codings != ["chunked"] {
        return Some((
            &[400, 501],
            "issue 15, RFC 9112 6.1 and 6.3: a coding other than one chunked is not implemented (501), \
             or leaves the length unknown when chunked is not last (400)",
        ));
    }
    None
}

/// Why the upstream connection a forwarded request went out on must not
/// be reused, if it must: a GET or HEAD that carried a body, a chunked
/// request that also had a `Content-Length`, or any chunked request
/// (bellhop cannot tell the last two apart: hyper removes the length).
fn fresh_upstream_needed(raw: &[u8], seen: &[u8]) -> Option<&'static str> {
    // the header lines of the first head in `bytes`, lowercased
    let head = |bytes: &[u8]| -> Vec<String> {
        let text = String::from_utf8_lossy(bytes).to_ascii_lowercase();
        let head = text.split("\r\n\r\n").next().unwrap_or("").to_string();
        head.split("\r\n").skip(1).map(str::to_string).collect()
    };
    let has = |lines: &[String], name: &str| {
        lines.iter().any(|l| {
            l.split_once(':')
                .is_some_and(|(n, v)| n == name && !(name == "content-length" && v.trim() == "0"))
        })
    };
    let (sent, forwarded) = (head(raw), head(seen));
    let chunked = has(&forwarded, "transfer-encoding");
    let bodyless = raw.starts_with(b"GET ") || raw.starts_with(b"HEAD ");
    if bodyless && (chunked || has(&forwarded, "content-length")) {
        Some("a GET/HEAD with a body")
    } else if chunked && has(&sent, "content-length") {
        Some("a chunked request with a length")
    } else if chunked {
        Some("a chunked request")
    } else {
        None
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_desync_corpus_is_refused_or_forwarded_cleanly() {
    let rig = Rig::start().await;
    let mut counts: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in cases() {
        let before = rig.seen().len();
        let x = rig.send(&case.raw, Duration::from_millis(600)).await;
        let seen = rig.seen.lock().unwrap()[before..].to_vec();
        let first = x.statuses.first().copied().unwrap_or(0);
        let answered_2xx = x
            .statuses
            .iter()
            .filter(|s| (200..300).contains(*s))
            .count();
        let forwarded = forwarded_requests(&seen);
        let refused = matches!(first, 400 | 501) && x.closed && seen.is_empty();
        let outcome = match (&forwarded, refused) {
            (_, true) => "refused",
            (Ok(0), false) => "answered without forwarding",
            (Ok(_), false) if x.closed => "forwarded cleanly, then closed",
            (Ok(_), false) => "forwarded cleanly",
            (Err(_), false) => "forwarded unclean",
        };
        *counts
            .entry(case.tier.clone())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
        let mut fail = |why: String| {
            failures.push(format!(
                "{} / {} ({}): {why}; answered {:?}",
                case.file,
                case.name,
                case.tier,
                x.raw.lines().next().unwrap_or("")
            ));
        };
        if let Err(e) = &forwarded {
            fail(format!("forwarded with {e}"));
        }
        if let Ok(n) = forwarded {
            if n > answered_2xx {
                fail(format!(
                    "the backend saw {n} requests for {answered_2xx} answers"
                ));
            }
        }
        if outcome.starts_with("forwarded") && !seen.is_empty() {
            if let Some(why) = fresh_upstream_needed(&case.raw, &seen) {
                // neither connection is reused (the client's only where the
                // client sent a body on GET/HEAD or a length with chunked):
                // the proxy closes the upstream one, and the next request
                // goes on another
                let suspect = *rig.last_conn.lock().unwrap();
                let deadline = std::time::Instant::now() + Duration::from_secs(2);
                while !rig.closed.lock().unwrap().contains(&suspect)
                    && std::time::Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let y = rig
                    .send(
                        b"GET /next HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                        Duration::from_secs(2),
                    )
                    .await;
                let next = *rig.last_conn.lock().unwrap();
                let closed = rig.closed.lock().unwrap().contains(&suspect);
                if !closed || next == suspect || y.statuses != [200] {
                    fail(format!(
                        "the upstream connection was kept after {why} (connection {suspect} closed: {closed}; next on {next})"
                    ));
                }
                if why != "a chunked request" && !x.closed {
                    fail(format!("the client connection stayed open after {why}"));
                }
            }
        }
        let exception = match case.tier.as_str() {
            "Compliant" | "Acceptable" => expected_refusal(&case, case.te.as_deref()),
            _ => None,
        };
        match (case.tier.as_str(), exception) {
            (_, Some((statuses, why)))
                if !(statuses.contains(&first) && x.closed && seen.is_empty()) =>
            {
                fail(format!(
                    "expected {statuses:?} and close ({why}), got: {outcome}"
                ))
            }
            (_, Some(_)) => {}
            ("Severe", None) if !refused => fail(format!("not refused: {outcome}")),
            // RFC 9110 8.6: identical duplicate lengths may be read as one (hyper
            // does; nothing distinguishes them after parsing)
            ("Ambiguous", None) if case.reason == "DuplicateContentLength" && forwarded.is_ok() => {
            }
            ("Ambiguous", None) if !refused && outcome != "forwarded cleanly, then closed" => fail(
                format!("neither refused nor closed after a clean forward: {outcome}"),
            ),
            ("Compliant", None) if !(200..300).contains(&first) => {
                fail(format!("answered {first}"))
            }
            _ => {}
        }
    }
    for (tier, outcomes) in &counts {
        let total: usize = outcomes.values().sum();
        let parts: Vec<String> = outcomes.iter().map(|(o, n)| format!("{n} {o}")).collect();
        println!("desync corpus: {tier}: {total} ({})", parts.join(", "));
    }
    // the process serves normally afterwards
    let x = rig
        .send(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            Duration::from_secs(2),
        )
        .await;
    assert_eq!(x.statuses, vec![200], "{}", x.raw);
    assert!(
        failures.is_empty(),
        "{} of the corpus failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
