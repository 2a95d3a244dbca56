//! Whether a store's path still names the database file the store opened.
//!
//! Deleting (or replacing) the file of an open SQLite database does not stop SQLite: it goes on
//! reading and writing the unlinked file, every commit succeeds, and everything is gone when the
//! process ends. The store remembers the file's identity (device and inode) when it opens it and
//! compares it with what the path names after its group commits and on flush.

use std::path::{Path, PathBuf};

/// A file's identity: (device, inode) on Unix; elsewhere only whether it exists.
type FileId = (u64, u64);

#[cfg(unix)]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> std::io::Result<FileId> {
    std::fs::metadata(path).map(|_| (0, 0))
}

/// The database file a store opened (nothing to watch for an in-memory store).
pub(crate) struct StoreFile {
    path: PathBuf,
    id: Option<FileId>,
}

impl StoreFile {
    /// Remembers the file now at `path` (`None`: nothing to watch, e.g. `:memory:`).
    pub(crate) fn new(path: Option<&Path>) -> Self {
        match path {
            Some(p) => StoreFile {
                path: p.to_path_buf(),
                id: file_id(p).ok(),
            },
            None => StoreFile {
                path: PathBuf::new(),
                id: None,
            },
        }
    }

    /// `None` while the path names the file opened; otherwise what happened to it.
    pub(crate) fn check(&self) -> Option<String> {
        let id = self.id?;
        let what = match file_id(&self.path) {
            Ok(now) if now == id => return None,
            Ok(_) => "was replaced by another file",
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "was deleted",
            Err(_) => "can no longer be read",
        };
        Some(format!(
            "the store file '{}' {what} while hpo had it open: nothing written to it since it was \
             opened is kept",
            self.path.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_or_replacing_the_file_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        std::fs::write(&path, b"x").unwrap();
        let file = StoreFile::new(Some(&path));
        // held open, as SQLite holds it, so its inode is not reused by the new file
        let _held = std::fs::File::open(&path).unwrap();
        assert_eq!(file.check(), None);
        std::fs::remove_file(&path).unwrap();
        let gone = file.check().unwrap();
        assert!(
            gone.contains("was deleted") && gone.contains("s.db"),
            "{gone}"
        );
        std::fs::write(&path, b"y").unwrap();
        let replaced = file.check().unwrap();
        assert!(replaced.contains("was replaced"), "{replaced}");
    }

    #[test]
    fn nothing_to_watch_in_memory() {
        assert_eq!(StoreFile::new(None).check(), None);
    }
}
