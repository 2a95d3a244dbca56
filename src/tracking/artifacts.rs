//! Run artifacts: files kept in a directory per run, with paths that can never leave it.
//!
//! The layout is `<artifact root>/<experiment id>/<run id>/artifacts/<artifact path>`. An
//! [`ArtifactStore`] is bound to one run's directory. Every artifact path given by a caller is relative,
//! uses `/` as separator and is checked before any file is touched: absolute paths and `..` components are
//! refused, and every existing component is inspected so that a symlink resolving outside the run's
//! directory (or not resolving at all) is refused too, for writes and reads alike.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;

/// Errors of the artifact store.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The artifact path is absolute, contains `..` or is otherwise unusable.
    #[error("invalid artifact path '{path}': {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The path goes through a symlink that resolves outside the run's artifact directory.
    #[error("artifact path '{0}' resolves outside the run's artifact directory")]
    OutsideRoot(String),
    /// No artifact at that path.
    #[error("no artifact at '{0}'")]
    NotFound(String),
    /// A file-system operation failed.
    #[error("I/O error on '{path}': {source}")]
    Io {
        /// The local path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Serializing or parsing JSON failed.
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),
    /// The local path is not a regular file (a FIFO, a socket, a device), which is never copied.
    #[error("'{path}' is {kind}, not a regular file; only regular files and directories are kept as artifacts")]
    NotRegular {
        /// The local path.
        path: PathBuf,
        /// What it is ("a FIFO", "a socket", ...).
        kind: &'static str,
    },
}

/// What kind of file a non-regular, non-directory entry is, for messages.
fn special_kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a dangling symlink"
    } else {
        "not a regular file"
    }
}

