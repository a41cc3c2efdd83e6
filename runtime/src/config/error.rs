//! Errors in a config file, placed by line and column and named by key.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// Why a config file was refused: bad user input, named in the message with the file, and
/// for a bad file the line, the column and the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read (missing, a directory, unreadable).
    #[error("cannot read the config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML, has a key it should not have, or a value that is out of bounds.
    #[error("{}:{line}:{column}: {}{message}", path.display(), key_prefix(key.as_deref()))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line of the offending key or value, from 1.
        line: usize,
        /// Its column, in characters from 1.
        column: usize,
        /// The key as a dotted path (`checkpoint.period`); `None` for a TOML syntax error.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
}

fn key_prefix(key: Option<&str>) -> String {
    key.map(|k| format!("`{k}`: ")).unwrap_or_default()
}

/// The text of one config file and its name: turns spans into located errors.
pub(super) struct Source<'a> {
    pub text: &'a str,
    pub path: &'a Path,
}

impl Source<'_> {
    /// An error about `key` at `span`.
    pub fn error(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        self.located(span.start, Some(key.to_owned()), message.into())
    }

    /// A serde or syntax error of the `toml` crate, with the key it happened at when the file
    /// is at least valid TOML.
    pub fn toml_error(&self, error: &toml::de::Error) -> ConfigError {
        let at = error.span().map_or(0, |span| span.start);
        let (key, message) = match DeTable::parse(self.text) {
            Ok(table) => (
                key_path(table.get_ref(), at).map(|path| path.join(".")),
                error.message().trim_end().to_owned(),
            ),
            Err(_) => (
                None,
                format!("not valid TOML: {}", error.message().trim_end()),
            ),
        };
        self.located(at, key, message)
    }

    fn located(&self, offset: usize, key: Option<String>, message: String) -> ConfigError {
        let (line, column) = line_column(self.text, offset);
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            column,
            key,
            message,
        }
    }
}

/// The 1-based line and column (in characters) of byte `offset` of `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

/// The keys leading to the innermost key or value whose span holds byte `at`.
fn key_path(table: &DeTable<'_>, at: usize) -> Option<Vec<String>> {
    for (key, value) in table {
        // A table's own span need not cover its body (`[limits]` headers), so look inside
        // every table rather than only those whose span holds `at`.
        if let DeValue::Table(inner) = value.get_ref()
            && let Some(mut path) = key_path(inner, at)
        {
            path.insert(0, key.get_ref().to_string());
            return Some(path);
        }
        if key.span().contains(&at) || value.span().contains(&at) {
            return Some(vec![key.get_ref().to_string()]);
        }
    }
    None
}
