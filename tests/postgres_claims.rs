//! Trial numbers of one study claimed by many workers at once on the PostgreSQL server: each number
//! 0..max_evals-1 handed out exactly once, never more than max_evals, studies independent.

mod common;

use std::collections::BTreeMap;

use common::pg::TempDb;
use hpo::tracking::postgres::claim::{claim_trial_number, claimed};
use hpo::tracking::postgres::PgDatabase;

#[test]
fn eight_workers_claim_each_number_of_a_400_trial_study_once() {
    let Some(db) = TempDb::create("claims") else {
        return;
    };
    let url = db.url();
    let per_worker: Vec<Vec<i64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    // each worker its own database handle and connection, as separate processes have
                    let d = PgDatabase::open(&url).expect("open");
                    let mut c = d.conn().expect("conn");
                    let mut mine = Vec::new();
                    while let Some(n) = claim_trial_number(&mut c, "study-a", 400).expect("claim") {
                        mine.push(n);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut counts = BTreeMap::new();
    for n in per_worker.iter().flatten() {
        *counts.entry(*n).or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 400);
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..400).collect::<Vec<_>>()
    );
    assert!(counts.values().all(|&c| c == 1), "a number claimed twice");
    // each worker's own numbers increase
    for mine in &per_worker {
        assert!(mine.windows(2).all(|w| w[0] < w[1]), "{mine:?}");
    }

    let d = PgDatabase::open(&url).unwrap();
    let mut c = d.conn().unwrap();
    assert_eq!(claimed(&mut c, "study-a").unwrap(), 400);
    // the budget stays spent; another study starts at 0; a budget of 0 hands out nothing
    assert_eq!(claim_trial_number(&mut c, "study-a", 400).unwrap(), None);
    assert_eq!(claim_trial_number(&mut c, "study-b", 2).unwrap(), Some(0));
    assert_eq!(claim_trial_number(&mut c, "study-b", 2).unwrap(), Some(1));
    assert_eq!(claim_trial_number(&mut c, "study-b", 2).unwrap(), None);
    assert_eq!(claim_trial_number(&mut c, "study-c", 0).unwrap(), None);
    assert_eq!(claimed(&mut c, "study-c").unwrap(), 0);
    // a larger budget given later (a resumed study with more evals) goes on from where it stopped
    assert_eq!(claim_trial_number(&mut c, "study-b", 3).unwrap(), Some(2));
}
