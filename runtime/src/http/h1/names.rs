//! The header names of a connection's last head, kept to be reused by its
//! next one: a client sends the same fields request after request, and an
//! upstream answers with the same fields. A name that comes again at the
//! same place, byte for byte, is not parsed anew, and a name `http` does
//! not know is shared, not allocated again.

use http::header::{HeaderName, InvalidHeaderName};

/// Names kept per connection, at most.
const KEPT: usize = 24;

/// The names of the last head, by their place in it, with their bytes as
/// they came and what the request checks note of them ([`Odd`]).
#[derive(Default)]
pub(crate) struct Names(Vec<(Box<[u8]>, HeaderName, Odd)>);

/// What the request checks note of a name, found once while the name
/// comes again: a framing lookalike (`framing`), a `_` or `.`
/// (`alias_headers`).
#[derive(Clone, Copy, Default)]
pub(crate) struct Odd {
    pub lookalike: bool,
    pub separator: bool,
}

impl Odd {
    fn of(n: &HeaderName) -> Self {
        let s = n.as_str();
        Odd {
            lookalike: crate::http::framing::lookalike(s),
            separator: crate::http::alias_headers::has_separator(s.as_bytes()),
        }
    }
}

impl Names {
    /// The name of a head's `i`th field, which came as `bytes`.
    pub(crate) fn get(&mut self, i: usize, bytes: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
        self.get_noted(i, bytes).map(|(n, _)| n)
    }

    /// [`Self::get`], with what is noted of the name.
    pub(crate) fn get_noted(
        &mut self,
        i: usize,
        bytes: &[u8],
    ) -> Result<(HeaderName, Odd), InvalidHeaderName> {
        if let Some((raw, n, odd)) = self.0.get(i) {
            if **raw == *bytes {
                return Ok((n.clone(), *odd));
            }
        }
        let n = HeaderName::from_bytes(bytes)?;
        let odd = Odd::of(&n);
        let kept = (Box::from(bytes), n.clone(), odd);
        if i < self.0.len() {
            self.0[i] = kept;
        } else if i == self.0.len() && i < KEPT {
            self.0.push(kept);
        }
        Ok((n, odd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reused_only_when_they_match() {
        let mut n = Names::default();
        assert_eq!(n.get(0, b"Host").unwrap(), "host");
        assert_eq!(n.get(1, b"X-Custom").unwrap(), "x-custom");
        assert_eq!(n.get(0, b"HOST").unwrap(), "host");
        assert_eq!(n.get(1, b"x-custom").unwrap(), "x-custom");
        assert_eq!(n.get(1, b"x-other").unwrap(), "x-other");
        assert_eq!(n.get(1, b"X-Other").unwrap(), "x-other");
        assert_eq!(n.get(1, b"x-other").unwrap(), "x-other");
        // Not a name, though it matches but for one byte.
        assert!(n.get(1, b"x-othe\xd2").is_err());
        assert!(n.get(0, b"ho st").is_err());
        assert_eq!(
            n.get(5, b"accept").unwrap(),
            "accept",
            "not kept past a gap"
        );
        assert_eq!(n.0.len(), 2);
    }

    #[test]
    fn what_is_noted_of_a_name_comes_with_it_kept_or_not() {
        let mut n = Names::default();
        for _ in 0..2 {
            let (_, odd) = n.get_noted(0, b"X_Real.Ip").unwrap();
            assert!(odd.separator && !odd.lookalike);
            let (_, odd) = n.get_noted(1, b"Transfer_Encoding").unwrap();
            assert!(odd.separator && odd.lookalike);
            let (_, odd) = n.get_noted(2, b"Content--Length").unwrap();
            assert!(!odd.separator && odd.lookalike);
            let (_, odd) = n.get_noted(3, b"Content-Length").unwrap();
            assert!(!odd.separator && !odd.lookalike);
            let (_, odd) = n.get_noted(KEPT + 1, b"x.y").unwrap();
            assert!(odd.separator);
        }
        let (_, odd) = n.get_noted(0, b"X-Real-Ip").unwrap();
        assert!(!odd.separator, "a name that changed is noted anew");
    }
}
