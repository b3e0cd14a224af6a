//! The session log under the plan: command output, warnings, notices and step
//! boundaries, newest last. It is bounded (the full transcript is in the session
//! folder) and scrolls by whole entries so drawing costs only what is visible.

use std::collections::VecDeque;

/// Older entries are dropped past this; the journal's transcript keeps them all.
pub const MAX_ENTRIES: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Output,
    Notice,
    Warning,
    /// A step began, ended or failed.
    Step,
    Failure,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub text: String,
}

#[derive(Debug, Default)]
pub struct Log {
    entries: VecDeque<Entry>,
    /// Entries hidden below the view; 0 follows the newest.
    scroll: usize,
}

impl Log {
    pub fn push(&mut self, kind: Kind, text: impl Into<String>) {
        if self.entries.len() == MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { kind, text: text.into() });
        // Someone reading older lines keeps the same lines in view.
        if self.scroll > 0 {
            self.scroll = (self.scroll + 1).min(self.entries.len().saturating_sub(1));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn scroll(&self) -> usize {
        self.scroll
    }

    pub fn scroll_up(&mut self, by: usize) {
        self.scroll = (self.scroll + by).min(self.entries.len().saturating_sub(1));
    }

    pub fn scroll_down(&mut self, by: usize) {
        self.scroll = self.scroll.saturating_sub(by);
    }

    pub fn jump_to_newest(&mut self) {
        self.scroll = 0;
    }

    /// Entries from the newest in view backwards, newest first.
    pub fn visible_backwards(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().rev().skip(self.scroll)
    }

    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.iter()
    }
}
