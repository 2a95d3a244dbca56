//! `hpo bench` end to end: a small benchmark writes every file, deterministically.

use std::path::Path;
use std::process::{Command, Output};

fn hpo(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .current_dir(dir)
        .env("HPO_TRACKING_URI", dir.join("hpo.db"))
        .output()
        .expect("hpo runs")
}

/// The results without their timing fields.
fn untimed(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            assert!(o.remove("seconds").is_some());
            assert!(o.remove("suggest_seconds").is_some());
            v
        })
        .collect()
}

const SMALL: [&str; 9] = [
    "bench",
    "--problems",
    "branin,mixed_hpo",
    "--algos",
    "random,tpe",
    "--seeds",
    "3",
    "--budget",
    "20",
];

#[test]
fn small_bench_writes_all_files_and_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = SMALL.to_vec();
    args.extend(["--out", "a", "--quiet"]);
    let out = hpo(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = dir.path().join("a");
    for f in ["results.jsonl", "report.md", "branin.svg", "mixed_hpo.svg"] {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    let lines = untimed(&a.join("results.jsonl"));
    assert_eq!(lines.len(), 2 * 2 * 3);
    let first = &lines[0];
    assert_eq!(first["problem"], "branin");
    assert_eq!(first["optimizer"], "hpo-random");
    assert_eq!(first["seed"], 0);
    assert_eq!(first["budget"], 20);
    assert_eq!(first["best"].as_array().unwrap().len(), 20);
    let best = first["best"][19].as_f64().unwrap();
    let min = first["minimum"].as_f64().unwrap();
    assert!((first["regret"].as_f64().unwrap() - (best - min)).abs() < 1e-12);

    let report = std::fs::read_to_string(a.join("report.md")).unwrap();
    for s in [
        "## Summary: median final regret",
        "| **Borda** |",
        "| **Firsts** |",
        "## Time spent suggesting",
        "### branin",
        "### mixed_hpo",
        "![branin](branin.svg)",
        "Mann-Whitney",
        "α = 0.025",
    ] {
        assert!(report.contains(s), "report lacks {s:?}:\n{report}");
    }
    let svg = std::fs::read_to_string(a.join("branin.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("hpo-tpe") && svg.contains("<polygon"));

    // the same command, another directory and fewer threads: the same results
    let mut args = SMALL.to_vec();
    args.extend(["--out", "b", "--quiet", "--parallelism", "1"]);
    let out = hpo(dir.path(), &args);
    assert!(out.status.success());
    assert_eq!(lines, untimed(&dir.path().join("b/results.jsonl")));
}

#[test]
fn compare_adds_results_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    // a result from elsewhere, longer than the budget (cut to it) and without suggest_seconds
    let best: Vec<String> = (0..30)
        .map(|i| format!("{}", 10.0 / (i + 1) as f64))
        .collect();
    let mut text = String::new();
    for seed in 0..3 {
        text.push_str(&format!(
            "{{\"problem\": \"branin\", \"optimizer\": \"other-opt\", \"seed\": {seed}, \"budget\": 30, \"best\": [{}], \"regret\": 0.0, \"minimum\": 0.0, \"seconds\": 1.0}}\n",
            best.join(", ")
        ));
    }
    // a problem that is not benchmarked: ignored
    text.push_str("{\"problem\": \"levy10\", \"optimizer\": \"ignored-opt\", \"seed\": 0, \"budget\": 1, \"best\": [1.0], \"regret\": 1.0, \"minimum\": 0.0, \"seconds\": 1.0}\n");
    std::fs::write(dir.path().join("other.jsonl"), text).unwrap();
    let out = hpo(
        dir.path(),
        &[
            "bench",
            "--problems",
            "branin",
            "--algos",
            "random",
            "--seeds",
            "3",
            "--budget",
            "20",
            "--compare",
            "other.jsonl",
            "--out",
            "c",
            "--quiet",
            "--record",
            "--experiment",
            "bench-test",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(dir.path().join("c/report.md")).unwrap();
    assert!(report.contains("other-opt"));
    assert!(!report.contains("ignored-opt"));
    // other-opt's regret after 20 evaluations: 10/20 = 0.5
    assert!(
        report.contains("| other-opt | 0.5000 [0.5000, 0.5000]"),
        "{report}"
    );
    let svg = std::fs::read_to_string(dir.path().join("c/branin.svg")).unwrap();
    assert!(svg.contains("other-opt"));
    // only hpo's own results go to results.jsonl
    let results = std::fs::read_to_string(dir.path().join("c/results.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 3);
    // recorded: one run per (problem, optimizer)
    let out = hpo(dir.path(), &["runs", "list", "--experiment", "bench-test"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(listing.contains("branin/hpo-random"), "{listing}");
    assert!(listing.contains("branin/other-opt"), "{listing}");
}

#[test]
fn bad_names_exit_2_naming_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = hpo(dir.path(), &["bench", "--problems", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope") && err.contains("hartmann6") && err.contains("mixed_hpo"));
    assert!(
        err.contains("multimodal") && err.contains("levy20_shifted"),
        "{err}"
    );
    let out = hpo(dir.path(), &["bench", "--algos", "tpe,bogus"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bogus") && err.contains("tpe-hyperopt") && err.contains("anneal"));
}

#[test]
fn a_space_file_with_a_command_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("quad.toml"),
        "[space]\nx = { uniform = [-2.0, 2.0] }\n\n[objective]\ncommand = [\"sh\", \"-c\", \"echo {x}\"]\n",
    )
    .unwrap();
    let out = hpo(
        dir.path(),
        &[
            "bench",
            "--problems",
            "quad.toml",
            "--algos",
            "random",
            "--seeds",
            "2",
            "--budget",
            "4",
            "--out",
            "q",
            "--quiet",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = std::fs::read_to_string(dir.path().join("q/results.jsonl")).unwrap();
    assert_eq!(results.lines().count(), 2);
    assert!(results.contains("\"problem\":\"quad\""));
    assert!(results.contains("\"minimum\":null"));
    let report = std::fs::read_to_string(dir.path().join("q/report.md")).unwrap();
    assert!(report.contains("### quad †"), "{report}");
    assert!(
        report.contains("| quad † |"),
        "the summary row is marked: {report}"
    );
    assert!(dir.path().join("q/quad.svg").is_file());
}

#[test]
fn first_seed_runs_seeds_k_to_k_plus_n() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "bench",
            "--problems",
            "branin",
            "--algos",
            "tpe",
            "--budget",
            "15",
            "--quiet",
            "--out",
            out,
        ];
        args.extend(extra);
        let o = hpo(dir.path(), &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        untimed(&dir.path().join(out).join("results.jsonl"))
    };
    let held_out = run("h", &["--seeds", "2", "--first-seed", "5"]);
    let seeds: Vec<u64> = held_out
        .iter()
        .map(|l| l["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [5, 6]);
    // a seed's study is the same whichever range it is run in
    let all = run("a", &["--seeds", "7"]);
    assert_eq!(all[5..], held_out[..]);
    let report = std::fs::read_to_string(dir.path().join("h/report.md")).unwrap();
    assert!(report.contains("2 seeds (5-6)"), "{report}");
    // an overflowing range is bad input
    let o = hpo(
        dir.path(),
        &[
            "bench",
            "--seeds",
            "2",
            "--first-seed",
            "18446744073709551615",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_user_problem_has_a_minimum_a_noiseless_score_and_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    // a noisy loss: x + 10 * HPO_SEED (the seed shifts the noise), the noiseless value x - 1 as
    // the metric true_loss; each call records the seed it saw
    let script = "echo $HPO_SEED >> seeds.txt; \
                  awk -v x={x} -v s=$HPO_SEED 'BEGIN { printf \"{\\\"loss\\\": %.6f, \\\"metrics\\\": {\\\"true_loss\\\": %.6f} }\\n\", x + 10 * s, x - 1 }'";
    std::fs::write(
        dir.path().join("noisy.toml"),
        format!(
            "[study]\nminimum = -1.0\nscore_metric = \"true_loss\"\n\
             [space]\nx = {{ uniform = [0.0, 2.0] }}\n\n[objective]\ncommand = [\"sh\", \"-c\", {script:?}]\n"
        ),
    )
    .unwrap();
    let args = [
        "bench",
        "--problems",
        "noisy.toml",
        "--algos",
        "random",
        "--seeds",
        "2",
        "--first-seed",
        "3",
        "--budget",
        "5",
        "--out",
        "n",
        "--quiet",
    ];
    let out = hpo(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = untimed(&dir.path().join("n/results.jsonl"));
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(l["minimum"], -1.0);
        // the score is the noiseless value at the best observed loss, as a regret
        let best: Vec<f64> = l["best"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let regret = l["regret"].as_f64().unwrap();
        assert!((regret - (best[4] + 1.0)).abs() < 1e-9, "{l}");
        assert!(
            best.iter().all(|b| (-1.0..=1.0).contains(b)),
            "noiseless: {best:?}"
        );
    }
    let mut seen: Vec<String> = std::fs::read_to_string(dir.path().join("seeds.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen, ["3", "4"], "HPO_SEED is the study's seed");
    // --minimum overrides the file's
    let mut with_min = args.to_vec();
    with_min.push("--minimum=-2");
    with_min[12] = "m";
    let out = hpo(dir.path(), &with_min);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(untimed(&dir.path().join("m/results.jsonl"))
        .iter()
        .all(|l| l["minimum"] == -2.0));
}

#[test]
fn the_multimodal_group_runs_its_four_problems() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "--problems",
        "multimodal",
        "--algos",
        "random,tpe",
        "--seeds",
        "2",
        "--budget",
        "15",
        "--out",
        "mm",
        "--quiet",
    ];
    let out = hpo(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = untimed(&dir.path().join("mm/results.jsonl"));
    assert_eq!(lines.len(), 4 * 2 * 2);
    let mut problems: Vec<&str> = lines
        .iter()
        .map(|l| l["problem"].as_str().unwrap())
        .collect();
    problems.dedup();
    assert_eq!(
        problems,
        [
            "levy5_shifted",
            "levy20_shifted",
            "rastrigin10_shifted",
            "schwefel5"
        ]
    );
    for l in &lines {
        // every minimum is 0 (schwefel5's within 1e-4), so a regret is the best loss
        let regret = l["regret"].as_f64().unwrap();
        assert!(regret > 0.0 && regret.is_finite(), "{l}");
        assert_eq!(l["minimum"].as_f64(), Some(0.0));
    }
    // one of them by name, beside a public problem
    let out = hpo(
        dir.path(),
        &[
            "bench",
            "--problems",
            "schwefel5,branin",
            "--algos",
            "random",
            "--seeds",
            "1",
            "--budget",
            "5",
            "--out",
            "one",
            "--quiet",
        ],
    );
    assert!(out.status.success());
    assert_eq!(untimed(&dir.path().join("one/results.jsonl")).len(), 2);
}

#[test]
fn noisy_problems_are_scored_on_the_noiseless_value() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "--problems",
        "noisy_branin",
        "--algos",
        "random",
        "--seeds",
        "3",
        "--budget",
        "30",
        "--out",
        "nb",
        "--quiet",
    ];
    let out = hpo(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = untimed(&dir.path().join("nb/results.jsonl"));
    assert_eq!(lines.len(), 3);
    let minimum = 0.397887357729738;
    for l in &lines {
        assert_eq!(l["problem"], "noisy_branin");
        let best: Vec<f64> = l["best"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // noiseless branin values: never below its minimum (a noisy loss often is, with sd 0.5)
        assert!(best.iter().all(|b| *b >= minimum - 1e-12), "{best:?}");
        let regret = l["regret"].as_f64().unwrap();
        assert!((regret - (best[29] - minimum)).abs() < 1e-9);
    }
    // the same command gives the same results: the noise is fixed by (seed, trial)
    let again = hpo(
        dir.path(),
        &[
            "bench",
            "--problems",
            "noisy_branin",
            "--algos",
            "random",
            "--seeds",
            "3",
            "--budget",
            "30",
            "--out",
            "nb2",
            "--quiet",
        ],
    );
    assert!(again.status.success());
    assert_eq!(lines, untimed(&dir.path().join("nb2/results.jsonl")));
}

#[test]
fn pruners_on_multi_fidelity_problems_count_steps_and_compare_with_no_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "--problems",
        "curves_parallel,sgd_diabetes",
        "--algos",
        "random",
        "--pruners",
        "median,default",
        "--seeds",
        "2",
        "--budget",
        "12",
        "--quiet",
    ];
    let run = |out: &str| {
        let mut a = args.to_vec();
        a.extend(["--out", out]);
        let o = hpo(dir.path(), &a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let stdout = run("a");
    let lines = untimed(&dir.path().join("a/results.jsonl"));
    // none is added as the baseline: 2 problems x (none, median, default) x 2 seeds
    assert_eq!(lines.len(), 2 * 3 * 2);
    let opts: Vec<&str> = lines
        .iter()
        .map(|l| l["optimizer"].as_str().unwrap())
        .collect();
    assert_eq!(
        &opts[..6],
        [
            "hpo-random+none",
            "hpo-random+none",
            "hpo-random+median",
            "hpo-random+median",
            "hpo-random+default",
            "hpo-random+default"
        ]
    );
    for l in &lines {
        let steps: Vec<u64> = serde_json::from_value(l["steps"].clone()).unwrap();
        assert_eq!(steps.len(), 12, "{l}");
        // each trial runs 1..=81 steps, so the running total grows by 1 to 81
        let mut prev = 0;
        for s in &steps {
            assert!(*s > prev && *s - prev <= 81, "{l}");
            prev = *s;
        }
        if l["optimizer"] == "hpo-random+none" {
            assert_eq!(
                steps[11],
                12 * 81,
                "without pruning every trial runs all steps"
            );
        }
    }
    // the median pruner (5 start-up trials) stops some of the 7 later trials of curves_parallel
    let pruned_total: u64 = lines
        .iter()
        .filter(|l| l["problem"] == "curves_parallel" && l["optimizer"] == "hpo-random+median")
        .map(|l| l["steps"][11].as_u64().unwrap())
        .sum();
    assert!(pruned_total < 2 * 12 * 81, "{pruned_total}");
    let report = std::fs::read_to_string(dir.path().join("a/report.md")).unwrap();
    assert!(report.contains("## curves_parallel"), "{report}");
    assert!(report.contains("| hpo-random+median | 2 |"), "{report}");
    assert!(report.contains("## Targets"), "{report}");
    assert!(stdout.contains("hpo-random+default"), "{stdout}");
    // the same seeds give the same results
    run("b");
    assert_eq!(lines, untimed(&dir.path().join("b/results.jsonl")));
}

#[test]
fn the_oracle_is_run_beside_the_pruners_but_never_checked_against_the_targets() {
    let dir = tempfile::tempdir().unwrap();
    let o = hpo(
        dir.path(),
        &[
            "bench",
            "--problems",
            "curves_parallel",
            "--algos",
            "random",
            "--pruners",
            "oracle,median",
            "--seeds",
            "1",
            "--budget",
            "12",
            "--hindsight",
            "--quiet",
            "--out",
            "o",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = std::fs::read_to_string(dir.path().join("o/report.md")).unwrap();
    assert!(report.contains("| hpo-random+oracle | 1 |"), "{report}");
    // --hindsight: the pruned studies' stopped trials, run on; the oracle stopped 9 of its 12
    // trials (all but the 3 new bests), none wrongly
    let hindsight = report
        .split("## Stopped trials in hindsight")
        .nth(1)
        .expect("a hindsight section");
    assert!(
        hindsight.contains("| curves_parallel | hpo-random+oracle | 1 | 9 | 0 | 0.0% |  |"),
        "{hindsight}"
    );
    assert!(hindsight.contains("hpo-random+median") && !hindsight.contains("+none"));
    let results = std::fs::read_to_string(dir.path().join("o/results.jsonl")).unwrap();
    for line in results.lines() {
        let l: serde_json::Value = serde_json::from_str(line).unwrap();
        let pruned = l["optimizer"] != "hpo-random+none";
        assert_eq!(l.get("hindsight").is_some(), pruned, "{line}");
    }
    let targets = report
        .split("## Targets")
        .nth(1)
        .expect("a targets section");
    assert!(targets.contains("hpo-random+median"), "{targets}");
    assert!(!targets.contains("oracle"), "{targets}");
}

#[test]
fn bad_pruners_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec!["bench", "--problems", "fidelity", "--pruners", "medain"],
            "unknown pruner 'medain'",
        ),
        (
            vec![
                "bench",
                "--problems",
                "fidelity",
                "--pruners",
                "median:n_warmup_steps=-1",
            ],
            "n_warmup_steps",
        ),
        (
            vec!["bench", "--problems", "branin", "--pruners", "median"],
            "--pruners needs multi-fidelity problems",
        ),
        (
            vec!["bench", "--problems", "fidelity", "--step-budget", "100"],
            "--step-budget needs --pruners",
        ),
        (
            vec!["bench", "--problems", "fidelity", "--hindsight"],
            "--hindsight needs --pruners",
        ),
        (
            vec![
                "bench",
                "--problems",
                "fidelity",
                "--pruners",
                "median",
                "--step-budget",
                "0",
            ],
            "--step-budget must be at least 1",
        ),
        (
            vec![
                "bench",
                "--problems",
                "fidelity",
                "--pruners",
                "oracle:tolerance=-0.5",
            ],
            "tolerance = -0.5 must be a number at least 0",
        ),
    ] {
        let o = hpo(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The running total of steps of a result line.
fn steps_of(l: &serde_json::Value) -> Vec<u64> {
    serde_json::from_value(l["steps"].clone()).unwrap()
}

#[test]
fn a_step_budget_runs_pruned_studies_until_their_steps_reach_it() {
    use hpo::bench::fidelity;
    use hpo::bench::runner::{run_study, BenchProblem, StudyBudget};

    // without pruning, a budget of k * 81 steps is exactly k complete trials
    let problem: BenchProblem = fidelity::by_name("curves_parallel").unwrap().into();
    let k = 7;
    let r = run_study(&problem, "tpe", None, 3, StudyBudget::Steps(k * 81)).unwrap();
    assert_eq!(r.budget, k as usize);
    assert_eq!(r.steps.as_deref().unwrap().last(), Some(&(k * 81)));
    assert_eq!(r.step_budget, Some(k * 81));
    // the same trials as a study of k trials: same suggestions, same scores
    let by_trials = run_study(&problem, "tpe", None, 3, StudyBudget::Trials(k as usize)).unwrap();
    assert_eq!(r.best, by_trials.best);
    assert_eq!(by_trials.step_budget, None);
    // 40 steps more: one more trial, stopped after its 40th step; it gives no final value
    let r = run_study(&problem, "tpe", None, 3, StudyBudget::Steps(k * 81 + 40)).unwrap();
    let steps = r.steps.unwrap();
    assert_eq!((r.budget, steps[k as usize]), (k as usize + 1, k * 81 + 40));
    assert_eq!(r.best[k as usize], r.best[k as usize - 1]);
    // with pruners, the studies never go past the budget and end on it
    for name in ["curves_noisy", "sgd_diabetes"] {
        let problem: BenchProblem = fidelity::by_name(name).unwrap().into();
        for (pruner, seed) in [("median", 0), ("asha", 1), ("default", 2)] {
            let r =
                run_study(&problem, "tpe", Some(pruner), seed, StudyBudget::Steps(500)).unwrap();
            let steps = r.steps.unwrap();
            assert_eq!(steps.last(), Some(&500), "{name} {pruner}");
            assert_eq!((steps.len(), r.best.len()), (r.budget, r.budget));
            let mut prev = 0;
            for s in &steps {
                assert!(*s > prev && *s - prev <= 81, "{name} {pruner}: {steps:?}");
                prev = *s;
            }
        }
    }
    let branin: BenchProblem = hpo::bench::problems::by_name("branin").unwrap().into();
    let e = run_study(&branin, "random", None, 0, StudyBudget::Steps(10)).unwrap_err();
    assert!(e.contains("multi-fidelity"), "{e}");
}

#[test]
fn bench_with_a_step_budget_gives_the_pruned_studies_steps_and_the_baseline_trials() {
    let dir = tempfile::tempdir().unwrap();
    // a compared pruned study that ran 5 trials and 330 steps: cut to the 300-step budget
    let compared = r#"{"problem": "curves_parallel", "optimizer": "optuna-tpe+median", "seed": 0, "budget": 5, "best": [0.5, 0.4, 0.3, 0.2, 0.1], "regret": 0.1, "minimum": 0.0, "seconds": 1.0, "steps": [81, 162, 200, 281, 330]}"#;
    std::fs::write(dir.path().join("optuna.jsonl"), format!("{compared}\n")).unwrap();
    let o = hpo(
        dir.path(),
        &[
            "bench",
            "--problems",
            "curves_parallel",
            "--algos",
            "random,tpe",
            "--pruners",
            "median:n_startup_trials=2",
            "--seeds",
            "2",
            "--budget",
            "6",
            "--step-budget",
            "300",
            "--compare",
            "optuna.jsonl",
            "--quiet",
            "--out",
            "s",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = untimed(&dir.path().join("s/results.jsonl"));
    assert_eq!(lines.len(), 2 * 2 * 2);
    for l in &lines {
        let steps = steps_of(l);
        let n = l["budget"].as_u64().unwrap() as usize;
        assert_eq!(steps.len(), n, "{l}");
        if l["optimizer"].as_str().unwrap().ends_with("+none") {
            assert_eq!((n, steps[5]), (6, 6 * 81), "{l}");
            assert!(l.get("step_budget").is_none(), "{l}");
        } else {
            assert_eq!(steps.last(), Some(&300), "{l}");
            assert_eq!(l["step_budget"], 300, "{l}");
        }
    }
    let report = std::fs::read_to_string(dir.path().join("s/report.md")).unwrap();
    assert!(report.contains("added up to 300"), "{report}");
    // the compared line kept its first 4 trials (281 steps) and its regret there
    assert!(
        report.contains("| optuna-tpe+median | 1 | 0.2000 | 281 |"),
        "{report}"
    );
    // "at equal steps" is at the step budget
    assert!(report.contains("equal steps: 300"), "{report}");
}
