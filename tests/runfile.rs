//! Run files: valid files parse to the right space and settings; bad files give located errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hpo::objective::command::KeepOutput;
use hpo::runfile::{
    format_duration, parse_duration, DataSource, ObjectiveSpec, RunFile, RunFileError, Validation,
};
use hpo::space::ParamKind;
use hpo::{Space, Value};
use rand::SeedableRng;

const EXAMPLE: &str = r#"[study]
name = "nyc-taxi-xgboost"     # experiment name; default: the file's stem
algo = "tpe"
max_evals = 50
parallelism = 4
seed = 42
metric = "rmse"
timeout = "10m"
loss_threshold = 0.1
no_progress = 20

[objective]
command = ["python3", "train.py", "--max-depth", "{max_depth}", "--lr", "{learning_rate}"]
timeout = "5m"

[space]
max_depth = { quniform = [4, 100, 1], int = true }
learning_rate = { loguniform = [-3, 0] }
penalty = { choice = ["l1", "l2"] }
weights = { pchoice = [[0.3, "balanced"], [0.7, "none"]] }
objective = "reg:linear"
model = { choice = [ { type = "svm", C = { loguniform = [-4, 2] } },
                     { type = "tree", depth = { uniformint = [2, 20] } } ] }
[space.nested]
alpha = { uniform = [0, 1] }
"#;

fn parse(text: &str) -> RunFile {
    match RunFile::parse(text, "x.toml") {
        Ok(r) => r,
        Err(e) => panic!("expected a valid run file, got: {e}\n{text}"),
    }
}

fn labels(space: &Space) -> Vec<&str> {
    space.params().iter().map(|p| p.label.as_str()).collect()
}

