//! The `date` header value, formatted at most once a second per thread
//! (as hyper caches it): a response costs a clock read, not a format.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// An IMF-fixdate is always this long.
const LEN: usize = 29;

struct Cached {
    second: u64,
    value: [u8; LEN],
}

thread_local! {
    static CACHED: RefCell<Cached> = const { RefCell::new(Cached { second: u64::MAX, value: [0; LEN] }) };
}

/// Appends the current date as an HTTP date.
pub(crate) fn extend(dst: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHED.with(|c| {
        let mut c = c.borrow_mut();
        if c.second != second {
            let s = httpdate::fmt_http_date(now);
            if s.len() == LEN {
                c.value.copy_from_slice(s.as_bytes());
                c.second = second;
            } else {
                dst.extend_from_slice(s.as_bytes());
                return;
            }
        }
        dst.extend_from_slice(&c.value);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_date_is_an_http_date_of_now() {
        let mut v = Vec::new();
        super::extend(&mut v);
        let parsed = httpdate::parse_http_date(std::str::from_utf8(&v).unwrap()).unwrap();
        let off = std::time::SystemTime::now().duration_since(parsed).unwrap();
        assert!(off.as_secs() < 2, "{off:?}");
        let mut again = Vec::new();
        super::extend(&mut again);
        assert_eq!(v.len(), again.len());
    }
}
