//! System tags: who, where and from what code a run was created.
//!
//! [`SystemInfo::detect`] collects the OS user, the host name, the program name and the git commit of the
//! working directory's repository. The commit is read straight from the repository files (`.git/HEAD`, the
//! loose ref file, then `packed-refs`), following `.git` files of worktrees and submodules and their
//! `commondir`; no git library or `git` process is used. Detection is best effort: anything missing is
//! simply left out, never an error.

use std::fs;
use std::path::{Path, PathBuf};

use super::store::{RunTag, TAG_GIT_COMMIT, TAG_HOST, TAG_SOURCE, TAG_USER};

/// What the machine and process say about the origin of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    /// OS user name.
    pub user: String,
    /// Host name.
    pub host: Option<String>,
    /// Program name (file name of argv\[0\]).
    pub source: Option<String>,
    /// Commit checked out in the working directory's git repository.
    pub git_commit: Option<String>,
}

impl SystemInfo {
    /// Detects the system information for the current process and working directory.
    pub fn detect() -> Self {
        let cwd = std::env::current_dir().ok();
        SystemInfo {
            user: current_user(),
            host: host_name(),
            source: source_name(),
            git_commit: cwd.as_deref().and_then(git_commit),
        }
    }

    /// The system tags (`hpo.user`, `hpo.host`, `hpo.source`, `hpo.git.commit`) for what is known.
    pub fn tags(&self) -> Vec<RunTag> {
        let mut tags = vec![RunTag::new(TAG_USER, self.user.clone())];
        if let Some(h) = &self.host {
            tags.push(RunTag::new(TAG_HOST, h.clone()));
        }
        if let Some(s) = &self.source {
            tags.push(RunTag::new(TAG_SOURCE, s.clone()));
        }
        if let Some(c) = &self.git_commit {
            tags.push(RunTag::new(TAG_GIT_COMMIT, c.clone()));
        }
        tags
    }
}

/// The OS user from `USER`, `USERNAME` or `LOGNAME`, else the name of the process's user id
/// (from the password database, as MLflow's `getpass.getuser()` does), else "unknown".
pub fn current_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
        .or_else(uid_user_name)
        .unwrap_or_else(|| "unknown".to_string())
}

/// The user name of the process's real user id, from the password database (`getpwuid_r`).
#[cfg(unix)]
pub fn uid_user_name() -> Option<String> {
    use std::ffi::CStr;
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut len = 1024usize;
    while len <= 1 << 20 {
        let mut buf = vec![0 as libc::c_char; len];
        // SAFETY: passwd is plain data; all-zero is a valid (empty) value that getpwuid_r fills.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call; buf outlives the use of pwd's strings.
        let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), len, &mut found) };
        if rc == libc::ERANGE {
            len *= 4;
            continue;
        }
        if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name points to a NUL-terminated string inside buf.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .trim()
            .to_string();
        return (!name.is_empty()).then_some(name);
    }
    None
}

/// The user name of the process's user id: not available off Unix.
#[cfg(not(unix))]
pub fn uid_user_name() -> Option<String> {
    None
}

/// The host name from the kernel, `/etc/hostname` or `HOSTNAME`/`COMPUTERNAME`.
pub fn host_name() -> Option<String> {
    let from_files = ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok());
    let from_env = ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .filter_map(|v| std::env::var(v).ok());
    from_files
        .chain(from_env)
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
}

/// The program name: the file name of argv\[0\].
pub fn source_name() -> Option<String> {
    let arg0 = std::env::args_os().next()?;
    let name = Path::new(&arg0).file_name()?.to_string_lossy().into_owned();
    (!name.is_empty()).then_some(name)
}

