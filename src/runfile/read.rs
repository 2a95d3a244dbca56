//! Reading a run file from disk safely: only regular files, and only up to a size limit, so a
//! FIFO never blocks, `/dev/zero` is not read forever and a huge file is not loaded whole.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use super::RunFileError;

/// The largest run file accepted, in bytes (1 MB). Run files describe a study; a few KB is usual.
pub const MAX_RUN_FILE_BYTES: u64 = 1_000_000;

/// What a path that is not a regular file is, for the error message.
fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    "not a regular file"
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> RunFileError + '_ {
    move |source| RunFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn require_regular(path: &Path, meta: &Metadata) -> Result<(), RunFileError> {
    if meta.is_file() {
        return Ok(());
    }
    Err(RunFileError::NotAFile {
        path: path.to_path_buf(),
        kind: kind_of(meta),
    })
}

/// Opens `path` for reading without blocking on a FIFO that appeared since it was checked.
fn open(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // no effect on a regular file's reads; keeps open() of a FIFO from waiting for a writer
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Reads the run file at `path` as UTF-8 text: refuses anything but a regular file (checked
/// before opening, and again on the opened file) and files over [`MAX_RUN_FILE_BYTES`] (reading
/// at most one byte past the limit).
pub(super) fn read_run_file(path: &Path) -> Result<String, RunFileError> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    require_regular(path, &meta)?;
    let too_large = || RunFileError::TooLarge {
        path: path.to_path_buf(),
        limit: MAX_RUN_FILE_BYTES,
    };
    if meta.len() > MAX_RUN_FILE_BYTES {
        return Err(too_large());
    }
    let file = open(path).map_err(io_error(path))?;
    require_regular(path, &file.metadata().map_err(io_error(path))?)?;
    let mut bytes = Vec::new();
    file.take(MAX_RUN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error(path))?;
    if bytes.len() as u64 > MAX_RUN_FILE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        io_error(path)(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the file is not UTF-8 text ({e})"),
        ))
    })
}
