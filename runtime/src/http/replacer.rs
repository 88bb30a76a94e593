//! Caddy's placeholders (`{http.request.host}`, `{http.vars.x}`, `{env.X}`,
//! …) for bellhop.
//!
//! Every string that may hold placeholders is parsed once, when the config
//! is provisioned, into a [`Template`]: literal runs and typed [`Key`]s.
//! Serving a request then renders templates without parsing anything or
//! looking names up in a map; a template without placeholders renders to a
//! borrowed string. Values that are costly to compute (decoded path, client
//! IP, UUID) are cached in [`Cx`], so the per-request work is done once.
//!
//! Syntax as Caddy's: `{key}`; `\{` and `\}` are literal braces; a `{`
//! without a closing `}` is literal text. Unknown placeholders render empty
//! ([`Template::render`], Caddy's `ReplaceAll`) or stay as written
//! ([`Template::render_known`], Caddy's `ReplaceKnown`).

pub mod clock;
mod keys;
mod render;
mod tls;

pub use keys::{FileField, Key};
pub use render::{join_header, query_escape};

use super::Cx;
use std::borrow::Cow;

#[derive(Debug, Clone)]
enum Part {
    Lit(Box<str>),
    Key(Key),
    /// A placeholder bellhop does not know, kept as written (with braces).
    Unknown(Box<str>),
}

/// What [`Template::render_with`] passes each placeholder's value
/// through: the key (`None` for names known only at run time), the value
/// (`None` when unknown for this request), the output.
pub type ValueFn<'f> = dyn FnMut(Option<&Key>, Option<&str>, &mut String) + 'f;

/// A string with placeholders, parsed.
#[derive(Debug, Clone, Default)]
pub struct Template {
    parts: Vec<Part>,
    /// The parts as read when unknown placeholders stay as written, where
    /// that reading differs: Caddy then scans on from just after the `{` of
    /// an unknown placeholder, so `{"a": "{http.request.method}"}` keeps
    /// its outer braces and still renders the method inside.
    known: Option<Box<[Part]>>,
}

impl Template {
    /// Parses `s` as Caddy's replacer scans it: a placeholder runs from an
    /// unescaped `{` to the first `}` that is not escaped (the key may hold
    /// a `{`); `\\{` and `\\}` are literal braces; a `{` never closed is text.
    pub fn parse(s: &str) -> Template {
        let parts = parse_parts(s, false);
        let nested = |p: &Part| matches!(p, Part::Unknown(raw) if raw[1..].contains('{'));
        let known = parts
            .iter()
            .any(nested)
            .then(|| parse_parts(s, true).into_boxed_slice());
        Template { parts, known }
    }

    /// Whether rendering reads the request body (`{http.request.body}`),
    /// which must then be read whole first.
    pub fn reads_body(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Key(k) if k.reads_body()))
    }

    /// The text, when the template has no placeholders.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    /// The placeholder, when the template is exactly one known placeholder.
    pub fn single_key(&self) -> Option<&Key> {
        match self.parts.as_slice() {
            [Part::Key(k)] => Some(k),
            _ => None,
        }
    }

    /// Renders, with unknown placeholders as empty strings.
    pub fn render<'s>(&'s self, cx: &Cx<'_>) -> Cow<'s, str> {
        self.render_mode(cx, false)
    }

    /// Renders, keeping unknown placeholders as written.
    pub fn render_known<'s>(&'s self, cx: &Cx<'_>) -> Cow<'s, str> {
        self.render_mode(cx, true)
    }

    /// Renders with every placeholder's value passed through `f` (Caddy's
    /// `ReplaceFunc`): `f` gets the key (`None` for names known only at run
    /// time), the value (`None` when unknown for this request) and the
    /// output to append to.
    pub fn render_with(&self, cx: &Cx<'_>, f: &mut ValueFn<'_>) -> String {
        let mut out = String::new();
        let mut value = String::new();
        for part in &self.parts {
            value.clear();
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Key(k) => {
                    let known = k.render(cx, &mut value);
                    f(Some(k), known.then_some(value.as_str()), &mut out);
                }
                Part::Unknown(raw) => {
                    let known = render_dynamic(cx, &raw[1..raw.len() - 1], &mut value);
                    f(None, known.then_some(value.as_str()), &mut out);
                }
            }
        }
        out
    }

    fn render_mode<'s>(&'s self, cx: &Cx<'_>, keep_unknown: bool) -> Cow<'s, str> {
        if let Some(lit) = self.as_literal() {
            return Cow::Borrowed(lit);
        }
        let mut out = String::new();
        let parts = match (&self.known, keep_unknown) {
            (Some(known), true) => &known[..],
            _ => &self.parts[..],
        };
        for part in parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Key(k) => {
                    if !k.render(cx, &mut out) && keep_unknown {
                        out.push('{');
                        k.write_name(&mut out);
                        out.push('}');
                    }
                }
                Part::Unknown(raw) => {
                    if !render_dynamic(cx, &raw[1..raw.len() - 1], &mut out) && keep_unknown {
                        out.push_str(raw);
                    }
                }
            }
        }
        Cow::Owned(out)
    }
}

