//! [`Helper`]: what a directive parser gets (Caddy's `httpcaddyfile.Helper`):
//! the dispenser over the directive's tokens, plus the context it may need:
//! global options, the matcher definitions in scope, the site's keys, the
//! warnings and the adaptation's mutable state (group counter, invoked named
//! routes).

use super::matchers::{self, MatcherDefs};
use super::registry::Directives;
use super::value::{class, ConfigValue, MatcherSet, Payload, Route};
use super::Options;
use crate::error::{Error, Result, Warning};
use crate::syntax::{Dispenser, Token};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Deref, DerefMut};
use std::rc::Rc;

/// What stays fixed while directives are parsed.
#[derive(Debug)]
pub struct Env {
    pub options: Options,
    pub directives: Directives,
}

/// What changes while directives are parsed.
#[derive(Debug, Default)]
pub struct State {
    pub warnings: Vec<Warning>,
    /// Next `groupN` number (shared by the whole adaptation).
    pub group_counter: usize,
    /// Named routes that `invoke` referred to in the current directive.
    pub invoked: BTreeSet<String>,
    /// For each named route, the named routes its own `invoke`s refer to
    /// (so a site invoking it pulls those in too).
    pub named_route_invokes: BTreeMap<String, BTreeSet<String>>,
    /// The files the current block's tokens came from, sorted (Caddy's
    /// `Helper.Caddyfiles`; `file_server` hides them).
    pub caddyfiles: Vec<String>,
    /// `tls <cert> <key>`: certificate file → its tag (`certN`), so each
    /// file is loaded once (Caddy's `tlsCertTags`).
    pub tls_cert_tags: HashMap<String, String>,
    /// Next `logN` name for unnamed `log` directives.
    pub log_counter: usize,
}

/// The directive parser's view: a dispenser plus context. Derefs to the
/// [`Dispenser`], so `h.next()`, `h.val()`, `h.arg_err()` work directly.
pub struct Helper<'a> {
    pub d: Dispenser,
    pub env: &'a Env,
    pub state: &'a mut State,
    /// Named matchers visible here (`@name` → matcher set).
    pub matcher_defs: Rc<MatcherDefs>,
    /// The keys (addresses) of the enclosing site block.
    pub block_keys: Rc<[Token]>,
}

impl Deref for Helper<'_> {
    type Target = Dispenser;
    fn deref(&self) -> &Dispenser {
        &self.d
    }
}

impl DerefMut for Helper<'_> {
    fn deref_mut(&mut self) -> &mut Dispenser {
        &mut self.d
    }
}

impl<'a> Helper<'a> {
    /// A helper over `tokens` in the given context.
    pub fn new(
        tokens: Vec<Token>,
        env: &'a Env,
        state: &'a mut State,
        matcher_defs: Rc<MatcherDefs>,
        block_keys: Rc<[Token]>,
    ) -> Self {
        Self {
            d: Dispenser::new(tokens),
            env,
            state,
            matcher_defs,
            block_keys,
        }
    }

    /// A helper with the same context over other tokens (Caddy's
    /// `WithDispenser`).
    pub fn sub(&mut self, tokens: Vec<Token>) -> Helper<'_> {
        Helper {
            d: Dispenser::new(tokens),
            env: self.env,
            state: &mut *self.state,
            matcher_defs: Rc::clone(&self.matcher_defs),
            block_keys: Rc::clone(&self.block_keys),
        }
    }

    /// The global options.
    pub fn options(&self) -> &Options {
        &self.env.options
    }

    /// A global option's value, if set.
    pub fn option(&self, name: &str) -> Option<&Value> {
        self.env.options.get(name)
    }

    /// Records a warning at the current token.
    pub fn warn(&mut self, message: impl Into<String>) {
        let w = match self.d.token() {
            Some(t) => Warning::at(t, message),
            None => Warning {
                file: String::new(),
                line: 0,
                directive: None,
                message: message.into(),
            },
        };
        self.state.warnings.push(w);
    }

    /// The config files the enclosing block was read from, sorted.
    pub fn caddyfiles(&self) -> &[String] {
        &self.state.caddyfiles
    }

    /// The next `groupN` name.
    pub fn next_group(&mut self) -> String {
        let name = format!("group{}", self.state.group_counter);
        self.state.group_counter += 1;
        name
    }

    /// Looks at the next argument as a matcher token (Caddy's
    /// `MatcherToken`): `Ok(None)` if there is no argument or it is not a
    /// matcher; `Ok(Some(None))` for `*`; `Ok(Some(Some(set)))` otherwise.
    /// The cursor stays on the argument if it was one.
    pub fn matcher_token(&mut self) -> Result<Option<Option<MatcherSet>>> {
        if !self.d.next_arg() {
            return Ok(None);
        }
        let Some(tok) = self.d.token() else {
            return Ok(None);
        };
        matchers::set_from_token(tok, &self.matcher_defs)
    }

    /// Reads the optional matcher token after the directive name, removes
    /// it and rewinds the dispenser (Caddy's `ExtractMatcherSet`).
    pub fn extract_matcher_set(&mut self) -> Result<Option<MatcherSet>> {
        let found = self.matcher_token()?;
        let set = match found {
            Some(set) => {
                self.d.delete();
                set
            }
            None => None,
        };
        self.d.reset();
        Ok(set)
    }

    /// One route holding `handler`, qualified by `matcher` (Caddy's
    /// `NewRoute`).
    pub fn new_route(&self, matcher: Option<MatcherSet>, handler: Value) -> Vec<ConfigValue> {
        vec![ConfigValue::new(
            class::ROUTE,
            Payload::Route(Route::with_handler(matcher, handler)),
        )]
    }

    /// Puts the routes among `vals` into one new group, if there are at
    /// least two (Caddy's `GroupRoutes`).
    pub fn group_routes(&mut self, vals: &mut [ConfigValue]) {
        let count = vals
            .iter()
            .filter(|v| matches!(v.value, Payload::Route(_)))
            .count();
        if count < 2 {
            return;
        }
        let group = self.next_group();
        for v in vals.iter_mut() {
            if let Payload::Route(r) = &mut v.value {
                r.group = group.clone();
            }
        }
    }

    /// An error at the current token.
    pub fn error(&self, message: impl std::fmt::Display) -> Error {
        self.d.err(message)
    }
}
