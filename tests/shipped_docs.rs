//! What the README tells a newcomer to run works from a clone of the repository: the quickstart
//! example and the quickstart run file record into different experiments, and the bench command's
//! anchor results are shipped.

use std::path::Path;
use std::process::Command;

use hpo::runfile::RunFile;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The experiment `examples/quickstart.rs` records into (a literal, or its `EXPERIMENT` const).
fn example_experiment() -> String {
    let src = std::fs::read_to_string(repo().join("examples/quickstart.rs")).unwrap();
    let after = src
        .split("Recorder::new(&tracker, ")
        .nth(1)
        .expect("the example records with a Recorder");
    let arg = after.split(')').next().unwrap().trim();
    let literal = |s: &str| s.trim().trim_matches('"').to_string();
    if arg.starts_with('"') {
        return literal(arg);
    }
    let decl = format!("const {arg}: &str = ");
    let value = src.split(&decl).nth(1).expect("the const is declared");
    literal(value.split(';').next().unwrap())
}

#[test]
fn the_quickstart_example_and_run_file_use_different_experiments() {
    let file = RunFile::load(repo().join("spaces/quickstart.toml")).unwrap();
    let example = example_experiment();
    assert_ne!(example, file.experiment_name());
    assert_eq!(file.experiment_name(), "quickstart");
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("`{example}`")),
        "the README names {example}"
    );
}

#[test]
fn the_readme_bench_command_uses_shipped_anchor_results() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    // the bench command's --compare (not the synopsis' FILE.jsonl)
    let compare = readme
        .split("--compare ")
        .skip(1)
        .filter_map(|s| s.split_whitespace().next())
        .find(|t| t.ends_with(".jsonl") && !t.starts_with("FILE"))
        .expect("the README shows a bench command with --compare");
    assert!(
        !compare.starts_with(".."),
        "{compare} is outside the repository"
    );
    let path = repo().join(compare);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{compare}: {e}"));
    assert!(text.lines().count() > 1000);
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first["problem"].is_string() && first["optimizer"].is_string());
    let bench_md = std::fs::read_to_string(repo().join("BENCH.md")).unwrap();
    assert!(
        bench_md.contains(&format!("--compare {compare}")),
        "BENCH.md"
    );
    // the command works from the repository, with those anchors beside hpo's results
    let out = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args([
            "bench",
            "--problems",
            "branin",
            "--algos",
            "random",
            "--seeds",
            "1",
            "--budget",
            "10",
            "--compare",
            compare,
            "--out",
        ])
        .arg(out.path())
        .current_dir(repo())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    assert!(report.contains("hyperopt"), "the anchors are in the report");
}
