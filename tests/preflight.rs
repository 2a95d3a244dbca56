//! `hpo validate` checks everything `hpo run` checks before its first trial, and `hpo run`
//! refuses the same files before the store is touched (exit 2, no store created): bad labels,
//! too many params for the environment, a missing program, a missing CSV, bad experiment names.

use std::path::Path;
use std::process::{Command, Output};

fn hpo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .current_dir(dir)
        .env(
            "HPO_TRACKING_URI",
            format!("sqlite:///{}", dir.join("hpo.db").display()),
        )
        .output()
        .expect("the binary runs")
}

/// A run file with a command objective `command` and `space` as [space].
fn file(study: &str, objective: &str, space: &str) -> String {
    format!("[study]\nmax_evals = 2\n{study}\n[objective]\n{objective}\n[space]\n{space}\n")
}

const TRUE: &str = "command = [\"true\"]";
const X: &str = "x = { uniform = [0, 1] }";

/// `validate` and `run` both exit 2 with `phrases` on stderr, and no store is created.
fn refused(name: &str, text: &str, extra: &[&str], phrases: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    let f = path.to_str().unwrap();
    for args in [vec!["validate", f], vec!["run", f, "--quiet"]] {
        let mut args = args.clone();
        if args[0] == "run" {
            args.extend_from_slice(extra);
        }
        let o = hpo(dir.path(), &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {args:?}: {err}");
        for p in phrases {
            assert!(err.contains(p), "{name}: {args:?}: '{p}' not in {err}");
        }
        assert!(
            err.len() < 2000,
            "{name}: the message is short: {}",
            err.len()
        );
        assert!(
            !dir.path().join("hpo.db").exists(),
            "{name}: {args:?} made a store"
        );
    }
}

#[test]
fn labels_with_control_characters_or_too_long_are_refused() {
    refused(
        "newline",
        &file("", TRUE, "x = { uniform = [0, 1], label = \"a\\nb\" }"),
        &[],
        &["label 'a\\nb'", "control character"],
    );
    let long = "l".repeat(300);
    refused(
        "long",
        &file(
            "",
            TRUE,
            &format!("x = {{ uniform = [0, 1], label = \"{long}\" }}"),
        ),
        &[],
        &["300 characters", "at most 200"],
    );
    // a constant's dotted path is a recorded key too
    refused(
        "constant",
        &file("", TRUE, &format!("{X}\nnested = {{ \"k\\tv\" = 1 }}")),
        &[],
        &["nested.k\\tv", "control character"],
    );
}

#[test]
fn more_params_than_the_environment_holds_are_refused() {
    let space: String = (0..5000)
        .map(|i| format!("p{i} = {{ uniform = [0, 1] }}\n"))
        .collect();
    refused(
        "many",
        &file("", TRUE, &space),
        &[],
        &["5000 parameters", "HPO_PARAMS", "131072"],
    );
    // 500 are fine
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.toml");
    let space: String = (0..500)
        .map(|i| format!("p{i} = {{ uniform = [0, 1] }}\n"))
        .collect();
    std::fs::write(&path, file("", TRUE, &space)).unwrap();
    let o = hpo(dir.path(), &["validate", path.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_program_that_does_not_exist_is_refused() {
    refused(
        "nocmd",
        &file("", "command = [\"hpo-no-such-program\", \"{x}\"]", X),
        &[],
        &["'hpo-no-such-program' is not found", "PATH"],
    );
    refused(
        "nopath",
        &file("", "command = [\"./missing/train.sh\"]", X),
        &[],
        &["'./missing/train.sh' does not exist"],
    );
    // a file that is not executable
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("train.sh"), "echo 1\n").unwrap();
    let path = dir.path().join("noexec.toml");
    std::fs::write(&path, file("", "command = [\"./train.sh\"]", X)).unwrap();
    let o = hpo(dir.path(), &["validate", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an executable file"));
    // programs found in PATH and executable paths are fine
    for cmd in [
        "command = [\"sh\", \"-c\", \"echo 1\"]",
        "command = [\"/bin/sh\", \"-c\", \"echo 1\"]",
    ] {
        std::fs::write(&path, file("", cmd, X)).unwrap();
        let o = hpo(dir.path(), &["validate", path.to_str().unwrap()]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn a_missing_csv_is_refused() {
    refused(
        "nocsv",
        &file(
            "",
            "linfa = \"linear\"\ncsv = \"no-such-data.csv\"\ntarget = \"y\"",
            "alpha = { uniform = [0, 1] }",
        ),
        &[],
        &["no-such-data.csv"],
    );
}

#[test]
fn bad_experiment_names_are_refused() {
    let long = "e".repeat(100_000);
    refused(
        "longname",
        &file(&format!("name = \"{long}\""), TRUE, X),
        &[],
        &["experiment name", "1 to 500 characters"],
    );
    refused(
        "nul",
        &file("name = \"a\\u0000b\"", TRUE, X),
        &[],
        &["experiment name 'a\\0b'", "control character"],
    );
    // --experiment is checked the same way by run
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flag.toml");
    std::fs::write(&path, file("", TRUE, X)).unwrap();
    let o = hpo(
        dir.path(),
        &["run", path.to_str().unwrap(), "--experiment", "a\nb"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("control character"));
    assert!(!dir.path().join("hpo.db").exists());
}

#[test]
fn the_store_refuses_experiment_names_with_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a\tb", "line\nbreak", "nul\0"] {
        let o = Command::new(env!("CARGO_BIN_EXE_hpo"))
            .args(["experiments", "create", name])
            .env(
                "HPO_TRACKING_URI",
                format!("sqlite:///{}", dir.path().join("hpo.db").display()),
            )
            .output();
        // NUL cannot even be passed as an argument; the others reach the store
        let Ok(o) = o else { continue };
        assert_eq!(o.status.code(), Some(2), "{name:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("control character"));
    }
    let tracker =
        hpo::tracking::Tracker::open(&format!("sqlite:///{}", dir.path().join("t.db").display()))
            .unwrap();
    assert!(tracker.create_experiment("a\u{0}b").is_err());
    assert!(tracker.create_experiment("fine name").is_ok());
}
