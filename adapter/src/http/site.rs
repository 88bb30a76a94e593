//! One site block after its directives ran: its keys (parsed), the "pile"
//! of config values by class, and the parsing of a block's directives
//! (shorthands replaced, `@matchers` defined first, unknown directives
//! reported with a suggestion).

use super::address::Address;
use super::helper::{Env, Helper, State};
use super::matchers::{self, MatcherDefs};
use super::shorthands::ShorthandReplacer;
use super::subroute::normalize_directive_name;
use super::value::ConfigValue;
use crate::error::{Error, Result};
use crate::syntax::{ServerBlock, Token};
use std::collections::HashMap;
use std::rc::Rc;

/// A site block with its config values.
#[derive(Debug, Clone)]
pub struct Site {
    pub keys: Rc<[Token]>,
    pub parsed_keys: Vec<Address>,
    pub pile: HashMap<String, Vec<ConfigValue>>,
}

impl Site {
    /// The values of one class (empty if none).
    pub fn values(&self, class: &str) -> &[ConfigValue] {
        self.pile.get(class).map_or(&[], Vec::as_slice)
    }

    /// Whether the pile has a value of `class`.
    pub fn has(&self, class: &str) -> bool {
        self.pile.get(class).is_some_and(|v| !v.is_empty())
    }
}

/// The sorted, distinct files the segments' tokens came from.
pub fn block_files(segments: &[Vec<Token>]) -> Vec<String> {
    let files: std::collections::BTreeSet<&str> = segments
        .iter()
        .flatten()
        .map(|t| t.file.name.as_str())
        .collect();
    files.into_iter().map(str::to_string).collect()
}

/// Runs every directive of a site block (Caddy's per-block loop in
/// `Setup`).
pub fn parse_site(
    mut block: ServerBlock,
    env: &Env,
    state: &mut State,
    replacer: &ShorthandReplacer,
) -> Result<Site> {
    for seg in &mut block.segments {
        replacer.apply(seg);
    }
    if block.keys.is_empty() {
        return Err(Error::plain(
            "server block without any key is global configuration, and if used, it must be first",
        ));
    }
    let braces = block.has_braces;
    state.caddyfiles = block_files(&block.segments);
    let mut defs = MatcherDefs::new();
    for seg in &block.segments {
        if seg
            .first()
            .is_some_and(|t| t.text.starts_with(matchers::PREFIX))
        {
            matchers::parse_definition(seg.clone(), &mut defs)?;
        }
    }
    let defs = Rc::new(defs);
    let keys: Rc<[Token]> = Rc::from(block.keys);
    let mut pile: HashMap<String, Vec<ConfigValue>> = HashMap::new();
    for seg in block.segments {
        let Some(first) = seg.first().cloned() else {
            continue;
        };
        if first.text.starts_with(matchers::PREFIX) {
            continue;
        }
        let results = run_directive(&first, seg, env, state, &defs, &keys, braces)?;
        for r in results {
            pile.entry(r.class.clone()).or_default().push(r);
        }
    }
    Ok(Site {
        parsed_keys: Vec::new(),
        keys,
        pile,
    })
}

fn run_directive(
    first: &Token,
    seg: Vec<Token>,
    env: &Env,
    state: &mut State,
    defs: &Rc<MatcherDefs>,
    keys: &Rc<[Token]>,
    braces: bool,
) -> Result<Vec<ConfigValue>> {
    let dir = first.text.as_str();
    let mut h = Helper::new(seg, env, state, Rc::clone(defs), Rc::clone(keys));
    let Some(result) = env.directives.run(dir, &mut h) else {
        return Err(unknown_directive(first, env, braces));
    };
    let mut results = result.map_err(|mut e| {
        e.message = format!("parsing caddyfile tokens for '{dir}': {}", e.message);
        e
    })?;
    let norm = normalize_directive_name(dir);
    for r in &mut results {
        r.directive = norm.to_string();
    }
    // named routes that `invoke` pulled in
    for name in std::mem::take(&mut state.invoked) {
        let mut v = ConfigValue::json(super::value::class::NAMED_ROUTE, name.into());
        v.directive = norm.to_string();
        results.push(v);
    }
    Ok(results)
}

fn unknown_directive(tok: &Token, env: &Env, braces: bool) -> Error {
    let mut msg = format!(
        "{}:{}: unrecognized directive: {}",
        tok.file.name, tok.line, tok.text
    );
    if !braces {
        msg.push_str("\nDid you mean to define a second site? If so, you must use curly braces around each site to separate their configurations.");
    }
    let mut err = Error::plain(msg);
    err.attach(tok, "unknown directive");
    if let Some(s) = env.directives.suggest(&tok.text) {
        err = err.with_help(format!("did you mean {s}?"));
    }
    err
}
