//! A command's output: split into lines as it arrives, and the bounded tail of each
//! stream kept for the outcome.

use std::collections::VecDeque;
use std::fmt;

/// The longest line shown on a screen or kept in a transcript; longer ones are
/// shortened there with a note of how much was left out ([`shown`]). What a
/// command's output is captured for (manifests to apply) keeps every line whole
/// up to the capture limit: a line is never cut into two.
pub const MAX_LINE: usize = 64 * 1024;

/// `text` as a screen or transcript shows it: whole up to [`MAX_LINE`] bytes,
/// otherwise its start and how many bytes were left out.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_LINE {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut cut = MAX_LINE;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    std::borrow::Cow::Owned(format!("{}… ({} more bytes on this line, not shown)", &text[..cut], text.len() - cut))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        })
    }
}

/// One line of output, without its line ending; bytes that are not UTF-8 are
/// replaced by U+FFFD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
}

/// Cuts a byte stream into lines, keeping an unfinished line until its end
/// arrives. A line longer than `max_line` (the capture limit: more than would be
/// kept anyway) is passed on in pieces so it cannot grow without bound.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    partial: Vec<u8>,
    max_line: usize,
}

impl LineSplitter {
    pub(crate) fn new(max_line: usize) -> Self {
        LineSplitter { partial: Vec::new(), max_line: max_line.max(4) }
    }

    /// Feeds bytes; `emit` gets every line (or long-line piece) they complete.
    pub(crate) fn push(&mut self, mut bytes: &[u8], emit: &mut impl FnMut(String)) {
        while let Some(end) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..end]);
            self.emit_line(emit);
            bytes = &bytes[end + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() > self.max_line {
            let cut = char_boundary(&self.partial, self.max_line);
            let piece: Vec<u8> = self.partial.drain(..cut).collect();
            emit(String::from_utf8_lossy(&piece).into_owned());
        }
    }

    /// Ends the stream: a last line without a newline is still a line.
    pub(crate) fn finish(&mut self, emit: &mut impl FnMut(String)) {
        if !self.partial.is_empty() {
            self.emit_line(emit);
        }
    }

    fn emit_line(&mut self, emit: &mut impl FnMut(String)) {
        if self.partial.last() == Some(&b'\r') {
            self.partial.pop();
        }
        let mut rest = self.partial.as_slice();
        while rest.len() > self.max_line {
            let cut = char_boundary(rest, self.max_line);
            emit(String::from_utf8_lossy(&rest[..cut]).into_owned());
            rest = &rest[cut..];
        }
        emit(String::from_utf8_lossy(rest).into_owned());
        self.partial.clear();
    }
}

/// `at`, moved back (by at most three bytes) so that it does not split a UTF-8 sequence.
fn char_boundary(bytes: &[u8], at: usize) -> usize {
    let mut cut = at.min(bytes.len());
    while cut > at.saturating_sub(3) && cut > 1 && bytes.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
        cut -= 1;
    }
    cut
}

/// The most recent lines of one stream, at most `limit` bytes in all (counting one
/// byte per line ending). Older lines are dropped and counted, so a chatty program
/// cannot exhaust memory; the caller's transcript has everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    lines: VecDeque<String>,
    bytes: usize,
    limit: usize,
    dropped_lines: u64,
    dropped_bytes: u64,
}

impl Captured {
    pub(crate) fn new(limit: usize) -> Self {
        Captured { limit, ..Captured::default() }
    }

    pub(crate) fn push(&mut self, line: &str) {
        let cost = line.len() + 1;
        while self.bytes + cost > self.limit {
            let Some(old) = self.lines.pop_front() else { break };
            self.bytes -= old.len() + 1;
            self.dropped_lines += 1;
            self.dropped_bytes += old.len() as u64 + 1;
        }
        if cost <= self.limit {
            self.lines.push_back(line.to_string());
            self.bytes += cost;
            return;
        }
        // The line alone is over the limit: keep its end.
        let keep = self.limit.saturating_sub(1);
        let mut start = line.len() - keep.min(line.len());
        while !line.is_char_boundary(start) {
            start += 1;
        }
        self.dropped_bytes += start as u64;
        if keep > 0 {
            self.lines.push_back(line[start..].to_string());
            self.bytes += line.len() - start + 1;
        } else {
            self.dropped_lines += 1;
            self.dropped_bytes += 1;
        }
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(String::as_str)
    }

    /// The kept lines joined with `\n`.
    pub fn text(&self) -> String {
        self.lines().collect::<Vec<_>>().join("\n")
    }

    pub fn last_line(&self) -> Option<&str> {
        self.lines.back().map(String::as_str)
    }

    /// Bytes currently kept, counting one per line ending.
    pub fn kept_bytes(&self) -> usize {
        self.bytes
    }

    pub fn dropped_lines(&self) -> u64 {
        self.dropped_lines
    }

    pub fn dropped_bytes(&self) -> u64 {
        self.dropped_bytes
    }

    /// Whether older output was dropped to stay within the limit.
    pub fn is_truncated(&self) -> bool {
        self.dropped_bytes > 0
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]], max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut s = LineSplitter::new(max);
        for c in chunks {
            s.push(c, &mut |l| out.push(l));
        }
        s.finish(&mut |l| out.push(l));
        out
    }

    #[test]
    fn lines_across_chunks_and_last_line_without_newline() {
        assert_eq!(split(&[b"a\nb", b"c\r\n", b"\n", b"d"], 100), ["a", "bc", "", "d"]);
    }

    #[test]
    fn long_lines_come_in_pieces_at_char_boundaries() {
        assert_eq!(split(&[b"abcdefghij\n"], 4), ["abcd", "efgh", "ij"]);
        let text = "ééééé\n"; // two bytes each
        assert_eq!(split(&[text.as_bytes()], 5), ["éé", "éé", "é"]);
    }

    #[test]
    fn long_lines_are_shown_shortened_and_say_so() {
        let long = "x".repeat(MAX_LINE + 10);
        let s = shown(&long);
        assert!(s.starts_with(&"x".repeat(MAX_LINE)) && s.ends_with("(10 more bytes on this line, not shown)"), "{s}");
        assert_eq!(shown("short"), "short");
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(split(&[b"\xffok\n"], 100), ["\u{FFFD}ok"]);
    }

    #[test]
    fn capture_keeps_the_tail() {
        let mut c = Captured::new(11);
        for l in ["one", "two", "three", "four"] {
            c.push(l);
        }
        assert_eq!(c.text(), "three\nfour");
        assert_eq!((c.dropped_lines(), c.dropped_bytes()), (2, 8));
        c.push("0123456789abc");
        assert_eq!(c.text(), "3456789abc");
        assert!(c.kept_bytes() <= 11);
    }
}
