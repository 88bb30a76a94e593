//! Import arguments: `{args[i:j]}` (variadic, a whole token) and
//! `{args[i]}` / the deprecated `{args.i}` inside any token, as Caddy's
//! `importargs.go` handles them.
//!
//! Substitution uses the rules of Caddy's replacer in `ReplaceKnown`
//! mode: unknown placeholders stay as written, and — as in Caddy — a
//! backslash-escaped brace in an imported token loses its backslash.
//! Problems (bad index, out of range) are warnings, not errors.

use crate::error::Warning;
use crate::syntax::token::Token;
use std::ops::Range;

/// If the token is exactly `{args[i:j]}` (either bound optional), the
/// range of arguments it stands for.
pub(crate) fn variadic(
    token: &Token,
    argc: usize,
    warnings: &mut Vec<Warning>,
) -> Option<Range<usize>> {
    let inner = token.text.strip_prefix("{args[")?.strip_suffix("]}")?;
    if inner.is_empty() {
        let msg = format!("Placeholder {} cannot have an empty index", token.text);
        warnings.push(Warning::at(token, msg));
        return None;
    }
    let (start, end) = inner.split_once(':')?;
    let bound = |s: &str, default: usize, which: &str, warnings: &mut Vec<Warning>| {
        if s.is_empty() {
            return Some(default);
        }
        let parsed = s.parse::<usize>().ok();
        if parsed.is_none() {
            let msg = format!(
                "Variadic placeholder {} has an invalid {which} index",
                token.text
            );
            warnings.push(Warning::at(token, msg));
        }
        parsed
    };
    let start = bound(start, 0, "start", warnings)?;
    let end = bound(end, argc, "end", warnings)?;
    if start > end || end > argc {
        let msg = format!(
            "Variadic placeholder {} indices are out of bounds, only {argc} argument(s) exist",
            token.text
        );
        warnings.push(Warning::at(token, msg));
        return None;
    }
    Some(start..end)
}

/// The token's text with known `{args…}` placeholders replaced, or `None`
/// when it has no brace at all (nothing to do).
pub(crate) fn replace_known(
    token: &Token,
    args: &[&str],
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    let input = token.text.as_str();
    if !input.contains(['{', '}']) {
        return None;
    }
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut written = 0;
    let mut i = 0;
    // once no `}` follows, no later `{` can close either (keeps this linear)
    let mut unclosed = false;
    while i < bytes.len() {
        let c = bytes[i];
        // an escaped brace: drop the backslash
        if i > 0 && bytes[i - 1] == b'\\' && (c == b'{' || c == b'}') {
            out.push_str(&input[written..i - 1]);
            written = i;
            i += 1;
            continue;
        }
        if c != b'{' || unclosed {
            i += 1;
            continue;
        }
        let Some(end) = closing_brace(input, i) else {
            unclosed = true;
            i += 1;
            continue;
        };
        let key = &input[i + 1..end];
        match lookup(key, args, token, warnings) {
            Some(value) => {
                out.push_str(&input[written..i]);
                out.push_str(value);
                i = end + 1;
                written = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&input[written..]);
    Some(out)
}

/// The first `}` after `open` that is not escaped, if any.
fn closing_brace(input: &str, open: usize) -> Option<usize> {
    let bytes = input.as_bytes();
    let mut end = open + input[open..].find('}')?;
    while end > 0 && end < bytes.len() - 1 && bytes[end - 1] == b'\\' {
        end += 1 + input[end + 1..].find('}')?;
    }
    Some(end)
}

/// The value of placeholder `key`, if it is a known args placeholder.
fn lookup<'a>(
    key: &str,
    args: &[&'a str],
    token: &Token,
    warnings: &mut Vec<Warning>,
) -> Option<&'a str> {
    let mut warn = |msg: String| warnings.push(Warning::at(token, msg));
    if let Some(pos) = key.find("args.").filter(|p| key.len() > p + 5) {
        let index = &key[pos + 5..];
        let Ok(n) = index.parse::<usize>() else {
            warn(format!("Placeholder {{args.{index}}} has an invalid index"));
            return None;
        };
        if n >= args.len() {
            warn(format!(
                "Placeholder {{args.{index}}} index is out of bounds, only {} argument(s) exist",
                args.len()
            ));
            return None;
        }
        warn(format!(
            "Placeholder {{args.{index}}} deprecated, use {{args[{index}]}} instead"
        ));
        return Some(args[n]);
    }
    let open = key.find("args[")?;
    let close = key.rfind(']').filter(|&c| c > open + 5)?;
    let index = &key[open + 5..close];
    if index.contains(':') {
        warn(format!(
            "Variadic placeholder {{args[{index}]}} must be a token on its own"
        ));
        return None;
    }
    let Ok(n) = index.parse::<usize>() else {
        warn(format!(
            "Placeholder {{args[{index}]}} has an invalid index"
        ));
        return None;
    };
    if n >= args.len() {
        warn(format!(
            "Placeholder {{args[{index}]}} index is out of bounds, only {} argument(s) exist",
            args.len()
        ));
        return None;
    }
    Some(args[n])
}
