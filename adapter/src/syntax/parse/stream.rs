//! The parser's token stream: Caddy's cursor over a token array, built so
//! that splicing an import's tokens in costs only the size of the import.
//!
//! Tokens already read sit in `done` (the current token is its last);
//! tokens not yet read sit in `rest`, reversed, so reading is a pop and
//! splicing an import is a truncate of `done` plus pushes onto `rest`.
//! Stepping back (Caddy's `cursor--`) moves one token from `done` to
//! `rest`. Line logic is Caddy's: see [`Token::is_next_on_new_line`].

use crate::syntax::token::Token;

/// A cursor over tokens that supports splicing at the cursor.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    done: Vec<Token>,
    rest: Vec<Token>,
    /// Nesting for [`Stream::next_block`] (Caddy's dispenser nesting).
    block_nesting: usize,
}

impl Stream {
    pub(crate) fn new(mut tokens: Vec<Token>) -> Self {
        tokens.reverse();
        Self {
            done: Vec::with_capacity(1024),
            rest: tokens,
            block_nesting: 0,
        }
    }

    /// Moves to the next token; false at the end (the cursor stays).
    pub(crate) fn next(&mut self) -> bool {
        match self.rest.pop() {
            Some(t) => {
                self.done.push(t);
                true
            }
            None => false,
        }
    }

    /// Moves back one token (Caddy's `cursor--`).
    pub(crate) fn unread(&mut self) {
        if let Some(t) = self.done.pop() {
            self.rest.push(t);
        }
    }

    /// The current token.
    pub(crate) fn cur(&self) -> Option<&Token> {
        self.done.last()
    }

    /// Whether the current token is a structural (unquoted) `{`.
    pub(crate) fn at_open(&self) -> bool {
        self.cur().is_some_and(Token::is_open_brace)
    }

    /// Whether the current token is a structural (unquoted) `}`.
    pub(crate) fn at_close(&self) -> bool {
        self.cur().is_some_and(Token::is_close_brace)
    }

    /// The current token's text, "" when there is none.
    pub(crate) fn val(&self) -> &str {
        self.cur().map_or("", |t| t.text.as_str())
    }

    /// Position of the current token, for [`Stream::splice`].
    pub(crate) fn mark(&self) -> usize {
        self.done.len().saturating_sub(1)
    }

    /// Whether the current token starts a line (true for the first).
    pub(crate) fn is_new_line(&self) -> bool {
        match self.done.as_slice() {
            [.., prev, cur] => prev.is_next_on_new_line(cur),
            _ => true,
        }
    }

    /// Whether the next token starts a line (true at the end).
    pub(crate) fn is_next_on_new_line(&self) -> bool {
        match (self.cur(), self.rest.last()) {
            (Some(cur), Some(next)) => cur.is_next_on_new_line(next),
            (None, _) => false,
            (_, None) => true,
        }
    }

    /// Moves to the next token if it is on the current line.
    pub(crate) fn next_on_same_line(&mut self) -> bool {
        if self.cur().is_none() {
            return self.next();
        }
        if self.rest.is_empty() || self.is_next_on_new_line() {
            return false;
        }
        self.next()
    }

    /// Moves to the next token if it is on this line and not `{`.
    pub(crate) fn next_arg(&mut self) -> bool {
        if !self.next_on_same_line() {
            return false;
        }
        if self.at_open() {
            self.unread();
            return false;
        }
        true
    }

    /// The remaining argument tokens on this line.
    pub(crate) fn remaining_arg_tokens(&mut self) -> Vec<Token> {
        let mut out = Vec::new();
        while self.next_arg() {
            out.extend(self.cur().cloned());
        }
        out
    }

    /// Caddy's `NextBlock`, on this stream's own nesting counter.
    pub(crate) fn next_block(&mut self, initial: usize) -> bool {
        if self.block_nesting > initial {
            if !self.next() {
                return false;
            }
            if self.at_close() && !self.next_on_same_line() {
                self.block_nesting -= 1;
            } else if self.at_open() && !self.next_on_same_line() {
                self.block_nesting += 1;
            }
            return self.block_nesting > initial;
        }
        if !self.next_on_same_line() {
            return false;
        }
        if !self.at_open() {
            self.unread();
            return false;
        }
        self.next();
        if self.at_close() {
            return false;
        }
        self.block_nesting += 1;
        true
    }

    /// Caddy's dispenser nesting, for [`Stream::next_block`].
    pub(crate) fn block_nesting(&self) -> usize {
        self.block_nesting
    }

    /// Replaces the tokens from `mark` through the current one with
    /// `tokens`; the cursor ends on the token before `mark`, so the next
    /// [`Stream::next`] reads the first spliced token.
    pub(crate) fn splice(&mut self, mark: usize, tokens: Vec<Token>) {
        self.done.truncate(mark);
        self.rest.reserve(tokens.len());
        self.rest.extend(tokens.into_iter().rev());
    }

    /// Moves the tokens from `mark` on out of the stream (a finished
    /// segment), keeping a copy of the last as the current token so line
    /// logic and errors still see it.
    pub(crate) fn take_from(&mut self, mark: usize) -> Vec<Token> {
        let taken: Vec<Token> = self.done.drain(mark.min(self.done.len())..).collect();
        self.done.extend(taken.last().cloned());
        taken
    }

    /// The last token of the input, for errors at the end.
    pub(crate) fn last(&self) -> Option<&Token> {
        self.cur().or_else(|| self.rest.first())
    }
}
