//! `hpo run` with a `[pruner]`: a command's `{"step": e, "val_loss": v}` lines feed the pruner as
//! they arrive; pruned trials have their process group terminated early and are recorded
//! KILLED with `hpo.state = PRUNED`, shown and filterable in `hpo runs list`, and counted in the
//! summary.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use hpo::tracking::{RunStatus, Tracker};

const STEPS: i64 = 8;

/// The trial program: prints a curve `x + 1/e` over the epochs (larger x: worse at every
/// epoch), logs each epoch it reaches to `epochs.log`, and touches `done-<trial>` at its end.
const TRAIN: &str = r#"x=$1
e=1
while [ $e -le 8 ]; do
  echo "$HPO_TRIAL $e" >> epochs.log
  v=$(awk -v x="$x" -v e="$e" 'BEGIN { printf "%.12f", x + 1/e }')
  echo "{\"step\": $e, \"val_loss\": $v}"
  sleep 0.1
  e=$((e+1))
done
touch done-$HPO_TRIAL
echo $x
"#;

fn run_file(dir: &Path, pruner: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("train.sh"), TRAIN).unwrap();
    let p = dir.join("prune.toml");
    std::fs::write(
        &p,
        format!(
            "[study]\nname = \"prune\"\nalgo = \"random\"\nmax_evals = 12\nseed = 4\n\
             [objective]\ncommand = [\"sh\", \"train.sh\", \"{{x}}\"]\ngrace_period = \"1s\"\n\
             [space]\nx = {{ uniform = [0, 1] }}\n\
             {pruner}\n"
        ),
    )
    .unwrap();
    p
}

fn hpo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .current_dir(dir)
        .env("HPO_TRACKING_URI", "sqlite:///hpo.db")
        .output()
        .expect("the binary runs")
}

/// Epochs each trial reached, by trial number.
fn epochs(dir: &Path) -> BTreeMap<usize, i64> {
    let mut m = BTreeMap::new();
    for line in std::fs::read_to_string(dir.join("epochs.log"))
        .unwrap()
        .lines()
    {
        let mut it = line.split_whitespace().map(|w| w.parse::<i64>().unwrap());
        let (t, e) = (it.next().unwrap() as usize, it.next().unwrap());
        let v = m.entry(t).or_insert(0);
        *v = (*v).max(e);
    }
    m
}