/// What [`ArtifactStore::log_dir_report`] copied and what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoggedDir {
    /// Artifact paths of the files copied, sorted.
    pub files: Vec<String>,
    /// Artifact paths that were not copied, with what they are (a FIFO, a socket, a device).
    pub skipped: Vec<(String, &'static str)>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ArtifactError + '_ {
    move |source| ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One entry of an artifact listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArtifactInfo {
    /// Path relative to the run's artifact directory, `/`-separated.
    pub path: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Size in bytes for files.
    pub file_size: Option<u64>,
}

/// Where a run's artifacts are kept when not in a local directory: a tracking server's artifact
/// proxy (see [`crate::tracking::http::artifacts`]). Paths are relative to the run's artifact
/// root and already checked.
pub trait RemoteArtifacts: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` as the file `artifact_file`, replacing it.
    fn upload(&self, artifact_file: &str, bytes: &[u8]) -> Result<(), ArtifactError>;
    /// The bytes of the file `artifact_file`.
    fn download(&self, artifact_file: &str) -> Result<Vec<u8>, ArtifactError>;
    /// The entries directly under `dir` (`""`: the root), paths relative to the root.
    fn list(&self, dir: &str) -> Result<Vec<ArtifactInfo>, ArtifactError>;
}

/// The artifacts of one run, rooted at its artifact directory (or on a tracking server).
#[derive(Debug, Clone)]
pub struct ArtifactStore {
    root: PathBuf,
    remote: Option<std::sync::Arc<dyn RemoteArtifacts>>,
}

impl PartialEq for ArtifactStore {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root
            && match (&self.remote, &other.remote) {
                (None, None) => true,
                (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for ArtifactStore {}

/// The error of a local-only operation on artifacts kept by a server.
fn remote_only(path: &str) -> ArtifactError {
    ArtifactError::InvalidPath {
        path: path.to_string(),
        reason: "the run's artifacts are on the tracking server, not in a local directory",
    }
}

/// Checks an artifact path and returns its components; `""` and `"."` mean the root.
fn check_relative(path: &str) -> Result<Vec<String>, ArtifactError> {
    let invalid = |reason| ArtifactError::InvalidPath {
        path: path.to_string(),
        reason,
    };
    if path.contains('\0') {
        return Err(invalid("contains a NUL character"));
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(invalid("absolute paths are not allowed"));
    }
    let mut parts = Vec::new();
    for comp in Path::new(path).components() {
        match comp {
            Component::Normal(c) => {
                let c = c.to_str().ok_or_else(|| invalid("not valid UTF-8"))?;
                if c.split('\\').any(|p| p == "..") {
                    return Err(invalid("'..' is not allowed"));
                }
                parts.push(c.to_string());
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(invalid("'..' is not allowed")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(invalid("absolute paths are not allowed"))
            }
        }
    }
    Ok(parts)
}

impl ArtifactStore {
    /// An artifact store rooted at `root` (the run's artifact directory; created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ArtifactStore {
            root: root.into(),
            remote: None,
        }
    }

    /// An artifact store kept by a tracking server; `location` (its URI) is shown as its root.
    pub fn remote(location: &str, remote: std::sync::Arc<dyn RemoteArtifacts>) -> Self {
        ArtifactStore {
            root: PathBuf::from(location),
            remote: Some(remote),
        }
    }

    /// Whether the artifacts are on a tracking server rather than in a local directory.
    pub fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// Whether `artifact_path` names a directory (with something in it, for a server's).
    pub fn is_dir(&self, artifact_path: &str) -> bool {
        match &self.remote {
            Some(_) => self.list(artifact_path).is_ok_and(|l| !l.is_empty()),
            None => self.resolve(artifact_path, false).is_ok_and(|p| p.is_dir()),
        }
    }

    /// The run's artifact directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves an artifact path to a local path inside the root, refusing anything that escapes it.
    /// With `create_root` the root directory is created first.
    pub fn resolve(
        &self,
        artifact_path: &str,
        create_root: bool,
    ) -> Result<PathBuf, ArtifactError> {
        let parts = check_relative(artifact_path)?;
        if self.remote.is_some() {
            return Err(remote_only(artifact_path));
        }
        if create_root {
            fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        }
        let root = match fs::canonicalize(&self.root) {
            Ok(r) => r,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ArtifactError::NotFound(artifact_path.to_string()))
            }
            Err(e) => return Err(io_err(&self.root)(e)),
        };
        let mut cur = root.clone();
        let mut exists = true;
        for part in parts {
            cur.push(part);
            if !exists {
                continue;
            }
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => {
                    let real = fs::canonicalize(&cur)
                        .map_err(|_| ArtifactError::OutsideRoot(artifact_path.to_string()))?;
                    if !real.starts_with(&root) {
                        return Err(ArtifactError::OutsideRoot(artifact_path.to_string()));
                    }
                    cur = real;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => exists = false,
                Err(e) => return Err(io_err(&cur)(e)),
            }
        }
        Ok(cur)
    }

    fn dest_file(&self, artifact_file: &str) -> Result<PathBuf, ArtifactError> {
        if check_relative(artifact_file)?.is_empty() {
            return Err(ArtifactError::InvalidPath {
                path: artifact_file.to_string(),
                reason: "a file name is required",
            });
        }
        let dest = self.resolve(artifact_file, true)?;
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        Ok(dest)
    }

    /// Copies a local file to `<artifact_path>/<file name>` (or the root when `artifact_path` is `None`);
    /// returns the artifact path of the copy.
    pub fn log_file(
        &self,
        local_file: &Path,
        artifact_path: Option<&str>,
    ) -> Result<String, ArtifactError> {
        let name = local_file
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| ArtifactError::InvalidPath {
                path: local_file.display().to_string(),
                reason: "the local file has no usable name",
            })?;
        let target = match artifact_path {
            Some(dir) if !check_relative(dir)?.is_empty() => {
                format!("{}/{name}", dir.trim_end_matches('/'))
            }
            _ => name.to_string(),
        };
        // never open a FIFO or a device: reading it could block forever
        let meta = fs::metadata(local_file).map_err(io_err(local_file))?;
        if !meta.is_file() {
            return Err(ArtifactError::NotRegular {
                path: local_file.to_path_buf(),
                kind: special_kind(meta.file_type()),
            });
        }
        self.put_file(local_file, &target)?;
        Ok(target)
    }

    /// Copies the contents of a local directory (recursively; symlinked directories are skipped) under
    /// `artifact_path` (or the root); returns the artifact paths of the files copied. Only regular files
    /// are copied: FIFOs, sockets and devices are left out (see [`Self::log_dir_report`]).
    pub fn log_dir(
        &self,
        local_dir: &Path,
        artifact_path: Option<&str>,
    ) -> Result<Vec<String>, ArtifactError> {
        self.log_dir_report(local_dir, artifact_path)
            .map(|logged| logged.files)
    }

    /// [`Self::log_dir`], also saying which entries were left out because they are not regular
    /// files or directories.
    pub fn log_dir_report(
        &self,
        local_dir: &Path,
        artifact_path: Option<&str>,
    ) -> Result<LoggedDir, ArtifactError> {
        let base = artifact_path
            .map(|p| check_relative(p).map(|parts| parts.join("/")))
            .transpose()?
            .unwrap_or_default();
        let mut logged = LoggedDir::default();
        self.copy_dir(local_dir, &base, &mut logged)?;
        logged.files.sort();
        Ok(logged)
    }

    fn copy_dir(
        &self,
        dir: &Path,
        base: &str,
        logged: &mut LoggedDir,
    ) -> Result<(), ArtifactError> {
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let target = if base.is_empty() {
                name
            } else {
                format!("{base}/{name}")
            };
            let link = fs::symlink_metadata(&path).map_err(io_err(&path))?;
            let Ok(meta) = fs::metadata(&path) else {
                logged
                    .skipped
                    .push((target, special_kind(link.file_type())));
                continue;
            };
            if meta.is_dir() {
                if !link.file_type().is_symlink() {
                    if self.remote.is_none() {
                        let dest = self.resolve(&target, true)?;
                        fs::create_dir_all(&dest).map_err(io_err(&dest))?;
                    }
                    self.copy_dir(&path, &target, logged)?;
                }
            } else if meta.is_file() {
                self.put_file(&path, &target)?;
                logged.files.push(target);
            } else {
                logged
                    .skipped
                    .push((target, special_kind(meta.file_type())));
            }
        }
        Ok(())
    }

    /// Copies the regular file `local` to the artifact path `target`.
    fn put_file(&self, local: &Path, target: &str) -> Result<(), ArtifactError> {
        match &self.remote {
            Some(remote) => {
                check_relative(target)?;
                let bytes = fs::read(local).map_err(io_err(local))?;
                remote.upload(target, &bytes)
            }
            None => {
                let dest = self.dest_file(target)?;
                fs::copy(local, &dest).map_err(io_err(local))?;
                Ok(())
            }
        }
    }

    /// Writes bytes to `artifact_file`, replacing it if present.
    pub fn log_bytes(&self, bytes: &[u8], artifact_file: &str) -> Result<(), ArtifactError> {
        if let Some(remote) = &self.remote {
            if check_relative(artifact_file)?.is_empty() {
                return Err(ArtifactError::InvalidPath {
                    path: artifact_file.to_string(),
                    reason: "a file name is required",
                });
            }
            return remote.upload(artifact_file, bytes);
        }
        let dest = self.dest_file(artifact_file)?;
        fs::write(&dest, bytes).map_err(io_err(&dest))
    }

    /// Writes text to `artifact_file`.
    pub fn log_text(&self, text: &str, artifact_file: &str) -> Result<(), ArtifactError> {
        self.log_bytes(text.as_bytes(), artifact_file)
    }

    /// Writes a value as pretty-printed JSON to `artifact_file`.
    pub fn log_json<T: Serialize + ?Sized>(
        &self,
        value: &T,
        artifact_file: &str,
    ) -> Result<(), ArtifactError> {
        let text = serde_json::to_string_pretty(value)?;
        self.log_text(&text, artifact_file)
    }

    /// Lists the entries directly under `artifact_path` (the root for `""`), sorted by path; an absent
    /// run directory lists as empty.
    pub fn list(&self, artifact_path: &str) -> Result<Vec<ArtifactInfo>, ArtifactError> {
        let parts = check_relative(artifact_path)?;
        if let Some(remote) = &self.remote {
            let mut out = remote.list(&parts.join("/"))?;
            out.sort_by(|a, b| a.path.cmp(&b.path));
            return Ok(out);
        }
        if parts.is_empty() && !self.root.exists() {
            return Ok(Vec::new());
        }
        let dir = self.resolve(artifact_path, false)?;
        let meta = match fs::metadata(&dir) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ArtifactError::NotFound(artifact_path.to_string()))
            }
            Err(e) => return Err(io_err(&dir)(e)),
        };
        if !meta.is_dir() {
            return Err(ArtifactError::InvalidPath {
                path: artifact_path.to_string(),
                reason: "not a directory",
            });
        }
        let prefix = parts.join("/");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let path = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let meta = fs::symlink_metadata(entry.path()).map_err(io_err(&entry.path()))?;
            out.push(ArtifactInfo {
                path,
                is_dir: meta.is_dir(),
                file_size: meta.is_file().then_some(meta.len()),
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Reads an artifact file's bytes.
    pub fn read(&self, artifact_file: &str) -> Result<Vec<u8>, ArtifactError> {
        if let Some(remote) = &self.remote {
            let parts = check_relative(artifact_file)?;
            return remote.download(&parts.join("/"));
        }
        let path = self.resolve(artifact_file, false)?;
        match fs::read(&path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(ArtifactError::NotFound(artifact_file.to_string()))
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Reads an artifact file as UTF-8 text (invalid sequences replaced).
    pub fn read_text(&self, artifact_file: &str) -> Result<String, ArtifactError> {
        Ok(String::from_utf8_lossy(&self.read(artifact_file)?).into_owned())
    }

    /// Reads an artifact file as JSON.
    pub fn read_json(&self, artifact_file: &str) -> Result<serde_json::Value, ArtifactError> {
        Ok(serde_json::from_slice(&self.read(artifact_file)?)?)
    }

    /// Whether `artifact_path` names a file or a directory of the run (a server's is asked for the
    /// listing of the parent directory).
    pub fn exists(&self, artifact_path: &str) -> bool {
        let Ok(parts) = check_relative(artifact_path) else {
            return false;
        };
        if self.remote.is_none() {
            return self.resolve(artifact_path, false).is_ok_and(|p| p.exists());
        }
        let path = parts.join("/");
        let parent = parts[..parts.len().saturating_sub(1)].join("/");
        path.is_empty()
            || self
                .list(&parent)
                .is_ok_and(|l| l.iter().any(|a| a.path == path))
    }

    /// Copies the artifact directory `artifact_path` (the whole run for `""`), recursively, into
    /// the local directory `target` (created if missing); returns the files and bytes copied.
    pub fn download_dir(
        &self,
        artifact_path: &str,
        target: &Path,
    ) -> Result<(usize, u64), ArtifactError> {
        let prefix = check_relative(artifact_path)?.join("/");
        fs::create_dir_all(target).map_err(io_err(target))?;
        let (mut files, mut bytes) = (0usize, 0u64);
        let mut dirs = vec![prefix.clone()];
        while let Some(d) = dirs.pop() {
            for a in self.list(&d)? {
                let rel = match a.path.strip_prefix(prefix.as_str()) {
                    Some(rest) => rest.trim_start_matches('/'),
                    None => a.path.as_str(),
                };
                let dest = target.join(rel);
                if a.is_dir {
                    fs::create_dir_all(&dest).map_err(io_err(&dest))?;
                    dirs.push(a.path.clone());
                } else {
                    let content = self.read(&a.path)?;
                    fs::write(&dest, &content).map_err(io_err(&dest))?;
                    files += 1;
                    bytes += content.len() as u64;
                }
            }
        }
        Ok((files, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_path_checks() {
        assert_eq!(check_relative("a/b.txt").unwrap(), vec!["a", "b.txt"]);
        assert_eq!(check_relative("./a//b").unwrap(), vec!["a", "b"]);
        assert!(check_relative("").unwrap().is_empty());
        for bad in [
            "../x",
            "a/../../x",
            "a/..",
            "/etc/passwd",
            "\\x",
            "a\0b",
            "..\\x",
        ] {
            assert!(
                matches!(check_relative(bad), Err(ArtifactError::InvalidPath { .. })),
                "{bad:?} should be refused"
            );
        }
    }
}
