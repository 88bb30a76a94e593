//! The Caddyfile syntax layer: tokens, server blocks, imports, the
//! dispenser and the formatter. Nothing here knows a directive name.

pub mod dispenser;
pub mod format;
pub mod token;

pub use dispenser::Dispenser;
pub use token::{ImportFrame, Quote, SourceFile, Token};

/// The tokens of one directive: its line and the block that follows it.
pub type Segment = Vec<Token>;

/// A site block (or the global options block, or a named route) after
/// parsing: its keys (addresses) and its directives' segments.
#[derive(Debug, Clone, Default)]
pub struct ServerBlock {
    /// The addresses (or `(name)` / `&(name)` for snippets and named routes).
    pub keys: Vec<Token>,
    /// One segment per directive, in order.
    pub segments: Vec<Segment>,
    /// True for `&(name) { … }` named routes.
    pub is_named_route: bool,
}

impl ServerBlock {
    /// The keys' texts.
    pub fn key_values(&self) -> Vec<&str> {
        self.keys.iter().map(|t| t.text.as_str()).collect()
    }
}
