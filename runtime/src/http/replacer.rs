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

pub use keys::Key;

use super::Cx;
use std::borrow::Cow;

#[derive(Debug, Clone)]
enum Part {
    Lit(Box<str>),
    Key(Key),
    /// A placeholder bellhop does not know, kept as written (with braces).
    Unknown(Box<str>),
}

/// A string with placeholders, parsed.
#[derive(Debug, Clone, Default)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `s`.
    pub fn parse(s: &str) -> Template {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'\\' && matches!(bytes.get(i + 1), Some(b'{' | b'}')) {
                lit.push(bytes[i + 1] as char);
                i += 2;
                continue;
            }
            if c == b'{' {
                if let Some(end) = s[i + 1..].find('}').map(|e| e + i + 1) {
                    let name = &s[i + 1..end];
                    if !name.is_empty() && !name.contains('{') {
                        if !lit.is_empty() {
                            parts.push(Part::Lit(std::mem::take(&mut lit).into()));
                        }
                        parts.push(match Key::parse(name) {
                            Some(Key::Static(v)) => Part::Lit(v),
                            Some(k) => Part::Key(k),
                            None => Part::Unknown(s[i..=end].into()),
                        });
                        i = end + 1;
                        continue;
                    }
                }
            }
            let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
            lit.push(ch);
            i += ch.len_utf8();
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit.into()));
        }
        merge_literals(&mut parts);
        Template { parts }
    }

    /// The text, when the template has no placeholders.
    pub fn as_literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
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

    fn render_mode<'s>(&'s self, cx: &Cx<'_>, keep_unknown: bool) -> Cow<'s, str> {
        if let Some(lit) = self.as_literal() {
            return Cow::Borrowed(lit);
        }
        let mut out = String::new();
        for part in &self.parts {
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
                    let name = &raw[1..raw.len() - 1];
                    match cx.repl_vars.iter().rev().find(|(k, _)| &**k == name) {
                        Some((_, v)) => out.push_str(v),
                        None if keep_unknown => out.push_str(raw),
                        None => {}
                    }
                }
            }
        }
        Cow::Owned(out)
    }
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
