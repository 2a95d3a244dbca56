//! Checks of the TPE machinery against hyperopt's worked examples (shared/reference/hyperopt.md).

use std::collections::BTreeMap;

use super::parzen::{Estimator, Obs};
use super::split::{forgetting_weights, n_good};
use super::*;
use crate::space::hp;
use crate::study::Study;
use crate::Random;

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn study_with(xs: &[f64]) -> (Space, Study) {
    let space = Space::from_params([hp::uniform("x", 0.0, 1.0)]).unwrap();
    let mut study = Study::new(&space, Random, 0);
    for &x in xs {
        let v = BTreeMap::from([("x".to_string(), Value::Float(x))]);
        study.add_trial(&v, x).unwrap();
    }
    (space, study)
}

/// The estimator over every trial of `study`, each with weight 1, for parameter 0.
fn estimator_of(space: &Space, study: &Study, tpe: &Tpe) -> Estimator {
    let obs: Vec<Obs> = (0..study.trials().len())
        .map(|i| Obs {
            trial: i,
            weight: 1.0,
        })
        .collect();
    Estimator::build(
        space,
        study.trials(),
        &obs,
        &[0],
        1.0,
        &tpe.kernel(obs.len()),
    )
}

fn hyperopt_estimator(xs: &[f64]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (space, study) = study_with(xs);
    estimator_of(&space, &study, &Tpe::HYPEROPT)
        .numeric_components(0)
        .unwrap()
}

#[test]
fn hyperopt_parzen_worked_example_four_points() {
    // uniform(0,1), obs [0.1, 0.9, 0.55, 0.52]: sorted with the prior (0.5) inserted:
    // mus [0.1, 0.5, 0.52, 0.55, 0.9], sigmas [0.4, 1.0, 1/6 (0.03 clipped up), 0.35, 0.35]
    let (w, mu, sigma) = hyperopt_estimator(&[0.1, 0.9, 0.55, 0.52]);
    // components are in observation order, prior last
    assert!(close(&mu, &[0.1, 0.9, 0.55, 0.52, 0.5], 1e-12), "{mu:?}");
    assert!(
        close(&sigma, &[0.4, 0.35, 0.35, 1.0 / 6.0, 1.0], 1e-12),
        "{sigma:?}"
    );
    assert!(close(&w, &[0.2; 5], 1e-12), "{w:?}");
}

#[test]
fn hyperopt_parzen_worked_example_one_point() {
    // one obs at 0.3: mus [0.3, 0.5], sigmas [0.5, 1.0], weights [0.5, 0.5]
    let (w, mu, sigma) = hyperopt_estimator(&[0.3]);
    assert!(close(&mu, &[0.3, 0.5], 1e-12));
    assert!(close(&sigma, &[0.5, 1.0], 1e-12));
    assert!(close(&w, &[0.5, 0.5], 1e-12));
}

#[test]
fn hyperopt_good_set_sizes() {
    let g = Tpe::HYPEROPT.gamma;
    let sizes: Vec<usize> = [20, 50, 100, 400, 1000, 5000, 10_000, 50_000]
        .iter()
        .map(|&n| n_good(g, n))
        .collect();
    assert_eq!(sizes, vec![2, 2, 3, 5, 8, 18, 25, 25]);
}

#[test]
fn linear_forgetting_weights_match_hyperopt() {
    let w = forgetting_weights(30, Some(25));
    assert_eq!(w.len(), 30);
    assert!(
        close(
            &w[..5],
            &[1.0 / 30.0, 0.275, 0.516_666_666_7, 0.758_333_333_3, 1.0],
            1e-9
        ),
        "{w:?}"
    );
    assert!(w[5..].iter().all(|&x| x == 1.0));
    assert_eq!(forgetting_weights(25, Some(25)), vec![1.0; 25]);
    assert_eq!(forgetting_weights(10, None), vec![1.0; 10]);
}

#[test]
fn neighbour_bandwidths_are_floored() {
    let (space, study) = study_with(&[0.5, 0.5001, 0.9]);
    let est = estimator_of(&space, &study, &Tpe::DEFAULT);
    let (_, _, sigma) = est.numeric_components(0).unwrap();
    assert!(sigma.iter().all(|&s| s >= 0.03 - 1e-12), "{sigma:?}");
    assert_eq!(sigma[3], 1.0); // prior: the whole range
}

#[test]
fn bandwidth_floor_shrinks_after_its_start() {
    let tpe = Tpe::DEFAULT;
    let d = tpe.min_bandwidth_decay.unwrap();
    // constant up to `after` finished trials, then min_bandwidth * (after / n)^power
    assert_eq!(tpe.min_bandwidth_at(0), 0.03);
    assert_eq!(tpe.min_bandwidth_at(d.after), 0.03);
    let at_100 = 0.03 * (d.after as f64 / 100.0).powf(d.power);
    assert!((tpe.min_bandwidth_at(100) - at_100).abs() < 1e-15);
    assert!(tpe.min_bandwidth_at(200) < tpe.min_bandwidth_at(100));
    // hyperopt's preset and a constant floor do not shrink
    assert_eq!(Tpe::HYPEROPT.min_bandwidth_at(1000), 0.0);
    let constant = Tpe {
        min_bandwidth_decay: None,
        ..Tpe::DEFAULT
    };
    assert_eq!(constant.min_bandwidth_at(1000), 0.03);

    // the kernels of a large study use the shrunk floor: two close points among many far
    // apart ones get bandwidths below 3 % of the range but not below the floor
    let xs: Vec<f64> = (0..100)
        .map(|i| {
            if i == 1 {
                0.5001
            } else {
                0.5 + 0.004 * (i as f64 - 50.0)
            }
        })
        .collect();
    let (space, study) = study_with(&xs);
    let est = estimator_of(&space, &study, &tpe);
    let (_, _, sigma) = est.numeric_components(0).unwrap();
    let smallest = sigma.iter().copied().fold(f64::INFINITY, f64::min);
    assert!((smallest - at_100).abs() < 1e-12, "{smallest} vs {at_100}");
    let est = estimator_of(&space, &study, &constant);
    let (_, _, sigma) = est.numeric_components(0).unwrap();
    assert!(sigma.iter().all(|&s| s >= 0.03 - 1e-12));
}

