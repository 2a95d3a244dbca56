//! Run artifacts: logging files, directories, text and JSON, listing and reading them back, and refusing
//! every path that would leave the run's artifact directory.

use std::fs;
use std::path::Path;

use hpo::tracking::{ArtifactError, ArtifactInfo, Tracker, TrackingError};

fn setup() -> (tempfile::TempDir, Tracker, String) {
    let tmp = tempfile::tempdir().unwrap();
    let t = Tracker::open(tmp.path().join("a.db").to_str().unwrap()).unwrap();
    let exp = t.create_experiment("art").unwrap();
    let run = t.create_run(exp, Some("r"), None).unwrap();
    (tmp, t, run)
}

#[test]
fn log_list_and_read_back() {
    let (tmp, t, run) = setup();
    let art = t.artifacts(&run).unwrap();
    assert!(art.list("").unwrap().is_empty(), "nothing logged yet");
    let expected_root = tmp
        .path()
        .join("hpo-artifacts")
        .join(t.get_run(&run).unwrap().info.experiment_id.to_string())
        .join(&run)
        .join("artifacts");
    assert_eq!(art.root(), expected_root);

    art.log_text("hello", "notes/readme.txt").unwrap();
    art.log_json(
        &serde_json::json!({"lr": 0.1, "layers": [1, 2]}),
        "config.json",
    )
    .unwrap();
    let local = tmp.path().join("model.bin");
    fs::write(&local, [1u8, 2, 3]).unwrap();
    assert_eq!(
        art.log_file(&local, Some("models")).unwrap(),
        "models/model.bin"
    );
    assert_eq!(art.log_file(&local, None).unwrap(), "model.bin");
    let src = tmp.path().join("plots");
    fs::create_dir_all(src.join("sub")).unwrap();
    fs::write(src.join("a.svg"), "<svg/>").unwrap();
    fs::write(src.join("sub/b.svg"), "<svg></svg>").unwrap();
    assert_eq!(
        art.log_dir(&src, Some("plots")).unwrap(),
        vec!["plots/a.svg", "plots/sub/b.svg"]
    );

    let root: Vec<_> = art.list("").unwrap();
    assert_eq!(
        root,
        vec![
            ArtifactInfo {
                path: "config.json".into(),
                is_dir: false,
                file_size: root[0].file_size
            },
            ArtifactInfo {
                path: "model.bin".into(),
                is_dir: false,
                file_size: Some(3)
            },
            ArtifactInfo {
                path: "models".into(),
                is_dir: true,
                file_size: None
            },
            ArtifactInfo {
                path: "notes".into(),
                is_dir: true,
                file_size: None
            },
            ArtifactInfo {
                path: "plots".into(),
                is_dir: true,
                file_size: None
            },
        ]
    );
    let plots: Vec<_> = art
        .list("plots")
        .unwrap()
        .into_iter()
        .map(|i| i.path)
        .collect();
    assert_eq!(plots, vec!["plots/a.svg", "plots/sub"]);
    assert_eq!(art.read_text("notes/readme.txt").unwrap(), "hello");
    assert_eq!(art.read("models/model.bin").unwrap(), vec![1, 2, 3]);
    assert_eq!(art.read_text("plots/sub/b.svg").unwrap(), "<svg></svg>");
    assert_eq!(art.read_json("config.json").unwrap()["layers"][1], 2);
    art.log_text("bye", "notes/readme.txt").unwrap();
    assert_eq!(
        art.read_text("notes/readme.txt").unwrap(),
        "bye",
        "overwrite"
    );
    assert!(matches!(
        art.read("missing.txt"),
        Err(ArtifactError::NotFound(_))
    ));
    assert!(matches!(
        art.list("missing"),
        Err(ArtifactError::NotFound(_))
    ));
    assert!(matches!(
        art.log_text("x", ""),
        Err(ArtifactError::InvalidPath { .. })
    ));
    assert!(matches!(
        t.artifacts("ffffffffffffffffffffffffffffffff"),
        Err(TrackingError::Store(_))
    ));
}

fn refused(r: Result<impl std::fmt::Debug, ArtifactError>) -> bool {
    matches!(
        r,
        Err(ArtifactError::InvalidPath { .. }) | Err(ArtifactError::OutsideRoot(_))
    )
}

