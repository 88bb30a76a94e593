//! The parser: tokens → server blocks, as Caddy's `parse.go` groups them.
//!
//! An optional global options block (a block with no keys) comes first;
//! then snippets `(name) { … }` (stored for `import`, not returned), named
//! routes `&(name) { … }` and site blocks: keys (addresses separated by
//! spaces and/or commas, a trailing comma continuing on the next line),
//! then `{ … }` — optional when the file has a single site. Each directive
//! line, with the block it opens, is one segment. `import` is expanded as
//! it is met (see `imports`). Errors use Caddy's wording.

mod stream;
#[cfg(test)]
mod tests;

pub(crate) use stream::Stream;

use super::imports::graph::ImportGraph;
use super::token::Token;
use super::ServerBlock;
use crate::error::{Error, Result, Warning};
use std::collections::HashMap;

/// Deepest `{` nesting accepted inside a block (directive parsers recurse).
pub const MAX_NESTING: usize = 256;

/// Grouping state, Caddy's `parser`.
pub(crate) struct Parser<'e> {
    pub(crate) s: Stream,
    block: ServerBlock,
    eof: bool,
    nesting: usize,
    /// The `{` tokens of the blocks open in the current directive.
    open_braces: Vec<Token>,
    pub(crate) snippets: HashMap<String, Vec<Token>>,
    pub(crate) graph: ImportGraph,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) env: &'e dyn Fn(&str) -> Option<String>,
    /// Tokens spliced in by imports so far (bounded by `MAX_IMPORTED`).
    pub(crate) imported: usize,
    /// Files read by imports so far.
    pub(crate) files_read: usize,
}

