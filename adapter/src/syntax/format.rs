//! `bellhop fmt`: Caddy's Caddyfile formatter, character by character.
//!
//! Like Caddy's `caddyfile.Format`, this does not tokenise: it reads the
//! input one character at a time and takes control of braces, indentation
//! (one tab per nesting level) and the white space between words, while
//! words, comments, `"quoted"` segments, placeholders, escapes and heredoc
//! bodies are written as they appear. Blank lines collapse to at most one,
//! top-level blocks that close and reopen on one line are split apart, and
//! the result ends with exactly one newline.
//!
//! Caddy's quirks are reproduced on purpose (the output must be
//! byte-identical to `caddy fmt`): backtick segments get no special
//! treatment, a `\r` inside a comment is kept, and nesting is capped at ten
//! levels. One deliberate difference from current Caddy: its heredoc
//! detection also drops the space in `a < b` (giving `a <b`, which changes
//! the tokens); here only the character right after a word-initial `<` is
//! looked at, so `a < b` stays as it is, as in Caddy 2.6.2. The output is a
//! fixed point: `format(&format(x)) == format(x)`.
//!
//! [`diff`] renders the line diff that `caddy fmt --diff` prints.

mod diff;

pub use diff::diff;

/// How many times [`format`] re-runs Caddy's single pass at most, looking
/// for a fixed point.
const MAX_PASSES: usize = 8;

