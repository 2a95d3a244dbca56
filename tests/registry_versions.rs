//! Registered models, versions, aliases and stages against a real SQLite file.

use hpo::registry::{ModelTag, Registry, RegistryError, Stage};
use hpo::tracking::{Metric, Param, RunStatus, Tracker};

fn registry() -> (tempfile::TempDir, Registry) {
    let dir = tempfile::tempdir().unwrap();
    let tracker = Tracker::open(dir.path().join("hpo.db").to_str().unwrap()).unwrap();
    (dir, Registry::new(tracker).unwrap())
}

/// A FINISHED run with one param and a loss.
fn run(reg: &Registry, lr: &str, loss: f64) -> String {
    let t = reg.tracker();
    let exp = t.get_or_create_experiment("tuning").unwrap();
    let id = t.create_run(exp, None, None).unwrap();
    t.log_batch(
        &id,
        &[Param::new("lr", lr)],
        &[Metric::new("loss", loss, 0)],
        &[],
    )
    .unwrap();
    t.set_terminated(&id, RunStatus::Finished, None).unwrap();
    id
}

#[test]
fn registered_model_lifecycle() {
    let (_d, reg) = registry();
    let m = reg
        .create_registered_model(
            "nyc-taxi",
            Some("fare model"),
            &[ModelTag::new("team", "ml")],
        )
        .unwrap();
    assert_eq!(m.name, "nyc-taxi");
    assert_eq!(m.description, "fare model");
    assert_eq!(m.tag("team"), Some("ml"));
    assert_eq!(m.latest_version, None);
    assert!(m.creation_time > 0 && m.last_updated_time >= m.creation_time);

    assert!(matches!(
        reg.create_registered_model("nyc-taxi", None, &[]),
        Err(RegistryError::ModelExists(n)) if n == "nyc-taxi"
    ));

    reg.set_registered_model_tag("nyc-taxi", "owner", "ann")
        .unwrap();
    reg.delete_registered_model_tag("nyc-taxi", "team").unwrap();
    assert!(reg.delete_registered_model_tag("nyc-taxi", "team").is_err());
    let m = reg
        .update_registered_model_description("nyc-taxi", "v2 fares")
        .unwrap();
    assert_eq!(m.description, "v2 fares");
    assert_eq!(m.tags, vec![ModelTag::new("owner", "ann")]);

    // Rename carries versions, tags and aliases along.
    let r = run(&reg, "0.1", 1.0);
    let v = reg
        .create_model_version("nyc-taxi", &format!("runs:/{r}"), None, &[])
        .unwrap();
    reg.set_alias("nyc-taxi", "champion", v.version).unwrap();
    reg.set_model_version_tag("nyc-taxi", 1, "validated", "yes")
        .unwrap();
    let m = reg.rename_registered_model("nyc-taxi", "taxi").unwrap();
    assert_eq!(m.name, "taxi");
    assert_eq!(m.alias("champion"), Some(1));
    assert_eq!(m.tag("owner"), Some("ann"));
    let v = reg.get_model_version("taxi", 1).unwrap();
    assert_eq!(v.tag("validated"), Some("yes"));
    assert_eq!(v.aliases, vec!["champion".to_string()]);
    assert!(matches!(
        reg.get_registered_model("nyc-taxi"),
        Err(RegistryError::ModelNotFound { .. })
    ));

    reg.delete_registered_model("taxi").unwrap();
    match reg.get_registered_model("taxi") {
        Err(e @ RegistryError::ModelNotFound { .. }) => {
            assert!(e.to_string().contains("'taxi'"), "{e}");
            assert!(e.to_string().contains("no model is registered yet"), "{e}");
        }
        other => panic!("unexpected {other:?}"),
    }
    // The run itself is untouched.
    assert_eq!(reg.tracker().get_run(&r).unwrap().info.run_id, r);
}

