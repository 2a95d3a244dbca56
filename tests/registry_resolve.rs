//! `models:/` URI resolution, registering the best trial of a study or experiment, search, and the
//! schema upgrade of files written before the registry existed.

use hpo::registry::{ModelSearch, Registry, RegistryError, Stage};
use hpo::tracking::{Metric, NewRun, Param, RunStatus, RunTag, Tracker};

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(dir.path().join("hpo.db").to_str().unwrap()).unwrap();
    (dir, Registry::new(tracker).unwrap())
}

/// A study as the fmin recorder writes it: a parent run tagged `hpo.runType = study` and `hpo.metric`,
/// with one child per trial (loss, status, optional `model/` artifact).
struct Trial {
    lr: &'static str,
    loss: f64,
    status: RunStatus,
    saves_model: bool,
}

fn study(reg: &Registry, exp: &str, metric: &str, trials: &[Trial]) -> (String, Vec<String>) {
    let t = reg.tracker();
    let exp = t.get_or_create_experiment(exp).unwrap();
    let study = t
        .create_run_with(NewRun {
            experiment_id: exp,
            run_name: Some("study-1".into()),
            tags: vec![
                RunTag::new("hpo.runType", "study"),
                RunTag::new("hpo.metric", metric),
            ],
            ..NewRun::default()
        })
        .unwrap()
        .run_id;
    let mut ids = Vec::new();
    for tr in trials {
        let id = t.create_run(exp, None, Some(&study)).unwrap();
        t.log_batch(
            &id,
            &[Param::new("lr", tr.lr)],
            &[Metric::new(metric, tr.loss, 0)],
            &[RunTag::new("hpo.runType", "trial")],
        )
        .unwrap();
        if tr.saves_model {
            t.artifacts(&id)
                .unwrap()
                .log_text("weights", "model/model.txt")
                .unwrap();
        }
        t.set_terminated(&id, tr.status, None).unwrap();
        ids.push(id);
    }
    (study, ids)
}

fn trial(lr: &'static str, loss: f64, status: RunStatus, saves_model: bool) -> Trial {
    Trial {
        lr,
        loss,
        status,
        saves_model,
    }
}

#[test]
fn uris_resolve_to_version_run_params_and_artifacts() {
    let (_d, reg) = registry();
    let (_, ids) = study(
        &reg,
        "e",
        "loss",
        &[
            trial("0.1", 3.0, RunStatus::Finished, true),
            trial("0.2", 2.0, RunStatus::Finished, false),
            trial("0.3", 1.0, RunStatus::Finished, true),
        ],
    );
    reg.create_registered_model("nyc", None, &[]).unwrap();
    reg.create_model_version("nyc", &format!("runs:/{}/model", ids[0]), None, &[])
        .unwrap();
    reg.create_model_version("nyc", &format!("runs:/{}", ids[1]), None, &[])
        .unwrap();
    reg.create_model_version("nyc", &format!("runs:/{}/model", ids[2]), None, &[])
        .unwrap();
    reg.set_alias("nyc", "champion", 1).unwrap();

    let r = reg.resolve("models:/nyc/3").unwrap();
    assert_eq!(r.version.version, 3);
    assert_eq!(r.run.info.run_id, ids[2]);
    assert_eq!(r.param("lr"), Some("0.3"));
    assert_eq!(r.metrics()[0].latest, 1.0);
    assert_eq!(r.artifacts().read_text("model.txt").unwrap(), "weights");
    assert!(r.artifact_location.ends_with("artifacts/model"));

    let champion = reg.resolve("models:/nyc@champion").unwrap();
    assert_eq!(
        (champion.version.version, champion.run.info.run_id.as_str()),
        (1, ids[0].as_str())
    );
    assert_eq!(champion.params()[0].value, "0.1");

    let latest = reg.resolve("models:/nyc/latest").unwrap();
    assert_eq!(latest.version.version, 3);
    reg.delete_model_version("nyc", 3).unwrap();
    assert_eq!(
        reg.resolve("models:/nyc/latest").unwrap().version.version,
        2
    );
    let whole_run = reg.resolve("models:/nyc/2").unwrap();
    assert!(whole_run.artifact_location.ends_with("artifacts"));

    // Errors name what is missing.
    assert!(matches!(
        reg.resolve("models:/nope/1"),
        Err(RegistryError::ModelNotFound { ref name, .. }) if name == "nope"
    ));
    assert!(matches!(
        reg.resolve("models:/nyc/3"),
        Err(RegistryError::VersionDeleted { version: 3, .. })
    ));
    assert!(matches!(
        reg.resolve("models:/nyc/42"),
        Err(RegistryError::VersionNotFound { version: 42, ref existing, .. }) if existing == &vec![1, 2]
    ));
    assert!(matches!(
        reg.resolve("models:/nyc@challenger"),
        Err(RegistryError::AliasNotFound { .. })
    ));
    match reg.resolve("models:/nyc") {
        Err(e @ RegistryError::InvalidUri { .. }) => {
            assert!(e.to_string().contains("models:/<name>@<alias>"), "{e}")
        }
        other => panic!("unexpected {other:?}"),
    }
    reg.create_registered_model("empty", None, &[]).unwrap();
    assert!(matches!(
        reg.resolve("models:/empty/latest"),
        Err(RegistryError::NoVersions { stage: None, .. })
    ));
}