#[test]
fn parent_and_absolute_paths_are_refused() {
    let (tmp, t, run) = setup();
    let art = t.artifacts(&run).unwrap();
    art.log_text("inside", "ok.txt").unwrap();
    let outside = tmp.path().join("outside.txt");
    fs::write(&outside, "secret").unwrap();
    let abs = outside.to_str().unwrap().to_string();
    for bad in [
        "../x.txt",
        "a/../../x.txt",
        "..",
        "a/..",
        "/etc/passwd",
        abs.as_str(),
        "..\\x",
    ] {
        assert!(refused(art.log_text("pwned", bad)), "write {bad:?}");
        assert!(refused(art.read(bad)), "read {bad:?}");
        assert!(refused(art.list(bad)), "list {bad:?}");
        assert!(
            refused(art.log_file(&outside, Some(bad))),
            "log_file into {bad:?}"
        );
        assert!(
            refused(art.log_dir(tmp.path(), Some(bad))),
            "log_dir into {bad:?}"
        );
    }
    assert_eq!(fs::read_to_string(&outside).unwrap(), "secret");
    assert!(!tmp.path().join("x.txt").exists());
}

#[cfg(unix)]
#[test]
fn symlinks_resolving_outside_are_refused() {
    use std::os::unix::fs::symlink;
    let (tmp, t, run) = setup();
    let art = t.artifacts(&run).unwrap();
    art.log_text("inside", "real/ok.txt").unwrap();
    let outside_dir = tmp.path().join("outside");
    fs::create_dir_all(&outside_dir).unwrap();
    fs::write(outside_dir.join("secret.txt"), "secret").unwrap();
    let root = art.root().to_path_buf();
    symlink(&outside_dir, root.join("escape")).unwrap();
    symlink(outside_dir.join("secret.txt"), root.join("secret-link.txt")).unwrap();
    symlink(tmp.path().join("nowhere"), root.join("dangling")).unwrap();
    symlink(root.join("real"), root.join("alias")).unwrap();

    assert!(matches!(
        art.read("escape/secret.txt"),
        Err(ArtifactError::OutsideRoot(_))
    ));
    assert!(matches!(
        art.read("secret-link.txt"),
        Err(ArtifactError::OutsideRoot(_))
    ));
    assert!(matches!(
        art.list("escape"),
        Err(ArtifactError::OutsideRoot(_))
    ));
    assert!(matches!(
        art.log_text("pwned", "escape/new.txt"),
        Err(ArtifactError::OutsideRoot(_))
    ));
    assert!(matches!(
        art.log_text("pwned", "secret-link.txt"),
        Err(ArtifactError::OutsideRoot(_))
    ));
    assert!(matches!(
        art.log_text("pwned", "dangling/new.txt"),
        Err(ArtifactError::OutsideRoot(_))
    ));
    assert!(matches!(
        art.log_text("pwned", "dangling"),
        Err(ArtifactError::OutsideRoot(_))
    ));
    assert_eq!(
        fs::read_to_string(outside_dir.join("secret.txt")).unwrap(),
        "secret"
    );
    assert!(!outside_dir.join("new.txt").exists());
    assert!(!tmp.path().join("nowhere").exists());

    // A symlink that stays inside the run's directory is fine.
    assert_eq!(art.read_text("alias/ok.txt").unwrap(), "inside");
    art.log_text("via alias", "alias/new.txt").unwrap();
    assert_eq!(art.read_text("real/new.txt").unwrap(), "via alias");
}

#[test]
fn runs_have_separate_directories() {
    let (_tmp, t, run) = setup();
    let exp = t.get_run(&run).unwrap().info.experiment_id;
    let other = t.create_run(exp, Some("other"), None).unwrap();
    t.artifacts(&run).unwrap().log_text("1", "x.txt").unwrap();
    let other_art = t.artifacts(&other).unwrap();
    assert!(other_art.list("").unwrap().is_empty());
    assert!(matches!(
        other_art.read("x.txt"),
        Err(ArtifactError::NotFound(_))
    ));
    assert!(Path::new(&t.get_run(&run).unwrap().info.artifact_uri)
        .join("x.txt")
        .exists());
}
