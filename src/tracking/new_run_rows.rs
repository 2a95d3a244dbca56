//! The tags and params of a run being created, written with a few multi-row inserts.
//!
//! A new run has no rows yet, so its tags and params can only clash with each other: that is settled
//! in memory first (the last value of a repeated tag wins; a param repeated with the same value is
//! written once, with a different value it is a [`StoreError::ParamConflict`], as when params are logged
//! one by one; the store's batch validation already refuses that case before the transaction), and the
//! remaining rows are inserted [`ROWS_PER_STATEMENT`] at a time.

use rusqlite::{Connection, ToSql};

use super::param_index;
use super::store::{numeric_param_value, Param, RunTag, StoreError};

/// Rows per multi-row insert, largest first.
const ROWS_PER_STATEMENT: [usize; 2] = [8, 1];

/// Inserts `rows` (each a list of column values) into `table (columns)`, several rows per statement.
fn insert_rows(
    tx: &Connection,
    table: &str,
    columns: &str,
    rows: &[Vec<&dyn ToSql>],
) -> rusqlite::Result<()> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(());
    };
    let one = format!("({})", vec!["?"; width].join(", "));
    let mut rest = rows;
    for n in ROWS_PER_STATEMENT {
        if rest.len() < n {
            continue;
        }
        // `OR FAIL`: a new run's rows cannot clash (settled in memory above), and any error fails the
        // enclosing transaction or savepoint anyway; without it, SQLite keeps a statement journal
        // (a copy of every page the statement touches) to undo a half-done multi-row insert.
        let sql = format!(
            "INSERT OR FAIL INTO {table} ({columns}) VALUES {}",
            vec![one.as_str(); n].join(", ")
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        while rest.len() >= n {
            let (chunk, tail) = rest.split_at(n);
            for (i, value) in chunk.iter().flatten().enumerate() {
                stmt.raw_bind_parameter(i + 1, value)?;
            }
            stmt.raw_execute()?;
            rest = tail;
        }
    }
    Ok(())
}

/// Writes the tags of the new run `run_id`; a repeated key keeps its last value.
pub(crate) fn insert_new_run_tags(
    tx: &Connection,
    run_id: &str,
    tags: &[RunTag],
) -> Result<(), StoreError> {
    let mut last: Vec<&RunTag> = Vec::with_capacity(tags.len());
    for t in tags {
        match last.iter_mut().find(|l| l.key == t.key) {
            Some(l) => *l = t,
            None => last.push(t),
        }
    }
    let rows: Vec<Vec<&dyn ToSql>> = last
        .iter()
        .map(|t| vec![&run_id as &dyn ToSql, &t.key, &t.value])
        .collect();
    insert_rows(tx, "tags", "run_uuid, key, value", &rows)?;
    Ok(())
}

/// Writes the params of the new run `run_id` (whose integer key is `run_key`): a key repeated with
/// the same value is written once, with a different value it is an error.
pub(crate) fn insert_new_run_params(
    tx: &Connection,
    run_id: &str,
    run_key: i64,
    params: &[Param],
) -> Result<(), StoreError> {
    let mut unique: Vec<(&Param, Option<f64>)> = Vec::with_capacity(params.len());
    for p in params {
        match unique.iter().find(|(u, _)| u.key == p.key) {
            Some((u, _)) if u.value == p.value => {}
            Some((u, _)) => {
                return Err(StoreError::ParamConflict {
                    run_id: run_id.to_string(),
                    key: p.key.clone(),
                    old: u.value.clone(),
                    new: p.value.clone(),
                })
            }
            None => unique.push((p, numeric_param_value(&p.value))),
        }
    }
    let indexed = param_index::indexed_flag(tx, run_key)?;
    let rows: Vec<Vec<&dyn ToSql>> = unique
        .iter()
        .map(|(p, num)| vec![&run_key as &dyn ToSql, &p.key, &p.value, num, &indexed])
        .collect();
    insert_rows(
        tx,
        "params",
        "run_key, key, value, num_value, indexed",
        &rows,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::tracking::store::{NewRun, Param, RunTag, Store, StoreError};
    use crate::tracking::SqliteStore;

    #[test]
    fn a_new_runs_repeated_params_and_tags_follow_the_one_by_one_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let store = SqliteStore::open_in_memory(tmp.path()).unwrap();
        let mut params: Vec<Param> = (0..11).map(|i| Param::new(format!("p{i}"), "1")).collect();
        params.push(Param::new("p3", "1"));
        let run = store
            .create_run(&NewRun {
                experiment_id: 0,
                params,
                tags: vec![RunTag::new("t", "x"), RunTag::new("t", "y")],
                ..NewRun::default()
            })
            .unwrap();
        let data = store.get_run(&run.run_id).unwrap().data;
        assert_eq!(data.params.len(), 11);
        assert_eq!(
            data.tag("t"),
            Some("y"),
            "the last value of a repeated tag wins"
        );

        let conflict = store.create_run(&NewRun {
            experiment_id: 0,
            params: vec![Param::new("a", "1"), Param::new("a", "2")],
            ..NewRun::default()
        });
        // Caught by the batch validation before any write, as for `log_batch`.
        assert!(
            matches!(conflict, Err(StoreError::InvalidArgument(_))),
            "{conflict:?}"
        );
    }
}