#[test]
fn best_trial_of_a_study_by_its_metric() {
    let (_d, reg) = registry();
    let (study_id, ids) = study(
        &reg,
        "e",
        "rmse",
        &[
            trial("0.1", 3.0, RunStatus::Finished, false),
            trial("0.2", 0.5, RunStatus::Failed, true),
            trial("0.3", 1.0, RunStatus::Finished, true),
            trial("0.4", 2.0, RunStatus::Finished, false),
        ],
    );
    let v = reg
        .register_best_of_study(&study_id, "nyc", Some("champion"))
        .unwrap();
    assert_eq!(v.version, 1);
    assert_eq!(
        v.run_id, ids[2],
        "the FAILED trial with a lower rmse is skipped"
    );
    assert_eq!(v.source, format!("runs:/{}/model", ids[2]));
    assert_eq!(v.artifact_path, "model");
    assert_eq!(v.aliases, vec!["champion".to_string()]);
    assert_eq!(v.param("lr"), Some("0.3"));
    assert_eq!(v.metric("rmse"), Some(1.0));
    assert_eq!(v.tag("hpo.sourceStudyRunId"), Some(study_id.as_str()));
    assert!(v.description.contains("rmse = 1"), "{}", v.description);
    let r = reg.resolve("models:/nyc@champion").unwrap();
    assert_eq!(r.artifacts().read_text("model.txt").unwrap(), "weights");

    // hpo.bestRunId wins when present; a trial without a model artifact registers the whole run.
    reg.tracker()
        .set_tag(&study_id, "hpo.bestRunId", &ids[3])
        .unwrap();
    let v = reg
        .register_best_of_study(&study_id, "nyc", Some("champion"))
        .unwrap();
    assert_eq!((v.version, v.run_id.as_str()), (2, ids[3].as_str()));
    assert_eq!(v.source, format!("runs:/{}", ids[3]));
    assert_eq!(
        reg.get_registered_model("nyc").unwrap().alias("champion"),
        Some(2),
        "the alias moved to the new version"
    );
    assert!(reg.get_model_version("nyc", 1).unwrap().aliases.is_empty());
    assert_eq!(
        reg.get_model_version("nyc", 1).unwrap().current_stage,
        Stage::None
    );
}

