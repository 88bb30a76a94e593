//! The adapter's error and warning types.
//!
//! An [`Error`] is a miette diagnostic: Caddy's wording in the message (so
//! the fragments Caddy's golden tests expect are contained in it, ending in
//! `, at FILE:LINE` and the import chain), plus the source text, a labelled
//! span and, where a fix is known, a help line.

use crate::syntax::token::{SourceFile, Token};
use miette::{NamedSource, SourceSpan};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// A configuration error, located in the Caddyfile where possible.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("{message}")]
pub struct Error {
    /// The full message, location included (Caddy's format).
    pub message: String,
    /// The file's text, shared with its tokens (boxed small: errors are
    /// returned by value everywhere).
    #[source_code]
    source_code: Option<Arc<NamedSource<Arc<SourceFile>>>>,
    #[label("{label}")]
    span: Option<SourceSpan>,
    label: String,
    #[help]
    help: Option<String>,
}

impl Error {
    /// An error with no place in the source (a missing file, say).
    pub fn plain(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source_code: None,
            span: None,
            label: String::new(),
            help: None,
        }
    }

    /// An error about `token`: the message gets `, at FILE:LINE` and the
    /// import chain appended, and the token's span is labelled.
    pub fn at(token: &Token, message: impl fmt::Display) -> Self {
        Self::at_with_label(token, message, "here")
    }

    /// Like [`Error::at`] with a label of one's own under the span.
    pub fn at_with_label(token: &Token, message: impl fmt::Display, label: &str) -> Self {
        let mut err = Self::plain(format!("{message}, at {}", token.location()));
        err.attach(token, label);
        err
    }

    /// An error about a byte range of `file` (lexer errors, which have no
    /// token yet). The message is kept as given.
    pub fn at_span(
        file: &Arc<SourceFile>,
        span: Range<usize>,
        message: impl Into<String>,
        label: &str,
    ) -> Self {
        let mut err = Self::plain(message);
        err.point(file, span, label);
        err
    }

    fn point(&mut self, file: &Arc<SourceFile>, span: Range<usize>, label: &str) {
        self.source_code = Some(Arc::new(
            NamedSource::new(file.name.clone(), Arc::clone(file)).with_language("caddyfile"),
        ));
        let len = span.end.saturating_sub(span.start).max(1);
        self.span = Some(SourceSpan::new(span.start.into(), len));
        self.label = label.to_string();
    }

    /// Points an existing error at `token` without changing its message.
    pub fn attach(&mut self, token: &Token, label: &str) {
        self.point(&token.file, token.span.clone(), label);
    }

    /// Adds a help line (`did you mean reverse_proxy?`).
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The help line, if any.
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// The labelled byte span, if the error has a place in the source.
    pub fn span(&self) -> Option<SourceSpan> {
        self.span
    }
}

/// A non-fatal finding, printed by the CLI as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    /// The directive the warning concerns, if any.
    pub directive: Option<String>,
    pub message: String,
}

impl Warning {
    /// A warning about `token`.
    pub fn at(token: &Token, message: impl Into<String>) -> Self {
        Self {
            file: token.file.name.clone(),
            line: token.line,
            directive: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.file.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
