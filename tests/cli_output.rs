//! What the command line prints: failure reasons in `runs show` (the last lines, where the error
//! is), one trial-number convention (#N, 0-based as in the store) with failed and killed counted
//! apart, the page-token hint on its own line, and `validate --json` printing the parsed space.

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

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Trial 0 ok, 1 fails with a 30-line traceback, 2 ok, 3 runs past its timeout (killed).
const STUDY: &str = r#"[study]
name = "out"
max_evals = 4
seed = 1
algo = "random"
[objective]
command = ["sh", "-c", "case $HPO_TRIAL in 1) i=0; while [ $i -lt 29 ]; do echo \"  line $i\" >&2; i=$((i+1)); done; echo 'ValueError: boom' >&2; exit 1;; 3) sleep 5;; *) echo 0.5;; esac"]
timeout = "500ms"
[space]
x = { uniform = [0, 1] }
"#;

#[test]
fn summary_progress_and_failure_reasons() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("out.toml"), STUDY).unwrap();
    let o = hpo(dir.path(), &["run", "out.toml"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // one convention: #N is the trial's 0-based number; counts say "done" and "trials"
    let best = out.lines().next().unwrap();
    assert!(
        best.contains("(trial #0; 4 trials: 2 ok, 1 failed, 1 killed)"),
        "{best}"
    );
    assert!(err.contains("trial #1 failed"), "{err}");
    assert!(err.contains("trial #3 killed"), "{err}");
    assert!(err.contains("(4/4 done, 1 failed, 1 killed)"), "{err}");
    // the labels of the summary line up
    let value_col = |l: &str| {
        let label_end = if l.starts_with("best ") && !l.starts_with("best params") {
            5 + l[5..].find(' ').unwrap()
        } else if l.starts_with("register it:") {
            "register it:".len()
        } else {
            l.find("  ").unwrap()
        };
        label_end + l[label_end..].find(|c: char| c != ' ').unwrap()
    };
    let cols: Vec<usize> = out.lines().map(value_col).collect();
    assert!(cols.windows(2).all(|w| w[0] == w[1]), "{out}\n{cols:?}");

    let j = hpo(
        dir.path(),
        &["run", "out.toml", "--json", "--experiment", "out2"],
    );
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(
        (v["failed"].as_u64(), v["killed"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );

    // runs show: the end of the failure reason, where the error is
    let list = hpo(dir.path(), &["runs", "list", "-e", "out", "--json"]);
    let page: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let failed = page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["info"]["run_name"] == "trial-1")
        .unwrap();
    let id = failed["info"]["run_id"].as_str().unwrap();
    let o = hpo(dir.path(), &["runs", "show", id]);
    let (shown, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        shown.contains("ValueError: boom  (30 lines, below)"),
        "{shown}"
    );
    assert!(
        shown.contains("hpo.failureReason (last 20 of 30 lines)"),
        "{shown}"
    );
    assert!(
        shown.contains("    line 28\n    ValueError: boom"),
        "{shown}"
    );
    assert!(
        !shown.contains("line 9\n"),
        "only the last 20 lines: {shown}"
    );
}

#[test]
fn the_page_token_hint_is_a_line_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        "[study]\nmax_evals = 5\n[objective]\nfunction = \"branin\"\n[space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
    )
    .unwrap();
    assert_eq!(
        hpo(dir.path(), &["run", "b.toml", "--quiet"]).status.code(),
        Some(0)
    );
    let o = hpo(dir.path(), &["runs", "list", "--max-results", "2"]);
    let (out, err) = text(&o);
    assert!(out.ends_with('\n'));
    assert!(
        err.starts_with("\nmore runs: repeat with --page-token "),
        "{err:?}"
    );
    assert!(err.ends_with('\n') && err.lines().count() == 2, "{err:?}");
}

#[test]
fn validate_json_prints_the_parsed_space() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.toml"),
        "[objective]\ncommand = [\"true\"]\n[space]\nlr = { loguniform = [-5, 0] }\nd = { quniform = [1, 9, 1], int = true }\nk = \"const\"\nm = { choice = [{ t = \"a\" }, { t = \"b\", c = { uniform = [0, 1] } }] }\n",
    )
    .unwrap();
    let o = hpo(dir.path(), &["validate", "s.toml", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let space = &v["space"];
    assert_eq!(
        space["lr"],
        serde_json::json!({"label": "lr", "dist": "loguniform", "args": [-5.0, 0.0], "int": false})
    );
    assert_eq!(space["d"]["int"], true);
    assert_eq!(space["d"]["args"], serde_json::json!([1.0, 9.0, 1.0]));
    assert_eq!(space["k"], "const");
    assert_eq!(space["m"]["dist"], "choice");
    assert_eq!(space["m"]["args"][1]["c"]["dist"], "uniform");
    assert_eq!(v["parameters"], serde_json::json!(["lr", "d", "m", "c"]));
}

#[test]
fn a_closed_standard_output_is_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.toml"),
        "[study]\nmax_evals = 30\n[objective]\nfunction = \"branin\"\n[space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
    )
    .unwrap();
    assert_eq!(
        hpo(dir.path(), &["run", "b.toml", "--quiet"]).status.code(),
        Some(0)
    );
    for args in [
        &["runs", "list"][..],
        &["best", "-e", "b"],
        &["experiments", "list"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hpo"))
            .args(args)
            .current_dir(dir.path())
            .env(
                "HPO_TRACKING_URI",
                format!("sqlite:///{}", dir.path().join("hpo.db").display()),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // `| head -0`: the reader is gone before anything is printed
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(o.status.code(), Some(101), "{args:?}: {err}");
    }
}
