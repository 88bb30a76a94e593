//! `import`: replaces `import PATTERN [ARGS…] [{ BLOCK }]` with the tokens
//! of a snippet or of the matching files, as Caddy's `doImport` does.
//!
//! Snippets are tried first, then files relative to the importing file.
//! In the imported tokens, `{block}` becomes the import's block,
//! `{blocks.NAME}` the sub-block `NAME { … }` of it, `{args[i:j]}` (a whole
//! token) one token per argument, and `{args[i]}` / `{args.i}` are
//! replaced inside any token — except inside snippet definitions brought
//! in by the import, which are expanded when they are imported in turn.
//! Every imported token gets an import frame; the import graph rejects
//! cycles. Limits keep hostile inputs (import explosions) bounded.

pub(crate) mod args;
mod files;
pub(crate) mod graph;
#[cfg(test)]
mod tests;

use super::parse::Parser;
use super::token::{ImportFrame, Token};
use super::Dispenser;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::sync::Arc;

/// Most tokens all imports together may splice into one parse.
pub const MAX_IMPORTED_TOKENS: usize = 1_000_000;

/// What an import statement carries besides its pattern.
struct Statement {
    token: Token,
    args: Vec<Token>,
    block: Vec<Token>,
    blocks: HashMap<String, Vec<Token>>,
    /// 0 at the top level, 1 inside a block (Caddy's `nesting` argument).
    nesting: isize,
}

impl Parser<'_> {
    /// Expands the `import` the cursor is on. Afterwards the cursor is on
    /// the token before it, so the next read gets the first imported one.
    pub(crate) fn do_import(&mut self, nesting: isize) -> Result<()> {
        let mark = self.s.mark();
        let Some(token) = self.s.cur().cloned() else {
            return Ok(());
        };
        if !self.s.next_arg() {
            return Err(self.arg_err());
        }
        let pattern = self.s.val().to_string();
        if pattern.is_empty() {
            return Err(self.err("Import requires a non-empty filepath"));
        }
        let args = self.s.remaining_arg_tokens();
        let block = self.import_block()?;
        let blocks = block_mapping(&block)?;
        let stmt = Statement {
            token,
            args,
            block,
            blocks,
            nesting,
        };

        let (imported, nodes) = match self.snippets.get(&pattern) {
            Some(tokens) => {
                let nodes = tokens
                    .first()
                    .map(|t| snippet_node(&t.file.name, t.snippet.as_deref()))
                    .into_iter()
                    .collect();
                (tokens.clone(), nodes)
            }
            None => self.resolve_files(&pattern, &stmt.token)?,
        };

        let from = snippet_node(&stmt.token.file.name, stmt.token.snippet.as_deref());
        if let Err(message) = self.graph.add_edges(&from, &nodes) {
            let mut err = Error::plain(message);
            err.attach(&stmt.token, "this import closes the cycle");
            return Err(err);
        }

        let expanded = self.expand(&imported, &stmt);
        self.imported += expanded.len();
        if self.imported > MAX_IMPORTED_TOKENS {
            return Err(Error::at(
                &stmt.token,
                format!(
                    "imports expand to more than {MAX_IMPORTED_TOKENS} tokens; \
                     is a snippet imported too many times?"
                ),
            ));
        }
        self.s.splice(mark, expanded);
        Ok(())
    }

    fn arg_err(&self) -> Error {
        if self.s.at_open() {
            return self.err("unexpected token '{', expecting argument");
        }
        self.err(format!(
            "wrong argument count or unexpected line ending after '{}'",
            self.s.val()
        ))
    }

    /// The tokens of a `{ … }` block following the import's arguments,
    /// braces excluded (Caddy reads it with `NextBlock`).
    fn import_block(&mut self) -> Result<Vec<Token>> {
        let mut tokens = Vec::new();
        let nesting = self.s.block_nesting();
        while self.s.next_block(nesting) {
            tokens.extend(self.s.cur().cloned());
        }
        if self.s.block_nesting() > nesting {
            return Err(self
                .err("unexpected EOF")
                .with_help("the block after this import is never closed; add a matching `}`"));
        }
        Ok(tokens)
    }

    /// The imported tokens, annotated and with placeholders expanded.
    fn expand(&mut self, imported: &[Token], stmt: &Statement) -> Vec<Token> {
        let mut out = Vec::with_capacity(imported.len());
        let mut chains = ChainCache::default();
        let mut nesting = stmt.nesting;
        let (mut in_snippet, mut maybe_snippet_id, mut index) = (false, false, 0usize);
        let arg_texts: Vec<&str> = stmt.args.iter().map(|t| t.text.as_str()).collect();

        for (i, original) in imported.iter().enumerate() {
            let mut token = original.clone();
            token.imports = chains.extend(original, &stmt.token);

            // spot snippet definitions inside imported files: their
            // placeholders wait until the snippet itself is imported
            if !in_snippet && nesting == 0 {
                if i == 0 || imported[i - 1].is_next_on_new_line(original) {
                    index = 0;
                } else {
                    index += 1;
                }
                let t = &token.text;
                if index == 0 && t.len() >= 3 && t.starts_with('(') && t.ends_with(')') {
                    maybe_snippet_id = true;
                }
            }
            match token.text.as_str() {
                "{" if !token.was_quoted() => {
                    nesting += 1;
                    if index == 1 && maybe_snippet_id && nesting == 1 {
                        in_snippet = true;
                        maybe_snippet_id = false;
                    }
                }
                "}" if !token.was_quoted() => {
                    nesting -= 1;
                    if nesting == 0 && in_snippet {
                        in_snippet = false;
                    }
                }
                _ => {}
            }

            if let Some(replacement) = block_placeholder(&token.text, stmt) {
                if in_snippet {
                    out.push(token);
                } else {
                    out.extend(replacement.iter().cloned());
                }
                continue;
            }
            if in_snippet {
                out.push(token);
                continue;
            }
            if let Some(range) = args::variadic(&token, arg_texts.len(), &mut self.warnings) {
                for arg in &arg_texts[range] {
                    let mut t = token.clone();
                    t.text = arg.to_string();
                    out.push(t);
                }
                continue;
            }
            if let Some(text) = args::replace_known(&token, &arg_texts, &mut self.warnings) {
                token.text = text;
            }
            out.push(token);
        }
        out
    }
}

