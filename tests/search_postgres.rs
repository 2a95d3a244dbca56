//! The search compiler's two dialects give the same runs in the same order: every filter operator and
//! ordering, compiled once for SQLite and once for PostgreSQL, run over the same rows in a real SQLite
//! database and in a schema of its own on the PostgreSQL server at 127.0.0.1:5432 (dropped after).
//!
//! Without a server the test prints why and passes, unless `CI` is set: then it fails.

mod common;

use hpo::tracking::search::{
    self, compile_filter, compile_order, parse_filter, parse_order_by, Bindings, SqlValue,
};

const TABLES: &str = "
CREATE TABLE runs (run_uuid TEXT NOT NULL, run_key BIGINT NOT NULL, name TEXT NOT NULL,
  status TEXT NOT NULL, user_id TEXT NOT NULL, artifact_uri TEXT NOT NULL, parent_run_id TEXT,
  start_time BIGINT NOT NULL, end_time BIGINT, experiment_id BIGINT NOT NULL);
CREATE TABLE params (run_key BIGINT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  num_value DOUBLE PRECISION);
CREATE TABLE tags (run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE TABLE metric_summary (run_uuid TEXT NOT NULL, key TEXT NOT NULL,
  latest_value DOUBLE PRECISION, min_value DOUBLE PRECISION, max_value DOUBLE PRECISION);
";

/// (run_uuid, run_key, name, status, parent, start, end, experiment)
type RunRow = (
    &'static str,
    i64,
    &'static str,
    &'static str,
    Option<&'static str>,
    i64,
    Option<i64>,
    i64,
);

const RUNS: &[RunRow] = &[
    ("r1", 1, "run-a", "FINISHED", None, 1, Some(10), 1),
    ("r2", 2, "run-b", "FAILED", Some("r1"), 2, Some(11), 1),
    ("r3", 3, "other", "RUNNING", Some("r1"), 3, None, 1),
    ("r4", 4, "run-c", "FINISHED", None, 4, Some(12), 2),
    ("r5", 5, "Run-D", "KILLED", Some("r4"), 5, Some(13), 2),
    ("r6", 6, "run_e", "FINISHED", None, 6, Some(14), 2),
];

/// (run_key, key, value)
const PARAMS: &[(i64, &str, &str)] = &[
    (1, "lr", "0.1"),
    (2, "lr", "0.01"),
    (3, "lr", "auto"),
    (4, "lr", "1e-3"),
    (6, "lr", "0.5"),
    (1, "opt", "adam"),
    (2, "opt", "sgd"),
    (3, "opt", "Adam"),
    (5, "opt", "adam"),
];

/// (run_uuid, key, value)
const TAGS: &[(&str, &str, &str)] = &[
    ("r1", "team", "ML-core"),
    ("r2", "team", "ml-infra"),
    ("r3", "team", "data"),
    ("r5", "team", "MLops"),
    ("r1", "path", "C:\\runs"),
    ("r2", "path", "C:/runs"),
    ("r4", "hpo.user", "ann"),
];

/// (run_uuid, key, latest, min, max)
const METRICS: &[(&str, &str, f64, f64, f64)] = &[
    ("r1", "loss", 0.3, 0.2, 0.9),
    ("r2", "loss", 0.7, 0.5, 1.0),
    ("r3", "loss", 0.1, 0.1, 0.4),
    ("r4", "loss", 0.5, 0.25, 0.8),
    ("r6", "acc", 0.9, 0.1, 0.9),
];

const FILTERS: &[&str] = &[
    "",
    "metrics.loss < 0.5",
    "metrics.loss <= 0.5",
    "metrics.loss > 0.3",
    "metrics.loss >= 0.3",
    "metrics.loss = 0.7",
    "metrics.loss != 0.7",
    "metrics.min.loss >= 0.2",
    "metrics.max.loss < 1",
    "metrics.loss IS NULL",
    "metrics.loss IS NOT NULL",
    "metrics.loss IN (0.3, 0.5)",
    "params.lr > 0.01",
    "params.lr <= 0.01",
    "params.lr = 'auto'",
    "params.lr != 'auto'",
    "params.lr IN (0.1, 0.5)",
    "params.lr NOT IN (0.1, 0.5)",
    "params.opt = 'adam'",
    "params.opt != 'adam'",
    "params.opt IN ('adam', 'sgd')",
    "params.opt NOT IN ('sgd')",
    "params.opt LIKE 'a%'",
    "params.opt ILIKE 'a%'",
    "params.opt NOT ILIKE 'a%'",
    "params.opt IS NULL",
    "tags.team LIKE 'ML%'",
    "tags.team ILIKE 'ml%'",
    "tags.team NOT LIKE '%a%'",
    "tags.team LIKE 'm_-infra'",
    "tags.team IS NULL",
    "tags.team IS NOT NULL",
    "tags.path LIKE 'C:\\\\%'",
    "tags.hpo.user = 'ann'",
    "tags.team < 'data'",
    "status = 'FINISHED'",
    "status != 'FINISHED'",
    "status IN ('FAILED', 'KILLED')",
    "run_name LIKE 'run-%'",
    "run_name ILIKE 'run-%'",
    "run_name LIKE 'run_%'",
    "attributes.start_time >= 3",
    "start_time < 2.5",
    "end_time IS NULL",
    "end_time > 11",
    "parent_run_id = 'r1'",
    "parent_run_id IS NULL",
    "experiment_id = 2",
    "run_id IN ('r1', 'r6')",
    "run_id NOT IN ('r1', 'r6')",
    "NOT (params.opt = 'adam')",
    "NOT (metrics.loss > 0.2)",
    "(params.opt = 'adam' AND metrics.loss < 0.5) OR status = 'KILLED'",
    "metrics.loss < 0.9 AND NOT tags.team ILIKE 'ml%' OR experiment_id = 2 AND params.lr > 0.2",
];

const ORDERS: &[&[&str]] = &[
    &[],
    &["metrics.loss"],
    &["metrics.loss DESC"],
    &["metrics.max.loss ASC"],
    &["params.lr DESC"],
    &["params.lr ASC"],
    &["params.opt", "metrics.loss DESC"],
    &["tags.team DESC"],
    &["start_time ASC"],
    &["end_time DESC"],
    &["run_name"],
    &["status", "run_id DESC"],
    &["experiment_id DESC", "metrics.min.loss"],
];

fn sqlite_runs(db: &rusqlite::Connection, cond: &str, order: &str, b: &Bindings) -> Vec<String> {
    let sql = format!("SELECT r.run_uuid FROM runs r WHERE {cond} ORDER BY {order}");
    let params: Vec<rusqlite::types::Value> = b
        .params
        .iter()
        .map(|v| match v {
            SqlValue::Text(s) => rusqlite::types::Value::Text(s.clone()),
            SqlValue::Real(x) => rusqlite::types::Value::Real(*x),
            SqlValue::Integer(i) => rusqlite::types::Value::Integer(*i),
        })
        .collect();
    let mut stmt = db.prepare(&sql).expect(&sql);
    stmt.query_map(rusqlite::params_from_iter(params), |r| r.get(0))
        .expect(&sql)
        .collect::<Result<_, _>>()
        .expect(&sql)
}

fn postgres_runs(pg: &mut postgres::Client, cond: &str, order: &str, b: &Bindings) -> Vec<String> {
    let sql = format!("SELECT r.run_uuid FROM runs r WHERE {cond} ORDER BY {order}");
    let params = search::postgres::to_sql_params(b);
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn postgres::types::ToSql + Sync))
        .collect();
    pg.query(&sql, &refs)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn fill_sqlite() -> rusqlite::Connection {
    let db = rusqlite::Connection::open_in_memory().unwrap();
    db.execute_batch(TABLES).unwrap();
    for r in RUNS {
        db.execute(
            "INSERT INTO runs VALUES (?1, ?2, ?3, ?4, 'u', 'file:/a', ?5, ?6, ?7, ?8)",
            rusqlite::params![r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7],
        )
        .unwrap();
    }
    for p in PARAMS {
        let num = p.2.parse::<f64>().ok();
        db.execute(
            "INSERT INTO params VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![p.0, p.1, p.2, num],
        )
        .unwrap();
    }
    for t in TAGS {
        db.execute(
            "INSERT INTO tags VALUES (?1, ?2, ?3)",
            rusqlite::params![t.0, t.1, t.2],
        )
        .unwrap();
    }
    for m in METRICS {
        db.execute(
            "INSERT INTO metric_summary VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![m.0, m.1, m.2, m.3, m.4],
        )
        .unwrap();
    }
    db
}

