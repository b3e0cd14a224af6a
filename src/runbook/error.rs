//! Problems found in runbook files, each pinned to a file, line and column.

use std::fmt;
use std::sync::Arc;

use super::located::Pos;

/// One runbook file's text, kept so problems can show the offending line.
#[derive(Debug)]
pub struct SourceFile {
    /// The path shown to operators (`runbooks/kuma/product.yaml` for embedded files).
    pub name: String,
    pub text: String,
    /// SHA-256 of the text, hex; sessions record it to notice changed runbooks.
    pub sha256: String,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        use sha2::Digest;
        let text = text.into();
        let sha256 = hex::encode(sha2::Sha256::digest(text.as_bytes()));
        Arc::new(SourceFile { name: name.into(), text, sha256 })
    }

    /// Byte offset of a 1-based line and (character) column, clamped to the text.
    pub fn offset_of(&self, line: u32, column: u32) -> usize {
        let mut offset = 0;
        for (i, l) in self.text.split_inclusive('\n').enumerate() {
            if i + 1 == line as usize {
                let col_bytes: usize = l.chars().take(column.saturating_sub(1) as usize).map(char::len_utf8).sum();
                return offset + col_bytes;
            }
            offset += l.len();
        }
        self.text.len()
    }

    /// The text of a 1-based line, without its line break.
    pub fn line(&self, line: u32) -> &str {
        self.text.lines().nth(line.saturating_sub(1) as usize).unwrap_or("")
    }
}

/// A single problem in a runbook.
#[derive(Debug, Clone)]
pub struct Problem {
    pub file: Arc<SourceFile>,
    pub pos: Pos,
    pub message: String,
    /// What the author can do about it.
    pub help: Option<String>,
    /// Worth a look, but the runbooks can be used as they are.
    pub warning: bool,
}

impl Problem {
    pub fn new(file: &Arc<SourceFile>, pos: Pos, message: impl Into<String>) -> Self {
        Problem { file: Arc::clone(file), pos, message: message.into(), help: None, warning: false }
    }

    /// Makes this a warning: reported, but no reason to refuse the runbooks.
    pub fn warning(mut self) -> Self {
        self.warning = true;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The byte offset to underline, computed from line and column when the reader
    /// gave none.
    pub fn offset(&self) -> usize {
        if self.pos.offset > 0 || !self.pos.is_known() {
            self.pos.offset
        } else {
            self.file.offset_of(self.pos.line, self.pos.column)
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.warning { "warning: " } else { "" };
        write!(f, "{}:{}:{}: {kind}{}", self.file.name, self.pos.line, self.pos.column, self.message)?;
        if let Some(help) = &self.help {
            write!(f, " (help: {help})")?;
        }
        Ok(())
    }
}

/// Why runbooks could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    #[error("{} problem{} in runbooks", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Invalid(Vec<Problem>),
    #[error("{path} holds no runbook files (.yaml or .yml)")]
    Empty { path: String },
    #[error("cannot read runbooks at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