#[test]
fn versions_count_up_and_are_never_reused() {
    let (_d, reg) = registry();
    reg.create_registered_model("m", None, &[]).unwrap();
    let runs: Vec<String> = (0..3)
        .map(|i| run(&reg, &format!("0.{i}"), i as f64))
        .collect();
    let numbers: Vec<i64> = runs
        .iter()
        .map(|r| {
            reg.create_model_version("m", &format!("runs:/{r}"), None, &[])
                .unwrap()
                .version
        })
        .collect();
    assert_eq!(numbers, vec![1, 2, 3]);

    reg.delete_model_version("m", 3).unwrap();
    reg.delete_model_version("m", 2).unwrap();
    assert!(matches!(
        reg.get_model_version("m", 3),
        Err(RegistryError::VersionDeleted { version: 3, .. })
    ));
    assert_eq!(reg.get_latest_version("m").unwrap().version, 1);
    assert_eq!(
        reg.get_registered_model("m").unwrap().latest_version,
        Some(1)
    );
    let v = reg
        .create_model_version("m", &format!("runs:/{}", runs[0]), None, &[])
        .unwrap();
    assert_eq!(v.version, 4, "deleted numbers 2 and 3 are not reused");

    match reg.get_model_version("m", 9) {
        Err(e @ RegistryError::VersionNotFound { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("model 'm' has no version 9"), "{msg}");
            assert!(msg.contains("its versions: 1, 4"), "{msg}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        reg.delete_model_version("m", 2),
        Err(RegistryError::VersionDeleted { .. })
    ));
}

#[test]
fn a_version_records_its_run_at_registration() {
    let (_d, reg) = registry();
    let r = run(&reg, "0.05", 0.25);
    reg.tracker()
        .artifacts(&r)
        .unwrap()
        .log_text("weights", "model/model.txt")
        .unwrap();
    reg.create_registered_model("m", None, &[]).unwrap();
    let v = reg
        .create_model_version(
            "m",
            &format!("runs:/{r}/model/"),
            Some("first"),
            &[ModelTag::new("k", "v")],
        )
        .unwrap();
    assert_eq!(v.run_id, r);
    assert_eq!(v.source, format!("runs:/{r}/model"));
    assert_eq!(v.artifact_path, "model");
    let run_info = reg.tracker().get_run(&r).unwrap().info;
    assert_eq!(
        v.storage_location,
        std::path::Path::new(&run_info.artifact_uri)
            .join("model")
            .to_string_lossy()
    );
    assert_eq!(v.description, "first");
    assert_eq!(v.tag("k"), Some("v"));
    assert_eq!(v.current_stage, Stage::None);
    assert_eq!(v.param("lr"), Some("0.05"));
    assert_eq!(v.metric("loss"), Some(0.25));
    assert_eq!(v.user_id, reg.tracker().system_info().user);
    assert!(v.creation_time > 0);

    // Later metric points do not change the snapshot.
    reg.tracker().log_metric(&r, "loss", 0.1, 1).unwrap();
    let v = reg.get_model_version("m", 1).unwrap();
    assert_eq!(v.metric("loss"), Some(0.25));
    let resolved = reg.resolve("models:/m/1").unwrap();
    assert_eq!(resolved.run.data.metric("loss").unwrap().latest, 0.1);

    let v = reg
        .update_model_version_description("m", 1, "edited")
        .unwrap();
    assert_eq!(v.description, "edited");
    reg.delete_model_version_tag("m", 1, "k").unwrap();
    assert!(reg.get_model_version("m", 1).unwrap().tags.is_empty());

    // A models:/ source copies that version's source.
    let v2 = reg
        .create_model_version("m", "models:/m/1", None, &[])
        .unwrap();
    assert_eq!((v2.version, v2.source.as_str()), (2, v.source.as_str()));
}

#[test]
fn aliases_set_move_and_delete() {
    let (_d, reg) = registry();
    reg.create_registered_model("m", None, &[]).unwrap();
    for i in 0..3 {
        let r = run(&reg, "0.1", i as f64);
        reg.create_model_version("m", &format!("runs:/{r}"), None, &[])
            .unwrap();
    }
    reg.set_alias("m", "champion", 1).unwrap();
    reg.set_alias("m", "challenger", 2).unwrap();
    assert_eq!(
        reg.get_model_version_by_alias("m", "champion")
            .unwrap()
            .version,
        1
    );
    // Move: still one version per alias.
    reg.set_alias("m", "champion", 2).unwrap();
    let m = reg.get_registered_model("m").unwrap();
    assert_eq!(m.alias("champion"), Some(2));
    assert_eq!(m.aliases.len(), 2);
    assert_eq!(
        reg.get_model_version("m", 2).unwrap().aliases,
        vec!["challenger".to_string(), "champion".to_string()]
    );
    assert!(reg.get_model_version("m", 1).unwrap().aliases.is_empty());

    reg.delete_alias("m", "challenger").unwrap();
    match reg.delete_alias("m", "challenger") {
        Err(e @ RegistryError::AliasNotFound { .. }) => {
            assert!(e.to_string().contains("its aliases: champion"), "{e}")
        }
        other => panic!("unexpected {other:?}"),
    }
    match reg.get_model_version_by_alias("m", "prod") {
        Err(RegistryError::AliasNotFound { existing, .. }) => {
            assert_eq!(existing, vec!["champion".to_string()])
        }
        other => panic!("unexpected {other:?}"),
    }

    // Deleting a version drops its aliases; an alias cannot point at a deleted version.
    reg.delete_model_version("m", 2).unwrap();
    assert_eq!(
        reg.get_registered_model("m").unwrap().alias("champion"),
        None
    );
    match reg.set_alias("m", "champion", 2) {
        Err(e @ RegistryError::VersionDeleted { .. }) => {
            assert!(
                e.to_string().contains("version 2 of model 'm' was deleted"),
                "{e}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        reg.set_alias("m", "champion", 7),
        Err(RegistryError::VersionNotFound { version: 7, .. })
    ));
    for bad in ["latest", "v3", "has space", ""] {
        assert!(
            matches!(
                reg.set_alias("m", bad, 1),
                Err(RegistryError::InvalidAlias { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn stages_and_archiving() {
    let (_d, reg) = registry();
    reg.create_registered_model("m", None, &[]).unwrap();
    for i in 0..3 {
        let r = run(&reg, "0.1", i as f64);
        reg.create_model_version("m", &format!("runs:/{r}"), None, &[])
            .unwrap();
    }
    let stage = |v| reg.get_model_version("m", v).unwrap().current_stage;
    reg.transition_stage("m", 1, Stage::Production, false)
        .unwrap();
    reg.transition_stage("m", 2, Stage::Production, false)
        .unwrap();
    assert_eq!((stage(1), stage(2)), (Stage::Production, Stage::Production));
    reg.transition_stage("m", 3, Stage::Staging, false).unwrap();

    let v = reg
        .transition_stage("m", 3, Stage::Production, true)
        .unwrap();
    assert_eq!(v.current_stage, Stage::Production);
    assert_eq!(
        (stage(1), stage(2), stage(3)),
        (Stage::Archived, Stage::Archived, Stage::Production)
    );
    // Archiving only touches the target stage.
    reg.transition_stage("m", 1, Stage::Staging, false).unwrap();
    reg.transition_stage("m", 2, Stage::Staging, true).unwrap();
    assert_eq!(
        (stage(1), stage(2), stage(3)),
        (Stage::Archived, Stage::Staging, Stage::Production)
    );
    assert!(matches!(
        reg.transition_stage("m", 1, Stage::Archived, true),
        Err(RegistryError::InvalidArgument(_))
    ));
    assert!(matches!(
        "Prod".parse::<Stage>(),
        Err(RegistryError::InvalidStage(_))
    ));
    assert_eq!(
        reg.resolve_version("models:/m/Production").unwrap().version,
        3
    );
    assert!(matches!(
        reg.resolve_version("models:/m/None"),
        Err(RegistryError::NoVersions {
            stage: Some(Stage::None),
            ..
        })
    ));
}

#[test]
fn registering_a_missing_run_or_into_a_missing_model_fails_cleanly() {
    let (_d, reg) = registry();
    reg.create_registered_model("m", None, &[]).unwrap();
    let missing = "0123456789abcdef0123456789abcdef";
    match reg.create_model_version("m", &format!("runs:/{missing}"), None, &[]) {
        Err(e @ RegistryError::RunNotFound(_)) => {
            assert!(e.to_string().contains(missing), "{e}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        reg.register_model(&format!("runs:/{missing}"), "new-model", &[]),
        Err(RegistryError::RunNotFound(_))
    ));
    assert!(
        matches!(
            reg.get_registered_model("new-model"),
            Err(RegistryError::ModelNotFound { .. })
        ),
        "a failed registration leaves no empty model behind"
    );
    let r = run(&reg, "0.1", 1.0);
    match reg.create_model_version("other", &format!("runs:/{r}"), None, &[]) {
        Err(e @ RegistryError::ModelNotFound { .. }) => {
            assert!(e.to_string().contains("registered models: m"), "{e}")
        }
        other => panic!("unexpected {other:?}"),
    }
    for bad in ["run:/x", "runs:/", "runs:/../etc", "models:/m"] {
        assert!(
            matches!(
                reg.create_model_version("m", bad, None, &[]),
                Err(RegistryError::InvalidUri { .. })
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        reg.create_registered_model("a/b", None, &[]),
        Err(RegistryError::InvalidModelName { .. })
    ));
    assert!(matches!(
        reg.register_model("models:/m/1", "copy", &[]),
        Err(RegistryError::VersionNotFound { .. })
    ));
    assert!(reg.get_registered_model("copy").is_err());
    // register_model creates the model on first use and reuses it afterwards.
    assert_eq!(
        reg.register_model(&format!("runs:/{r}"), "auto", &[])
            .unwrap()
            .version,
        1
    );
    assert_eq!(
        reg.register_model(&format!("runs:/{r}"), "auto", &[])
            .unwrap()
            .version,
        2
    );
}

#[test]
fn concurrent_registrations_get_distinct_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hpo.db");
    let reg = Registry::open(path.to_str().unwrap()).unwrap();
    let r = run(&reg, "0.1", 1.0);
    reg.create_registered_model("m", None, &[]).unwrap();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            let r = r.clone();
            std::thread::spawn(move || {
                // Each thread opens its own connection, like separate processes would.
                let reg = Registry::open(path.to_str().unwrap()).unwrap();
                (0..5)
                    .map(|_| {
                        reg.create_model_version("m", &format!("runs:/{r}"), None, &[])
                            .unwrap()
                            .version
                    })
                    .collect::<Vec<i64>>()
            })
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all, (1..=20).collect::<Vec<i64>>());
}

#[test]
fn registering_an_artifact_path_the_run_lacks_fails_listing_its_paths() {
    let (_d, reg) = registry();
    let r = run(&reg, "0.1", 1.0);
    let store = reg.tracker().artifacts(&r).unwrap();
    store.log_text("weights", "model/model.txt").unwrap();
    store.log_text("out", "stdout.txt").unwrap();
    reg.create_registered_model("m", None, &[]).unwrap();
    match reg.create_model_version("m", &format!("runs:/{r}/models_mlflow"), None, &[]) {
        Err(e @ RegistryError::ArtifactPathNotFound { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&r) && msg.contains("'models_mlflow'"), "{msg}");
            assert!(
                msg.contains("its artifact paths: model/, stdout.txt"),
                "{msg}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    match reg.register_model(&format!("runs:/{r}/nope"), "new-model", &[]) {
        Err(RegistryError::ArtifactPathNotFound { available, .. }) => {
            assert_eq!(available, ["model/", "stdout.txt"])
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        matches!(
            reg.get_registered_model("new-model"),
            Err(RegistryError::ModelNotFound { .. })
        ),
        "a refused registration leaves no empty model behind"
    );
    assert!(matches!(
        reg.get_latest_version("m"),
        Err(RegistryError::NoVersions { .. })
    ));
    // a run without artifacts says so; existing paths (file or directory) still register
    let bare = run(&reg, "0.2", 2.0);
    let e = reg
        .create_model_version("m", &format!("runs:/{bare}/model"), None, &[])
        .unwrap_err();
    assert!(e.to_string().contains("it has no artifacts"), "{e}");
    for path in ["model", "stdout.txt"] {
        reg.create_model_version("m", &format!("runs:/{r}/{path}"), None, &[])
            .unwrap();
    }
    reg.create_model_version("m", &format!("runs:/{bare}"), None, &[])
        .unwrap();
    assert_eq!(reg.get_latest_version("m").unwrap().version, 3);
}
