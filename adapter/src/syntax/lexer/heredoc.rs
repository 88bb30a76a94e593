//! Heredocs: checking the opening marker and stripping the closing
//! marker's indentation from every line, with Caddy's error wording.
//!
//! The body is everything between the line break after `<<MARKER` and
//! the first later occurrence of `MARKER` (anywhere, as in Caddy). The
//! text before that occurrence on its line is the padding every body line
//! must start with; blank lines may omit it.

use crate::error::{Error, Result};
use crate::syntax::token::SourceFile;
use std::ops::Range;
use std::sync::Arc;

/// Checks an opening marker as Caddy does, in Caddy's order: empty, then
/// too many `<`, then characters other than `[A-Za-z0-9_-]`.
pub(super) fn check_marker(
    file: &Arc<SourceFile>,
    span: Range<usize>,
    marker: &str,
    line: usize,
) -> Result<()> {
    let opening = span.start..span.start + 2 + marker.len();
    if marker.is_empty() {
        return Err(Error::at_span(
            file,
            opening,
            format!(
                "missing opening heredoc marker on line #{line}; must contain only \
                 alpha-numeric characters, dashes and underscores; got empty string"
            ),
            "marker expected after <<",
        )
        .with_help("name the heredoc, for example <<END"));
    }
    if marker.starts_with('<') {
        return Err(Error::at_span(
            file,
            opening,
            format!("too many '<' for heredoc on line #{line}; only use two, for example <<END"),
            "too many '<'",
        )
        .with_help(format!("write <<{}", marker.trim_start_matches('<'))));
    }
    let valid = marker
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(Error::at_span(
            file,
            opening,
            format!(
                "heredoc marker on line #{line} must contain only alpha-numeric characters, \
                 dashes and underscores; got '{marker}'"
            ),
            "invalid marker",
        ));
    }
    Ok(())
}

/// The heredoc's value: the body's lines with the closing marker's
/// indentation removed, CRs dropped, and no final line break. `line` is
/// the line of the `<<MARKER` token.
pub(super) fn finalize(
    file: &Arc<SourceFile>,
    body_start: usize,
    body: &str,
    marker: &str,
    line: usize,
) -> Result<String> {
    let Some(last_newline) = body.rfind('\n') else {
        // the marker closes on the opening's next line: no content
        return Ok(String::new());
    };
    let padding = &body[last_newline + 1..];
    let mut out = String::with_capacity(body.len());
    let mut offset = body_start;
    for (index, text) in body[..last_newline].split('\n').enumerate() {
        let line_span = offset..offset + text.len();
        offset += text.len() + 1;
        if text.is_empty() || text == "\r" {
            out.push('\n');
            continue;
        }
        let Some(rest) = text.strip_prefix(padding) else {
            return Err(mismatch(
                file,
                line_span,
                marker,
                line + index + 1,
                text,
                padding,
            ));
        };
        out.extend(rest.chars().filter(|&c| c != '\r'));
        out.push('\n');
    }
    out.pop();
    Ok(out)
}

fn mismatch(
    file: &Arc<SourceFile>,
    span: Range<usize>,
    marker: &str,
    line: usize,
    text: &str,
    padding: &str,
) -> Error {
    Error::at_span(
        file,
        span,
        format!(
            "mismatched leading whitespace in heredoc <<{marker} on line #{line} [{text}], \
             expected whitespace [{padding}] to match the closing marker"
        ),
        "this line's indentation differs from the closing marker's",
    )
    .with_help(format!(
        "indent every line of the heredoc with at least the closing {marker}'s indentation, \
         using the same characters (tabs or spaces)"
    ))
}