fn raw(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[test]
fn the_example_parses() {
    let r = parse(EXAMPLE);
    let s = &r.study;
    assert_eq!(s.name.as_deref(), Some("nyc-taxi-xgboost"));
    assert_eq!(r.experiment_name(), "nyc-taxi-xgboost");
    assert_eq!(s.algo, "tpe");
    assert_eq!(s.max_evals, 50);
    assert_eq!(s.parallelism, 4);
    assert_eq!(s.seed, Some(42));
    assert_eq!(s.metric, "rmse");
    assert_eq!(s.timeout, Some(Duration::from_secs(600)));
    assert_eq!(s.loss_threshold, Some(0.1));
    assert_eq!(s.no_progress, Some(20));
    assert_eq!(
        r.objective,
        ObjectiveSpec::Command {
            argv: [
                "python3",
                "train.py",
                "--max-depth",
                "{max_depth}",
                "--lr",
                "{learning_rate}"
            ]
            .map(String::from)
            .to_vec(),
            timeout: Some(Duration::from_secs(300)),
            grace_period: None,
            keep_output: KeepOutput::Failed,
            output_limit: None,
        }
    );
    // Document order, a choice before the parameters of its branches.
    assert_eq!(
        labels(&r.space),
        [
            "max_depth",
            "learning_rate",
            "penalty",
            "weights",
            "model",
            "C",
            "depth",
            "alpha"
        ]
    );
    let names: Vec<&str> = r.space.params().iter().map(|p| p.dist_name).collect();
    assert_eq!(
        names,
        [
            "quniform",
            "loguniform",
            "choice",
            "pchoice",
            "choice",
            "loguniform",
            "uniformint",
            "uniform"
        ]
    );
    match &r.space.params()[0].kind {
        ParamKind::Numeric(n) => assert!(n.int),
        other => panic!("max_depth: {other:?}"),
    }
    match &r.space.params()[1].kind {
        ParamKind::Numeric(n) => assert!(n.log && !n.int),
        other => panic!("learning_rate: {other:?}"),
    }
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    // space_eval: constants pass through, choices select their option.
    let v = r
        .space
        .eval(&raw(&[
            ("max_depth", Value::Int(7)),
            ("learning_rate", Value::Float(0.5)),
            ("penalty", Value::Int(1)),
            ("weights", Value::Int(0)),
            ("model", Value::Int(1)),
            ("depth", Value::Int(5)),
            ("alpha", Value::Float(0.25)),
        ]))
        .unwrap();
    let m = v.as_map().unwrap();
    assert_eq!(m["max_depth"], Value::Int(7));
    assert_eq!(m["penalty"], Value::Str("l2".into()));
    assert_eq!(m["weights"], Value::Str("balanced".into()));
    assert_eq!(m["objective"], Value::Str("reg:linear".into()));
    let model = m["model"].as_map().unwrap();
    assert_eq!(model["type"], Value::Str("tree".into()));
    assert_eq!(model["depth"], Value::Int(5));
    assert_eq!(m["nested"].as_map().unwrap()["alpha"], Value::Float(0.25));

    // The summary for `hpo validate`.
    let text = r.to_string();
    assert!(
        text.contains("study: nyc-taxi-xgboost (algo = tpe, max_evals = 50"),
        "{text}"
    );
    assert!(text.contains("timeout = 10m"), "{text}");
    assert!(
        text.contains("objective: command: python3 train.py"),
        "{text}"
    );
    assert!(text.contains("(timeout 5m per trial)"), "{text}");
    assert!(text.contains("space: 8 parameters"), "{text}");
    assert!(text.contains("learning_rate = loguniform(-3, 0)"), "{text}");
}

#[test]
fn defaults_and_name_from_the_file_stem() {
    let r = RunFile::parse(
        "[objective]\nfunction = \"branin\"\n[space]\nx1 = { uniform = [-5, 10] }\nx2 = { uniform = [0, 15] }\n",
        "studies/my-study.toml",
    )
    .unwrap();
    assert_eq!(r.study.name, None);
    assert_eq!(r.experiment_name(), "my-study");
    assert_eq!(r.study.algo, "tpe");
    assert_eq!(r.study.max_evals, 100);
    assert_eq!(r.study.parallelism, 1);
    assert_eq!(r.study.seed, None);
    assert_eq!(r.study.metric, "loss");
    assert_eq!(r.study.timeout, None);
    assert_eq!(
        r.objective,
        ObjectiveSpec::Function {
            name: "branin".into()
        }
    );
}

#[test]
fn a_conditional_space_samples_only_active_branches() {
    let r = parse(
        r#"
[objective]
command = ["./train", "--kind={kind}", "--trial={trial}", "--id={run_id}", "{{literal}}"]

[space]
kind = { choice = [
    { kind = "svm", C = { loguniform = [-4, 2] }, kernel = { choice = ["rbf", "linear"], label = "svm_kernel" } },
    { kind = "knn", k = { randint = [1, 30] } },
    { kind = "none" },
] }
"#,
    );
    assert_eq!(labels(&r.space), ["kind", "C", "svm_kernel", "k"]);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let mut seen = BTreeMap::new();
    for _ in 0..300 {
        let p = r.space.params_of(r.space.sample_prior(&mut rng));
        let kind = p.tree().as_map().unwrap()["kind"].as_map().unwrap()["kind"]
            .as_str()
            .unwrap()
            .to_string();
        match kind.as_str() {
            "svm" => {
                assert!(p.contains("C") && p.contains("svm_kernel") && !p.contains("k"));
                let c = p.f64("C").unwrap();
                assert!((-4f64).exp() <= c && c <= 2f64.exp());
            }
            "knn" => {
                assert!(!p.contains("C") && p.contains("k"));
                let k = p.i64("k").unwrap();
                assert!((1..30).contains(&k));
            }
            _ => assert!(!p.contains("C") && !p.contains("k")),
        }
        *seen.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
}

#[test]
fn linfa_objectives() {
    let r = RunFile::parse(
        "[objective]\nlinfa = \"ridge\"\ncsv = \"data/train.csv\"\ntarget = \"price\"\nfolds = 5\nmetric = \"mae\"\n[space]\npenalty = { loguniform = [-5, 1] }\n",
        "runs/house.toml",
    )
    .unwrap();
    assert_eq!(
        r.objective,
        ObjectiveSpec::Linfa {
            model: "ridge".into(),
            data: DataSource::Csv {
                path: PathBuf::from("runs/data/train.csv"),
                target: "price".into()
            },
            validation: Validation::KFold(5),
            metric: "mae".into(),
        }
    );
    let r = parse("[objective]\nlinfa = \"decision_tree\"\ndataset = \"iris\"\n[space]\ndepth = { uniformint = [1, 10] }\n");
    assert_eq!(
        r.objective,
        ObjectiveSpec::Linfa {
            model: "decision_tree".into(),
            data: DataSource::Bundled("iris".into()),
            validation: Validation::Holdout(0.2),
            metric: "accuracy".into(),
        }
    );
    assert_eq!(
        r.objective.to_string(),
        "linfa decision_tree on bundled data set iris, hold-out 20%, metric accuracy"
    );
    assert_eq!(Validation::Holdout(0.3).to_string(), "hold-out 30%");
}

#[test]
fn every_shipped_space_file_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("spaces");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let r = RunFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            r.warnings.is_empty(),
            "{}: {:?}",
            path.display(),
            r.warnings
        );
        n += 1;
    }
    assert!(n >= 4, "only {n} files in spaces/");
}

