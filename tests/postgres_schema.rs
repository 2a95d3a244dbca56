//! The PostgreSQL backend's schema: a fresh database opened by many workers at once is migrated exactly
//! once, a database of a newer hpo is refused, an unreachable server is a clear error.

mod common;

use common::pg::TempDb;
use hpo::tracking::postgres::schema::MIGRATIONS;
use hpo::tracking::postgres::{PgDatabase, PgError, SCHEMA_VERSION};

#[test]
fn many_workers_opening_a_fresh_database_migrate_it_once() {
    let Some(db) = TempDb::create("schema_once") else {
        return;
    };
    let url = db.url();
    let versions: Vec<i64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let d = PgDatabase::open(&url).expect("open");
                    d.schema_version().expect("version")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(versions, vec![SCHEMA_VERSION; 6]);

    let d = PgDatabase::open(&url).unwrap();
    let mut c = d.conn().unwrap();
    let rows: Vec<i64> = c
        .query("SELECT version FROM schema_version ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(rows, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        [
            "experiment_tags",
            "experiments",
            "metric_points",
            "metric_summary",
            "model_version_metrics",
            "model_version_params",
            "model_version_tags",
            "model_versions",
            "params",
            "registered_model_aliases",
            "registered_model_tags",
            "registered_models",
            "runs",
            "schema_version",
            "studies",
            "study_claims",
            "study_retries",
            "study_trials",
            "tags",
            "trial_leases"
        ]
    );
    drop(c);
    drop(d);
}

#[test]
fn a_database_of_a_newer_hpo_is_refused() {
    let Some(db) = TempDb::create("schema_newer") else {
        return;
    };
    let d = PgDatabase::open(&db.url()).unwrap();
    d.conn()
        .unwrap()
        .execute(
            "INSERT INTO schema_version VALUES ($1, 0)",
            &[&(SCHEMA_VERSION + 98)],
        )
        .unwrap();
    drop(d);
    let err = PgDatabase::open(&db.url()).err().expect("refused");
    assert!(
        matches!(err, PgError::NewerSchema { found, known } if found == SCHEMA_VERSION + 98 && known == SCHEMA_VERSION),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade hpo"), "{err}");
}

#[test]
fn an_unreachable_server_is_named_in_the_error() {
    let url = "postgresql://postgres@127.0.0.1:1/nothing";
    let err = PgDatabase::open(url).err().expect("no server on port 1");
    assert!(matches!(err, PgError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(url), "{err}");
}

#[test]
fn a_version_1_database_migrates_forward_with_its_rows() {
    let Some(db) = TempDb::create("schema_v1") else {
        return;
    };
    let mut c = common::pg::connect(&db.name).unwrap();
    c.batch_execute(
        "CREATE TABLE schema_version (version BIGINT PRIMARY KEY, applied_time BIGINT NOT NULL);
         INSERT INTO schema_version VALUES (1, 0);",
    )
    .unwrap();
    c.batch_execute(MIGRATIONS[0].1).unwrap();
    c.batch_execute(
        "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time,
                                  last_update_time) VALUES ('e', 'file:/a', 'active', 1, 1)",
    )
    .unwrap();
    drop(c);

    let d = PgDatabase::open(&db.url()).unwrap();
    assert_eq!(d.schema_version().unwrap(), SCHEMA_VERSION);
    let mut c = d.conn().unwrap();
    let names: Vec<String> = c
        .query("SELECT name FROM experiments", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, ["e"]);
    let claims: i64 = c
        .query_one("SELECT count(*) FROM study_claims", &[])
        .unwrap()
        .get(0);
    assert_eq!(claims, 0);
}
