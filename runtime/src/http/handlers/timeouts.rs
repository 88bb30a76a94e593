//! `http.handlers.timeouts`: the server's stall limits, scoped to the
//! routes that run this handler (Caddy 2.11's `timeouts`).
//!
//! - `read_timeout` (with `read_min_rate`): the request body may stall at
//!   most this long between reads; with a rate, the allowance is
//!   `read_timeout` plus `1/rate` seconds per byte read so far (Caddy's
//!   `IdleDeadline`, as the server's `read_idle_timeout`). A stalled body
//!   fails whoever reads it (`reverse_proxy` answers 408).
//! - `write_timeout` (with `write_min_rate`): a write to the client may
//!   stall at most this long (as the server's `write_idle_timeout`), for
//!   as long as the connection's requests run; with a rate, a write fails
//!   once pending past `write_timeout` plus `1/rate` seconds per byte
//!   written since the requests began; `max_write_chunk` bounds each
//!   socket write so the limit applies between chunks of a large response.
//!
//! Over HTTP/3 only the read limits apply: QUIC's own flow control paces
//! what a client does not read.
//!
//! Caddyfile: `timeouts { read_timeout <duration> [<min_rate>];
//! write_timeout <duration> [<min_rate>]; max_write_chunk <size> }`.

use crate::config::CaddyDuration;
use crate::error::Error;
use crate::http::{Cx, Handler, ReqBody, Step};
use crate::registry::Provision;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    read_timeout: Option<CaddyDuration>,
    #[serde(default)]
    read_min_rate: i64,
    write_timeout: Option<CaddyDuration>,
    #[serde(default)]
    write_min_rate: i64,
    #[serde(default)]
    max_write_chunk: i64,
}

struct Timeouts {
    read: Option<(Duration, u64)>,
    write: Option<Duration>,
    write_rate: Option<u64>,
    chunk: Option<usize>,
}

pub fn new(v: &RawValue, p: &mut Provision<'_>, path: &str) -> Result<Box<dyn Handler>, Error> {
    let c: Config = p.decode_text(v, path)?;
    let positive = |d: Option<CaddyDuration>| d.map(|d| d.0).filter(|d| !d.is_zero());
    let non_negative = |n: i64, field: &str| {
        u64::try_from(n)
            .map_err(|_| Error::config(format!("{path}.{field}"), "must not be negative"))
    };
    let rate = non_negative(c.read_min_rate, "read_min_rate")?;
    let chunk = non_negative(c.max_write_chunk, "max_write_chunk")?;
    let write_rate = non_negative(c.write_min_rate, "write_min_rate")?;
    let write = positive(c.write_timeout);
    Ok(Box::new(Timeouts {
        read: positive(c.read_timeout).map(|t| (t, rate)),
        write,
        // As the chunk size, only with a write timeout.
        write_rate: write.and((write_rate > 0).then_some(write_rate)),
        // Caddy applies the chunk size only with a write timeout.
        chunk: write.and((chunk > 0).then_some(chunk as usize)),
    }))
}

impl Handler for Timeouts {
    fn handle(&self, cx: &mut Cx<'_>) -> Step {
        if let Some((timeout, rate)) = self.read {
            let body = std::mem::replace(&mut cx.body, ReqBody::full(Bytes::new()));
            cx.body = body.watching(timeout, rate);
        }
        if self.write.is_some() {
            if let Some(state) = &cx.conn.state {
                state.limit_writes(self.write, self.chunk, self.write_rate);
            }
        }
        Step::Next
    }
}