#[test]
fn best_of_study_errors() {
    let (_d, reg) = registry();
    let (study_id, ids) = study(
        &reg,
        "e",
        "loss",
        &[trial("0.1", 1.0, RunStatus::Failed, false)],
    );
    match reg.register_best_of_study(&study_id, "m", None) {
        Err(e @ RegistryError::NoBestRun { .. }) => {
            assert!(e.to_string().contains("no FINISHED trial"), "{e}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        reg.register_best_of_study(&ids[0], "m", None),
        Err(RegistryError::NoBestRun { .. })
    ));
    assert!(matches!(
        reg.register_best_of_study("0123456789abcdef0123456789abcdef", "m", None),
        Err(RegistryError::RunNotFound(_))
    ));
    assert!(matches!(
        reg.register_best_of_study("not a run id", "m", None),
        Err(RegistryError::RunNotFound(_))
    ));
    reg.tracker()
        .set_tag(
            &study_id,
            "hpo.bestRunId",
            "0123456789abcdef0123456789abcdef",
        )
        .unwrap();
    assert!(matches!(
        reg.register_best_of_study(&study_id, "m", None),
        Err(RegistryError::RunNotFound(_))
    ));
    let (ok_study, _) = study(
        &reg,
        "e",
        "loss",
        &[trial("0.1", 1.0, RunStatus::Finished, false)],
    );
    assert!(matches!(
        reg.register_best_of_study(&ok_study, "m", Some("latest")),
        Err(RegistryError::InvalidAlias { .. })
    ));
    assert!(
        reg.get_registered_model("m").is_err(),
        "nothing was registered by the failed calls"
    );
}

#[test]
fn best_run_of_an_experiment_by_a_metric() {
    let (_d, reg) = registry();
    let (study_id, ids) = study(
        &reg,
        "exp",
        "acc",
        &[
            trial("0.1", 0.7, RunStatus::Finished, false),
            trial("0.2", 0.9, RunStatus::Finished, false),
            trial("0.3", 0.95, RunStatus::Killed, false),
            trial("0.4", 0.6, RunStatus::Finished, false),
        ],
    );
    // The study parent logs the best value too; it must not be picked.
    reg.tracker().log_metric(&study_id, "acc", 0.99, 0).unwrap();
    reg.tracker()
        .set_terminated(&study_id, RunStatus::Finished, None)
        .unwrap();
    let exp = reg
        .tracker()
        .get_experiment_by_name("exp")
        .unwrap()
        .unwrap()
        .experiment_id;
    let v = reg
        .register_best_of_experiment(exp, "acc", false, "acc-model", Some("champion"))
        .unwrap();
    assert_eq!(v.run_id, ids[1]);
    assert_eq!(v.aliases, vec!["champion".to_string()]);
    let v = reg
        .register_best_of_experiment(exp, "acc", true, "acc-model", None)
        .unwrap();
    assert_eq!((v.version, v.run_id.as_str()), (2, ids[3].as_str()));
    assert!(matches!(
        reg.register_best_of_experiment(exp, "f1", true, "acc-model", None),
        Err(RegistryError::NoBestRun { .. })
    ));
    assert!(reg
        .register_best_of_experiment(999, "acc", true, "x", None)
        .is_err());
}

#[test]
fn search_models_and_versions() {
    let (_d, reg) = registry();
    let (_, ids) = study(
        &reg,
        "e",
        "loss",
        &[
            trial("0.1", 1.0, RunStatus::Finished, true),
            trial("0.2", 2.0, RunStatus::Finished, false),
        ],
    );
    use hpo::registry::ModelTag;
    reg.create_registered_model("nyc-taxi", None, &[ModelTag::new("team", "ml")])
        .unwrap();
    reg.create_registered_model("nyc-bikes", None, &[ModelTag::new("team", "ops")])
        .unwrap();
    reg.create_registered_model("sf-taxi", None, &[ModelTag::new("team", "ml")])
        .unwrap();
    let names = |filter: &str| -> Vec<String> {
        reg.search_registered_models(&ModelSearch::new(filter))
            .unwrap()
            .models
            .into_iter()
            .map(|m| m.name)
            .collect()
    };
    assert_eq!(names("name LIKE 'nyc%'"), vec!["nyc-bikes", "nyc-taxi"]);
    assert_eq!(names("tags.team = 'ml'"), vec!["nyc-taxi", "sf-taxi"]);
    assert_eq!(
        names("name LIKE 'nyc%' AND tags.team = 'ml'"),
        vec!["nyc-taxi"]
    );
    assert_eq!(
        names("name ILIKE 'NYC-T%' OR name = 'sf-taxi'"),
        vec!["nyc-taxi", "sf-taxi"]
    );
    assert_eq!(names("tags.missing IS NULL").len(), 3);
    assert_eq!(names(""), vec!["nyc-bikes", "nyc-taxi", "sf-taxi"]);
    let desc = reg
        .search_registered_models(&ModelSearch::new("").order_by(&["name DESC"]))
        .unwrap();
    assert_eq!(desc.models[0].name, "sf-taxi");

    // Paging.
    let p1 = reg
        .search_registered_models(&ModelSearch::new("").max_results(2))
        .unwrap();
    assert_eq!(p1.models.len(), 2);
    let p2 = reg
        .search_registered_models(
            &ModelSearch::new("")
                .max_results(2)
                .page_token(p1.next_page_token.clone()),
        )
        .unwrap();
    assert_eq!(p2.models.len(), 1);
    assert_eq!(p2.next_page_token, None);
    assert!(matches!(
        reg.search_registered_models(
            &ModelSearch::new("name = 'x'").page_token(p1.next_page_token)
        ),
        Err(RegistryError::Search(_))
    ));

    for (i, id) in ids.iter().enumerate() {
        reg.create_model_version("nyc-taxi", &format!("runs:/{id}"), None, &[])
            .unwrap();
        reg.set_model_version_tag("nyc-taxi", i as i64 + 1, "fold", &i.to_string())
            .unwrap();
    }
    reg.create_model_version("sf-taxi", &format!("runs:/{}/model", ids[0]), None, &[])
        .unwrap();
    let versions = |filter: &str| -> Vec<(String, i64)> {
        reg.search_model_versions(&ModelSearch::new(filter))
            .unwrap()
            .versions
            .into_iter()
            .map(|v| (v.name, v.version))
            .collect()
    };
    let v = |n: &str, x: i64| (n.to_string(), x);
    assert_eq!(
        versions(""),
        vec![v("nyc-taxi", 2), v("nyc-taxi", 1), v("sf-taxi", 1)]
    );
    assert_eq!(
        versions(&format!("run_id = '{}'", ids[0])),
        vec![v("nyc-taxi", 1), v("sf-taxi", 1)]
    );
    assert_eq!(
        versions("name = 'nyc-taxi' AND version_number > 1"),
        vec![v("nyc-taxi", 2)]
    );
    assert_eq!(versions("tags.fold = '0'"), vec![v("nyc-taxi", 1)]);
    assert_eq!(versions("source LIKE '%/model'"), vec![v("sf-taxi", 1)]);
    assert_eq!(versions("current_stage = 'None'").len(), 3);
    reg.delete_model_version("nyc-taxi", 2).unwrap();
    assert_eq!(versions("name = 'nyc-taxi'"), vec![v("nyc-taxi", 1)]);
    let asc = reg
        .search_model_versions(&ModelSearch::new("").order_by(&["version_number ASC", "name DESC"]))
        .unwrap();
    assert_eq!(asc.versions[0].name, "sf-taxi");

    // Filter errors come from the tracking parser, with positions and the valid fields.
    for bad in [
        "metrics.loss < 1",
        "version_number = 'one'",
        "name = 1",
        "name LIKE",
        "bogus = 'x'",
    ] {
        match reg.search_model_versions(&ModelSearch::new(bad)) {
            Err(RegistryError::Search(e)) => {
                assert!(e.to_string().contains("column"), "{bad}: {e}")
            }
            other => panic!("{bad}: unexpected {other:?}"),
        }
    }
    match reg.search_registered_models(&ModelSearch::new("version_number = 1")) {
        Err(e) => assert!(e.to_string().contains("name, description"), "{e}"),
        Ok(p) => panic!("unexpected {p:?}"),
    }
    assert!(reg
        .search_registered_models(&ModelSearch::new("").max_results(0))
        .is_err());
}

#[test]
fn a_file_from_before_the_registry_is_upgraded_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // A schema-v2 file (before the registry tables), written with the v1 and v2 migrations.
    let run_id = "0123456789abcdef0123456789abcdef";
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_time INTEGER NOT NULL);",
        )
        .unwrap();
        for (version, sql) in &hpo::tracking::sqlite::MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_version VALUES (?1, 0)", [version])
                .unwrap();
        }
        let location = dir.path().join("0");
        conn.execute(
            "INSERT INTO experiments VALUES (0, 'Default', ?1, 'active', 1, 1)",
            [location.to_str().unwrap()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time, user_id,
                               artifact_uri, lifecycle_stage)
             VALUES (?1, 0, 'old', 'FINISHED', 5, 6, 'ann', ?2, 'active')",
            [run_id, location.join(run_id).join("artifacts").to_str().unwrap()],
        )
        .unwrap();
    }
    let store = hpo::tracking::SqliteStore::open(&path, dir.path()).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        hpo::tracking::sqlite::SCHEMA_VERSION
    );
    drop(store);
    let reg = Registry::open(path.to_str().unwrap()).unwrap();
    let v = reg
        .register_model(&format!("runs:/{run_id}"), "m", &[])
        .unwrap();
    assert_eq!(v.version, 1);
    assert_eq!(reg.tracker().get_run(run_id).unwrap().info.run_name, "old");
}
