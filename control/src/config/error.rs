//! Config errors: every one carries the file and the line:col of the value
//! (or key, or table) that is wrong.

use std::fmt;
use std::ops::Range;

/// A position in the config file, 1-based (as editors count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    /// Line and column of byte offset `at` in `text`; columns count
    /// characters, not bytes.
    pub fn of(text: &str, at: usize) -> Pos {
        let at = at.min(text.len());
        let before = &text[..floor_char_boundary(text, at)];
        let line = before.matches('\n').count() as u32 + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() as u32 + 1;
        Pos { line, col }
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// One thing wrong with the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub pos: Pos,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pos.line == 0 {
            // about the file as a whole (it cannot be read)
            return write!(f, "{}: {}", self.file, self.message);
        }
        write!(f, "{}:{}: {}", self.file, self.pos, self.message)
    }
}

/// Everything wrong with a config, in file order. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Byte offsets of line starts, so a position costs a binary search
/// instead of a scan from the top (validation asks for the position of
/// every group and member: a scan each made loading quadratic).
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// Same result as [`Pos::of`].
    pub fn pos(&self, text: &str, at: usize) -> Pos {
        let at = floor_char_boundary(text, at.min(text.len()));
        let line = self.starts.partition_point(|&s| s <= at);
        let start = self.starts[line - 1];
        let col = text[start..at].chars().count() as u32 + 1;
        Pos {
            line: line as u32,
            col,
        }
    }
}

/// Collects errors while validating one file.
pub(crate) struct Errors<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub list: Vec<ConfigError>,
    lines: LineIndex,
}

impl<'a> Errors<'a> {
    pub fn new(file: &'a str, text: &'a str) -> Self {
        Errors {
            file,
            text,
            list: Vec::new(),
            lines: LineIndex::new(text),
        }
    }

    pub fn pos(&self, span: &Range<usize>) -> Pos {
        self.lines.pos(self.text, span.start)
    }

    pub fn at(&mut self, span: &Range<usize>, message: impl Into<String>) {
        let pos = self.pos(span);
        self.at_pos(pos, message);
    }

    pub fn at_pos(&mut self, pos: Pos, message: impl Into<String>) {
        self.list.push(ConfigError {
            file: self.file.to_string(),
            pos,
            message: message.into(),
        });
    }

    pub fn finish(mut self) -> Result<(), ConfigErrors> {
        if self.list.is_empty() {
            return Ok(());
        }
        self.list.sort_by_key(|e| e.pos);
        Err(ConfigErrors(self.list))
    }
}

#[cfg(test)]
mod line_index_tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_a_scan() {
        let text = "a = 1\n\n[x]\nkey = \"\u{e9}t\u{e9}\"\nlast";
        let idx = LineIndex::new(text);
        for at in 0..=text.len() + 2 {
            assert_eq!(idx.pos(text, at), Pos::of(text, at), "offset {at}");
        }
    }
}
