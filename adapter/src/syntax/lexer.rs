//! The lexer: Caddyfile text → [`Token`]s, as Caddy's `lexer.go` does it.
//!
//! `grammar/caddyfile.pest` defines where tokens start and end; this file
//! walks the pest pairs in order and computes what the grammar cannot:
//! each token's value (escapes resolved, quotes removed, heredoc
//! indentation stripped), its logical line (a line ending escaped with `\`
//! does not advance it, as in Caddy), its column and byte span. Heredoc
//! checks live in [`heredoc`].

mod heredoc;
#[cfg(test)]
mod tests;

use super::token::{ImportFrame, Quote, SourceFile, Token};
use crate::error::{Error, Result};
use pest::iterators::Pair;
use pest::Parser;
use pest_derive::Parser;
use std::sync::Arc;

/// The pest parser generated from `grammar/caddyfile.pest`.
#[derive(Parser)]
#[grammar = "../grammar/caddyfile.pest"]
pub(crate) struct CaddyfileGrammar;

/// Lexes one file's text (already `{$ENV}`-substituted) into tokens.
///
/// The grammar stops at each heredoc opening; the body is found here (up
/// to the first occurrence of the marker) and lexing resumes after it.
pub fn tokenize(file: Arc<SourceFile>) -> Result<Vec<Token>> {
    let mut walker = Walker::new(&file);
    walker.tokens.reserve(file.text.len() / 8);
    let (mut rule, mut base) = (Rule::tokens, 0);
    loop {
        let pairs = CaddyfileGrammar::parse(rule, &file.text[base..])
            .map_err(|e| pest_error(&file, e, base))?;
        walker.base = base;
        let mut resume_at = None;
        for top in pairs {
            for pair in top.into_inner() {
                if let Some(at) = walker.visit(pair)? {
                    resume_at = Some(at);
                }
            }
        }
        match resume_at {
            Some(at) => (rule, base) = (Rule::resume, at),
            None => return Ok(walker.tokens),
        }
    }
}

