//! Leases on the running trials of a shared study: the worker running a trial holds its lease and
//! renews it every few seconds; a trial whose lease ran out (its worker killed, its machine lost) is
//! taken back by whichever worker looks first, exactly once.
//!
//! Times are the server's (`now()`), so workers' clocks need not agree. Taking back expired leases is
//! one `DELETE ... RETURNING`: each row is deleted, and so returned, by one statement only, however
//! many workers reap at once.

use postgres::Client;

use super::error::PgError;

/// Takes the lease of trial `number` of the study for `worker`, for `ttl_ms` milliseconds.
pub fn take(
    client: &mut Client,
    study_run_uuid: &str,
    number: i64,
    worker: &str,
    ttl_ms: i64,
) -> Result<(), PgError> {
    client.execute(
        "INSERT INTO trial_leases (study_run_uuid, number, worker, expires_at)
         VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (study_run_uuid, number) DO UPDATE
             SET worker = EXCLUDED.worker, expires_at = EXCLUDED.expires_at",
        &[&study_run_uuid, &number, &worker, &(ttl_ms as f64)],
    )?;
    Ok(())
}

/// Renews all the leases `worker` holds in the study for `ttl_ms` more milliseconds; returns how many
/// it still held (a lease already taken back is not renewed).
pub fn renew(
    client: &mut Client,
    study_run_uuid: &str,
    worker: &str,
    ttl_ms: i64,
) -> Result<u64, PgError> {
    Ok(client.execute(
        "UPDATE trial_leases SET expires_at = now() + $3 * interval '1 millisecond'
         WHERE study_run_uuid = $1 AND worker = $2",
        &[&study_run_uuid, &worker, &(ttl_ms as f64)],
    )?)
}

/// Ends the lease of a trial its worker finished; `false` if the lease was no longer held by `worker`
/// (it ran out and another worker took the trial back).
pub fn release(
    client: &mut Client,
    study_run_uuid: &str,
    number: i64,
    worker: &str,
) -> Result<bool, PgError> {
    Ok(client.execute(
        "DELETE FROM trial_leases WHERE study_run_uuid = $1 AND number = $2 AND worker = $3",
        &[&study_run_uuid, &number, &worker],
    )? == 1)
}

/// Takes back the trials of the study whose lease ran out and returns their numbers (ascending): the
/// caller records each as FAILED with the reason "worker lost". Each number is returned to one
/// caller only.
pub fn reap_expired(client: &mut Client, study_run_uuid: &str) -> Result<Vec<i64>, PgError> {
    let mut numbers: Vec<i64> = client
        .query(
            "DELETE FROM trial_leases WHERE study_run_uuid = $1 AND expires_at < now()
             RETURNING number",
            &[&study_run_uuid],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}