/// Formats a Caddyfile the way `caddy fmt` does.
///
/// Caddy's single pass is not idempotent on some malformed inputs (a
/// placeholder glued to a block's `{`, stray braces): there the pass is
/// repeated until the text stops changing, so `bellhop fmt` is idempotent.
/// On every well-formed Caddyfile one pass is already a fixed point and the
/// output is exactly Caddy's.
pub fn format(input: &str) -> String {
    let mut current = format_once(input);
    for _ in 1..MAX_PASSES {
        let next = format_once(&current);
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// One pass of Caddy's formatter.
fn format_once(input: &str) -> String {
    let mut f = Formatter {
        space: true,
        beginning_of_line: true,
        ..Formatter::default()
    };
    for ch in input.trim().chars() {
        f.feed(ch);
    }
    let mut out = f.out.trim().to_owned();
    out.push('\n');
    out
}

/// Where the formatter is with respect to a heredoc (`<<MARKER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Heredoc {
    /// Not in a heredoc.
    #[default]
    Closed,
    /// After `<<`, reading the marker up to the end of the line.
    Opening,
    /// In the body, copying everything until the closing marker.
    Opened,
}

/// Nesting is never indented deeper than this (Caddy guards against
/// pathological inputs the same way).
const MAX_NESTING: usize = 10;

/// The formatter's state between characters.
#[derive(Debug, Default)]
struct Formatter {
    out: String,
    /// The last character written (`'\0'` before any).
    last: char,
    /// Whether the previous character was white space (true at the start).
    space: bool,
    beginning_of_line: bool,
    /// Whether the current word is or started with `{`.
    open_brace: bool,
    /// If `open_brace`, whether that brace has been written yet.
    open_brace_written: bool,
    /// Whether a same-line space preceded the pending `{`.
    open_brace_space: bool,
    /// Newlines consumed since the last word.
    new_lines: usize,
    comment: bool,
    quoted: bool,
    escaped: bool,
    heredoc: Heredoc,
    heredoc_escaped: bool,
    heredoc_marker: Vec<char>,
    /// A sliding window over the heredoc body, to spot the closing marker.
    closing_marker: Vec<char>,
    nesting: usize,
    /// Whether the previous character was a `<` that started a word (the
    /// next character decides whether it opens a heredoc).
    lt_word_start: bool,
}

impl Formatter {
    fn write(&mut self, ch: char) {
        self.out.push(ch);
        self.last = ch;
    }

    fn indent(&mut self) {
        for _ in 0..self.nesting {
            self.write('\t');
        }
    }

    fn next_line(&mut self) {
        self.write('\n');
        self.beginning_of_line = true;
    }

    /// Consumes one character of the (already trimmed) input.
    fn feed(&mut self, ch: char) {
        let after_lt = std::mem::take(&mut self.lt_word_start);
        if self.heredoc_start(ch, after_lt) || self.heredoc_marker_char(ch) || self.heredoc_body(ch)
        {
            return;
        }
        if self.literal(ch) {
            return;
        }
        if self.space && ch == '"' {
            self.quoted = true;
        }
        if ch.is_whitespace() {
            self.space = true;
            self.heredoc_escaped = false;
            if ch == '\n' {
                self.new_lines += 1;
            }
            return;
        }
        let space_prior = self.space;
        self.space = false;
        if ch == '#' {
            self.comment = true;
        }
        self.structural(ch, space_prior);
    }

    /// The second `<` of a `<<` that starts a word opens a heredoc.
    fn heredoc_start(&mut self, ch: char, after_lt: bool) -> bool {
        let blocked = self.heredoc != Heredoc::Closed || self.heredoc_escaped;
        if self.quoted || blocked || !after_lt || ch != '<' {
            return false;
        }
        self.write(ch);
        self.heredoc = Heredoc::Opening;
        self.space = false;
        true
    }

    /// Reads the heredoc marker; returns true when `ch` was consumed.
    fn heredoc_marker_char(&mut self, ch: char) -> bool {
        if self.heredoc != Heredoc::Opening {
            return false;
        }
        if ch == '\n' {
            if is_heredoc_marker(&self.heredoc_marker) {
                self.heredoc = Heredoc::Opened;
                self.write(ch);
            } else {
                self.heredoc_marker.clear();
                self.heredoc = Heredoc::Closed;
                self.next_line();
            }
            return true;
        }
        if ch.is_whitespace() {
            // `<<WORD ` followed by more on the line is an ordinary word.
            self.heredoc_marker.clear();
            self.heredoc = Heredoc::Closed;
            return false;
        }
        self.heredoc_marker.push(ch);
        self.write(ch);
        true
    }

    /// Copies the heredoc body verbatim; the white space right after the
    /// closing marker ends the heredoc and is handled as usual.
    fn heredoc_body(&mut self, ch: char) -> bool {
        if self.heredoc != Heredoc::Opened {
            return false;
        }
        self.closing_marker.push(ch);
        if self.closing_marker.len() > self.heredoc_marker.len() + 1 {
            self.closing_marker.remove(0);
        }
        let window = &self.closing_marker[..self.closing_marker.len() - 1];
        if ch.is_whitespace() && window == self.heredoc_marker.as_slice() {
            self.heredoc_marker.clear();
            self.closing_marker.clear();
            self.heredoc = Heredoc::Closed;
            return false;
        }
        self.write(ch);
        if ch == '\n' {
            self.closing_marker.clear();
        }
        true
    }

    /// Comments, escapes and quoted segments are copied as they are;
    /// returns true when `ch` was consumed that way.
    fn literal(&mut self, ch: char) -> bool {
        if self.comment {
            if ch == '\n' {
                self.comment = false;
                self.space = true;
                self.next_line();
            } else {
                self.write(ch);
            }
            return true;
        }
        if !self.escaped && ch == '\\' {
            if self.space {
                self.write(' ');
                self.space = false;
            }
            self.write(ch);
            self.escaped = true;
            return true;
        }
        if self.escaped {
            if ch == '<' {
                self.heredoc_escaped = true;
            }
            self.write(ch);
            self.escaped = false;
            return true;
        }
        if self.quoted {
            if ch == '"' {
                self.quoted = false;
            }
            self.write(ch);
            return true;
        }
        false
    }

    /// Handles a non-space character outside any literal segment: braces,
    /// line breaks and the space before a word.
    fn structural(&mut self, ch: char, space_prior: bool) {
        if self.open_brace && space_prior && !self.open_brace_written {
            self.open_block();
        }
        if ch == '{' {
            self.open_brace = true;
            self.open_brace_written = false;
            self.open_brace_space = space_prior && !self.beginning_of_line;
            if self.open_brace_space {
                self.write(' ');
            }
            return;
        }
        if ch == '}' && (space_prior || !self.open_brace) {
            if self.last != '\n' {
                self.next_line();
            }
            self.nesting = self.nesting.saturating_sub(1);
            self.indent();
            self.write('}');
            self.new_lines = 0;
            return;
        }
        for _ in 0..self.new_lines.min(2) {
            self.next_line();
        }
        self.new_lines = 0;
        if self.beginning_of_line {
            self.indent();
        }
        if self.nesting == 0 && self.last == '}' && self.beginning_of_line {
            self.next_line();
            self.next_line();
        }
        if !self.beginning_of_line && space_prior {
            self.write(' ');
        }
        if self.open_brace && !self.open_brace_written {
            self.write('{');
            self.open_brace_written = true;
        }
        if space_prior && ch == '<' {
            self.lt_word_start = true;
        }
        self.write(ch);
        self.beginning_of_line = false;
    }

    /// Writes a pending `{` that turned out to open a block.
    fn open_block(&mut self) {
        if self.nesting == 0 && self.last == '}' {
            self.next_line();
            self.next_line();
        }
        self.open_brace = false;
        if self.beginning_of_line {
            self.indent();
        } else if !self.open_brace_space {
            self.write(' ');
        }
        self.write('{');
        self.open_brace_written = true;
        self.next_line();
        self.new_lines = 0;
        if self.nesting < MAX_NESTING {
            self.nesting += 1;
        }
    }
}

/// Whether `marker` is a valid heredoc marker: one or more ASCII letters,
/// digits, `_` or `-`.
fn is_heredoc_marker(marker: &[char]) -> bool {
    !marker.is_empty()
        && marker
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn a_lone_less_than_keeps_its_spaces() {
        assert_eq!(format("a {\n  b < c\n}"), "a {\n\tb < c\n}\n");
    }

    #[test]
    fn heredoc_bodies_are_kept_verbatim() {
        let input = "a {\n  respond <<EOF\n    x   y\n  EOF 200\n}\n";
        let want = "a {\n\trespond <<EOF\n    x   y\n  EOF 200\n}\n";
        assert_eq!(format(input), want);
    }

    #[test]
    fn malformed_input_reaches_a_fixed_point() {
        // One pass of Caddy's formatter gives "{a}\n\n{\n\tb"; the next
        // pass would join the brace, so the fixed point is returned.
        let once = format("{a}{\nb");
        assert_eq!(once, "{a} {\n\tb\n");
        assert_eq!(format(&once), once);
    }

    #[test]
    fn empty_input_is_one_newline() {
        assert_eq!(format(""), "\n");
        assert_eq!(format(" \r\n\t"), "\n");
    }
}