impl<'e> Parser<'e> {
    pub(crate) fn new(tokens: Vec<Token>, env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            s: Stream::new(tokens),
            block: ServerBlock::default(),
            eof: false,
            nesting: 0,
            open_braces: Vec::new(),
            snippets: HashMap::new(),
            graph: ImportGraph::default(),
            warnings: Vec::new(),
            env,
            imported: 0,
            files_read: 0,
        }
    }

    /// An error at the current token, Caddy's `Err`.
    pub(crate) fn err(&self, message: impl std::fmt::Display) -> Error {
        match self.s.last() {
            Some(t) => Error::at(t, message),
            None => Error::plain(message.to_string()),
        }
    }

    fn eof_err(&self) -> Error {
        let err = self.err("unexpected EOF");
        match self.open_braces.last() {
            Some(open) => err.with_help(format!(
                "the block opened with `{{` at {}:{} is never closed; add a matching `}}`",
                open.file.name, open.line
            )),
            None => err,
        }
    }

    fn syntax_err(&self, expected: &str) -> Error {
        self.err(format!(
            "syntax error: unexpected token '{}', expecting '{expected}'",
            self.s.val()
        ))
    }

    /// All server blocks, in order.
    pub(crate) fn parse_all(&mut self) -> Result<Vec<ServerBlock>> {
        let mut blocks = Vec::new();
        while self.s.next() {
            self.block = ServerBlock::default();
            self.begin()?;
            let block = std::mem::take(&mut self.block);
            if !block.keys.is_empty() || !block.segments.is_empty() {
                blocks.push(block);
            }
            if self.nesting > 0 {
                return Err(self.eof_err());
            }
        }
        Ok(blocks)
    }

    fn begin(&mut self) -> Result<()> {
        self.addresses()?;
        if self.eof {
            // the file is only a line of addresses
            return Ok(());
        }
        if let Some(name) = self.named_route_name() {
            let mut name_token = self.block.keys[0].clone();
            name_token.text = name;
            self.block.keys = vec![name_token.clone()];
            self.block.is_named_route = true;
            self.block.has_braces = true;
            let mut tokens = vec![name_token];
            tokens.extend(self.block_tokens(true)?);
            self.block.segments = vec![tokens];
            return Ok(());
        }
        if let Some(name) = self.snippet_name() {
            if self.snippets.contains_key(&name) {
                return Err(self.err(format!(
                    "redeclaration of previously declared snippet {name}"
                )));
            }
            let mut tokens = self.block_tokens(false)?;
            let shared: std::sync::Arc<str> = std::sync::Arc::from(name.as_str());
            for t in &mut tokens {
                t.snippet = Some(shared.clone());
            }
            self.snippets.insert(name, tokens);
            self.block.keys.clear();
            return Ok(());
        }
        self.block_contents()
    }

    fn addresses(&mut self) -> Result<()> {
        let mut expecting_another = false;
        loop {
            let value = self.s.val().to_string();
            if value.starts_with('@') {
                return Err(self.err(format!(
                    "request matchers may not be defined globally, they must be in a site block; found {value}"
                )));
            }
            if value == "import" && self.s.is_new_line() {
                self.do_import(0)?;
                if !self.s.next() {
                    if expecting_another {
                        return Err(self.eof_err());
                    }
                    self.eof = true;
                    break;
                }
                continue;
            }
            if self.s.at_open() {
                if expecting_another {
                    return Err(self
                        .err("Expected another address but had '{' - check for extra comma")
                        .with_help("remove the comma after the last address"));
                }
                self.block.has_braces = true;
                break;
            }
            if value.ends_with('{') && !self.s.cur().is_some_and(Token::was_quoted) {
                return Err(self.err(format!(
                    "Site addresses cannot end with a curly brace: '{value}' - put a space between the token and the brace"
                )));
            }
            if !value.is_empty() {
                self.add_key(value, &mut expecting_another)?;
            }
            let has_next = self.s.next();
            if expecting_another && !has_next {
                return Err(self.eof_err());
            }
            if !has_next {
                self.eof = true;
                break;
            }
            if !expecting_another && self.s.is_new_line() {
                break;
            }
        }
        Ok(())
    }

    fn add_key(&mut self, mut value: String, expecting_another: &mut bool) -> Result<()> {
        *expecting_another = value.ends_with(',');
        if *expecting_another {
            value.pop();
        }
        if value.contains(',') {
            return Err(self.err(format!(
                "Site addresses cannot contain a comma ',': '{value}' - put a space after the comma to separate site addresses"
            )));
        }
        if !value.is_empty() {
            if let Some(cur) = self.s.cur() {
                let mut key = cur.clone();
                key.text = value;
                self.block.keys.push(key);
            }
        }
        Ok(())
    }

    fn block_contents(&mut self) -> Result<()> {
        let opened = self.s.at_open();
        if !opened {
            // a single site needs no braces
            self.s.unread();
        }
        let brace = self.s.cur().cloned();
        self.directives()?;
        if opened && !self.s.at_close() {
            let mut err = self.syntax_err("}");
            if let Some(open) = brace {
                err = err.with_help(format!(
                    "the block opened with `{{` at {}:{} is never closed; add a matching `}}`",
                    open.file.name, open.line
                ));
            }
            return Err(err);
        }
        Ok(())
    }

    fn directives(&mut self) -> Result<()> {
        while self.s.next() {
            match Kind::of(self.s.cur()) {
                Kind::Close => break,
                Kind::Import => self.do_import(1)?,
                _ => self.directive()?,
            }
        }
        Ok(())
    }

    /// One segment: the directive's line and the block it opens. Every
    /// token read here but `import` statements (spliced away) belongs to
    /// the segment, so the segment is moved out of the stream at the end.
    fn directive(&mut self) -> Result<()> {
        let start = self.s.mark();
        while self.s.next() {
            match Kind::of(self.s.cur()) {
                Kind::Open => self.open_brace()?,
                Kind::Empty if self.s.is_next_on_new_line() => {
                    return Err(self
                        .err("Unexpected '{}' at end of line")
                        .with_help("write `{` and `}` on separate lines, or quote \"{}\""));
                }
                Kind::Empty => {}
                _ if self.s.is_new_line() && self.nesting == 0 => {
                    self.s.unread();
                    break;
                }
                Kind::Close if self.nesting > 0 => {
                    self.nesting -= 1;
                    self.open_braces.pop();
                }
                Kind::Close => {
                    return Err(self
                        .err("Unexpected '}' because no matching opening brace")
                        .with_help("put a block's closing `}` on its own line, or remove it"));
                }
                Kind::Import if self.s.is_new_line() => self.do_import(1)?,
                _ => {}
            }
        }
        if self.nesting > 0 {
            return Err(self.eof_err());
        }
        let segment = self.s.take_from(start);
        self.block.segments.push(segment);
        Ok(())
    }

    fn open_brace(&mut self) -> Result<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.err(format!(
                "blocks are nested too deeply (more than {MAX_NESTING} levels)"
            )));
        }
        self.open_braces.extend(self.s.cur().cloned());
        if !self.s.is_next_on_new_line() {
            return Err(self
                .err("Unexpected next token after '{' on same line")
                .with_help("start a new line after `{`"));
        }
        if self.s.is_new_line() {
            return Err(self.err(
                "Unexpected '{' on a new line; did you mean to place the '{' on the previous line?",
            ));
        }
        Ok(())
    }

    fn named_route_name(&self) -> Option<String> {
        match self.block.keys.as_slice() {
            [key] => key
                .text
                .strip_prefix("&(")
                .and_then(|k| k.strip_suffix(')'))
                .map(str::to_string),
            _ => None,
        }
    }

    fn snippet_name(&self) -> Option<String> {
        match self.block.keys.as_slice() {
            [key] if key.text.starts_with('(') && key.text.ends_with(')') => {
                let inner = &key.text[1..];
                Some(inner.strip_suffix(')').unwrap_or(inner).to_string())
            }
            _ => None,
        }
    }

    /// A whole `{ … }` block for later replay, braces kept if asked.
    fn block_tokens(&mut self, keep_braces: bool) -> Result<Vec<Token>> {
        if !self.s.at_open() {
            return Err(self.syntax_err("{"));
        }
        let mut nesting = 1usize;
        let mut tokens: Vec<Token> = Vec::new();
        if keep_braces {
            tokens.extend(self.s.cur().cloned());
        }
        while self.s.next() {
            match Kind::of(self.s.cur()) {
                Kind::Close => {
                    nesting -= 1;
                    if nesting == 0 {
                        if keep_braces {
                            tokens.extend(self.s.cur().cloned());
                        }
                        break;
                    }
                }
                Kind::Open => nesting += 1,
                _ => {}
            }
            tokens.extend(self.s.cur().cloned());
        }
        if nesting != 0 {
            return Err(self.syntax_err("}"));
        }
        Ok(tokens)
    }
}

/// What a token's text means to the grouping logic.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Open,
    Close,
    /// `{}`, which Caddy rejects at the end of a line.
    Empty,
    Import,
    Other,
}

impl Kind {
    /// Braces count only unquoted, as in Caddy (`"{"` is an argument).
    fn of(token: Option<&Token>) -> Self {
        let Some(token) = token else {
            return Self::Other;
        };
        let bare = !token.was_quoted();
        match token.text.as_str() {
            "{" if bare => Self::Open,
            "}" if bare => Self::Close,
            "{}" if bare => Self::Empty,
            "import" => Self::Import,
            _ => Self::Other,
        }
    }
}
