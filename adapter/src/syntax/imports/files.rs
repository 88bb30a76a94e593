//! File imports: resolving a pattern relative to the importing file,
//! globbing (Caddy allows one `*` and one `?`), reading and lexing each
//! match. Imported tokens carry the file's absolute path, as in Caddy.
//!
//! A glob with no match is a warning; a literal path that does not exist
//! is an error. Dotfiles are skipped when the last path segment of the
//! pattern starts with `*`.

use crate::error::{Error, Result, Warning};
use crate::syntax::env::replace_env_vars;
use crate::syntax::lexer::tokenize;
use crate::syntax::parse::Parser;
use crate::syntax::token::{SourceFile, Token};
use std::path::{Component, Path, PathBuf};

/// Most files the imports of one parse may read.
pub const MAX_IMPORTED_FILES: usize = 10_000;

/// Largest file an import may read (guards against `import /dev/zero`).
pub const MAX_IMPORTED_FILE_BYTES: u64 = 64 << 20;

impl Parser<'_> {
    /// The tokens of every file matching `pattern`, and the matches (the
    /// import graph's nodes).
    pub(crate) fn resolve_files(
        &mut self,
        pattern: &str,
        at: &Token,
    ) -> Result<(Vec<Token>, Vec<String>)> {
        let glob_pattern = if Path::new(pattern).is_absolute() {
            clean(Path::new(pattern))
        } else {
            let importer = absolute(Path::new(&at.file.name));
            let dir = importer.parent().unwrap_or(Path::new("/"));
            clean(&dir.join(pattern))
        };
        let glob_pattern = glob_pattern.to_string_lossy().into_owned();
        if glob_pattern.matches('*').count() > 1
            || glob_pattern.matches('?').count() > 1
            || (glob_pattern.contains('[') && glob_pattern.contains(']'))
        {
            return Err(self.err(format!(
                "Glob pattern may only contain one wildcard (*), but has others: {glob_pattern}"
            )));
        }
        let mut matches = self.glob(&glob_pattern, pattern)?;
        if matches.is_empty() {
            if glob_pattern.contains(['*', '?', '[', ']']) {
                self.warnings.push(Warning::at(
                    at,
                    format!("No files matching import glob pattern: {pattern}"),
                ));
                return Ok((Vec::new(), Vec::new()));
            }
            return Err(self
                .err(format!("File to import not found: {pattern}"))
                .with_help(format!(
                    "relative imports are resolved against the importing file's directory; \
                     looked for {glob_pattern}"
                )));
        }
        skip_dotfiles(&glob_pattern, &mut matches);
        let mut tokens = Vec::new();
        for m in &matches {
            tokens.extend(self.read_import(m, at)?);
        }
        Ok((tokens, matches))
    }

    fn glob(&self, glob_pattern: &str, pattern: &str) -> Result<Vec<String>> {
        if !glob_pattern.contains(['*', '?', '[']) {
            let exists = std::fs::symlink_metadata(glob_pattern).is_ok();
            return Ok(if exists {
                vec![glob_pattern.to_string()]
            } else {
                Vec::new()
            });
        }
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let paths = glob::glob_with(glob_pattern, options)
            .map_err(|e| self.err(format!("Failed to use import pattern {pattern}: {e}")))?;
        Ok(paths
            .filter_map(std::result::Result::ok)
            .map(|p| p.to_string_lossy().into_owned())
            .collect())
    }

    /// Reads and lexes one imported file.
    fn read_import(&mut self, path: &str, at: &Token) -> Result<Vec<Token>> {
        self.files_read += 1;
        if self.files_read > MAX_IMPORTED_FILES {
            return Err(self.err(format!(
                "imports read more than {MAX_IMPORTED_FILES} files; is a file imported in a loop?"
            )));
        }
        if Path::new(path).is_dir() {
            return Err(self.err(format!("Could not import {path}: is a directory")));
        }
        let bytes =
            read_limited(path).map_err(|e| self.err(format!("Could not import {path}: {e}")))?;
        let input = String::from_utf8_lossy(&bytes);
        if input.trim().is_empty() {
            self.warnings
                .push(Warning::at(at, format!("Import file is empty: {path}")));
            return Ok(Vec::new());
        }
        let text = replace_env_vars(&input, self.env).into_owned();
        let file = SourceFile::new(path, text);
        tokenize(file).map_err(|inner| {
            let outer = self.err(format!(
                "Could not read tokens while importing {path}: {}",
                inner.message
            ));
            wrap(inner, outer.message)
        })
    }
}

/// Reads a file of at most [`MAX_IMPORTED_FILE_BYTES`].
fn read_limited(path: &str) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_IMPORTED_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_IMPORTED_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "file is larger than {} MiB",
            MAX_IMPORTED_FILE_BYTES >> 20
        )));
    }
    Ok(bytes)
}

/// Keeps `inner`'s place in the imported file but gives it `message`.
fn wrap(mut inner: Error, message: String) -> Error {
    inner.message = message;
    inner
}

/// Drops dotfiles when the pattern's last segment starts with `*`.
fn skip_dotfiles(glob_pattern: &str, matches: &mut Vec<String>) {
    let last = glob_pattern.rsplit('/').next().unwrap_or("");
    if last.starts_with('*') {
        matches.retain(|m| !m.rsplit('/').next().unwrap_or("").starts_with('.'));
    }
}

/// `path` made absolute against the working directory, like Go's
/// `filepath.Abs` (lexically cleaned, no symlinks resolved).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return clean(path);
    }
    match std::env::current_dir() {
        Ok(cwd) => clean(&cwd.join(path)),
        Err(_) => clean(path),
    }
}

/// Removes `.` and resolves `..` lexically, like Go's `filepath.Clean`.
pub(crate) fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !path.is_absolute() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
