//! The Caddyfile syntax layer: tokens, server blocks, imports, the
//! dispenser and the formatter. Nothing here knows a directive name.
//!
//! Text goes through three steps, as in Caddy: `{$ENV}` substitution
//! ([`env`]), lexing ([`lexer`], driven by `grammar/caddyfile.pest`), and
//! grouping into server blocks with `import` expansion ([`parse`],
//! [`imports`]). Directive parsers then walk segments with a
//! [`Dispenser`].

pub mod dispenser;
mod dump;
pub mod env;
pub mod format;
mod imports;
pub mod lexer;
mod parse;
pub mod token;

pub use dispenser::Dispenser;
pub use dump::dump;
pub use imports::MAX_IMPORTED_TOKENS;
pub use lexer::tokenize;
pub use parse::MAX_NESTING;
pub use token::{ImportFrame, Quote, SourceFile, Token};

use crate::error::{Result, Warning};

/// The tokens of one directive: its line and the block that follows it.
pub type Segment = Vec<Token>;

/// A site block (or the global options block, or a named route) after
/// parsing: its keys (addresses) and its directives' segments.
#[derive(Debug, Clone, Default)]
pub struct ServerBlock {
    /// The addresses; for a named route `&(name)`, one key: `name`.
    /// Empty for the global options block.
    pub keys: Vec<Token>,
    /// One segment per directive, in order. A named route has a single
    /// segment: its name, `{`, its tokens, `}`.
    pub segments: Vec<Segment>,
    /// True for `&(name) { … }` named routes.
    pub is_named_route: bool,
    /// Whether the block was written with braces (a single site may omit
    /// them); used to explain "did you mean a second site?" errors.
    pub has_braces: bool,
}

impl ServerBlock {
    /// The keys' texts.
    pub fn key_values(&self) -> Vec<&str> {
        self.keys.iter().map(|t| t.text.as_str()).collect()
    }
}

/// The result of parsing a Caddyfile: its server blocks in order (snippets
/// are expanded and not listed) and the warnings met on the way.
#[derive(Debug, Default)]
pub struct Parsed {
    pub blocks: Vec<ServerBlock>,
    pub warnings: Vec<Warning>,
}

/// Parses a Caddyfile, taking `{$ENV}` values from the process
/// environment. `filename` names the file in errors and is the base of
/// relative imports.
pub fn parse(filename: &str, input: &str) -> Result<Parsed> {
    parse_with_env(filename, input, &env::std_env)
}

/// [`parse`] with `{$ENV}` values looked up by `env`.
pub fn parse_with_env(
    filename: &str,
    input: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Parsed> {
    let text = env::replace_env_vars(input, env).into_owned();
    let tokens = tokenize(SourceFile::new(filename, text))?;
    let mut parser = parse::Parser::new(tokens, env);
    let blocks = parser.parse_all()?;
    Ok(Parsed {
        blocks,
        warnings: parser.warnings,
    })
}