/// The graph node of a file, or of a snippet in it (`Caddyfile:name`).
fn snippet_node(file: &str, snippet: Option<&str>) -> String {
    match snippet {
        Some(name) => format!("{file}:{name}"),
        None => file.to_string(),
    }
}

/// What `{block}` / `{blocks.NAME}` stand for, if the token is one.
fn block_placeholder<'s>(text: &str, stmt: &'s Statement) -> Option<&'s [Token]> {
    if text == "{block}" {
        return Some(&stmt.block);
    }
    let key = text.strip_prefix("{blocks.")?.strip_suffix('}')?;
    Some(stmt.blocks.get(key).map_or(&[], Vec::as_slice))
}

/// Splits an import's block into `NAME args… { … }` sub-blocks.
fn block_mapping(block: &[Token]) -> Result<HashMap<String, Vec<Token>>> {
    let mut mapping = HashMap::new();
    if block.is_empty() {
        return Ok(mapping);
    }
    let mut d = Dispenser::new(block.to_vec());
    while d.next() {
        let key = d.val().to_string();
        if d.at_open() {
            return Err(d.err("anonymous blocks are not supported").with_help(
                "name each sub-block of the import (`name { … }`) and use {blocks.name}, \
                 or use {block} for the whole block",
            ));
        }
        let mut tokens = d.remaining_arg_tokens();
        let nesting = d.nesting();
        while d.next_block(nesting) {
            tokens.extend(d.token().cloned());
        }
        mapping.insert(key, tokens);
    }
    Ok(mapping)
}

/// Builds each distinct import chain once per import statement, so the
/// tokens of one import share one `Arc`.
#[derive(Default)]
struct ChainCache {
    last: Option<CachedChain>,
}

/// An old chain and snippet, and the chain extended with the import.
type CachedChain = (Arc<[ImportFrame]>, Option<Arc<str>>, Arc<[ImportFrame]>);

impl ChainCache {
    fn extend(&mut self, token: &Token, import: &Token) -> Arc<[ImportFrame]> {
        if let Some((old, snippet, new)) = &self.last {
            if Arc::ptr_eq(old, &token.imports) && snippet == &token.snippet {
                return Arc::clone(new);
            }
        }
        let mut frames = token.imports.to_vec();
        frames.push(ImportFrame {
            file: import.file.name.clone(),
            line: import.line,
            target: token.snippet.as_deref().unwrap_or("").to_string(),
        });
        let new: Arc<[ImportFrame]> = Arc::from(frames);
        self.last = Some((
            Arc::clone(&token.imports),
            token.snippet.clone(),
            Arc::clone(&new),
        ));
        new
    }
}
