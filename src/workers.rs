//! `bellhop run --workers N`: one supervisor process and N worker
//! processes of the same binary (`bellhop worker`, hidden), all serving
//! the same config.
//!
//! The supervisor owns the config and the admin API: every change (`POST
//! /load`, `/config/…` edits, `bellhop reload`, SIGUSR1, `--watch`) goes
//! through the admin API's change pipeline as usual, whose runtime step is
//! replaced by the supervisor's two-phase load ([`supervisor`]): all
//! workers provision the new config, and only when all succeed do all
//! switch; otherwise all drop it and the change fails with the first
//! worker's reason (400), the old config still serving everywhere. The
//! supervisor serves no HTTP itself. It restarts a worker that dies, with
//! backoff ([`slot`]), and on SIGINT/SIGTERM (or `POST /stop`) tells every
//! worker to stop and waits for them within the grace period.
//!
//! Each worker binds its own listeners with `SO_REUSEPORT` (the listener
//! pool's opt-in), so each has its own accept queue and the kernel spreads
//! new connections across them: no thundering herd, no hand-off. The
//! control channel is a unix socket pair, the worker's end being its
//! standard input ([`protocol`]); a worker stops when it reads end of file,
//! so it never outlives its supervisor, however the supervisor died.
//!
//! # Who may join the port group
//!
//! Linux lets a socket bind a port others listen on only when every socket
//! there has `SO_REUSEPORT` set and belongs to the same effective user.
//! So while the workers listen, a process of another user, or one that
//! does not set `SO_REUSEPORT` itself (a second bellhop without
//! `--workers`, Caddy, most servers), cannot bind the port at all: it gets
//! "address already in use". Before any worker binds an address (at start
//! and for every address a reload adds), the supervisor makes sure nobody
//! else is there: an exclusive probe bind without `SO_REUSEPORT`
//! ([`ports`]; the UDP port too where the server serves HTTP/3), which
//! fails if any process listens there, `SO_REUSEPORT` or not. bellhop therefore never joins someone else's group.
//!
//! The probe socket is released, not held: a socket without
//! `SO_REUSEPORT` bound to the port would keep our own workers out too,
//! and a held `SO_REUSEPORT` socket would only widen the group. The one
//! thing no socket option can stop is a process of the same user that
//! sets `SO_REUSEPORT` itself and binds the port on purpose (between the
//! probe and the workers' binds, or later); that needs the same user's
//! cooperation, and the kernel offers no way to refuse it short of not
//! using `SO_REUSEPORT` at all (sockets inherited from the supervisor,
//! sharing one accept queue).

mod ports;
mod protocol;
mod slot;
mod supervisor;
pub mod worker;

pub use supervisor::Supervisor;

/// The value of `--workers`: a count, or `auto` (one per core).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerCount(pub usize);

impl std::str::FromStr for WorkerCount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("auto") {
            let n = std::thread::available_parallelism().map_or(1, |n| n.get());
            return Ok(WorkerCount(n));
        }
        match s.parse::<usize>() {
            Ok(n) if (1..=1024).contains(&n) => Ok(WorkerCount(n)),
            _ => Err(format!(
                "{s:?} is not a worker count: use a number from 1 to 1024, or auto"
            )),
        }
    }
}

impl Default for WorkerCount {
    fn default() -> Self {
        WorkerCount(1)
    }
}

#[cfg(test)]
mod tests {
    use super::WorkerCount;

    #[test]
    fn worker_counts() {
        assert_eq!("4".parse::<WorkerCount>(), Ok(WorkerCount(4)));
        assert!("auto".parse::<WorkerCount>().unwrap().0 >= 1);
        assert!("0".parse::<WorkerCount>().is_err());
        assert!("many".parse::<WorkerCount>().is_err());
    }
}
