//! Commands that only read never create a store: on a mistyped path they say "no store at PATH"
//! (exit 2) and create nothing; a `file:...?mode=ro` URI is understood; and a store hpo may not
//! write is opened read-only, so reading commands work on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hpo_in(cwd: &Path, uri: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .current_dir(cwd)
        .env("HPO_TRACKING_URI", uri)
        .output()
        .expect("the binary runs")
}

const READERS: &[&[&str]] = &[
    &["runs", "list"],
    &["runs", "show", "0123abcd"],
    &["best", "-e", "br"],
    &["experiments", "list"],
    &["artifacts", "list", "0123abcd"],
    &["models", "list"],
    &["models", "show", "m"],
    &["ui", "--read-only", "--port", "0"],
];

const STUDY: &str = "[study]\nname = \"br\"\nmax_evals = 3\nseed = 1\n[objective]\nfunction = \"branin\"\n[space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n";

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn reading_commands_on_a_missing_store_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("typo/nested/hpo.db");
    for uri in [
        missing.display().to_string(),
        format!("sqlite:///{}", missing.display()),
        "file:ref.db?mode=ro".to_string(),
        "sqlite:///ref.db?mode=ro".to_string(),
    ] {
        for args in READERS {
            let o = hpo_in(dir.path(), &uri, args);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{uri} {args:?}: {err}");
            assert!(err.contains("no store at"), "{uri} {args:?}: {err}");
        }
        assert!(
            files_under(dir.path()).is_empty(),
            "{uri}: created {:?}",
            files_under(dir.path())
        );
    }
    // a command that writes creates the store
    let o = hpo_in(
        dir.path(),
        &missing.display().to_string(),
        &["experiments", "create", "e"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(missing.is_file());
}

#[test]
fn a_read_only_uri_reads_an_existing_store_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("br.toml"), STUDY).unwrap();
    let o = hpo_in(dir.path(), "ref.db", &["run", "br.toml", "--quiet"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for uri in ["file:ref.db?mode=ro", "sqlite:///ref.db?mode=ro"] {
        let o = hpo_in(dir.path(), uri, &["runs", "list", "-e", "br", "--json"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(String::from_utf8_lossy(&o.stdout).contains("trial-2"));
        let o = hpo_in(dir.path(), uri, &["run", "br.toml"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("read-only"));
    }
    // no file with the URI's literal name
    assert!(!dir.path().join("file:ref.db?mode=ro").exists());
    // an unknown query parameter is an error, not part of a file name
    let o = hpo_in(dir.path(), "file:ref.db?cache=shared", &["runs", "list"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cache=shared"));
}

/// Makes `paths` unwritable (mode bits, and the immutable attribute when running as root);
/// undone on drop.
struct Unwritable(Vec<PathBuf>);

impl Unwritable {
    fn new(paths: &[&Path]) -> Unwritable {
        use std::os::unix::fs::PermissionsExt;
        for p in paths {
            let mode = if p.is_dir() { 0o555 } else { 0o444 };
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
            let _ = Command::new("chattr").arg("+i").arg(p).output();
        }
        Unwritable(paths.iter().map(|p| p.to_path_buf()).collect())
    }
}

impl Drop for Unwritable {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        for p in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(p).output();
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn reading_commands_work_on_a_store_that_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    std::fs::create_dir(&store_dir).unwrap();
    std::fs::write(dir.path().join("br.toml"), STUDY).unwrap();
    let db = store_dir.join("hpo.db");
    let uri = db.display().to_string();
    let o = hpo_in(dir.path(), &uri, &["run", "br.toml", "--quiet", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let best_run = v["best"]["run_id"].as_str().unwrap().to_string();
    let mut locked: Vec<PathBuf> = files_under(&store_dir);
    locked.push(store_dir.clone());
    let refs: Vec<&Path> = locked.iter().map(|p| p.as_path()).collect();
    let _guard = Unwritable::new(&refs);
    if std::fs::OpenOptions::new().write(true).open(&db).is_ok() {
        eprintln!("cannot make a file unwritable here: skipped");
        return;
    }
    for args in [
        vec!["runs", "list", "-e", "br"],
        vec!["runs", "list", "-e", "br", "-o", "params.x1 ASC"],
        vec!["runs", "show", best_run.as_str()],
        vec!["best", "-e", "br"],
        vec!["experiments", "list"],
        vec!["artifacts", "list", best_run.as_str()],
        vec!["models", "list"],
    ] {
        let o = hpo_in(dir.path(), &uri, &args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let o = hpo_in(dir.path(), &uri, &["best", "-e", "br", "--json"]);
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(b["info"]["run_id"].as_str(), Some(best_run.as_str()), "{b}");
}
