//! The tracking schema and its forward migrations.
//!
//! Each migration brings a file from version `n - 1` to `n`; [`SqliteStore`](super::SqliteStore) runs the
//! missing ones on open, inside one immediate transaction, and records each in `schema_version`.
//! Foreign keys are enforced only after the migrations, so a migration may rebuild a table that others
//! reference (create the new table, copy, drop the old one, rename), as SQLite's documentation advises;
//! the store runs `PRAGMA foreign_key_check` before committing the migrations.
//!
//! - v1: experiments, runs, params, tags and the metric history.
//! - v2: the per-run, per-key `metric_summary` table (latest/min/max/count), backfilled from the history.
//! - v3: the model registry tables (see [`crate::registry`], which holds their SQL).
//! - v4: a compact metric history. `runs` is rebuilt with an integer primary key `run_key` (its old rowid,
//!   so it never changes again, even through `VACUUM`; the run id stays unique), and the history moves from `metrics` (a rowid table plus a 6-column `UNIQUE` index holding the 32-character
//!   run id) to `metric_points`, one `WITHOUT ROWID` B-tree keyed by `(run_key, key, step, timestamp, value,
//!   is_nan)`: the key both deduplicates exact repeats and orders a run's history, and each point is
//!   written once instead of twice. Points of a run share its leaf pages, so a batch dirties few pages.
//!   The store checks that the run exists in the same transaction that writes its points, so the table
//!   has no foreign key (that check would cost an index probe per point). Runs are never removed from
//!   the table (deleting a run only marks it), so a run key is never reused.

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 4;

/// Forward migrations, applied in order to bring a file from version `n - 1` to `n`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, MIGRATION_V1),
    (2, MIGRATION_V2),
    (3, crate::registry::sqlite::MIGRATION_V3),
    (4, MIGRATION_V4),
];

