//! Leases on running trials on the PostgreSQL server: a renewed lease stays, an expired one is taken
//! back exactly once however many workers reap at the same time, a lost worker cannot release it.

mod common;

use std::collections::BTreeMap;

use common::pg::TempDb;
use hpo::tracking::postgres::trial_lease::{reap_expired, release, renew, take};
use hpo::tracking::postgres::PgDatabase;

#[test]
fn expired_leases_are_taken_back_exactly_once() {
    let Some(db) = TempDb::create("leases") else {
        return;
    };
    let d = PgDatabase::open(&db.url()).unwrap();
    let mut c = d.conn().unwrap();
    // worker "dead" holds 0..100 with an already expired lease, "alive" holds 100..110 for a minute
    for n in 0..100 {
        take(&mut c, "s", n, "dead", -1).unwrap();
    }
    for n in 100..110 {
        take(&mut c, "s", n, "alive", 60_000).unwrap();
    }
    take(&mut c, "other-study", 0, "dead", -1).unwrap();
    drop(c);

    let reaped: Vec<Vec<i64>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let mut c = d.conn().unwrap();
                    let mut mine = Vec::new();
                    for _ in 0..5 {
                        mine.extend(reap_expired(&mut c, "s").unwrap());
                    }
                    mine
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut counts = BTreeMap::new();
    for n in reaped.iter().flatten() {
        *counts.entry(*n).or_insert(0) += 1;
    }
    assert_eq!(
        counts.keys().copied().collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert!(
        counts.values().all(|&c| c == 1),
        "a lost trial reaped twice"
    );

    let mut c = d.conn().unwrap();
    assert_eq!(reap_expired(&mut c, "s").unwrap(), Vec::<i64>::new());
    // the dead worker comes back: nothing left to renew or release in this study
    assert_eq!(renew(&mut c, "s", "dead", 5_000).unwrap(), 0);
    assert!(!release(&mut c, "s", 3, "dead").unwrap());
    // the live worker renews its 10 and releases one it finished
    assert_eq!(renew(&mut c, "s", "alive", 5_000).unwrap(), 10);
    assert!(release(&mut c, "s", 105, "alive").unwrap());
    assert!(!release(&mut c, "s", 105, "alive").unwrap());
    // the other study's lease was not touched by reaping "s"
    assert_eq!(reap_expired(&mut c, "other-study").unwrap(), [0]);
}