fn is_hex_id(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Finds the git directory for `start` (or its nearest ancestor holding `.git`).
pub fn find_git_dir(start: &Path) -> Option<PathBuf> {
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        let Ok(meta) = fs::metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some(dot_git);
        }
        // A worktree or submodule: `.git` is a file "gitdir: <path>", relative to `dir`.
        let text = fs::read_to_string(&dot_git).ok()?;
        let target = text.lines().find_map(|l| l.strip_prefix("gitdir:"))?.trim();
        return Some(dir.join(target));
    }
    None
}

/// The commit checked out in the repository containing `start`: `HEAD` resolved through the loose ref
/// file or `packed-refs`; `None` outside a repository or on an unborn branch.
pub fn git_commit(start: &Path) -> Option<String> {
    let git_dir = find_git_dir(start)?;
    let common_dir = fs::read_to_string(git_dir.join("commondir"))
        .ok()
        .map(|c| git_dir.join(c.trim()))
        .unwrap_or_else(|| git_dir.clone());
    let head = fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(refname) = head.strip_prefix("ref:").map(str::trim) else {
        return is_hex_id(head).then(|| head.to_ascii_lowercase());
    };
    if refname.split('/').any(|c| c == ".." || c.is_empty()) {
        return None;
    }
    for dir in [&git_dir, &common_dir] {
        if let Ok(text) = fs::read_to_string(dir.join(refname)) {
            let id = text.trim();
            if is_hex_id(id) {
                return Some(id.to_ascii_lowercase());
            }
        }
    }
    let packed = fs::read_to_string(common_dir.join("packed-refs")).ok()?;
    packed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .find_map(|l| {
            let (id, name) = l.split_once(' ')?;
            (name.trim() == refname && is_hex_id(id)).then(|| id.to_ascii_lowercase())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "0123456789abcdef0123456789abcdef01234567";
    const B: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn write(p: &Path, text: &str) {
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(p, text).unwrap();
    }

    #[test]
    fn loose_ref_packed_ref_and_detached_head() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path();
        let sub = repo.join("src/deep");
        fs::create_dir_all(&sub).unwrap();
        write(&repo.join(".git/HEAD"), "ref: refs/heads/main\n");
        assert_eq!(git_commit(&sub), None, "unborn branch");
        write(
            &repo.join(".git/packed-refs"),
            &format!("# pack-refs with: peeled\n{B} refs/heads/other\n{A} refs/heads/main\n^{B}\n"),
        );
        assert_eq!(git_commit(&sub).as_deref(), Some(A));
        write(&repo.join(".git/refs/heads/main"), &format!("{B}\n"));
        assert_eq!(git_commit(&sub).as_deref(), Some(B), "loose ref wins");
        write(&repo.join(".git/HEAD"), &format!("{A}\n"));
        assert_eq!(git_commit(repo).as_deref(), Some(A), "detached");
        write(&repo.join(".git/HEAD"), "ref: ../../etc/passwd\n");
        assert_eq!(git_commit(repo), None);
    }

    #[test]
    fn worktree_git_file_and_commondir() {
        let tmp = tempfile::tempdir().unwrap();
        let main = tmp.path().join("main");
        let wt = tmp.path().join("wt");
        fs::create_dir_all(&wt).unwrap();
        write(&main.join(".git/refs/heads/feature"), &format!("{B}\n"));
        let wt_git = main.join(".git/worktrees/wt");
        write(&wt_git.join("HEAD"), "ref: refs/heads/feature\n");
        write(&wt_git.join("commondir"), "../..\n");
        write(&wt.join(".git"), &format!("gitdir: {}\n", wt_git.display()));
        assert_eq!(git_commit(&wt).as_deref(), Some(B));
    }

    #[test]
    fn tags_cover_known_fields() {
        let info = SystemInfo {
            user: "ann".into(),
            host: Some("box".into()),
            source: None,
            git_commit: Some(A.into()),
        };
        let keys: Vec<_> = info.tags().into_iter().map(|t| t.key).collect();
        assert_eq!(keys, vec![TAG_USER, TAG_HOST, TAG_GIT_COMMIT]);
        assert!(!SystemInfo::detect().user.is_empty());
    }
}
