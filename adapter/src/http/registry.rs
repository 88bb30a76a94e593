//! The directive registry: a closed, explicit table from directive name to
//! parse function, filled by [`super::directives::register_standard`]. No
//! global state: each adaptation builds its own table.
//!
//! Two kinds of entries, as in Caddy:
//! - a *directive* (`register`): gets the [`Helper`] positioned before the
//!   directive name and returns any config values;
//! - a *handler directive* (`register_handler`): the framework reads the
//!   optional matcher token first, the function returns one handler's JSON,
//!   and the framework wraps it in a route.

use super::helper::Helper;
use super::value::ConfigValue;
use crate::error::Result;
use serde_json::Value;
use std::collections::HashMap;

/// A directive parse function (Caddy's `UnmarshalFunc`).
pub type DirectiveFn = fn(&mut Helper) -> Result<Vec<ConfigValue>>;

/// A handler directive parse function (Caddy's `UnmarshalHandlerFunc`):
/// returns the handler JSON, `"handler"` key first.
pub type HandlerFn = fn(&mut Helper) -> Result<Value>;

#[derive(Clone, Copy)]
enum Entry {
    Directive(DirectiveFn),
    Handler(HandlerFn),
}

/// The table of known directives.
#[derive(Default, Clone)]
pub struct Directives {
    entries: HashMap<&'static str, Entry>,
}

impl std::fmt::Debug for Directives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.entries.keys().collect();
        names.sort();
        f.debug_struct("Directives").field("names", &names).finish()
    }
}

impl Directives {
    /// The standard directives of Caddy's distribution.
    pub fn standard() -> Self {
        let mut reg = Self::default();
        super::directives::register_standard(&mut reg);
        reg
    }

    /// Registers a directive. Panics on a duplicate name (a programming
    /// error in the table, caught by the tests).
    pub fn register(&mut self, name: &'static str, f: DirectiveFn) {
        let prev = self.entries.insert(name, Entry::Directive(f));
        assert!(prev.is_none(), "directive {name} registered twice");
    }

    /// Registers a handler directive (optional matcher, one handler).
    pub fn register_handler(&mut self, name: &'static str, f: HandlerFn) {
        let prev = self.entries.insert(name, Entry::Handler(f));
        assert!(prev.is_none(), "directive {name} registered twice");
    }

    /// Whether `name` is a known directive.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// All directive names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<_> = self.entries.keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Runs the directive `name` with `h`; `None` if it is unknown.
    pub fn run(&self, name: &str, h: &mut Helper) -> Option<Result<Vec<ConfigValue>>> {
        let entry = *self.entries.get(name)?;
        Some(match entry {
            Entry::Directive(f) => f(h),
            Entry::Handler(f) => run_handler(f, h),
        })
    }

    /// The closest known directive name to a misspelt one, if any is
    /// close enough (for a `did you mean …?` help line).
    pub fn suggest(&self, name: &str) -> Option<&'static str> {
        let mut best: Option<(&'static str, f64)> = None;
        for &cand in self.entries.keys() {
            let score = strsim::jaro_winkler(name, cand);
            if score >= 0.85 && best.is_none_or(|(b, s)| score > s || (score == s && cand < b)) {
                best = Some((cand, score));
            }
        }
        best.map(|(n, _)| n)
    }
}

fn run_handler(f: HandlerFn, h: &mut Helper) -> Result<Vec<ConfigValue>> {
    if !h.next() {
        return Err(h.arg_err());
    }
    let matcher = h.extract_matcher_set()?;
    let handler = f(h)?;
    Ok(h.new_route(matcher, handler))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_table_suggests_close_names() {
        let reg = Directives::standard();
        assert!(reg.contains("respond"));
        assert_eq!(reg.suggest("reverse_prxy"), Some("reverse_proxy"));
        assert_eq!(reg.suggest("zzzzzz"), None);
    }
}