/// Migration 1: the base tables.
pub(crate) const MIGRATION_V1: &str = r#"
CREATE TABLE experiments (
    experiment_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    artifact_location TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
    creation_time INTEGER NOT NULL,
    last_update_time INTEGER NOT NULL
);
CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE TABLE runs (
    run_uuid TEXT PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED')),
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    parent_run_id TEXT REFERENCES runs (run_uuid),
    user_id TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
    deleted_time INTEGER,
    deleted_with_experiment INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
CREATE INDEX runs_by_parent ON runs (parent_run_id);
CREATE TABLE params (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    num_value REAL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE TABLE tags (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE TABLE metrics (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value REAL NOT NULL,
    is_nan INTEGER NOT NULL,
    UNIQUE (run_uuid, key, step, timestamp, value, is_nan)
);
"#;

/// Migration 2: the metric summaries, backfilled from the history.
const MIGRATION_V2: &str = r#"
CREATE TABLE metric_summary (
    run_uuid TEXT NOT NULL REFERENCES runs (run_uuid),
    key TEXT NOT NULL,
    latest_value REAL,
    latest_is_nan INTEGER NOT NULL,
    latest_step INTEGER NOT NULL,
    latest_timestamp INTEGER NOT NULL,
    min_value REAL,
    max_value REAL,
    count INTEGER NOT NULL,
    PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE INDEX metric_summary_by_latest ON metric_summary (key, latest_value);
INSERT INTO metric_summary
SELECT g.run_uuid, g.key,
       CASE WHEN l.is_nan THEN NULL ELSE l.value END, l.is_nan, l.step, l.timestamp,
       g.min_value, g.max_value, g.n
FROM (SELECT run_uuid, key,
             MIN(CASE WHEN is_nan THEN NULL ELSE value END) AS min_value,
             MAX(CASE WHEN is_nan THEN NULL ELSE value END) AS max_value,
             COUNT(*) AS n
      FROM metrics GROUP BY run_uuid, key) g
JOIN metrics l ON l.rowid = (
    SELECT m.rowid FROM metrics m WHERE m.run_uuid = g.run_uuid AND m.key = g.key
    ORDER BY m.step DESC, m.timestamp DESC, m.rowid DESC LIMIT 1);
"#;

/// Migration 4: integer run keys and the `WITHOUT ROWID` metric history (see the module documentation).
const MIGRATION_V4: &str = r#"
CREATE TABLE runs_v4 (
    run_key INTEGER PRIMARY KEY,
    run_uuid TEXT NOT NULL UNIQUE,
    experiment_id INTEGER NOT NULL REFERENCES experiments (experiment_id),
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('RUNNING', 'FINISHED', 'FAILED', 'KILLED')),
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    parent_run_id TEXT REFERENCES runs (run_uuid),
    user_id TEXT NOT NULL,
    artifact_uri TEXT NOT NULL,
    lifecycle_stage TEXT NOT NULL CHECK (lifecycle_stage IN ('active', 'deleted')),
    deleted_time INTEGER,
    deleted_with_experiment INTEGER NOT NULL DEFAULT 0
);
INSERT INTO runs_v4 (run_key, run_uuid, experiment_id, name, status, start_time, end_time, parent_run_id,
                     user_id, artifact_uri, lifecycle_stage, deleted_time, deleted_with_experiment)
SELECT rowid, run_uuid, experiment_id, name, status, start_time, end_time, parent_run_id,
       user_id, artifact_uri, lifecycle_stage, deleted_time, deleted_with_experiment
FROM runs;
CREATE TABLE metric_points (
    run_key INTEGER NOT NULL,
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value REAL NOT NULL,
    is_nan INTEGER NOT NULL,
    PRIMARY KEY (run_key, key, step, timestamp, value, is_nan)
) WITHOUT ROWID;
INSERT INTO metric_points (run_key, key, step, timestamp, value, is_nan)
SELECT r.run_key, m.key, m.step, m.timestamp, m.value, m.is_nan
FROM metrics m JOIN runs_v4 r ON r.run_uuid = m.run_uuid;
DROP TABLE metrics;
DROP TABLE runs;
ALTER TABLE runs_v4 RENAME TO runs;
CREATE INDEX runs_by_experiment ON runs (experiment_id, start_time);
CREATE INDEX runs_by_parent ON runs (parent_run_id);
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::store::{Metric, RunsQuery, Store, ViewType};
    use crate::tracking::SqliteStore;
    use rusqlite::Connection;

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    /// A version 3 file as this crate wrote it before v4: two runs with metric histories.
    fn write_v3_file(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_time INTEGER NOT NULL);",
        )
        .unwrap();
        conn.execute_batch(MIGRATION_V1).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO experiments VALUES (0, 'Default', '/a/0', 'active', 1, 1);
             INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, end_time, user_id,
                               artifact_uri, lifecycle_stage)
             VALUES ('{A}', 0, 'a', 'FINISHED', 5, 6, 'ann', '/a/0/a/artifacts', 'active'),
                    ('{B}', 0, 'b', 'RUNNING', 7, NULL, 'bob', '/a/0/b/artifacts', 'active');
             UPDATE runs SET parent_run_id = '{A}' WHERE run_uuid = '{B}';
             INSERT INTO params VALUES ('{B}', 'lr', '0.1', 0.1);
             INSERT INTO tags VALUES ('{B}', 'mlflow.parentRunId', '{A}');
             INSERT INTO metrics VALUES ('{A}', 'loss', 0, 10, 3.0, 0);
             INSERT INTO metrics VALUES ('{A}', 'loss', 2, 11, 0, 1);
             INSERT INTO metrics VALUES ('{A}', 'loss', 1, 12, 1.5, 0);
             INSERT INTO metrics VALUES ('{B}', 'loss', 0, 10, 9.0, 0);
             INSERT INTO metrics VALUES ('{B}', 'acc', 3, 10, 0.25, 0);"
        ))
        .unwrap();
        conn.execute_batch(MIGRATION_V2).unwrap();
        conn.execute_batch(crate::registry::sqlite::MIGRATION_V3)
            .unwrap();
        conn.execute_batch("INSERT INTO schema_version VALUES (1, 0), (2, 0), (3, 0);")
            .unwrap();
    }

    fn steps_and_values(points: &[Metric]) -> Vec<(i64, i64, String)> {
        points
            .iter()
            .map(|m| (m.step, m.timestamp, format!("{}", m.value)))
            .collect()
    }

    #[test]
    fn a_v3_file_migrates_to_v4_with_its_history() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("v3.db");
        write_v3_file(&path);
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), 4);

        let a = store.get_metric_history(A, "loss").unwrap();
        assert_eq!(
            steps_and_values(&a),
            [
                (0, 10, "3".to_string()),
                (1, 12, "1.5".to_string()),
                (2, 11, "NaN".to_string())
            ]
        );
        let b = store.get_metric_history(B, "loss").unwrap();
        assert_eq!(steps_and_values(&b), [(0, 10, "9".to_string())]);
        assert_eq!(store.get_metric_history(B, "acc").unwrap().len(), 1);
        let summary = store
            .get_run(A)
            .unwrap()
            .data
            .metric("loss")
            .unwrap()
            .clone();
        assert_eq!(
            (summary.min, summary.max, summary.count),
            (Some(1.5), Some(3.0), 3)
        );

        // The old table is gone, every run has a distinct key, and new runs continue after them.
        let conn = Connection::open(&path).unwrap();
        let old: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'metrics'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0);
        let broken: i64 = conn
            .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(broken, 0, "every reference to the rebuilt runs table holds");
        assert_eq!(store.child_run_ids(A).unwrap(), [B]);
        let b = store.get_run(B).unwrap();
        assert_eq!(b.info.parent_run_id.as_deref(), Some(A));
        assert_eq!(b.data.params.len(), 1);
        let new = store
            .create_run(&crate::tracking::store::NewRun {
                experiment_id: 0,
                ..Default::default()
            })
            .unwrap();
        let keys: Vec<i64> = conn
            .prepare("SELECT run_key FROM runs ORDER BY run_key")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(keys, [1, 2, 3]);

        // A migrated point is still deduplicated; new points land in the migrated history.
        store
            .log_batch(
                A,
                &[],
                &[Metric {
                    key: "loss".into(),
                    value: 3.0,
                    timestamp: 10,
                    step: 0,
                }],
                &[],
            )
            .unwrap();
        store
            .log_batch(
                A,
                &[],
                &[Metric {
                    key: "loss".into(),
                    value: 0.5,
                    timestamp: 13,
                    step: 3,
                }],
                &[],
            )
            .unwrap();
        let a = store.get_metric_history(A, "loss").unwrap();
        assert_eq!(a.len(), 4);
        let summary = store
            .get_run(A)
            .unwrap()
            .data
            .metric("loss")
            .unwrap()
            .clone();
        assert_eq!((summary.latest, summary.count), (0.5, 4));
        store
            .log_batch(
                &new.run_id,
                &[],
                &[Metric {
                    key: "loss".into(),
                    value: 1.0,
                    timestamp: 1,
                    step: 0,
                }],
                &[],
            )
            .unwrap();
        assert_eq!(
            store.get_metric_history(&new.run_id, "loss").unwrap().len(),
            1
        );
        assert_eq!(
            store.get_metric_history(B, "loss").unwrap().len(),
            1,
            "runs stay apart"
        );

        // Search still sees the summaries.
        let page = store
            .search_runs(
                &RunsQuery::new(&[0], "metrics.loss > 0.75").order_by(&["metrics.loss ASC"]),
            )
            .unwrap();
        let ids: Vec<&str> = page.runs.iter().map(|r| r.info.run_id.as_str()).collect();
        assert_eq!(ids, [new.run_id.as_str(), B]);
        assert_eq!(store.count_runs(0, ViewType::All).unwrap(), 3);

        // Reopening does not migrate again.
        drop(store);
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.get_metric_history(A, "loss").unwrap().len(), 4);
    }
}