fn fill_postgres(pg: &mut postgres::Client) {
    pg.batch_execute(TABLES).unwrap();
    for r in RUNS {
        pg.execute(
            "INSERT INTO runs VALUES ($1, $2, $3, $4, 'u', 'file:/a', $5, $6, $7, $8)",
            &[&r.0, &r.1, &r.2, &r.3, &r.4, &r.5, &r.6, &r.7],
        )
        .unwrap();
    }
    for p in PARAMS {
        let num = p.2.parse::<f64>().ok();
        pg.execute(
            "INSERT INTO params VALUES ($1, $2, $3, $4)",
            &[&p.0, &p.1, &p.2, &num],
        )
        .unwrap();
    }
    for t in TAGS {
        pg.execute("INSERT INTO tags VALUES ($1, $2, $3)", &[&t.0, &t.1, &t.2])
            .unwrap();
    }
    for m in METRICS {
        pg.execute(
            "INSERT INTO metric_summary VALUES ($1, $2, $3, $4, $5)",
            &[&m.0, &m.1, &m.2, &m.3, &m.4],
        )
        .unwrap();
    }
}

/// Drops the test's schema when the test ends, passed or not.
struct Schema<'a>(&'a mut postgres::Client, String);

impl Drop for Schema<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.1));
    }
}