#[test]
fn hpo_run_prunes_command_trials_early_and_records_them() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_file(
        dir.path(),
        "[pruner]\nkind = \"median\"\nmetric = \"val_loss\"\nn_startup_trials = 3",
    );
    let out = hpo(dir.path(), &["run", "-q", file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");

    let t = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let exp = t.get_experiment_by_name("prune").unwrap().unwrap();
    let study = hpo::tracking::find_study(&t, exp.experiment_id, "prune")
        .unwrap()
        .unwrap();
    let children = t.child_runs(&study.info.run_id).unwrap();
    assert_eq!(children.len(), 12);
    let reached = epochs(dir.path());
    let mut pruned = 0;
    for c in &children {
        let n: usize = c.data.tag("hpo.trialNumber").unwrap().parse().unwrap();
        let done = dir.path().join(format!("done-{n}")).exists();
        if c.data.tag("hpo.state") == Some("PRUNED") {
            pruned += 1;
            assert_eq!(c.info.status, RunStatus::Killed, "trial {n}");
            let step: i64 = c.data.tag("hpo.prunedStep").unwrap().parse().unwrap();
            let value: f64 = c.data.tag("hpo.prunedValue").unwrap().parse().unwrap();
            let x: f64 = c.data.param("x").unwrap().parse().unwrap();
            assert!((value - (x + 1.0 / step as f64)).abs() < 1e-6, "trial {n}");
            // killed early: it never finished nor reached the last epoch
            assert!(!done, "trial {n} ran to its end");
            assert!(step < STEPS && reached[&n] < STEPS, "trial {n} at {step}");
            assert!(c.data.tag("hpo.failureReason").is_none());
            assert!(c.data.metric("loss").is_none(), "no final loss");
        } else {
            assert_eq!(c.info.status, RunStatus::Finished, "trial {n}");
            assert!(done, "trial {n}");
            assert_eq!(reached[&n], STEPS);
        }
    }
    assert!(pruned >= 3, "{pruned} of 12 pruned\n{stdout}");
    assert!(
        stdout.contains(&format!("pruning      {pruned} pruned; steps run ")),
        "{stdout}"
    );

    // shown and filterable
    let out = hpo(
        dir.path(),
        &[
            "runs",
            "list",
            "-e",
            "prune",
            "--filter",
            "tags.hpo.state = 'PRUNED'",
        ],
    );
    let list = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{list}");
    assert_eq!(list.matches("PRUNED").count(), pruned, "{list}");
    assert!(!list.contains("KILLED"), "{list}");

    // the --json summary counts them
    let dir2 = tempfile::tempdir().unwrap();
    let file = run_file(
        dir2.path(),
        "[pruner]\nkind = \"median\"\nmetric = \"val_loss\"\nn_startup_trials = 3",
    );
    let out = hpo(
        dir2.path(),
        &["run", "-q", "--json", file.to_str().unwrap()],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["pruned"], pruned, "the same seed prunes the same trials");
    assert_eq!(v["failed"], 0);
    assert_eq!(v["pruning"]["max_step"], STEPS);
    assert!(v["pruning"]["steps_run"].as_i64().unwrap() < 12 * STEPS);
    // the median pruner gives TPE no forecasts
    assert_eq!(v["pruning"]["forecast"], 0);
}

#[test]
fn a_bad_pruner_setting_is_refused_with_exit_2_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_file(
        dir.path(),
        "[pruner]\nkind = \"asha\"\nreduction_factor = 1",
    );
    let out = hpo(dir.path(), &["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("reduction_factor"), "{err}");
    assert!(err.contains("expected 2 or more"), "{err}");
    assert!(
        !dir.path().join("hpo.db").exists(),
        "the store was not touched"
    );
}

#[test]
fn a_resumed_study_prunes_against_the_curves_of_its_earlier_trials() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_file(
        dir.path(),
        "[pruner]\nkind = \"median\"\nmetric = \"val_loss\"\nn_startup_trials = 3",
    );
    let f = file.to_str().unwrap();
    // three start-up trials complete (x = 0.91, 0.46, 0.25 with seed 4)
    let out = hpo(dir.path(), &["run", "-q", "--max-evals", "3", f]);
    assert_eq!(out.status.code(), Some(0));
    // trial 3 (x = 0.69) is worse than their median at step 1: pruned at once, although this
    // process has not completed any trial itself
    let out = hpo(
        dir.path(),
        &["run", "-q", "--resume", "--max-evals", "4", f],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let exp = t.get_experiment_by_name("prune").unwrap().unwrap();
    let study = hpo::tracking::find_study(&t, exp.experiment_id, "prune")
        .unwrap()
        .unwrap();
    let children = t.child_runs(&study.info.run_id).unwrap();
    let trial3 = children
        .iter()
        .find(|c| c.data.tag("hpo.trialNumber") == Some("3"))
        .unwrap();
    assert_eq!(trial3.data.tag("hpo.state"), Some("PRUNED"));
    let step: i64 = trial3.data.tag("hpo.prunedStep").unwrap().parse().unwrap();
    assert!(step < STEPS);
    assert!(!dir.path().join("done-3").exists());
}

#[test]
fn hpo_run_with_hyperband_prunes_each_trial_at_its_brackets_rungs() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_file(
        dir.path(),
        "[pruner]\nkind = \"hyperband\"\nmetric = \"val_loss\"\nmin_resource = 1\nmax_resource = 8\nreduction_factor = 2",
    );
    let out = hpo(dir.path(), &["run", "-q", "--json", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pruned = v["pruned"].as_u64().unwrap();
    assert!(pruned >= 1, "{v}");
    assert_eq!(v["failed"], 0);

    // brackets with first rungs at steps 1, 2, 4, 8; a trial is pruned at a rung of its own
    let brackets = hpo::study::prune::Hyperband::new(1, 8, 2, 0)
        .unwrap()
        .brackets()
        .clone();
    assert_eq!(brackets.len(), 4);
    let t = Tracker::open(&format!(
        "sqlite:///{}",
        dir.path().join("hpo.db").display()
    ))
    .unwrap();
    let exp = t.get_experiment_by_name("prune").unwrap().unwrap();
    let study = hpo::tracking::find_study(&t, exp.experiment_id, "prune")
        .unwrap()
        .unwrap();
    let children = t.child_runs(&study.info.run_id).unwrap();
    assert_eq!(children.len(), 12);
    let mut seen = 0;
    for c in &children {
        if c.data.tag("hpo.state") != Some("PRUNED") {
            continue;
        }
        seen += 1;
        assert_eq!(c.info.status, RunStatus::Killed);
        let n: usize = c.data.tag("hpo.trialNumber").unwrap().parse().unwrap();
        let step: i64 = c.data.tag("hpo.prunedStep").unwrap().parse().unwrap();
        let first_rung = 1i64 << brackets.of(n);
        assert!(
            step >= first_rung,
            "trial {n} pruned at {step}, before {first_rung}"
        );
    }
    assert_eq!(seen, pruned);
}

#[test]
fn a_hyperband_pruner_without_max_resource_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_file(
        dir.path(),
        "[pruner]\nkind = \"hyperband\"\nmin_resource = 2",
    );
    let out = hpo(dir.path(), &["run", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs max_resource"), "{err}");
    assert!(!dir.path().join("hpo.db").exists());
}
