//! The dispenser: a cursor over tokens with a notion of lines and blocks,
//! used by every directive and option parser (Caddy's `Dispenser`).
//!
//! The cursor starts before the first token. `next` moves to any token,
//! `next_arg` only to one on the same line that is not `{`, `next_block`
//! walks a `{ … }` block opened on the current line. Errors made here carry
//! the current token's location and span.

use super::token::Token;
use crate::error::Error;
use std::fmt;

/// A cursor over a run of tokens (usually one directive's segment).
#[derive(Debug, Clone)]
pub struct Dispenser {
    tokens: Vec<Token>,
    cursor: isize,
    nesting: usize,
}

impl Dispenser {
    /// A dispenser positioned before the first of `tokens`.
    pub fn new(tokens: Vec<Token>) -> Self {
        Self {
            tokens,
            cursor: -1,
            nesting: 0,
        }
    }

    /// All the tokens, whatever the cursor.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Moves to the next token; false at the end. (Named after Caddy's
    /// `Next`; it is a cursor move, not an iterator.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> bool {
        if self.cursor < self.tokens.len() as isize - 1 {
            self.cursor += 1;
            true
        } else {
            false
        }
    }

    /// Moves back one token; true if the cursor is then on a token.
    pub fn prev(&mut self) -> bool {
        if self.cursor > -1 {
            self.cursor -= 1;
            self.cursor > -1
        } else {
            false
        }
    }

    /// Whether the current token is a structural (unquoted) `{`.
    pub fn at_open(&self) -> bool {
        self.current().is_some_and(Token::is_open_brace)
    }

    /// Whether the current token is a structural (unquoted) `}`.
    pub fn at_close(&self) -> bool {
        self.current().is_some_and(Token::is_close_brace)
    }

    /// Moves to the next token if it is on the same line and not `{`.
    pub fn next_arg(&mut self) -> bool {
        if !self.next_on_same_line() {
            return false;
        }
        if self.at_open() {
            self.cursor -= 1;
            return false;
        }
        true
    }

    /// The next argument's text, if there is one on this line.
    pub fn next_arg_value(&mut self) -> Option<String> {
        self.next_arg().then(|| self.val().to_string())
    }

    fn next_on_same_line(&mut self) -> bool {
        if self.cursor < 0 {
            self.cursor += 1;
            return !self.tokens.is_empty();
        }
        let c = self.cursor as usize;
        if c + 1 >= self.tokens.len() {
            return false;
        }
        let (curr, next) = (&self.tokens[c], &self.tokens[c + 1]);
        if !curr.is_next_on_new_line(next) {
            self.cursor += 1;
            return true;
        }
        false
    }

    /// Moves to the next token only if it is on a later line.
    pub fn next_line(&mut self) -> bool {
        if self.cursor < 0 {
            self.cursor += 1;
            return !self.tokens.is_empty();
        }
        let c = self.cursor as usize;
        if c + 1 >= self.tokens.len() {
            return false;
        }
        let (curr, next) = (&self.tokens[c], &self.tokens[c + 1]);
        if curr.is_next_on_new_line(next) {
            self.cursor += 1;
            return true;
        }
        false
    }

    /// Loop condition for walking a block: `while d.next_block(nesting)`,
    /// with `nesting = d.nesting()` taken before the loop. The outer braces
    /// are consumed and not yielded.
    pub fn next_block(&mut self, initial_nesting: usize) -> bool {
        if self.nesting > initial_nesting {
            if !self.next() {
                return false;
            }
            if self.at_close() && !self.next_on_same_line() {
                self.nesting -= 1;
            } else if self.at_open() && !self.next_on_same_line() {
                self.nesting += 1;
            }
            return self.nesting > initial_nesting;
        }
        if !self.next_on_same_line() {
            return false;
        }
        if !self.at_open() {
            self.cursor -= 1;
            return false;
        }
        self.next();
        if self.at_close() {
            return false;
        }
        self.nesting += 1;
        true
    }

    /// The current nesting level, for [`Dispenser::next_block`].
    pub fn nesting(&self) -> usize {
        self.nesting
    }

    fn current(&self) -> Option<&Token> {
        usize::try_from(self.cursor)
            .ok()
            .and_then(|c| self.tokens.get(c))
    }

    /// The current token's text, or "" before the first / after the last.
    pub fn val(&self) -> &str {
        self.current().map_or("", |t| t.text.as_str())
    }

    /// The current token's text with its quotes, like Caddy's `ValRaw`.
    pub fn val_raw(&self) -> String {
        self.current().map(Token::raw).unwrap_or_default()
    }

    /// The current token, if the cursor is on one.
    pub fn token(&self) -> Option<&Token> {
        self.current()
    }

    /// The line of the current token, 0 if none.
    pub fn line(&self) -> usize {
        self.current().map_or(0, |t| t.line)
    }

    /// The file of the current token, "" if none.
    pub fn file(&self) -> &str {
        self.current().map_or("", |t| t.file.name.as_str())
    }

    /// Fills exactly `n` arguments from this line, or none.
    pub fn args(&mut self, n: usize) -> Option<Vec<String>> {
        let start = self.cursor;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            if !self.next_arg() {
                self.cursor = start;
                return None;
            }
            out.push(self.val().to_string());
        }
        Some(out)
    }

    /// How many arguments remain on this line, without consuming them.
    pub fn count_remaining_args(&mut self) -> usize {
        let start = self.cursor;
        let mut n = 0;
        while self.next_arg() {
            n += 1;
        }
        self.cursor = start;
        n
    }

    /// Consumes and returns the remaining arguments on this line.
    pub fn remaining_args(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while self.next_arg() {
            out.push(self.val().to_string());
        }
        out
    }

    /// Like [`Dispenser::remaining_args`], keeping quotes.
    pub fn remaining_args_raw(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while self.next_arg() {
            out.push(self.val_raw());
        }
        out
    }

    /// Consumes and returns the remaining argument tokens on this line.
    pub fn remaining_arg_tokens(&mut self) -> Vec<Token> {
        let mut out = Vec::new();
        while self.next_arg() {
            if let Some(t) = self.current() {
                out.push(t.clone());
            }
        }
        out
    }

    /// The tokens from the current one to the end of its line, or of the
    /// block opened at the end of its line (braces included).
    pub fn next_segment(&mut self) -> Vec<Token> {
        let mut out: Vec<Token> = self.current().cloned().into_iter().collect();
        while self.next_arg() {
            out.extend(self.current().cloned());
        }
        let mut opened = false;
        let nesting = self.nesting();
        while self.next_block(nesting) {
            if !opened {
                self.prev();
                out.extend(self.current().cloned());
                self.next();
                opened = true;
            }
            out.extend(self.current().cloned());
        }
        if opened {
            out.extend(self.current().cloned());
        }
        out
    }

    /// A new dispenser over [`Dispenser::next_segment`].
    pub fn new_from_next_segment(&mut self) -> Dispenser {
        Dispenser::new(self.next_segment())
    }

    /// Back to before the first token.
    pub fn reset(&mut self) {
        self.cursor = -1;
        self.nesting = 0;
    }

    /// Removes the current token; the cursor moves back one.
    pub fn delete(&mut self) {
        if let Ok(c) = usize::try_from(self.cursor) {
            if c < self.tokens.len() {
                self.tokens.remove(c);
                self.cursor -= 1;
            }
        }
    }

    /// Whether the current token starts a new line (true for the first).
    pub fn is_new_line(&self) -> bool {
        let Ok(c) = usize::try_from(self.cursor) else {
            return true;
        };
        if c == 0 {
            return true;
        }
        if c >= self.tokens.len() {
            return false;
        }
        self.tokens[c - 1].is_next_on_new_line(&self.tokens[c])
    }

    /// Whether the token after the current one is on a later line (true
    /// at the end).
    pub fn is_next_on_new_line(&self) -> bool {
        let Ok(c) = usize::try_from(self.cursor) else {
            return false;
        };
        if c + 1 >= self.tokens.len() {
            return true;
        }
        self.tokens[c].is_next_on_new_line(&self.tokens[c + 1])
    }

    /// "Wrong argument count or unexpected line ending after 'X'".
    pub fn arg_err(&self) -> Error {
        if self.at_open() {
            return self.err("unexpected token '{', expecting argument");
        }
        self.err(format!(
            "wrong argument count or unexpected line ending after '{}'",
            self.val()
        ))
    }

    /// "Unexpected token 'X', expecting 'Y'".
    pub fn syntax_err(&self, expected: &str) -> Error {
        self.err(format!(
            "syntax error: unexpected token '{}', expecting '{}'",
            self.val(),
            expected
        ))
    }

    /// "Unexpected EOF".
    pub fn eof_err(&self) -> Error {
        self.err("unexpected EOF")
    }

    /// An error at the current token (Caddy's `Errf`). Use `format!` for
    /// formatted messages.
    pub fn err(&self, message: impl fmt::Display) -> Error {
        match self.current().or_else(|| self.tokens.last()) {
            Some(t) => Error::at(t, message),
            None => Error::plain(message.to_string()),
        }
    }

    /// Alias of [`Dispenser::err`], named after Caddy's `Errf`.
    pub fn errf(&self, message: impl fmt::Display) -> Error {
        self.err(message)
    }
}