/// Turns a pest error into a diagnostic whose message names rules the
/// way a user thinks of them ("expected a closing `\"`"). `base` is where
/// the parsed text starts in the file.
pub(crate) fn pest_error(
    file: &Arc<SourceFile>,
    err: pest::error::Error<Rule>,
    base: usize,
) -> Error {
    let err = err.renamed_rules(friendly_rule_name);
    let start = base
        + match err.location {
            pest::error::InputLocation::Pos(p) | pest::error::InputLocation::Span((p, _)) => p,
        };
    let before = &file.text[..start.min(file.text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let message = format!(
        "syntax error: {}, at {}:{line}:{col}",
        err.variant.message(),
        file.name
    );
    Error::at_span(file, start..start + 1, message, "here")
        .with_help("check the quotes, backticks and heredocs before this point")
}

fn friendly_rule_name(rule: &Rule) -> String {
    let name = match rule {
        Rule::EOI => "end of file",
        Rule::dquote | Rule::dquote_open | Rule::edquote | Rule::edquote_open => {
            "a \"double-quoted\" string"
        }
        Rule::btick | Rule::btick_open => "a `backtick` string",
        Rule::heredoc_open | Rule::heredoc_word => "a heredoc (<<MARKER)",
        Rule::heredoc_header => "a heredoc marker",
        Rule::word | Rule::simple_run | Rule::simple_word => "a word",
        Rule::comment => "a # comment",
        Rule::newline => "a line break",
        Rule::continuation => "a line continuation (\\ at the end of a line)",
        Rule::escape_lead | Rule::dangling_escape => "a backslash escape",
        other => return format!("{other:?}"),
    };
    name.to_string()
}

/// State carried across pairs: Caddy's line counters and the column
/// tracker.
struct Walker<'a> {
    file: &'a Arc<SourceFile>,
    text: &'a str,
    /// Where the text pest is parsing starts in the file.
    base: usize,
    tokens: Vec<Token>,
    no_imports: Arc<[ImportFrame]>,
    /// The logical line of the next token.
    line: usize,
    /// Line breaks seen but not yet counted (escaped ones, heredoc lines).
    pending: usize,
    /// The next line break is escaped (a comment or word ended in `\`).
    escape_newline: bool,
    /// Start of a backslash that escapes the next token's first character.
    lead: Option<usize>,
    /// Column tracking: byte position reached and its 0-based column.
    col_pos: usize,
    col: usize,
}

impl<'a> Walker<'a> {
    fn new(file: &'a Arc<SourceFile>) -> Self {
        Self {
            file,
            text: &file.text,
            base: 0,
            tokens: Vec::new(),
            no_imports: Arc::from(Vec::new()),
            line: 1,
            pending: 0,
            escape_newline: false,
            lead: None,
            col_pos: 0,
            col: 0,
        }
    }

    /// Handles one pair; after a heredoc, says where lexing resumes.
    fn visit(&mut self, pair: Pair<'_, Rule>) -> Result<Option<usize>> {
        match pair.as_rule() {
            Rule::newline => {
                if self.escape_newline {
                    self.pending += 1;
                } else {
                    self.line += 1 + self.pending;
                    self.pending = 0;
                }
                self.escape_newline = false;
            }
            Rule::continuation => self.pending += 1,
            Rule::comment => self.escape_newline = pair.as_str().contains('\\'),
            Rule::escape_lead => self.lead = Some(self.base + pair.as_span().start()),
            Rule::simple_run => self.simple_run(&pair),
            Rule::word => self.word(&pair),
            Rule::dquote | Rule::dquote_open | Rule::edquote | Rule::edquote_open => {
                self.dquote(pair)
            }
            Rule::btick | Rule::btick_open => self.btick(pair),
            Rule::heredoc_open => return self.heredoc(&pair),
            Rule::heredoc_word => {
                let text = pair.as_str().replace('\r', "");
                let span = self.span(&pair);
                self.push(text, span, Quote::None, None);
            }
            _ => {}
        }
        Ok(None)
    }

    /// A pair's byte range in the file.
    fn span(&self, pair: &Pair<'_, Rule>) -> std::ops::Range<usize> {
        let s = pair.as_span();
        self.base + s.start()..self.base + s.end()
    }

    /// 1-based column of byte `pos`, moving the tracker forward.
    fn column_at(&mut self, pos: usize) -> usize {
        if pos < self.col_pos {
            self.col_pos = 0;
            self.col = 0;
        }
        for ch in self.text[self.col_pos..pos].chars() {
            if ch == '\n' {
                self.col = 0;
            } else {
                self.col += 1;
            }
        }
        self.col_pos = pos;
        self.col + 1
    }

    fn push(
        &mut self,
        text: String,
        span: std::ops::Range<usize>,
        quote: Quote,
        marker: Option<&str>,
    ) {
        let start = self.lead.take().unwrap_or(span.start);
        let column = self.column_at(start);
        self.tokens.push(Token {
            text,
            file: Arc::clone(self.file),
            line: self.line,
            column,
            span: start..span.end,
            quote,
            heredoc_marker: marker.map(str::to_string),
            imports: Arc::clone(&self.no_imports),
            snippet: None,
        });
    }

    /// Plain words separated by spaces and tabs: one token each.
    fn simple_run(&mut self, pair: &Pair<'_, Rule>) {
        let start = self.base + pair.as_span().start();
        let mut offset = start;
        for piece in pair.as_str().split([' ', '\t']) {
            if !piece.is_empty() {
                self.push(
                    piece.to_string(),
                    offset..offset + piece.len(),
                    Quote::None,
                    None,
                );
            }
            offset += piece.len() + 1;
        }
    }

    fn word(&mut self, pair: &Pair<'_, Rule>) {
        let (text, escaped) = unescape_word(pair.as_str(), self.lead.is_some());
        let span = self.span(pair);
        // a word ending in an unpaired `\` escapes the line break after it
        self.escape_newline = escaped && self.text[span.end..].starts_with('\n');
        self.push(text, span, Quote::None, None);
    }

    fn dquote(&mut self, pair: Pair<'_, Rule>) {
        let closed = matches!(pair.as_rule(), Rule::dquote | Rule::edquote);
        let body = pair.clone().into_inner().next().map_or("", |p| p.as_str());
        let text = unescape_dquote(body, self.lead.is_some());
        self.quoted(text, pair, closed, Quote::Double);
    }

    fn btick(&mut self, pair: Pair<'_, Rule>) {
        let closed = pair.as_rule() == Rule::btick;
        let body = pair.clone().into_inner().next().map_or("", |p| p.as_str());
        self.quoted(body.to_string(), pair, closed, Quote::Backtick);
    }

    /// A quoted token; an unclosed quote at the end of input is a plain
    /// token if it has any text (Caddy's behaviour).
    fn quoted(&mut self, text: String, pair: Pair<'_, Rule>, closed: bool, quote: Quote) {
        let breaks = pair.as_str().matches('\n').count();
        let span = self.span(&pair);
        if closed {
            self.push(text, span, quote, None);
        } else if !text.is_empty() {
            self.push(text, span, Quote::None, None);
        } else {
            self.lead = None;
        }
        // line breaks inside quotes count at once, with any pending ones
        if breaks > 0 {
            self.line += breaks + self.pending;
            self.pending = 0;
        }
    }

    /// A heredoc opening: checks the marker, finds the body (up to the
    /// marker's first occurrence), makes the token and says where lexing
    /// resumes. `None` when the input ends right after the opening line.
    fn heredoc(&mut self, pair: &Pair<'_, Rule>) -> Result<Option<usize>> {
        let header = pair.clone().into_inner().next().map_or("", |p| p.as_str());
        let marker = header.replace('\r', "");
        let open = self.span(pair);
        heredoc::check_marker(self.file, open.clone(), &marker, self.line)?;
        let body_start = open.end;
        let rest = &self.text[body_start..];
        let Some(found) = rest.find(marker.as_str()) else {
            if rest.is_empty() {
                // nothing after the opening line: Caddy yields no token
                return Ok(None);
            }
            let line = self.line + self.pending + 1 + rest.matches('\n').count();
            return Err(Error::at_span(
                self.file,
                open.start..open.end - 1,
                format!(
                    "incomplete heredoc <<{marker} on line #{line}, expected ending marker {marker}"
                ),
                "this heredoc is never closed",
            )
            .with_help(format!(
                "end the heredoc with a line containing only {marker}"
            )));
        };
        let body = &rest[..found];
        let text = heredoc::finalize(self.file, body_start, body, &marker, self.line)?;
        let end = body_start + found + marker.len();
        self.push(text, open.start..end, Quote::Heredoc, Some(&marker));
        self.line += self.pending + 1 + body.matches('\n').count();
        self.pending = 0;
        Ok(Some(end))
    }
}

/// A bare word's value: `\<` is `<`, any other escaped character keeps
/// its backslash, CR is dropped. Also says whether a final `\` was left
/// unpaired (which escapes a following line break).
fn unescape_word(raw: &str, lead: bool) -> (String, bool) {
    if !lead && !raw.contains(['\\', '\r']) {
        return (raw.to_string(), false);
    }
    let mut out = String::with_capacity(raw.len() + 1);
    let mut escaped = lead;
    for c in raw.chars() {
        if c == '\r' {
            continue;
        }
        if escaped {
            if c != '<' {
                out.push('\\');
            }
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    (out, escaped)
}

/// A double-quoted body's value: `\"` is `"`, other backslashes are kept.
/// `lead` is a backslash written just before the opening quote, which
/// escapes the body's first character.
fn unescape_dquote(body: &str, lead: bool) -> String {
    if !lead && !body.contains('\\') {
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len() + 1);
    let mut escaped = lead;
    for c in body.chars() {
        if escaped {
            if c != '"' {
                out.push('\\');
            }
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}
