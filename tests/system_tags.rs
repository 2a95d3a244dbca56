//! System tags of runs made by the `hpo` binary: `hpo.user` without `$USER`.

use std::process::Command;

use hpo::tracking::{RunsQuery, Tracker};

/// The name of the current user id, as `id -un` reports it.
fn id_un() -> String {
    let o = Command::new("id").arg("-un").output().expect("id runs");
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

#[test]
fn the_user_tag_falls_back_to_the_uid_name_without_user_variables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hpo.db");
    let file = dir.path().join("branin.toml");
    std::fs::write(
        &file,
        "[study]\nmax_evals = 2\nseed = 1\n[objective]\nfunction = \"branin\"\n[space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .arg("run")
        .arg(&file)
        .arg("--quiet")
        .env("HPO_TRACKING_URI", format!("sqlite:///{}", db.display()))
        .env_remove("USER")
        .env_remove("USERNAME")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let want = id_un();
    let tracker = Tracker::open(&format!("sqlite:///{}", db.display())).unwrap();
    let runs = tracker.search_runs(&RunsQuery::new(&[], "")).unwrap().runs;
    assert_eq!(runs.len(), 3, "a study and two trials");
    for r in runs {
        assert_eq!(r.data.tag("hpo.user"), Some(want.as_str()));
        assert_eq!(r.info.user_id, want);
    }
}
