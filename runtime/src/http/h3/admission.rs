//! Admission of new QUIC connections on one endpoint (one UDP socket,
//! across endpoint restarts): the handshakes in progress are counted, and
//! above [`RETRY_ABOVE`] of them a client whose address is not validated
//! yet gets a Retry (stateless: quinn keeps nothing for it) instead of a
//! connection, so a flood of Initials from spoofed addresses cannot pile
//! up handshake state. Below the threshold clients are accepted directly
//! (no extra round trip).
//!
//! The counters are kept per socket address in a small table, read by
//! the `#[doc(hidden)]` functions at the end: diagnostics for tests
//! (handshakes in progress, Retries sent, endpoint restarts), a lower
//! threshold, and a one-shot fault injected into the endpoint's accept
//! task to exercise its supervision. The accept loop touches only its own
//! atomics; the table is locked when an endpoint starts or ends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// Handshakes in progress at or above which unvalidated clients get a
/// Retry first. A handshake takes one or two round trips, so this many at
/// once means thousands of new connections a second: past ordinary load,
/// where the extra round trip of a Retry is the cheaper risk.
pub const RETRY_ABOVE: usize = 256;

/// A fault to inject into an endpoint's accept task (tests only).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointFault {
    /// The accept task panics.
    Panic = 1,
    /// The endpoint is closed under the accept task.
    Close = 2,
}

/// One socket's admission state and counters.
pub(crate) struct Admission {
    handshakes: AtomicUsize,
    retry_above: AtomicUsize,
    retries: AtomicU64,
    restarts: AtomicU64,
    fault: AtomicU8,
}

type Table = HashMap<SocketAddr, Weak<Admission>>;
static TABLE: LazyLock<Mutex<Table>> = LazyLock::new(Default::default);

fn table() -> std::sync::MutexGuard<'static, Table> {
    TABLE.lock().unwrap_or_else(|e| e.into_inner())
}

fn find(addr: SocketAddr) -> Option<Arc<Admission>> {
    table().get(&addr).and_then(Weak::upgrade)
}

impl Admission {
    /// The state of the endpoint on `local` (listed when known).
    pub(crate) fn register(local: Option<SocketAddr>) -> Arc<Admission> {
        let a = Arc::new(Admission {
            handshakes: AtomicUsize::new(0),
            retry_above: AtomicUsize::new(RETRY_ABOVE),
            retries: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            fault: AtomicU8::new(0),
        });
        if let Some(addr) = local {
            let mut t = table();
            t.retain(|_, w| w.strong_count() > 0);
            t.insert(addr, Arc::downgrade(&a));
        }
        a
    }

    /// Answers `incoming` with a Retry when too many handshakes are in
    /// progress and its address is unproven (`None`); otherwise returns it
    /// with its place among the handshakes in progress.
    pub(crate) fn admit(
        self: &Arc<Self>,
        incoming: quinn::Incoming,
    ) -> Option<(quinn::Incoming, Handshake)> {
        let busy =
            self.handshakes.load(Ordering::Acquire) >= self.retry_above.load(Ordering::Relaxed);
        if busy && !incoming.remote_address_validated() && incoming.may_retry() {
            if incoming.retry().is_ok() {
                self.retries.fetch_add(1, Ordering::Relaxed);
            }
            return None;
        }
        self.handshakes.fetch_add(1, Ordering::AcqRel);
        Some((incoming, Handshake(self.clone())))
    }

    /// Counts a restart of the endpoint.
    pub(crate) fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::Relaxed);
    }

    /// The injected fault, once.
    pub(crate) fn take_fault(&self) -> Option<EndpointFault> {
        if self.fault.load(Ordering::Relaxed) == 0 {
            return None;
        }
        match self.fault.swap(0, Ordering::Relaxed) {
            1 => Some(EndpointFault::Panic),
            2 => Some(EndpointFault::Close),
            _ => None,
        }
    }
}

/// Counts a connection among the handshakes in progress until dropped.
pub(crate) struct Handshake(Arc<Admission>);

impl Drop for Handshake {
    fn drop(&mut self) {
        self.0.handshakes.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The QUIC handshakes in progress on the endpoint of the UDP socket
/// bound to `addr` (`None`: no endpoint there).
#[doc(hidden)]
pub fn handshakes_in_progress(addr: SocketAddr) -> Option<usize> {
    find(addr).map(|a| a.handshakes.load(Ordering::Acquire))
}

/// The Retry packets the endpoint on `addr` has sent.
#[doc(hidden)]
pub fn retries_sent(addr: SocketAddr) -> Option<u64> {
    find(addr).map(|a| a.retries.load(Ordering::Relaxed))
}

/// How often the endpoint on `addr` was restarted after a failure.
#[doc(hidden)]
pub fn endpoint_restarts(addr: SocketAddr) -> Option<u64> {
    find(addr).map(|a| a.restarts.load(Ordering::Relaxed))
}

/// Sets the Retry threshold of the endpoint on `addr` (tests force it
/// low); `false` when there is no endpoint there.
#[doc(hidden)]
pub fn set_retry_threshold(addr: SocketAddr, handshakes: usize) -> bool {
    find(addr)
        .inspect(|a| a.retry_above.store(handshakes, Ordering::Relaxed))
        .is_some()
}

/// Makes the accept task of the endpoint on `addr` fail with `fault` at
/// its next incoming connection (tests only); `false` when there is no
/// endpoint there.
#[doc(hidden)]
pub fn inject_endpoint_fault(addr: SocketAddr, fault: EndpointFault) -> bool {
    find(addr)
        .inspect(|a| a.fault.store(fault as u8, Ordering::Relaxed))
        .is_some()
}
