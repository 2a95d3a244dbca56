//! Trial numbers of a study shared by many workers, claimed atomically.
//!
//! One statement per claim (an upsert on the study's row of `study_claims`): PostgreSQL locks only that
//! row for the statement, so concurrent workers get distinct, consecutive numbers without a table lock,
//! and the budget is checked in the same statement, so no more than `max_evals` numbers are ever handed
//! out across all workers. A claimed number is never handed out again, even if its trial fails.

use postgres::Client;

use super::error::PgError;

/// Claims the next trial number of the study run `study_run_uuid` (0, 1, 2, ...), or `None` when
/// `max_evals` numbers have been claimed already.
pub fn claim_trial_number(
    client: &mut Client,
    study_run_uuid: &str,
    max_evals: i64,
) -> Result<Option<i64>, PgError> {
    if max_evals <= 0 {
        return Ok(None);
    }
    let row = client.query_opt(
        "INSERT INTO study_claims AS c (study_run_uuid, next_number) VALUES ($1, 1)
         ON CONFLICT (study_run_uuid) DO UPDATE SET next_number = c.next_number + 1
             WHERE c.next_number < $2
         RETURNING next_number - 1",
        &[&study_run_uuid, &max_evals],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// How many trial numbers of the study have been claimed.
pub fn claimed(client: &mut Client, study_run_uuid: &str) -> Result<i64, PgError> {
    Ok(client
        .query_opt(
            "SELECT next_number FROM study_claims WHERE study_run_uuid = $1",
            &[&study_run_uuid],
        )?
        .map_or(0, |r| r.get(0)))
}
