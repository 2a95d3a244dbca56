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
//! - v5: params keyed by run key, and ordered by value. `params` is rebuilt as a `WITHOUT ROWID`
//!   B-tree keyed by `(run_key, key)` instead of `(run_uuid, key)` (about half the size, and a new
//!   run's params are appended rather than scattered by its random id), and two partial indexes
//!   order each key's values: `params_by_number (key, num_value)` over the values that parse as
//!   numbers and `params_by_text (key, value)` over the others. Each param is in exactly one of
//!   them, and an entry holds the key, the value and the integer run key, so both together are
//!   smaller than the space the rebuild saves. A search ordered by a param walks them in order
//!   (see `run_search`). As for `metric_points`, the table has no foreign key: the store checks
//!   that the run exists in the transaction that writes its params.
//! - v6: params are indexed by value lazily. Inserting a new run's params into the two value
//!   indexes at random places was most of the cost of recording a trial in a large store, and only
//!   searches ordered by a param use those indexes. `params` gains a column `indexed`, the two
//!   indexes cover only the rows where it is 1, and `param_index_state.upto` is a run key: the
//!   params of runs up to it are indexed when written, those of later (new) runs are written with
//!   `indexed = 0` and indexed in one pass, in a write transaction, before the first search ordered
//!   by a param that finds some pending (see `super::param_index`).

/// The newest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 8;

/// Forward migrations, applied in order to bring a file from version `n - 1` to `n`.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, MIGRATION_V1),
    (2, MIGRATION_V2),
    (3, crate::registry::sqlite::MIGRATION_V3),
    (4, MIGRATION_V4),
    (5, MIGRATION_V5),
    (6, MIGRATION_V6),
    (7, super::shared::sqlite::MIGRATION_V7),
    (8, super::shared::sqlite::MIGRATION_V8),
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

/// Migration 5: params keyed by run key, with the two value indexes (see the module documentation).
const MIGRATION_V5: &str = r#"
CREATE TABLE params_v5 (
    run_key INTEGER NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    num_value REAL,
    PRIMARY KEY (run_key, key)
) WITHOUT ROWID;
INSERT INTO params_v5 (run_key, key, value, num_value)
SELECT r.run_key, p.key, p.value, p.num_value
FROM params p JOIN runs r ON r.run_uuid = p.run_uuid
ORDER BY r.run_key, p.key;
DROP TABLE params;
ALTER TABLE params_v5 RENAME TO params;
CREATE INDEX params_by_number ON params (key, num_value) WHERE num_value IS NOT NULL;
CREATE INDEX params_by_text ON params (key, value) WHERE num_value IS NULL;
"#;

