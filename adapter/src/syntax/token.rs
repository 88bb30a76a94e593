//! Tokens: the unit the lexer produces and every later layer consumes.
//!
//! A token keeps where it came from (file, line, column, byte span in that
//! file's text), how it was quoted, and the chain of `import`s that brought
//! it into the current file, so any error about it can point at its source.

use std::ops::Range;
use std::sync::Arc;

/// One source file's text, shared by every token lexed from it.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// The name shown to users (the path as given, or `Caddyfile`).
    pub name: String,
    /// The text that was tokenised (after `{$ENV}` substitution).
    pub text: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            text: text.into(),
        })
    }
}

/// Diagnostics read the file's text straight from the shared file.
impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        self.text
            .read_span(span, context_lines_before, context_lines_after)
    }
}

/// How a token was written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quote {
    /// A bare word.
    #[default]
    None,
    /// `"double quoted"`.
    Double,
    /// `` `backticks` ``.
    Backtick,
    /// `<<MARKER … MARKER`.
    Heredoc,
}

/// One step of an import chain: the `import` at `file:line` that pulled the
/// token in (Caddy prints these as `Caddyfile:3 (import snippet)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFrame {
    pub file: String,
    pub line: usize,
    /// What was imported: a snippet name or a file pattern.
    pub target: String,
}

impl std::fmt::Display for ImportFrame {
    /// `'Caddyfile:3 (import name)'`, or `'Caddyfile:3 (import)'` for a
    /// file import, as in Caddy's import chains.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.target.is_empty() {
            write!(f, "'{}:{} (import)'", self.file, self.line)
        } else {
            write!(f, "'{}:{} (import {})'", self.file, self.line, self.target)
        }
    }
}

/// A lexed token with its origin.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token's value with quotes removed and escapes resolved.
    pub text: String,
    /// The file it was lexed from.
    pub file: Arc<SourceFile>,
    /// 1-based line of the token's first character.
    pub line: usize,
    /// 1-based column (in characters) of the token's first character.
    pub column: usize,
    /// Byte range of the token (quotes included) in `file.text`.
    pub span: Range<usize>,
    pub quote: Quote,
    /// The marker of a heredoc token (`EOF` for `<<EOF`).
    pub heredoc_marker: Option<String>,
    /// Imports that brought this token here, outermost first.
    pub imports: Arc<[ImportFrame]>,
    /// The snippet this token was copied from, if any.
    pub snippet: Option<Arc<str>>,
}

impl Token {
    /// A token that did not come from a file (tests, generated tokens).
    pub fn synthetic(text: impl Into<String>, file: &Arc<SourceFile>, line: usize) -> Self {
        Self {
            text: text.into(),
            file: Arc::clone(file),
            line,
            column: 1,
            span: 0..0,
            quote: Quote::None,
            heredoc_marker: None,
            imports: Arc::from(Vec::new()),
            snippet: None,
        }
    }

    /// The file name of the token.
    pub fn file_name(&self) -> &str {
        &self.file.name
    }

    /// Whether the token was quoted in any way (quotes, backticks, heredoc).
    pub fn was_quoted(&self) -> bool {
        self.quote != Quote::None
    }

    /// Whether the token is a structural `{` (Caddy's `isOpenCurlyBrace`):
    /// a quoted `"{"` is an ordinary argument.
    pub fn is_open_brace(&self) -> bool {
        self.text == "{" && !self.was_quoted()
    }

    /// Whether the token is a structural `}` (not quoted).
    pub fn is_close_brace(&self) -> bool {
        self.text == "}" && !self.was_quoted()
    }

    /// How many line breaks the token spans in the source, as Caddy counts
    /// them: the breaks in its text, plus two for a heredoc's marker lines.
    pub fn num_line_breaks(&self) -> usize {
        let breaks = self.text.matches('\n').count();
        if self.quote == Quote::Heredoc {
            breaks + 2
        } else {
            breaks
        }
    }

    /// Whether `next` starts on a later line than this token ends, as Caddy
    /// decides it: tokens from different files or different import chains
    /// are never on the same line.
    pub fn is_next_on_new_line(&self, next: &Token) -> bool {
        if !self.same_file(next) || !self.same_imports(next) {
            return true;
        }
        self.line + self.num_line_breaks() < next.line
    }

    /// Whether two tokens were brought in by the same chain of imports.
    pub fn same_imports(&self, other: &Token) -> bool {
        Arc::ptr_eq(&self.imports, &other.imports) || *self.imports == *other.imports
    }

    /// Whether two tokens come from the same file.
    pub fn same_file(&self, other: &Token) -> bool {
        Arc::ptr_eq(&self.file, &other.file) || self.file.name == other.file.name
    }

    /// The text as written, with its quotes (heredoc markers not included),
    /// like Caddy's `ValRaw`.
    pub fn raw(&self) -> String {
        match self.quote {
            Quote::Double => format!("\"{}\"", self.text),
            Quote::Backtick => format!("`{}`", self.text),
            Quote::None | Quote::Heredoc => self.text.clone(),
        }
    }

    /// `file:line`, followed by the import chain when there is one, as in
    /// Caddy's error messages.
    pub fn location(&self) -> String {
        let mut s = format!("{}:{}", self.file.name, self.line);
        if !self.imports.is_empty() {
            let chain: Vec<String> = self
                .imports
                .iter()
                .rev()
                .map(ImportFrame::to_string)
                .collect();
            s.push_str(&format!(" (import chain [{}])", chain.join(",")));
        }
        s
    }
}
