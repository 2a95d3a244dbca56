//! What a trial's process prints, kept within bounds.
//!
//! Bytes are read as they come, never decoded strictly: a stray non-UTF-8 byte is replaced, not
//! fatal. Memory stays bounded whatever the program prints: complete lines are handed to a
//! callback (learning curves) and forgotten, the last non-empty line is kept (up to
//! [`MAX_LINE`] bytes) for the result, the last [`TAIL`] bytes for a failure reason, and
//! everything up to a byte limit is streamed to a file (kept as `stdout.txt` / `stderr.txt`).
//! The file is made only when the output outgrows an in-memory buffer or must be kept.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The longest line parsed (a learning-curve or result line); longer ones are skipped.
pub const MAX_LINE: usize = 1 << 20;
/// How many of the last bytes are kept in memory for a failure reason.
pub const TAIL: usize = 64 * 1024;
/// Output kept in memory before it goes to its file.
const BUFFERED: usize = 64 * 1024;

/// One output stream of a trial's process (see the module documentation).
pub struct Capture {
    path: PathBuf,
    limit: u64,
    written: u64,
    dropped: u64,
    buffer: Vec<u8>,
    file: Option<File>,
    file_error: Option<String>,
    tail: Vec<u8>,
    line: Vec<u8>,
    line_too_long: bool,
    last_line: Option<Vec<u8>>,
    last_line_too_long: bool,
}

impl Capture {
    /// A capture streaming at most `limit` bytes to `path`.
    pub fn new(path: PathBuf, limit: u64) -> Self {
        Capture {
            path,
            limit,
            written: 0,
            dropped: 0,
            buffer: Vec::new(),
            file: None,
            file_error: None,
            tail: Vec::new(),
            line: Vec::new(),
            line_too_long: false,
            last_line: None,
            last_line_too_long: false,
        }
    }

    /// Take a chunk of output; `on_line` gets each complete line (lossily decoded).
    pub fn push(&mut self, bytes: &[u8], mut on_line: impl FnMut(&str)) {
        self.keep(bytes);
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * TAIL {
            let cut = self.tail.len() - TAIL;
            self.tail.drain(..cut);
        }
        let mut rest = bytes;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.add_to_line(&rest[..i]);
            self.end_line(&mut on_line);
            rest = &rest[i + 1..];
        }
        self.add_to_line(rest);
    }

    /// The stream ended: a last line without a newline still counts.
    pub fn finish(&mut self, on_line: impl FnMut(&str)) {
        if !self.line.is_empty() || self.line_too_long {
            let mut on_line = on_line;
            self.end_line(&mut on_line);
        }
    }

    fn add_to_line(&mut self, part: &[u8]) {
        if self.line_too_long {
            return;
        }
        if self.line.len() + part.len() > MAX_LINE {
            self.line_too_long = true;
            self.line = Vec::new();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn end_line(&mut self, on_line: &mut impl FnMut(&str)) {
        if self.line_too_long {
            self.last_line = None;
            self.last_line_too_long = true;
        } else if !self.line.iter().all(u8::is_ascii_whitespace) {
            on_line(&String::from_utf8_lossy(&self.line));
            self.last_line = Some(std::mem::take(&mut self.line));
            self.last_line_too_long = false;
        }
        self.line.clear();
        self.line_too_long = false;
    }

    fn keep(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.written) as usize;
        let (kept, over) = bytes.split_at(bytes.len().min(room));
        self.dropped += over.len() as u64;
        self.written += kept.len() as u64;
        if self.file.is_none() && self.file_error.is_none() {
            self.buffer.extend_from_slice(kept);
            if self.buffer.len() > BUFFERED {
                self.open_file();
            }
        } else if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(kept) {
                self.file_error = Some(e.to_string());
                self.file = None;
            }
        }
    }

    fn open_file(&mut self) {
        let opened = File::create(&self.path).and_then(|mut f| {
            f.write_all(&self.buffer)?;
            Ok(f)
        });
        self.buffer = Vec::new();
        match opened {
            Ok(f) => self.file = Some(f),
            Err(e) => self.file_error = Some(format!("{}: {e}", self.path.display())),
        }
    }

    /// Whether anything was printed.
    pub fn is_empty(&self) -> bool {
        self.written == 0 && self.dropped == 0
    }

    /// The last non-empty line (lossily decoded), or `Err` when it was over [`MAX_LINE`].
    pub fn last_line(&self) -> Result<Option<String>, String> {
        if self.last_line_too_long {
            return Err(format!(
                "the last line of standard output is over {} MiB; it must be the loss",
                MAX_LINE >> 20
            ));
        }
        Ok(self
            .last_line
            .as_ref()
            .map(|l| String::from_utf8_lossy(l).into_owned()))
    }

    /// The last bytes printed (lossily decoded), at most [`TAIL`].
    pub fn tail(&self) -> String {
        let start = self.tail.len().saturating_sub(TAIL);
        String::from_utf8_lossy(&self.tail[start..]).into_owned()
    }

    /// Write what was kept to the file (with a note of what went past the limit) and return its
    /// path, or `None` when the stream was empty.
    pub fn save(mut self) -> io::Result<Option<PathBuf>> {
        if self.is_empty() {
            return Ok(None);
        }
        if let Some(e) = self.file_error.take() {
            return Err(io::Error::other(e));
        }
        if self.file.is_none() {
            self.open_file();
            if let Some(e) = self.file_error.take() {
                return Err(io::Error::other(e));
            }
        }
        if let Some(f) = &mut self.file {
            if self.dropped > 0 {
                writeln!(
                    f,
                    "\n[hpo: output limit of {} bytes reached; {} more bytes were not kept]",
                    self.limit, self.dropped
                )?;
            }
            f.flush()?;
        }
        Ok(Some(self.path))
    }

    /// Where the stream is (or would be) kept.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_bad_bytes_and_limits() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Capture::new(dir.path().join("out.txt"), 20);
        let mut lines = Vec::new();
        c.push(b"\xffab", |l| lines.push(l.to_string()));
        c.push(b"c\n  \n{\"step\"", |l| lines.push(l.to_string()));
        c.push(b": 1}\n0.25", |l| lines.push(l.to_string()));
        c.finish(|l| lines.push(l.to_string()));
        assert_eq!(lines, vec!["\u{fffd}abc", "{\"step\": 1}", "0.25"]);
        assert_eq!(c.last_line().unwrap().as_deref(), Some("0.25"));
        let path = c.save().unwrap().unwrap();
        let kept = std::fs::read(path).unwrap();
        assert!(kept.starts_with(b"\xffabc\n  \n{\"step\": 1"), "{kept:?}");
        let text = String::from_utf8_lossy(&kept);
        assert!(text.contains("limit of 20 bytes reached; 4 more"), "{text}");
    }

    #[test]
    fn overlong_last_line_is_an_error_and_memory_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Capture::new(dir.path().join("out.txt"), 1000);
        let chunk = vec![b'x'; 1 << 16];
        for _ in 0..40 {
            c.push(&chunk, |_| panic!("no complete line"));
        }
        c.finish(|_| panic!("an overlong line is not parsed"));
        assert!(c.last_line().is_err());
        assert!(c.line.capacity() <= MAX_LINE + (1 << 16));
        assert!(c.tail().len() <= TAIL);
        assert!(std::fs::metadata(c.save().unwrap().unwrap()).unwrap().len() > 1000);
    }

    #[test]
    fn empty_stream_saves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = Capture::new(dir.path().join("out.txt"), 1000);
        assert!(c.save().unwrap().is_none());
        assert!(!dir.path().join("out.txt").exists());
    }
}