#[test]
fn startup_is_random_then_model_is_used() {
    // With fewer ok trials than n_startup, TPE draws from the prior; after, it concentrates
    // near the good points.
    let xs: Vec<f64> = (0..30).map(|i| i as f64 / 29.0).collect();
    let (space, mut study) = study_with(&xs);
    let tpe = Tpe::default();
    let view = crate::trial::HistoryView::new(study.trials());
    let mut near = 0;
    for k in 0..200 {
        let mut rng = crate::algo::trial_rng(7, k);
        let a = tpe.suggest(&space, &view, &mut rng);
        if a.raw(0).unwrap() < 0.25 {
            near += 1;
        }
    }
    // losses equal x, so good points are the smallest x: most suggestions land low
    assert!(
        near > 150,
        "only {near}/200 suggestions near the good region"
    );
    let _ = study.ask();
}

#[test]
fn an_equal_space_built_separately_gives_the_same_suggestions() {
    // the trials' cached internal values belong to the space object that recorded them; an
    // equal space passed in its place has them worked out afresh, to the same bits
    use crate::bench::problems::{mixed10_objective, mixed10_space};
    let space = mixed10_space();
    let twin = mixed10_space();
    let mut study = Study::new(&space, Random, 3);
    for _ in 0..300 {
        let t = study.ask();
        let loss = mixed10_objective(&t.params);
        study.tell(t.number, loss).unwrap();
    }
    let view = crate::trial::HistoryView::new(study.trials());
    for algo in [Tpe::default(), Tpe::hyperopt()] {
        for k in 0..3 {
            let a = algo.suggest(&space, &view, &mut crate::algo::trial_rng(9, k));
            let b = algo.suggest(&twin, &view, &mut crate::algo::trial_rng(9, k));
            assert_eq!(a.key(), b.key(), "{} suggestion {k}", algo.name());
        }
    }
}

#[test]
fn hyperopt_scores_of_an_unbounded_parameter_are_finite() {
    // normal(0, 3): hyperopt's mixture is not truncated, so nothing is renormalized
    let space = Space::from_params([hp::normal("x", 0.0, 3.0)]).unwrap();
    let mut study = Study::new(&space, Random, 0);
    for (i, x) in [-4.0, -1.0, 0.5, 2.0, 2.5, 6.0].into_iter().enumerate() {
        let v = BTreeMap::from([("x".to_string(), Value::Float(x))]);
        study
            .add_trial(&v, (x - 2.0f64).powi(2) + i as f64 * 1e-3)
            .unwrap();
    }
    let est = estimator_of(&space, &study, &Tpe::HYPEROPT);
    let cands: Vec<Assignment> = [-4.0, -1.0, 0.5, 2.0, 2.5, 6.0]
        .iter()
        .map(|&x| Assignment(vec![x]))
        .collect();
    for (x, lp) in [-4.0, -1.0, 0.5, 2.0, 2.5, 6.0]
        .iter()
        .zip(est.log_pdf_many(&cands))
    {
        assert!(lp.is_finite(), "log density at {x} is {lp}");
    }
}

#[test]
fn integer_keys_pick_the_same_best_as_comparing_ranks() {
    use rand::RngExt;
    let mut rng = crate::algo::trial_rng(9, 0);
    let specials = [
        f64::NAN,
        -0.0,
        0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -1e-300,
        1e-300,
    ];
    for v in specials.iter().chain(&[1.5, -2.25]) {
        assert_eq!(
            from_total_order_bits(total_order_bits(*v)).to_bits(),
            v.to_bits()
        );
    }
    let reference = |scored: &[(Rank, usize)], keep: usize| {
        let mut all = scored.to_vec();
        all.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        all.truncate(keep);
        all
    };
    // ties in value (so the trial decides), special values, and hyperopt's worst tier
    let plain: Vec<(Rank, usize)> = (0..400)
        .map(|i| {
            let r = match i % 50 {
                0 => Rank::worst(),
                1 => Rank::ok(specials[i % specials.len()]),
                _ => Rank::ok(rng.random_range(0..30) as f64 * 0.25 - 2.0),
            };
            (r, i)
        })
        .collect();
    // and with pruned trials, which take the comparing route
    let mut pruned = plain.clone();
    pruned[7].0 = Rank::pruned(Some(3), 0.5);
    pruned[9].0 = Rank::pruned(None, f64::NAN);
    for scored in [&plain, &pruned] {
        for keep in [0, 1, 26, 399, 400, 401] {
            let (got, want) = (best_ranked(scored, keep), reference(scored, keep));
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert!(g.1 == w.1 && g.0.cmp(&w.0).is_eq(), "keep {keep}");
                assert_eq!(g.0.value.to_bits(), w.0.value.to_bits());
            }
        }
    }
}