/// Migration 6: lazily indexed param values (see the module documentation); existing params stay indexed.
const MIGRATION_V6: &str = r#"
ALTER TABLE params ADD COLUMN indexed INTEGER NOT NULL DEFAULT 1;
DROP INDEX params_by_number;
DROP INDEX params_by_text;
CREATE INDEX params_by_number ON params (key, num_value) WHERE num_value IS NOT NULL AND indexed = 1;
CREATE INDEX params_by_text ON params (key, value) WHERE num_value IS NULL AND indexed = 1;
CREATE TABLE param_index_state (id INTEGER PRIMARY KEY CHECK (id = 0), upto INTEGER NOT NULL);
INSERT INTO param_index_state VALUES (0, COALESCE((SELECT MAX(run_key) FROM runs), 0));
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::run_search::Plans;
    use crate::tracking::store::{Metric, Param, RunsQuery, Store, ViewType};
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
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);

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

    /// A run of the v4 test file: experiment, start time, param `lr`, metric `loss`, deleted.
    type V4Run = (i64, i64, Option<&'static str>, Option<f64>, bool);

    /// A search of the v4 test file: filter, order, view, experiments and the expected runs in order.
    type SearchCase = (
        &'static str,
        &'static [&'static str],
        ViewType,
        Vec<i64>,
        Vec<usize>,
    );

    /// The run id of run `i` of the v4 test file.
    fn v4_id(i: usize) -> String {
        format!("{:032x}", 0xabc0 + i)
    }

    /// A version 4 file as this crate wrote it before v5: experiments 0 and 1, seven runs (one
    /// deleted) with a param `lr` that is a number, a tied number, text or missing, a param `opt`,
    /// and a metric `loss` for some runs.
    fn write_v4_file(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_time INTEGER NOT NULL);",
        )
        .unwrap();
        for (version, sql) in &MIGRATIONS[..4] {
            conn.execute_batch(sql).unwrap();
            conn.execute("INSERT INTO schema_version VALUES (?1, 0)", [version])
                .unwrap();
        }
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             INSERT INTO experiments VALUES (0, 'Default', '/a/0', 'active', 1, 1);
             INSERT INTO experiments VALUES (1, 'other', '/a/1', 'active', 1, 1);",
        )
        .unwrap();
        let runs: [V4Run; 7] = [
            (0, 10, Some("0.1"), Some(0.5), false),
            (0, 11, Some("0.01"), Some(0.7), false),
            (0, 12, Some("adam"), None, false),
            (0, 13, None, Some(0.2), false),
            (0, 14, Some("1e-3"), Some(0.9), false),
            (1, 15, Some("0.1"), Some(0.4), false),
            (0, 16, Some("0.10"), Some(0.3), true),
        ];
        for (i, (experiment, start, lr, loss, deleted)) in runs.into_iter().enumerate() {
            let id = v4_id(i);
            let stage = if deleted { "deleted" } else { "active" };
            conn.execute(
                "INSERT INTO runs (run_uuid, experiment_id, name, status, start_time, user_id,
                                   artifact_uri, lifecycle_stage)
                 VALUES (?1, ?2, ?3, 'FINISHED', ?4, 'ann', '/a', ?5)",
                rusqlite::params![id, experiment, format!("r{i}"), start, stage],
            )
            .unwrap();
            if let Some(lr) = lr {
                conn.execute(
                    "INSERT INTO params VALUES (?1, 'lr', ?2, ?3)",
                    rusqlite::params![id, lr, crate::tracking::store::numeric_param_value(lr)],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO params VALUES (?1, 'opt', ?2, NULL)",
                rusqlite::params![id, if i % 2 == 0 { "adam" } else { "sgd" }],
            )
            .unwrap();
            if let Some(loss) = loss {
                conn.execute(
                    "INSERT INTO metric_summary VALUES (?1, 'loss', ?2, 0, 0, 1, ?2, ?2, 1)",
                    rusqlite::params![id, loss],
                )
                .unwrap();
            }
        }
    }

    /// The ids of all pages of `query`, as `v4_id` indexes.
    fn search_all(store: &SqliteStore, query: &RunsQuery, plans: Plans) -> Vec<usize> {
        let mut query = query.clone();
        let mut out = Vec::new();
        loop {
            let page = store.search_runs_with(&query, plans).unwrap();
            out.extend(page.runs.iter().map(|r| {
                (0..7)
                    .find(|i| v4_id(*i) == r.info.run_id)
                    .expect("a run of the file")
            }));
            match page.next_page_token {
                Some(t) => query.page_token = Some(t),
                None => return out,
            }
        }
    }

    #[test]
    fn a_v4_file_migrates_to_v5_and_searches_by_param_the_same() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("v4.db");
        write_v4_file(&path);
        let cases: Vec<SearchCase> = vec![
            (
                "",
                &["params.lr ASC"],
                ViewType::ActiveOnly,
                vec![0],
                vec![4, 1, 0, 2, 3],
            ),
            (
                "",
                &["params.lr DESC"],
                ViewType::ActiveOnly,
                vec![0],
                vec![0, 1, 4, 2, 3],
            ),
            (
                "",
                &["params.lr ASC"],
                ViewType::All,
                vec![],
                vec![4, 1, 5, 0, 6, 2, 3],
            ),
            (
                "",
                &["params.lr DESC"],
                ViewType::All,
                vec![],
                vec![6, 5, 0, 1, 4, 2, 3],
            ),
            (
                "metrics.loss > 0.25",
                &["params.lr"],
                ViewType::All,
                vec![0, 1],
                vec![4, 1, 5, 0, 6],
            ),
            (
                "params.lr < 0.05",
                &["params.lr DESC"],
                ViewType::All,
                vec![],
                vec![1, 4],
            ),
            (
                "params.lr = 'adam'",
                &["params.lr"],
                ViewType::All,
                vec![],
                vec![2],
            ),
            (
                "params.lr IS NULL",
                &["params.lr"],
                ViewType::All,
                vec![],
                vec![3],
            ),
            (
                "",
                &["params.opt DESC", "params.lr ASC"],
                ViewType::All,
                vec![],
                vec![1, 5, 3, 4, 0, 6, 2],
            ),
            (
                "params.opt = 'sgd'",
                &[],
                ViewType::All,
                vec![],
                vec![5, 3, 1],
            ),
        ];
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        {
            // v6: the migrated params are all indexed, and so are those of the migrated runs
            let conn = Connection::open(&path).unwrap();
            let (unindexed, upto, last): (i64, i64, i64) = conn
                .query_row(
                    "SELECT (SELECT COUNT(*) FROM params WHERE indexed = 0),
                            (SELECT upto FROM param_index_state),
                            (SELECT MAX(run_key) FROM runs)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!((unindexed, upto), (0, last));
        }
        for (filter, order, view, experiments, expected) in &cases {
            for size in [1, 2, 10] {
                let mut query = RunsQuery::new(experiments, filter)
                    .order_by(order)
                    .max_results(size);
                query.view = *view;
                let fast = search_all(&store, &query, Plans::Fastest);
                assert_eq!(&fast, expected, "{filter:?} {order:?} {view:?} {size}");
                let general = search_all(&store, &query, Plans::GeneralOnly);
                assert_eq!(&general, expected, "{filter:?} {order:?} {view:?} {size}");
            }
        }

        // Params read back, keep refusing a different value, and new ones are searchable.
        let run = store.get_run(&v4_id(0)).unwrap();
        let params: Vec<(&str, &str)> = run
            .data
            .params
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(params, [("lr", "0.1"), ("opt", "adam")]);
        let page = store
            .search_runs(&RunsQuery::new(&[0], "params.opt = 'sgd'"))
            .unwrap();
        let counts: Vec<usize> = page.runs.iter().map(|r| r.data.params.len()).collect();
        assert_eq!(
            counts,
            [1, 2],
            "page reads see the params (run 3 has no lr)"
        );
        let conflict = store.log_batch(&v4_id(0), &[Param::new("lr", "0.2")], &[], &[]);
        assert!(
            matches!(
                conflict,
                Err(crate::tracking::store::StoreError::ParamConflict { .. })
            ),
            "{conflict:?}"
        );
        store
            .log_batch(&v4_id(0), &[Param::new("lr", "0.1")], &[], &[])
            .unwrap();
        store
            .log_batch(&v4_id(3), &[Param::new("lr", "0.0001")], &[], &[])
            .unwrap();
        let query = RunsQuery::new(&[0], "").order_by(&["params.lr ASC"]);
        assert_eq!(search_all(&store, &query, Plans::Fastest), [3, 4, 1, 0, 2]);

        let conn = Connection::open(&path).unwrap();
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'params' AND type = 'index' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["params_by_number", "params_by_text"]);
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM params", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 14, "13 migrated params and one new one");
        drop(store);
        let store = SqliteStore::open(&path, tmp.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    }
}
