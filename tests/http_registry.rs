//! The model registry and the compare-and-set of a run tag over `--tracking-uri http://...`,
//! against a real `hpo server` process the test starts on a loopback port over a SQLite file.
//!
//! A linfa study is run through the server, then registered (`--study`, `--run`, `--best`),
//! listed, shown, aliased, staged, described, predicted with and deleted, every command a client
//! of the server; what they did is checked in the server's own SQLite store, and the predictions
//! through `models:/NAME@ALIAS` equal those `hpo predict` makes on that SQLite file directly.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Barrier};

use hpo::registry::{Registry, Stage};
use hpo::tracking::http::HttpStore;
use hpo::tracking::{NewRun, Store};

/// `hpo server`, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hpo server` over `db` on a free loopback port; returns it and its URL.
fn start_server(db: &Path, cwd: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(["server", "--backend-store-uri", db.to_str().unwrap()])
        .args(["--port", "0"])
        .current_dir(cwd)
        .env_remove("HPO_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = common::proc::server_url(&mut child);
    (Server(child), url)
}

fn hpo(dir: &Path, uri: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(args)
        .args(["--tracking-uri", uri])
        .current_dir(dir)
        .env_remove("HPO_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn predictions(text: &str) -> Vec<f64> {
    text.lines().skip(1).map(|l| l.parse().unwrap()).collect()
}

#[test]
fn registry_commands_work_against_hpo_server() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("server.db");
    let (_server, url) = start_server(&db, d);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let space = root.join("spaces/quickstart.toml");
    let data = root.join("data/diabetes_sample.csv");
    let data = data.to_str().unwrap();

    // a linfa study through the server, then its best trial registered as it prints
    let out = ok(
        &hpo(
            d,
            &url,
            &["run", space.to_str().unwrap(), "--max-evals", "6"],
        ),
        "run",
    );
    let register = out
        .lines()
        .find_map(|l| l.strip_prefix("register it: hpo "))
        .unwrap_or_else(|| panic!("no register line in {out}"));
    // it names the server: the line is run as printed
    assert!(
        register.contains(&format!("--tracking-uri {url}")),
        "{register}"
    );
    let args: Vec<&str> = register.split(' ').collect();
    assert!(args.contains(&"--study"), "{register}");
    let out = Command::new(env!("CARGO_BIN_EXE_hpo"))
        .args(&args)
        .current_dir(d)
        .env_remove("HPO_TRACKING_URI")
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    let out = ok(&out, "register --study");
    assert!(out.contains("models:/quickstart-model/1"), "{out}");

    // the server's own store has it, from the best trial's model/ directory
    let local = Registry::open(db.to_str().unwrap()).unwrap();
    let v1 = local.get_model_version("quickstart-model", 1).unwrap();
    assert_eq!(v1.artifact_path, "model");
    assert_eq!(v1.aliases, vec!["champion".to_string()]);
    assert!(!v1.run_params.is_empty());
    let trial = v1.run_id.clone();

    // the version through the server, as JSON: the run's params and its location on the server
    let shown = ok(
        &hpo(
            d,
            &url,
            &[
                "models",
                "show",
                "models:/quickstart-model@champion",
                "--json",
            ],
        ),
        "models show @champion",
    );
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["version"], 1, "{shown}");
    assert_eq!(v["run_id"], trial.as_str(), "{shown}");
    assert_eq!(v["aliases"], serde_json::json!(["champion"]), "{shown}");
    assert_eq!(v["artifact_path"], "model", "{shown}");
    let location = v["storage_location"].as_str().unwrap();
    assert!(
        location.starts_with("mlflow-artifacts:/")
            && location.ends_with(&format!("{trial}/artifacts/model")),
        "{shown}"
    );
    assert_eq!(
        v["run_params"].as_array().unwrap().len(),
        v1.run_params.len(),
        "{shown}"
    );
    // the params and metrics are the snapshot taken at registration, not the run as it is now
    let later = hpo::tracking::Tracker::open(db.to_str().unwrap()).unwrap();
    let metric = v1.run_metrics[0].clone();
    later
        .log_metric(&trial, &metric.key, metric.value + 1000.0, 99)
        .unwrap();
    later.log_param(&trial, "logged_later", "1").unwrap();
    later.flush().unwrap();
    let again = ok(
        &hpo(
            d,
            &url,
            &["models", "show", "models:/quickstart-model/1", "--json"],
        ),
        "models show /1",
    );
    let v: serde_json::Value = serde_json::from_str(&again).unwrap();
    let params: Vec<&str> = v["run_params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(params.len(), v1.run_params.len(), "{again}");
    assert!(!params.contains(&"logged_later"), "{again}");
    let kept = v["run_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == metric.key.as_str())
        .and_then(|m| m["value"].as_f64());
    assert_eq!(kept, Some(metric.value), "{again}");
    // the versions of a model (a search) carry the same snapshot and location as a single read
    let listed = ok(
        &hpo(d, &url, &["models", "show", "quickstart-model", "--json"]),
        "models show (versions)",
    );
    let l: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let first = &l["versions"][0];
    assert_eq!(first["version"], 1, "{listed}");
    assert_eq!(first["run_params"], v["run_params"], "{listed}");
    assert_eq!(first["run_metrics"], v["run_metrics"], "{listed}");
    assert_eq!(first["storage_location"], v["storage_location"], "{listed}");

    // --run with an artifact path, and --best of the experiment
    let out = ok(
        &hpo(
            d,
            &url,
            &[
                "register",
                "--run",
                &trial,
                "--artifact-path",
                "model",
                "--name",
                "quickstart-model",
            ],
        ),
        "register --run",
    );
    assert!(out.contains("models:/quickstart-model/2"), "{out}");
    let bad = hpo(
        d,
        &url,
        &[
            "register",
            "--run",
            &trial,
            "--artifact-path",
            "nope",
            "--name",
            "quickstart-model",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("has no artifact 'nope'"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let out = ok(
        &hpo(
            d,
            &url,
            &[
                "register",
                "--best",
                "--experiment",
                "quickstart",
                "--name",
                "best-of-exp",
                "--json",
            ],
        ),
        "register --best",
    );
    let best: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(best["version"], 1, "{out}");
    assert_eq!(best["run_id"], trial.as_str(), "{out}");
    assert_eq!(
        local
            .get_model_version("best-of-exp", 1)
            .unwrap()
            .artifact_path,
        "model"
    );

    // list and show
    let list = ok(&hpo(d, &url, &["models", "list"]), "models list");
    assert!(
        list.contains("quickstart-model") && list.contains("best-of-exp"),
        "{list}"
    );
    assert!(list.contains("champion->1"), "{list}");
    let list = ok(
        &hpo(
            d,
            &url,
            &["models", "list", "-f", "name LIKE 'best%'", "--json"],
        ),
        "models list -f",
    );
    let listed: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(listed[0]["name"], "best-of-exp", "{list}");
    let show = ok(
        &hpo(d, &url, &["models", "show", "quickstart-model", "--json"]),
        "models show NAME",
    );
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    let numbers: Vec<i64> = show["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 1]);

    // aliases
    ok(
        &hpo(
            d,
            &url,
            &["models", "alias", "quickstart-model", "challenger", "2"],
        ),
        "models alias",
    );
    assert_eq!(
        local
            .get_model_version_by_alias("quickstart-model", "challenger")
            .unwrap()
            .version,
        2
    );
    ok(
        &hpo(
            d,
            &url,
            &[
                "models",
                "alias",
                "quickstart-model",
                "challenger",
                "--delete",
            ],
        ),
        "models alias --delete",
    );
    assert!(local
        .get_model_version_by_alias("quickstart-model", "challenger")
        .is_err());
    let gone = hpo(
        d,
        &url,
        &["models", "show", "models:/quickstart-model@challenger"],
    );
    assert_eq!(gone.status.code(), Some(2));

    // stages, with the others archived
    ok(
        &hpo(
            d,
            &url,
            &["models", "stage", "quickstart-model", "1", "Production"],
        ),
        "models stage",
    );
    ok(
        &hpo(
            d,
            &url,
            &[
                "models",
                "stage",
                "quickstart-model",
                "2",
                "production",
                "--archive-others",
            ],
        ),
        "models stage --archive-others",
    );
    assert_eq!(
        local
            .get_model_version("quickstart-model", 1)
            .unwrap()
            .current_stage,
        Stage::Archived
    );
    assert_eq!(
        local
            .get_model_version("quickstart-model", 2)
            .unwrap()
            .current_stage,
        Stage::Production
    );
    let prod = ok(
        &hpo(
            d,
            &url,
            &[
                "models",
                "show",
                "models:/quickstart-model/Production",
                "--json",
            ],
        ),
        "models show /Production",
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&prod).unwrap()["version"],
        2
    );
    let latest = ok(
        &hpo(
            d,
            &url,
            &[
                "models",
                "show",
                "models:/quickstart-model/latest",
                "--json",
            ],
        ),
        "models show /latest",
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&latest).unwrap()["version"],
        2
    );

    // descriptions
    ok(
        &hpo(
            d,
            &url,
            &["models", "describe", "quickstart-model", "the model"],
        ),
        "models describe",
    );
    ok(
        &hpo(
            d,
            &url,
            &[
                "models",
                "describe",
                "quickstart-model",
                "v2",
                "--version",
                "2",
            ],
        ),
        "models describe --version",
    );
    assert_eq!(
        local
            .get_registered_model("quickstart-model")
            .unwrap()
            .description,
        "the model"
    );
    assert_eq!(
        local
            .get_model_version("quickstart-model", 2)
            .unwrap()
            .description,
        "v2"
    );

    // predictions through the server equal those made on its SQLite file
    let sqlite = db.to_str().unwrap();
    let on_file = ok(
        &hpo(
            d,
            sqlite,
            &[
                "predict",
                "--model",
                "models:/quickstart-model@champion",
                "--data",
                data,
            ],
        ),
        "predict on SQLite",
    );
    assert_eq!(predictions(&on_file).len(), 20);
    for model in [
        "models:/quickstart-model@champion".to_string(),
        "models:/quickstart-model/2".to_string(),
        format!("runs:/{trial}/model"),
        format!("runs:/{trial}"),
    ] {
        let over_http = ok(
            &hpo(d, &url, &["predict", "--model", &model, "--data", data]),
            &model,
        );
        assert_eq!(over_http, on_file, "{model}");
    }
    let unknown = hpo(
        d,
        &url,
        &[
            "predict",
            "--model",
            "models:/quickstart-model@nope",
            "--data",
            data,
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("champion"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    // deletions
    ok(
        &hpo(
            d,
            &url,
            &["models", "delete", "quickstart-model", "--version", "1"],
        ),
        "models delete --version",
    );
    assert!(local.get_model_version("quickstart-model", 1).is_err());
    assert!(local.get_model_version("quickstart-model", 2).is_ok());
    ok(
        &hpo(d, &url, &["models", "delete", "quickstart-model"]),
        "models delete",
    );
    assert!(local.get_registered_model("quickstart-model").is_err());
    let missing = hpo(d, &url, &["models", "show", "quickstart-model"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("quickstart-model"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

/// Two clients of one `hpo server` race to set the same absent tag, round after round: exactly
/// one wins each round, and the tag holds the winner's value. Then a lease-like hand-over:
/// only the holder's expected value moves the tag.
#[test]
fn compare_and_set_over_http_has_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start_server(&dir.path().join("server.db"), dir.path());
    let setup = HttpStore::open(&url).unwrap();
    let run_id = setup.create_run(&NewRun::default()).unwrap().run_id;
    const ROUNDS: usize = 40;
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let (url, run_id, barrier) = (url.clone(), run_id.clone(), barrier.clone());
            std::thread::spawn(move || {
                // each racer is a client of its own, with its own connections
                let store = HttpStore::open(&url).unwrap();
                (0..ROUNDS)
                    .map(|round| {
                        barrier.wait();
                        store
                            .compare_and_set_tag(
                                &run_id,
                                &format!("lease.{round}"),
                                None,
                                Some(name),
                            )
                            .unwrap()
                    })
                    .collect::<Vec<bool>>()
            })
        })
        .collect();
    let wins: Vec<Vec<bool>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let run = setup.get_run(&run_id).unwrap();
    for (round, (a, b)) in wins[0].iter().zip(&wins[1]).enumerate() {
        assert!(a ^ b, "round {round}: a won {a}, b won {b}");
        let winner = if *a { "a" } else { "b" };
        assert_eq!(run.data.tag(&format!("lease.{round}")), Some(winner));
    }
    // a compare-and-set with a stale expectation changes nothing; the holder's moves and deletes
    let holder = run.data.tag("lease.0").unwrap().to_string();
    assert!(!setup
        .compare_and_set_tag(&run_id, "lease.0", Some("someone-else"), Some("x"))
        .unwrap());
    assert!(setup
        .compare_and_set_tag(&run_id, "lease.0", Some(&holder), Some("next"))
        .unwrap());
    assert!(setup
        .compare_and_set_tag(&run_id, "lease.0", Some("next"), None)
        .unwrap());
    assert_eq!(setup.get_run(&run_id).unwrap().data.tag("lease.0"), None);
    // a deleted run refuses
    setup.delete_run(&run_id).unwrap();
    assert!(matches!(
        setup.compare_and_set_tag(&run_id, "lease.x", None, Some("v")),
        Err(hpo::tracking::StoreError::Deleted { .. })
    ));
}

/// The study lease over http: two clients of one `hpo server` claim the lease of the same study
/// run at once, round after round; exactly one gets it, the other is told who holds it.
#[test]
fn the_study_lease_over_http_goes_to_one_client() {
    use hpo::tracking::lease::{Lease, LeaseError};
    use hpo::tracking::Tracker;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start_server(&dir.path().join("server.db"), dir.path());
    let setup = HttpStore::open(&url).unwrap();
    const ROUNDS: usize = 10;
    let runs: Vec<String> = (0..ROUNDS)
        .map(|_| setup.create_run(&NewRun::default()).unwrap().run_id)
        .collect();
    let barrier = Arc::new(Barrier::new(2));
    let claimants: Vec<_> = (0..2)
        .map(|_| {
            let (url, runs, barrier) = (url.clone(), runs.clone(), barrier.clone());
            std::thread::spawn(move || {
                let tracker = Tracker::open(&url).unwrap();
                runs.iter()
                    .map(|run| {
                        barrier.wait();
                        match Lease::acquire(&tracker, run, Duration::from_secs(30)) {
                            // kept (not released) until both have tried
                            Ok(lease) => Some(lease),
                            Err(LeaseError::Held { .. }) => None,
                            Err(e) => panic!("claiming the lease of {run}: {e}"),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let got: Vec<Vec<Option<Lease>>> = claimants.into_iter().map(|c| c.join().unwrap()).collect();
    for (round, (a, b)) in got[0].iter().zip(&got[1]).enumerate() {
        assert!(
            a.is_some() ^ b.is_some(),
            "round {round}: both or neither got the lease"
        );
    }
}
