//! Per-thread spares of the maps each request makes and drops: the
//! request's header map (two allocations: its index table and its
//! entries) and the response extensions that carry an upstream's kept
//! fields (`raw_fields`: a box and a table). A map a request dropped,
//! emptied, serves a later request on the same thread: no allocation and
//! no free per request.
//!
//! A thread keeps up to [`MAX_MAPS`] header maps (one per request it has
//! in flight at once, on its connections) of up to [`MAX_KEPT`] entries
//! each, and one extensions map: what the spares hold is bounded, and a
//! map left by some rare huge head is freed as before.

use http::{Extensions, HeaderMap};
use std::cell::{Cell, RefCell};

/// A header map of more entries is not kept.
const MAX_KEPT: usize = 128;

/// Header maps kept per thread.
const MAX_MAPS: usize = 16;

thread_local! {
    static HEADERS: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
    static EXTENSIONS: Cell<Option<Extensions>> = const { Cell::new(None) };
}

/// An empty header map with room for `n` entries: the thread's spare,
/// or a new one.
pub fn header_map(n: usize) -> HeaderMap {
    match HEADERS.with_borrow_mut(Vec::pop) {
        Some(mut map) => {
            map.reserve(n);
            map
        }
        None => HeaderMap::with_capacity(n),
    }
}

/// Keeps `map`, emptied, as the thread's spare (one not worth keeping is
/// dropped).
pub fn keep_header_map(mut map: HeaderMap) {
    if map.capacity() == 0 || map.capacity() > MAX_KEPT {
        return discard_header_map(map);
    }
    map.clear();
    HEADERS.with_borrow_mut(|kept| {
        if kept.len() < MAX_MAPS {
            kept.push(map);
        }
    });
}

/// Lets go of `map` where it holds no allocation (as `HeaderMap::new()`
/// makes it): forgetting such a map frees nothing and skips its drop
/// glue, about 50 instructions, on paths that replace a placeholder map
/// per request. Any other map is dropped.
pub fn discard_header_map(map: HeaderMap) {
    if map.capacity() == 0 {
        std::mem::forget(map);
    }
}

/// The thread's spare extensions map (empty), or a new one.
pub fn extensions() -> Extensions {
    EXTENSIONS.take().unwrap_or_default()
}

/// Keeps `ext` as the thread's spare (one that holds anything is
/// dropped).
pub fn keep_extensions(ext: Extensions) {
    if ext.is_empty() {
        EXTENSIONS.set(Some(ext));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_map_comes_back_empty_with_its_room() {
        let mut map = header_map(8);
        map.insert("x-a", "1".parse().unwrap());
        let room = map.capacity();
        keep_header_map(map);
        let again = header_map(2);
        assert!(again.is_empty());
        assert_eq!(again.capacity(), room);
        // A map past the limit is not kept; an empty one with no room is
        // not worth keeping.
        let mut big = HeaderMap::with_capacity(MAX_KEPT * 2);
        big.insert("x-a", "1".parse().unwrap());
        keep_header_map(big);
        assert_eq!(header_map(0).capacity(), 0);
        keep_header_map(HeaderMap::new());
        assert_eq!(header_map(0).capacity(), 0);
    }

    #[test]
    fn only_an_empty_extensions_map_is_kept() {
        let mut ext = Extensions::new();
        ext.insert(1u8);
        keep_extensions(ext);
        assert!(extensions().is_empty());
        let mut ext = extensions();
        ext.insert(1u8);
        ext.remove::<u8>();
        keep_extensions(ext);
        assert!(extensions().is_empty());
    }
}