#[test]
fn both_dialects_find_and_order_the_same_runs() {
    let Some(mut pg) = common::pg::connect("test") else {
        return;
    };
    let schema = format!("hpo_search_{}", std::process::id());
    pg.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path TO {schema}"
    ))
    .unwrap();
    let guard = Schema(&mut pg, schema);
    fill_postgres(guard.0);
    let lite = fill_sqlite();

    let mut compared = 0;
    for filter in FILTERS {
        let expr = parse_filter(filter).unwrap();
        for order in ORDERS {
            let keys: Vec<_> = order
                .iter()
                .enumerate()
                .map(|(i, c)| parse_order_by(c, i).unwrap())
                .collect();
            let mut lb = Bindings::default();
            let mut pb = Bindings::postgres();
            let (lc, pc) = match &expr {
                Some(e) => (compile_filter(e, &mut lb), compile_filter(e, &mut pb)),
                None => ("1 = 1".to_string(), "true".to_string()),
            };
            let lo = compile_order(&keys, &mut lb);
            let po = compile_order(&keys, &mut pb);
            let from_sqlite = sqlite_runs(&lite, &lc, &lo, &lb);
            let from_postgres = postgres_runs(guard.0, &pc, &po, &pb);
            assert_eq!(
                from_sqlite, from_postgres,
                "filter {filter:?} order_by {order:?}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, FILTERS.len() * ORDERS.len());

    // A few answers spelled out, so both agreeing on a wrong answer would fail too.
    let run = |pg: &mut postgres::Client, filter: &str, order: &[&str]| {
        let mut b = Bindings::postgres();
        let cond = compile_filter(&parse_filter(filter).unwrap().unwrap(), &mut b);
        let keys: Vec<_> = order
            .iter()
            .enumerate()
            .map(|(i, c)| parse_order_by(c, i).unwrap())
            .collect();
        let ord = compile_order(&keys, &mut b);
        postgres_runs(pg, &cond, &ord, &b)
    };
    assert_eq!(
        run(guard.0, "tags.team LIKE 'ML%'", &["run_id"]),
        ["r1", "r5"]
    );
    assert_eq!(
        run(guard.0, "tags.team ILIKE 'ml%'", &["run_id"]),
        ["r1", "r2", "r5"]
    );
    assert_eq!(run(guard.0, "tags.path LIKE 'C:\\\\%'", &[]), ["r1"]);
    assert_eq!(
        run(guard.0, "params.lr > 0.01", &["params.lr DESC"]),
        ["r6", "r1"]
    );
    assert_eq!(
        run(guard.0, "run_id != 'x'", &["params.lr ASC"]),
        ["r4", "r2", "r1", "r6", "r3", "r5"]
    );
    assert_eq!(
        run(guard.0, "NOT (params.opt = 'adam')", &["run_id"]),
        ["r2", "r3", "r4", "r6"]
    );
    assert_eq!(
        run(guard.0, "metrics.loss IS NULL", &["metrics.loss"]),
        ["r6", "r5"]
    );
}