/// Splits `s` into parts; with `keep_unknown`, a placeholder whose key
/// holds a `{` (never known) is text and scanning goes on after its `{`.
fn parse_parts(s: &str, keep_unknown: bool) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let b = s.as_bytes();
    let (mut i, mut last) = (0, 0);
    while i < b.len() {
        if i > 0 && b[i - 1] == b'\\' && matches!(b[i], b'{' | b'}') {
            lit.push_str(&s[last..i - 1]);
            last = i;
            i += 1;
            continue;
        }
        if b[i] != b'{' {
            i += 1;
            continue;
        }
        let Some(end) = closing_brace(s, i) else {
            i += 1;
            continue;
        };
        if keep_unknown && s[i + 1..end].contains('{') {
            i += 1;
            continue;
        }
        lit.push_str(&s[last..i]);
        if !lit.is_empty() {
            parts.push(Part::Lit(std::mem::take(&mut lit).into()));
        }
        parts.push(match Key::parse(&s[i + 1..end]) {
            Some(Key::Static(v)) => Part::Lit(v),
            Some(k) => Part::Key(k),
            None => Part::Unknown(s[i..=end].into()),
        });
        i = end + 1;
        last = i;
    }
    lit.push_str(&s[last..]);
    if !lit.is_empty() {
        parts.push(Part::Lit(lit.into()));
    }
    merge_literals(&mut parts);
    parts
}

/// A placeholder named only at run time: a `map` destination or an
/// `intercept` value (`repl_vars`, latest first), else the reverse proxy's.
/// False when it is unknown for this request.
fn render_dynamic(cx: &Cx<'_>, name: &str, out: &mut String) -> bool {
    match cx.repl_vars.iter().rev().find(|(k, _)| &**k == name) {
        Some((_, v)) => {
            out.push_str(v);
            true
        }
        None => crate::http::handlers::reverse_proxy::placeholder(cx, name, out),
    }
}

/// The `}` closing the placeholder opened at `open`, skipping escaped ones
/// (except a last character), as Caddy's replacer.
fn closing_brace(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut end = open + s[open..].find('}')?;
    while end > 0 && end < b.len() - 1 && b[end - 1] == b'\\' {
        end += 1 + s[end + 1..].find('}')?;
    }
    Some(end)
}

fn merge_literals(parts: &mut Vec<Part>) {
    let mut merged: Vec<Part> = Vec::with_capacity(parts.len());
    for p in parts.drain(..) {
        match (merged.last_mut(), p) {
            (Some(Part::Lit(prev)), Part::Lit(next)) => {
                *prev = format!("{prev}{next}").into();
            }
            (_, p) => merged.push(p),
        }
    }
    *parts = merged;
}

/// Decoded `key=value` pairs of a query string (`+` is a space).
pub fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|s| !s.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(k), form_decode(v))
    })
}

/// Decodes one `application/x-www-form-urlencoded` component.
pub fn form_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}