#[test]
fn shipped_files_have_the_documented_content() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("spaces");
    let q = RunFile::load(dir.join("quickstart.toml")).unwrap();
    assert_eq!(
        (q.study.max_evals, q.study.parallelism, q.study.seed),
        (50, 2, Some(42))
    );
    assert_eq!(
        q.objective,
        ObjectiveSpec::Linfa {
            model: "elasticnet".into(),
            data: DataSource::Bundled("diabetes".into()),
            validation: Validation::Holdout(0.2),
            metric: "rmse".into(),
        }
    );
    assert_eq!(labels(&q.space), ["alpha", "l1_ratio"]);
    assert_eq!(q.space.params()[0].dist_name, "loguniform");

    let b = RunFile::load(dir.join("branin.toml")).unwrap();
    assert_eq!(
        b.objective,
        ObjectiveSpec::Function {
            name: "branin".into()
        }
    );

    let c = RunFile::load(dir.join("conditional.toml")).unwrap();
    let problem = hpo::bench::problems::by_name("mixed_hpo").unwrap();
    assert_eq!(labels(&c.space), labels(&problem.space));

    let l = RunFile::load(dir.join("logreg_penalty.toml")).unwrap();
    match &l.objective {
        ObjectiveSpec::Command { argv, .. } => assert_eq!(
            argv.join(" "),
            "python3 examples/train_logreg.py --C {C} --penalty {penalty}"
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn io_errors_name_the_file() {
    let e = RunFile::load("does/not/exist.toml").unwrap_err();
    assert!(matches!(e, RunFileError::Io { .. }));
    assert!(
        e.to_string()
            .starts_with("does/not/exist.toml: cannot read"),
        "{e}"
    );
}

#[test]
fn durations() {
    let ok = [
        ("90s", 90_000),
        ("10m", 600_000),
        ("1h30m", 5_400_000),
        ("500ms", 500),
        ("1.5h", 5_400_000),
        ("2m 30s", 150_000),
    ];
    for (text, ms) in ok {
        assert_eq!(
            parse_duration(text),
            Ok(Duration::from_millis(ms)),
            "{text}"
        );
    }
    assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
    assert_eq!(format_duration(Duration::from_millis(90_500)), "1m30s500ms");
    for bad in ["", "10", "10 min", "h", "-5s", "0s", "1x", "1.2.3s"] {
        assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
    }
    let r = parse("[study]\ntimeout = 90\n[objective]\ncommand = [\"true\"]\ntimeout = 2.5\n[space]\nx = { uniform = [0, 1] }\n");
    assert_eq!(r.study.timeout, Some(Duration::from_secs(90)));
    assert_eq!(
        r.objective,
        ObjectiveSpec::Command {
            argv: vec!["true".into()],
            timeout: Some(Duration::from_millis(2500)),
            grace_period: None,
            keep_output: KeepOutput::Failed,
            output_limit: None,
        }
    );
    // the trial's output and how it is stopped
    let r = parse("[objective]\ncommand = [\"true\"]\ngrace_period = \"500ms\"\nkeep_output = \"always\"\noutput_limit = \"2MiB\"\n[space]\nx = { uniform = [0, 1] }\n");
    assert_eq!(
        r.objective,
        ObjectiveSpec::Command {
            argv: vec!["true".into()],
            timeout: None,
            grace_period: Some(Duration::from_millis(500)),
            keep_output: KeepOutput::Always,
            output_limit: Some(2 * 1024 * 1024),
        }
    );
}

#[test]
fn warnings_for_likely_mistakes() {
    let r = parse(
        "[objective]\ncommand = [\"true\"]\n[space]\nlr = { loguniform = [0.001, 1] }\nn = { quniform = [1, 10, 1] }\nonly = { choice = [\"a\"] }\nok = { quniform = [1, 10, 1], int = true }\nexp = { loguniform = [-7, 0] }\n",
    );
    let w: Vec<String> = r.warnings.iter().map(|d| d.to_string()).collect();
    assert_eq!(w.len(), 3, "{w:?}");
    assert!(w[0].starts_with("x.toml:4:6: "), "{}", w[0]);
    assert!(
        w[0].contains("bounds are natural-log exponents")
            && w[0].contains("did you mean [-6.9, 0]?"),
        "{}",
        w[0]
    );
    assert!(
        w[1].starts_with("x.toml:5:5: ") && w[1].contains("int = true"),
        "{}",
        w[1]
    );
    assert!(
        w[2].starts_with("x.toml:6:8: ") && w[2].contains("single option"),
        "{}",
        w[2]
    );
    assert!(r.to_string().contains("warning: x.toml:4:6:"));
}

/// (file text, line, column, a phrase of the message)
type Case = (String, usize, usize, &'static str);

/// A run file with a command objective and `space` as the [space] table (from line 5).
fn sp(space: &str) -> String {
    format!("[objective]\ncommand = [\"true\"]\n\n[space]\n{space}\n")
}

/// A run file with `line` as line 2 of [study].
fn st(line: &str) -> String {
    format!("[study]\n{line}\n\n[objective]\ncommand = [\"true\"]\n\n[space]\nx = {{ uniform = [0, 1] }}\n")
}

/// A run file with `lines` as [objective] (from line 2) and one parameter `x`.
fn ob(lines: &str) -> String {
    format!("[objective]\n{lines}\n\n[space]\nx = {{ uniform = [0, 1] }}\n")
}

fn bad_files() -> Vec<Case> {
    vec![
        // [space]
        (sp("learning_rate = { loguniforn = [-3, 0] }"), 5, 17,
         "unknown distribution 'loguniforn' for 'learning_rate': did you mean loguniform? Expected one of choice, pchoice, uniform"),
        (sp("lr = { uniform = [1, 0] }"), 5, 18, "parameter 'lr': low (1) must be less than high (0)"),
        (sp("lr = { uniform = [0, 1, 2] }"), 5, 18, "'uniform' for 'lr' takes 2 numbers: uniform = [low, high]; got 3 values"),
        (sp("lr = { uniform = [0, \"a\"] }"), 5, 22, "takes numbers: uniform = [low, high]; got a string"),
        (sp("n = { randint = [0, 2.5] }"), 5, 21, "takes integers"),
        (sp("x = { uniform = [0, 1], int = true }"), 5, 31, "int = true applies only to quantized distributions"),
        (sp("x = { uniform = [0, 1], normal = [0, 1] }"), 5, 25, "exactly one distribution"),
        (sp("x = { uniform = [0, 1], lable = \"y\" }"), 5, 25, "unknown key 'lable' in parameter 'x'"),
        (sp("x = { choice = [] }"), 5, 16, "at least one option"),
        (sp("x = { pchoice = [[0.5, \"a\"], [0.6, \"b\"]] }"), 5, 17, "must sum to 1"),
        (sp("x = { pchoice = [0.5, \"a\"] }"), 5, 18, "pair [probability, option]"),
        (sp("x = { normal = [0, -1] }"), 5, 16, "sigma must be > 0"),
        (sp("x = { quniform = [0, 10, 0] }"), 5, 18, "q must be > 0"),
        (sp("a = { uniform = [0, 1] }\nb = { uniform = [0, 2], label = \"a\" }"), 6, 5,
         "label 'a' is already used by a different parameter (defined at line 5, column 5)"),
        (sp("x = { uniform = 5 }"), 5, 17, "must be an array: uniform = [low, high]; got an integer"),
        (sp("x = { uniform = [0, 1], label = 3 }"), 5, 33, "label must be a string"),
        (sp("m = { choice = [{ uniform = [0, 1] }, 2] }"), 5, 17, "needs a label"),
        (sp("d = 1979-05-27"), 5, 5, "datetimes are not supported"),
        (sp("x = { loguniform = [1, 800] }"), 5, 20, "natural-log exponents"),
        (sp("x = { uniformint = [5, 5.5] }"), 5, 24, "takes integers"),
        (sp("k = 1"), 4, 1, "defines no parameter"),
        (sp("[space.inner]\nx = { uniform = [2, 1] }"), 6, 17, "low (2) must be less than high (1)"),
        (sp("x = { label = \"é\", uniform = [1, 0] }"), 5, 30, "parameter 'é': low (1) must be less than high (0)"),
        (sp("m = { choice = [{ a = { uniform = [0, 1] } }, { a = { uniform = [0, 2] } }] }"), 5, 53,
         "label 'a' is already used by a different parameter (defined at line 5, column 23)"),
        (sp("x = { uniform = [0, inf] }"), 5, 17, "must be a finite number, got inf"),
        (sp("x = { unifrom = [0, 1] }"), 5, 5, "unknown distribution 'unifrom' for 'x'"),
        (sp("m = { choice = [{ type = \"a\", c = { Uniform = [0, 1] } }] }"), 5, 35, "unknown distribution 'Uniform' for 'c'"),
        // [study]
        (st("max_eval = 50"), 2, 1,
         "unknown key 'max_eval' in [study] (did you mean 'max_evals'?); expected one of name, algo, max_evals, parallelism"),
        (st("algo = \"tpee\""), 2, 8, "unknown algorithm 'tpee'; expected one of tpe, tpe-hyperopt, random, anneal"),
        (st("max_evals = \"50\""), 2, 13, "'max_evals' in [study] must be an integer >= 1, got a string"),
        (st("max_evals = 0"), 2, 13, "must be an integer >= 1, got 0"),
        (st("timeout = \"10 min\""), 2, 11, "unknown unit 'min'; expected h, m, s or ms"),
        (st("timeout = -5"), 2, 11, "must be positive"),
        (st("timeout = true"), 2, 11, "expected a duration such as \"90s\""),
        (st("seed = -1"), 2, 8, "must be an integer >= 0, got -1"),
        (st("loss_threshold = \"low\""), 2, 18, "must be a number, got a string"),
        (st("parallelism = 2.5"), 2, 15, "must be an integer >= 1, got a float"),
        (st("parallelism = 1000000000"), 2, 15, "must be at most 1024 (trials at once)"),
        // [objective]
        (ob("command = [\"python3\", \"t.py\", \"--lr\", \"{lr}\"]"), 2, 40,
         "placeholder '{lr}' in the command is not a label or constant of the space; expected one of x, trial, run_id"),
        (ob("command = [\"python3\", \"t.py\"]\nlinfa = \"linear\""), 3, 1, "both 'command' and 'linfa'"),
        (ob("comand = [\"x\"]"), 2, 1, "unknown key 'comand' in [objective] (did you mean 'command'?)"),
        (ob("linfa = \"svm\"\ndataset = \"iris\""), 2, 9, "unknown linfa model 'svm'; expected one of linear, elasticnet"),
        (ob("linfa = \"linear\"\ndataset = \"boston\""), 3, 11, "unknown dataset 'boston'; expected one of diabetes, winequality, iris"),
        (ob("linfa = \"linear\"\ndataset = \"diabetes\"\nmetric = \"accuracy\""), 4, 10, "regression model; its metric must be rmse, mae or r2"),
        (ob("linfa = \"linear\"\ncsv = \"data.csv\""), 3, 7, "needs target"),
        (ob("linfa = \"linear\"\ndataset = \"diabetes\"\nvalidation = 1.5"), 4, 14, "must be in (0, 1)"),
        (ob("linfa = \"linear\"\ndataset = \"diabetes\"\nfolds = 1"), 4, 9, "must be an integer >= 2"),
        (ob("linfa = \"linear\""), 2, 9, "needs data"),
        (ob("linfa = \"decision_tree\"\ndataset = \"diabetes\""), 3, 11, "classifier"),
        (ob("function = \"braninn\""), 2, 12, "unknown function 'braninn'; expected one of branin"),
        (ob("function = \"branin\""), 2, 12, "reads the parameters x1, x2, but [space] has no x1, x2"),
        (ob("command = [\"true\"]\ndataset = \"iris\""), 3, 1, "does not apply to a command objective"),
        (ob("timeout = \"5m\""), 1, 1, "needs exactly one of command"),
        (ob("command = [\"run\", 42]"), 2, 19, "each command argument must be a string"),
        ("[objective]\ncommand = [\"echo\", \"{trial}\"]\n\n[space]\ntrial = { uniform = [0, 1] }\n".to_string(), 2, 21,
         "placeholder '{trial}' is ambiguous: [space] has a parameter or constant named 'trial'"),
        ("[objective]\ncommand = [\"echo\", \"--id={run_id}\"]\n\n[space]\nx = { uniform = [0, 1], label = \"run_id\" }\n".to_string(), 2, 26,
         "placeholder '{run_id}' is ambiguous: [space] has a parameter or constant named 'run_id'"),
        (ob("command = []"), 2, 11, "command must not be empty"),
        (ob("command = [\"true\"]\ntimeout = \"5 parsecs\""), 3, 11, "unknown unit 'parsecs'"),
        // top level
        ("[objective]\ncommand = [\"true\"]\n".to_string(), 3, 1, "missing [space] table"),
        ("[space]\nx = { uniform = [0, 1] }\n".to_string(), 3, 1, "missing [objective] table"),
        (format!("[studdy]\nname = \"a\"\n{}", ob("command = [\"true\"]")), 1, 2, "unknown table 'studdy'"),
        (format!("study = 5\n{}", ob("command = [\"true\"]")), 1, 9, "'study' must be a table"),
        // TOML syntax
        (sp("x = { uniform = [0, 1 }"), 5, 23, "TOML syntax error"),
        (sp("x = 1\nx = 2"), 6, 1, "TOML syntax error: duplicate key"),
    ]
}

#[test]
fn bad_files_give_located_errors() {
    let cases = bad_files();
    assert!(cases.len() >= 25);
    let mut failures = Vec::new();
    for (text, line, col, phrase) in &cases {
        let msg = match RunFile::parse(text, "spaces/bad.toml") {
            Ok(_) => {
                failures.push(format!("accepted:\n{text}"));
                continue;
            }
            Err(e) => {
                let d = e.diagnostic().expect("a located error");
                assert_eq!(d.to_string(), e.to_string());
                e.to_string()
            }
        };
        let want = format!("spaces/bad.toml:{line}:{col}: ");
        if !msg.starts_with(&want) || !msg.contains(phrase) {
            failures.push(format!("want {want}...{phrase}\n got {msg}\n in:\n{text}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// (space line, column of the table, the suggestion and a phrase of the message)
const MISSPELT: [(&str, usize, &str, &str); 8] = [
    (
        "lr = { logunif = [-5, 0] }",
        6,
        "did you mean loguniform?",
        "unknown distribution 'logunif' for 'lr'",
    ),
    (
        "lr = { log_uniform = [-5, 0] }",
        6,
        "did you mean loguniform?",
        "unknown distribution 'log_uniform'",
    ),
    (
        "x = { unif = [0, 1] }",
        5,
        "did you mean uniform?",
        "unknown distribution 'unif' for 'x'",
    ),
    (
        "n = { qunifrom = [0, 10, 1] }",
        5,
        "did you mean quniform?",
        "unknown distribution 'qunifrom'",
    ),
    (
        "s = { lognorm = [0, 1] }",
        5,
        "did you mean lognormal?",
        "unknown distribution 'lognorm'",
    ),
    (
        "c = { chioce = [\"a\", \"b\"] }",
        5,
        "did you mean choice?",
        "unknown distribution 'chioce'",
    ),
    (
        "x = { between = [0, 1] }",
        5,
        "did you mean ",
        "only key 'between' holds 2 numbers",
    ),
    (
        "x = { stepped = [0, 10, 2] }",
        5,
        "did you mean ",
        "only key 'stepped' holds 3 numbers",
    ),
];

#[test]
fn misspelt_distribution_keys_are_errors_with_a_suggestion() {
    for (line, col, suggestion, phrase) in MISSPELT {
        let text = sp(&format!("y = {{ uniform = [0, 1] }}\n{line}"));
        let msg = match RunFile::parse(&text, "spaces/typo.toml") {
            Ok(r) => panic!("accepted {line}: labels {:?}", labels(&r.space)),
            Err(e) => e.to_string(),
        };
        let want = format!("spaces/typo.toml:6:{col}: ");
        assert!(msg.starts_with(&want), "want {want}..., got {msg}");
        assert!(msg.contains(suggestion), "{msg} lacks {suggestion}");
        assert!(msg.contains(phrase), "{msg} lacks {phrase}");
    }
    // a single-key table of non-numbers, or of more keys, stays a constant map
    let r = parse(&sp("x = { uniform = [0, 1] }\nm = { name = \"a\" }\nk = { a = [1, 2], b = 3 }\nl = { vals = [1, 2, 3, 4, 5] }"));
    assert_eq!(labels(&r.space), ["x"]);
}

#[test]
fn validate_refuses_a_misspelt_distribution_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, sp("lr = { logunif = [-5, 0] }")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hpo"))
        .arg("validate")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("typo.toml:5:6: "), "{stderr}");
    assert!(stderr.contains("did you mean loguniform?"), "{stderr}");
}

#[test]
fn tables_numbers_and_reused_definitions() {
    let r = parse(
        "[study]\nmax_evals = 1_000\nseed = 0x10\n[objective]\ncommand = [\"run\", \"{a}\"]\n[space]\nm = { choice = [{ a = { uniform = [0, 1] } }, { a = { uniform = [0, 1] }, b = [1, 2.5, \"s\", true] }] }\n[space.lr]\nloguniform = [-5, 0]\nlabel = \"learning_rate\"\n[[space.layers]]\nunits = { uniformint = [8, 64] }\n",
    );
    assert_eq!((r.study.max_evals, r.study.seed), (1000, Some(16)));
    assert_eq!(labels(&r.space), ["m", "a", "learning_rate", "units"]);
    let v = r
        .space
        .eval(&raw(&[
            ("m", Value::Int(1)),
            ("a", Value::Float(0.5)),
            ("learning_rate", Value::Float(0.1)),
            ("units", Value::Int(9)),
        ]))
        .unwrap();
    let m = v.as_map().unwrap();
    assert_eq!(
        m["m"].as_map().unwrap()["b"],
        Value::List(vec![
            Value::Int(1),
            Value::Float(2.5),
            Value::Str("s".into()),
            Value::Bool(true)
        ])
    );
    assert_eq!(m["lr"], Value::Float(0.1));
    assert_eq!(
        m["layers"],
        Value::List(vec![Value::Map(
            [("units".to_string(), Value::Int(9))].into_iter().collect()
        )])
    );
}

#[test]
fn syntax_errors_are_their_own_kind() {
    let e = RunFile::parse("[space\n", "a.toml").unwrap_err();
    assert!(matches!(e, RunFileError::Syntax(_)), "{e:?}");
    let e = RunFile::parse(&sp("x = { uniform = [1, 0] }"), "a.toml").unwrap_err();
    assert!(matches!(e, RunFileError::Invalid(_)), "{e:?}");
}

#[test]
fn a_space_alone_can_be_read() {
    let s = hpo::space::toml::parse_space("x = { uniform = [0, 1] }\ny = { choice = [1, 2, 3] }\n")
        .unwrap();
    assert_eq!(labels(&s.space), ["x", "y"]);
    assert_eq!(s.definition("y").unwrap().span, 29..51);
    let e = hpo::space::toml::parse_space("x = { uniform = [1, 0] }").unwrap_err();
    assert_eq!(e.span, 16..22);
}

/// Runs `hpo` with `args` against a store in `dir`, killing it if it is still running after
/// 20 s (a hang would otherwise block the test forever); returns (exit code, stderr, seconds).
fn hpo_bounded(dir: &Path, args: &[&str]) -> (Option<i32>, String, f64) {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let start = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .env(
            "HPO_TRACKING_URI",
            format!("sqlite:///{}", dir.join("hpo.db").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (code, err, start.elapsed().as_secs_f64())
}

#[test]
fn run_files_that_are_not_small_regular_files_are_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.toml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let big = dir.path().join("big.toml");
    // valid TOML all the way (a comment), 2 MB
    let mut text = EXAMPLE.to_string();
    while text.len() < 2_000_000 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, &text).unwrap();
    let a_dir = dir.path().join("adir.toml");
    std::fs::create_dir(&a_dir).unwrap();
    let cases: [(&Path, &str); 4] = [
        (&fifo, "FIFO"),
        (Path::new("/dev/zero"), "character device"),
        (&a_dir, "directory"),
        (&big, "larger than"),
    ];
    for (path, what) in cases {
        let p = path.to_str().unwrap();
        for cmd in ["validate", "run"] {
            let (code, err, secs) = hpo_bounded(dir.path(), &[cmd, p]);
            assert_eq!(code, Some(2), "{cmd} {p}: {err}");
            assert!(
                err.contains(p),
                "{cmd} {p}: the error names the file: {err}"
            );
            assert!(err.contains(what), "{cmd} {p}: says '{what}': {err}");
            assert!(secs < 10.0, "{cmd} {p} took {secs} s");
        }
        // the library says the same without touching the file's contents
        let e = RunFile::load(path).unwrap_err();
        assert!(
            matches!(
                e,
                RunFileError::NotAFile { .. } | RunFileError::TooLarge { .. }
            ),
            "{e:?}"
        );
    }
    assert!(!dir.path().join("hpo.db").exists(), "no store was created");
    // a file just under the limit still loads
    let mut ok = EXAMPLE.to_string();
    while ok.len() < 900_000 {
        ok.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let ok_path = dir.path().join("ok.toml");
    std::fs::write(&ok_path, &ok).unwrap();
    RunFile::load(&ok_path).unwrap();
}

#[test]
fn unsampleable_ranges_give_located_errors_naming_the_parameter() {
    for (line, col) in [
        ("big = { quniform = [0, 1e300, 1e-300] }", 20),
        ("big = { normal = [0, 1e308] }", 18),
        ("big = { lognormal = [700, 10] }", 21),
        ("big = { uniform = [-1.7e308, 1.7e308] }", 19),
        ("big = { quniform = [0, 1e300, 1], int = true }", 20),
    ] {
        let msg = match RunFile::parse(&sp(line), "spaces/edge.toml") {
            Ok(_) => panic!("accepted {line}"),
            Err(e) => e.to_string(),
        };
        let want = format!("spaces/edge.toml:5:{col}: parameter 'big': ");
        assert!(msg.starts_with(&want), "want {want}..., got {msg}");
        assert!(
            msg.contains("cannot be sampled finitely and exactly"),
            "{msg}"
        );
    }
}

/// A run file with `lines` as [pruner] (from line 8).
fn pr(lines: &str) -> String {
    format!("[objective]\ncommand = [\"true\"]\n\n[space]\nx = {{ uniform = [0, 1] }}\n\n[pruner]\n{lines}\n")
}

#[test]
fn pruner_tables_parse() {
    use hpo::runfile::PrunerKind;
    use hpo::study::prune::{Percentile, Threshold};
    let r = parse(&pr(
        "kind = \"median\"\nmetric = \"val_loss\"\nn_warmup_steps = 3",
    ));
    let p = r.pruner.unwrap();
    assert_eq!(p.metric.as_deref(), Some("val_loss"));
    assert_eq!(
        p.kind,
        PrunerKind::Median(Percentile {
            percentile: 50.0,
            n_startup_trials: 5,
            n_warmup_steps: 3,
            interval_steps: 1,
            n_min_trials: 1,
        })
    );
    assert_eq!(p.kind.build().name(), "median");
    let p = parse(&pr(
        "kind = \"asha\"\nmin_resource = \"auto\"\nreduction_factor = 3",
    ))
    .pruner
    .unwrap();
    assert_eq!(
        p.kind,
        PrunerKind::Asha {
            min_resource: None,
            reduction_factor: 3,
            min_early_stopping_rate: 0,
            bootstrap_count: 0
        }
    );
    assert_eq!(p.metric, None);
    let p = parse(&pr("kind = \"hyperband\"\nmax_resource = 27"))
        .pruner
        .unwrap();
    assert_eq!(
        p.kind,
        PrunerKind::Hyperband {
            min_resource: 1,
            max_resource: 27,
            reduction_factor: 3,
            bootstrap_count: 0
        }
    );
    let hb = p.kind.build();
    assert_eq!(hb.name(), "hyperband");
    assert_eq!(hb.sampler_brackets().unwrap().budgets(), &[27, 12, 6, 4]);
    let p = parse(&pr(
        "kind = \"patient\"\npatience = 2\nmin_delta = 0.01\n[pruner.wrapped]\nkind = \"threshold\"\nupper = 5",
    ))
    .pruner
    .unwrap();
    assert_eq!(
        p.kind,
        PrunerKind::Patient {
            wrapped: Some(Box::new(PrunerKind::Threshold(
                Threshold::new(None, Some(5.0)).unwrap()
            ))),
            patience: 2,
            min_delta: 0.01,
        }
    );
    assert_eq!(p.kind.build().name(), "patient");
    let p = parse(&pr(
        "kind = \"extrapolate\"\nn_warmup_steps = 8\nforecast_tolerance = 0\nanalogies = false\ntangent = true",
    ))
    .pruner
    .unwrap();
    let mut expected = hpo::study::prune::Extrapolate::default();
    expected.n_warmup_steps = 8;
    expected.forecast_tolerance = 0.0;
    expected.analogies = false;
    expected.tangent = Some(true);
    assert_eq!(p.kind, PrunerKind::Extrapolate(expected));
    assert_eq!(p.kind.build().name(), "extrapolate");
    assert_eq!(
        parse(&pr("kind = \"none\"")).pruner.unwrap().kind,
        PrunerKind::None
    );
    assert!(parse(&sp("x = { uniform = [0, 1] }")).pruner.is_none());
}

#[test]
fn bad_pruner_tables_give_located_errors() {
    let cases: Vec<Case> = vec![
        (pr("kind = \"medain\""), 8, 8, "unknown pruner kind 'medain'; expected one of median, percentile, asha, hyperband, threshold, patient, extrapolate, none"),
        (pr("kind = \"extrapolate\"\nz = -1"), 9, 5, "'z' is -1; expected a number, 0 or more"),
        (pr("kind = \"extrapolate\"\nn_min_trials = 3"), 9, 1, "unknown key 'n_min_trials' in [pruner]; expected one of kind, metric, percentile, n_startup_trials, n_warmup_steps, interval_steps, z, forecast_tolerance, analogies, tangent"),
        (pr("kind = \"extrapolate\"\nanalogies = 1"), 9, 13, "'analogies' in [pruner] must be true or false, got an integer"),
        (pr("kind = \"extrapolate\"\ntangent = \"auto\""), 9, 11, "'tangent' in [pruner] must be true or false, got a string"),
        (pr("kind = \"extrapolate\"\nforecast_tolerance = -0.5"), 9, 22, "'forecast_tolerance' is -0.5; expected a number, 0 or more"),
        (pr("metric = \"val_loss\""), 7, 1, "[pruner] needs kind = one of median"),
        (pr("kind = \"median\"\nreduction_factor = 2"), 9, 1, "unknown key 'reduction_factor' in [pruner]; expected one of kind, metric, n_startup_trials"),
        (pr("kind = \"asha\"\nreduction_factor = 1"), 9, 20, "'reduction_factor' is 1; expected 2 or more"),
        (pr("kind = \"asha\"\nmin_resource = \"soon\""), 9, 16, "'min_resource' in [pruner] must be an integer >= 1 or \"auto\", got a string"),
        (pr("kind = \"hyperband\"\nmin_resource = 2"), 7, 1, "kind = \"hyperband\" needs max_resource = an integer >= 1"),
        (pr("kind = \"hyperband\"\nmin_resource = 5\nmax_resource = 3"), 10, 16, "'max_resource' is 3; expected at least min_resource"),
        (pr("kind = \"hyperband\"\nmax_resource = 9\nreduction_factor = 1"), 10, 20, "'reduction_factor' in [pruner] must be an integer >= 2, got 1"),
        (pr("kind = \"percentile\""), 7, 1, "needs percentile = a number from 0 to 100"),
        (pr("kind = \"percentile\"\npercentile = 150"), 9, 14, "'percentile' is 150; expected a number from 0 to 100"),
        (pr("kind = \"median\"\ninterval_steps = 0"), 9, 18, "'interval_steps' in [pruner] must be an integer >= 1, got 0"),
        (pr("kind = \"threshold\"\nlower = 2\nupper = 1"), 9, 9, "expected lower <= upper"),
        (pr("kind = \"threshold\""), 7, 1, "give lower, upper or both"),
        (pr("kind = \"patient\"\npatience = 2\nwrapped = \"median\""), 10, 11, "'wrapped' in [pruner] must be a table"),
        (pr("kind = \"patient\"\npatience = 2\nmin_delta = -1"), 10, 13, "'min_delta' is -1; expected a number >= 0"),
        (pr("kind = \"patient\"\npatience = 1\n[pruner.wrapped]\nkind = \"median\"\nmetric = \"x\""), 12, 1, "unknown key 'metric' in [pruner.wrapped]"),
        (pr("kind = \"median\"\nmetric = \"\""), 9, 10, "'metric' in [pruner] must not be empty"),
    ];
    let mut failures = Vec::new();
    for (text, line, col, phrase) in &cases {
        let msg = match RunFile::parse(text, "bad.toml") {
            Ok(_) => {
                failures.push(format!("accepted:\n{text}"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        let want = format!("bad.toml:{line}:{col}: ");
        if !msg.starts_with(&want) || !msg.contains(phrase) {
            failures.push(format!("want {want}...{phrase}\n got {msg}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn braces_that_are_not_placeholders_are_kept() {
    let f = parse(&ob(
        r#"command = ["python3", "-c", "d = {'a': 1}; s = '{{x}}'; print({'k': d['a'] * {x}}['k'] if s == '{x' + '}' else -1)"]"#,
    ));
    let ObjectiveSpec::Command { argv, .. } = &f.objective else {
        panic!("a command objective");
    };
    assert_eq!(argv.len(), 3);
    // a param labelled like a trial placeholder is fine while the command does not use it
    parse("[objective]\ncommand = [\"true\"]\n\n[space]\ntrial = { uniform = [0, 1] }\n");

    // end to end: python gets its braces, `{{x}}` becomes `{x}`, `{x}` the value
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("braces.toml");
    std::fs::write(
        &file,
        format!("[study]\nmax_evals = 3\nseed = 1\n{}", ob(
            r#"command = ["python3", "-c", "d = {'a': 1}; s = '{{x}}'; print({'k': d['a'] * {x}}['k'] if s == '{x' + '}' else -1)"]"#,
        )),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["run", file.to_str().unwrap(), "--json"])
        .env(
            "HPO_TRACKING_URI",
            format!("sqlite:///{}", dir.path().join("hpo.db").display()),
        )
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["trials"].as_u64(), v["failed"].as_u64()),
        (Some(3), Some(0)),
        "{v}"
    );
    // the loss is x itself: the placeholder was substituted and the literal braces survived
    assert_eq!(v["best"]["loss"], v["best"]["params"]["x"], "{v}");
}

#[test]
fn a_clash_with_a_trial_placeholder_exits_2_naming_the_param() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("clash.toml");
    std::fs::write(
        &file,
        "[objective]\ncommand = [\"echo\", \"{trial}\"]\n\n[space]\ntrial = { uniform = [0, 1] }\n",
    )
    .unwrap();
    for cmd in ["validate", "run"] {
        let (code, err, _) = hpo_bounded(dir.path(), &[cmd, file.to_str().unwrap()]);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(
            err.contains("'trial'") && err.contains("ambiguous"),
            "{err}"
        );
    }
    assert!(!dir.path().join("hpo.db").exists());
}

#[test]
fn a_placeholder_inside_a_shell_script_is_warned_about() {
    let r = parse(&ob(
        r#"command = ["bash", "-c", "python3 t.py --x {x} --n {trial}"]"#,
    ));
    let w: Vec<String> = r.warnings.iter().map(|d| d.to_string()).collect();
    // {x} only: the trial number is hpo's own and safe
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("x.toml:2:44: "), "{}", w[0]);
    assert!(
        w[0].contains("'{x}'") && w[0].contains("become shell code") && w[0].contains("HPO_PARAMS"),
        "{}",
        w[0]
    );
    // the safe forms: argv, and values after the script ($1)
    for safe in [
        r#"command = ["python3", "t.py", "--x", "{x}"]"#,
        r#"command = ["sh", "-c", "python3 t.py --x \"$1\"", "sh", "{x}"]"#,
        r#"command = ["sh", "run.sh", "{x}"]"#,
    ] {
        assert!(parse(&ob(safe)).warnings.is_empty(), "{safe}");
    }
    // validate shows it and still succeeds
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shell.toml");
    std::fs::write(&file, ob(r#"command = ["/bin/sh", "-ec", "echo {x}"]"#)).unwrap();
    let (code, err, _) = hpo_bounded(dir.path(), &["validate", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["validate", file.to_str().unwrap()])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains("warning:") && all.contains("become shell code"),
        "{all}"
    );
}
