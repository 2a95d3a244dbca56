//! Multi-fidelity benchmark problems (issue 16): an evaluation is a learning curve, one value
//! per step 1..=[`STEPS`], so a pruner can stop it early and the budget is counted in steps.
//!
//! The synthetic families share four parameters `x0..x3` in [0, 1] and a final value
//! `a(x) = sum_i w_i d_i^2 + 0.05 sum_i (1 - cos(4 pi d_i))` with `d = x - c`,
//! `c = (0.3, 0.7, 0.5, 0.2)`, `w = (1, 1, 0.5, 0.5)` (minimum 0 at `c`). With
//! `e(t, tau) = exp(-t / tau) - exp(-T / tau)` (0 at the last step `T`), the value at step `t` is:
//!
//! - `curves_parallel`: `a + e(t, 8)`. Every curve has the same shape: early order is final order.
//! - `curves_slow_best`: `a + e(t, tau)` with `tau = 2 + 30 exp(-a / 0.1)`: fast starters plateau
//!   high, slow starters end best (a good trial looks bad for its first tens of steps).
//! - `curves_noisy`: `a + e(t, 4 + 12 x3) + 0.05 z(seed, trial, t)`, `z` standard normal noise
//!   fixed by (study seed, trial number, step); the study is scored on the noiseless `a`.
//! - `curves_crossing`: `a + e(t, 3 + 20 x3) - 0.5 (1 - x3) (1 - (t / T)^2)`: a small `x3` (little
//!   regularization) learns fast and looks best mid-run, then overfits back to `a`; curves cross.
//!
//! The real one, `sgd_diabetes`, trains a linear model on degree-2 features of linfa's diabetes
//! data by mini-batch SGD with momentum and L2 (params `lr`, `momentum`, `l2`); a step is an
//! epoch and its value the validation MSE of the standardized target (capped at
//! [`DIVERGED`]). Its minimum is unknown: its regret is the final loss itself.
//!
//! `enet_diabetes` is a linfa model: linfa's `ElasticNet` (coordinate descent from zero weights)
//! on the same rows' 10 standardized features (params `penalty`, `l1_ratio`); step `t` is the
//! model fitted with `t` coordinate-descent sweeps (tolerance 0, so it never stops early) and
//! its value the validation MSE. Its minimum is unknown too.
//!
//! `benches/anchors/pruning.py` computes the same curves for Optuna's pruners.

use std::f64::consts::PI;
use std::sync::OnceLock;

use linfa::Dataset;
use ndarray::{Array1, Array2, Ix1};

use super::noisy::standard_normal;
use crate::space::{hp, Params, Space};

/// Steps of every curve (81 = 3^4, so Hyperband's rungs with reduction factor 3 end there).
pub const STEPS: i64 = 81;

/// The validation MSE reported by `sgd_diabetes` once the model diverged (or above it): the
/// mean predictor scores about 1.
pub const DIVERGED: f64 = 10.0;

/// Observation noise of `curves_noisy`.
pub const NOISE_SD: f64 = 0.05;

const CENTRE: [f64; 4] = [0.3, 0.7, 0.5, 0.2];
const WEIGHT: [f64; 4] = [1.0, 1.0, 0.5, 0.5];

/// Which curves a problem draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Same shape for every trial.
    Parallel,
    /// Fast starters plateau high, slow starters end best.
    SlowBest,
    /// Observation noise at every step.
    Noisy,
    /// Fast learners overfit: curves cross.
    Crossing,
    /// SGD on the diabetes data.
    SgdDiabetes,
    /// linfa's ElasticNet on the diabetes data, one coordinate-descent sweep more per step.
    EnetDiabetes,
}

/// A multi-fidelity problem.
#[derive(Clone, Debug)]
pub struct FidelityProblem {
    /// Its name.
    pub name: &'static str,
    /// Its curves.
    pub family: Family,
    /// The search space.
    pub space: Space,
    /// The known minimum of the final value (`None`: unknown).
    pub minimum: Option<f64>,
}

/// Every multi-fidelity problem.
pub fn all() -> Vec<FidelityProblem> {
    let unit = || {
        Space::from_params((0..4).map(|i| hp::uniform(&format!("x{i}"), 0.0, 1.0)))
            .expect("benchmark space is valid")
    };
    let synthetic = |name, family| FidelityProblem {
        name,
        family,
        space: unit(),
        minimum: Some(0.0),
    };
    vec![
        synthetic("curves_parallel", Family::Parallel),
        synthetic("curves_slow_best", Family::SlowBest),
        synthetic("curves_noisy", Family::Noisy),
        synthetic("curves_crossing", Family::Crossing),
        FidelityProblem {
            name: "sgd_diabetes",
            family: Family::SgdDiabetes,
            space: Space::from_params([
                hp::loguniform("lr", (1e-3f64).ln(), 0.0),
                hp::uniform("momentum", 0.0, 0.95),
                hp::loguniform("l2", (1e-6f64).ln(), (1.0f64).ln()),
            ])
            .expect("benchmark space is valid"),
            minimum: None,
        },
        FidelityProblem {
            name: "enet_diabetes",
            family: Family::EnetDiabetes,
            space: Space::from_params([
                hp::loguniform("penalty", (1e-4f64).ln(), 0.0),
                hp::uniform("l1_ratio", 0.0, 1.0),
            ])
            .expect("benchmark space is valid"),
            minimum: None,
        },
    ]
}

/// The problem called `name`.
pub fn by_name(name: &str) -> Option<FidelityProblem> {
    all().into_iter().find(|p| p.name == name)
}

/// The synthetic final value `a(x)` (see the module's documentation).
pub fn final_value(x: &[f64; 4]) -> f64 {
    (0..4)
        .map(|i| {
            let d = x[i] - CENTRE[i];
            WEIGHT[i] * d * d + 0.05 * (1.0 - (4.0 * PI * d).cos())
        })
        .sum()
}

/// `exp(-t / tau) - exp(-T / tau)`: the part of a curve still to be learned at step `t`.
fn remaining(t: i64, tau: f64) -> f64 {
    (-(t as f64) / tau).exp() - (-(STEPS as f64) / tau).exp()
}

/// The noiseless value of a synthetic family at step `t` for parameters `x`.
pub fn synthetic_value(family: Family, x: &[f64; 4], t: i64) -> f64 {
    let a = final_value(x);
    match family {
        Family::Parallel | Family::SgdDiabetes | Family::EnetDiabetes => a + remaining(t, 8.0),
        Family::SlowBest => a + remaining(t, 2.0 + 30.0 * (-a / 0.1).exp()),
        Family::Noisy => a + remaining(t, 4.0 + 12.0 * x[3]),
        Family::Crossing => {
            let s = t as f64 / STEPS as f64;
            a + remaining(t, 3.0 + 20.0 * x[3]) - 0.5 * (1.0 - x[3]) * (1.0 - s * s)
        }
    }
}

/// Observation noise of `curves_noisy` at (study seed, trial number, step): a standard normal
/// draw.
pub fn step_noise(seed: u64, trial: usize, step: i64) -> f64 {
    standard_normal(
        seed ^ (step as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        trial,
    )
}

/// One evaluation in progress: call [`CurveRun::step`] for steps 1, 2, ... up to [`STEPS`].
#[derive(Clone, Debug)]
pub struct CurveRun {
    family: Family,
    x: [f64; 4],
    seed: u64,
    trial: usize,
    sgd: Option<Sgd>,
    enet: Option<(f64, f64)>,
    t: i64,
}

impl CurveRun {
    /// Start evaluating `params` of `problem` in trial `trial` of a study seeded `seed`.
    pub fn new(problem: &FidelityProblem, params: &Params, seed: u64, trial: usize) -> CurveRun {
        let get = |k: &str| params.f64(k).unwrap_or(f64::NAN);
        let x = [get("x0"), get("x1"), get("x2"), get("x3")];
        let sgd = (problem.family == Family::SgdDiabetes)
            .then(|| Sgd::new(get("lr"), get("momentum"), get("l2")));
        let enet =
            (problem.family == Family::EnetDiabetes).then(|| (get("penalty"), get("l1_ratio")));
        CurveRun {
            family: problem.family,
            x,
            seed,
            trial,
            sgd,
            enet,
            t: 0,
        }
    }

    /// Run the next step; returns (step, observed value).
    pub fn step(&mut self) -> (i64, f64) {
        self.t += 1;
        let t = self.t;
        if let Some((penalty, l1_ratio)) = self.enet {
            return (t, enet_value(penalty, l1_ratio, t));
        }
        let v = match &mut self.sgd {
            Some(sgd) => sgd.epoch(),
            None => {
                let clean = synthetic_value(self.family, &self.x, t);
                if self.family == Family::Noisy {
                    clean + NOISE_SD * step_noise(self.seed, self.trial, t)
                } else {
                    clean
                }
            }
        };
        (t, v)
    }

    /// The value the study is scored on once the curve ended: the noiseless final value of a
    /// synthetic family, the last validation loss of SGD.
    pub fn score(&self, last_observed: f64) -> f64 {
        match self.family {
            Family::SgdDiabetes | Family::EnetDiabetes => last_observed,
            f => synthetic_value(f, &self.x, STEPS),
        }
    }
}

/// The diabetes data as `sgd_diabetes` uses it: standardized degree-2 features.
#[derive(Debug)]
pub struct SgdData {
    /// Training rows (features), row-major.
    pub train_x: Vec<Vec<f64>>,
    /// Training targets.
    pub train_y: Vec<f64>,
    /// Validation rows.
    pub val_x: Vec<Vec<f64>>,
    /// Validation targets.
    pub val_y: Vec<f64>,
}

/// Rows of the diabetes data used for training; the rest validate.
pub const SGD_TRAIN_ROWS: usize = 331;
/// Rows per mini-batch.
pub const SGD_BATCH: usize = 32;

/// Mean and (population) standard deviation of `col` over `rows` (sd 1 if it is 0).
fn mean_sd(rows: &[Vec<f64>], col: usize) -> (f64, f64) {
    let n = rows.len() as f64;
    let mean = rows.iter().map(|r| r[col]).sum::<f64>() / n;
    let var = rows.iter().map(|r| (r[col] - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt();
    (mean, if sd > 0.0 { sd } else { 1.0 })
}

/// Standardize every column of `train` and `val` with `train`'s mean and sd.
fn standardize(train: &mut [Vec<f64>], val: &mut [Vec<f64>]) {
    let cols = train.first().map_or(0, Vec::len);
    for c in 0..cols {
        let (m, s) = mean_sd(train, c);
        for r in train.iter_mut().chain(val.iter_mut()) {
            r[c] = (r[c] - m) / s;
        }
    }
}

/// The 10 features, then every product `z_i z_j` for `i <= j` (65 in all).
fn degree2(z: &[f64]) -> Vec<f64> {
    let mut out = z.to_vec();
    for i in 0..z.len() {
        for j in i..z.len() {
            out.push(z[i] * z[j]);
        }
    }
    out
}

/// linfa's diabetes data (441 rows), split and expanded for `sgd_diabetes`: row `k` of the
/// shuffled order is row `(37 k) mod 441` of the data; the first [`SGD_TRAIN_ROWS`] train. The
/// features are standardized, expanded to degree 2 and standardized again, and the target
/// standardized, all with the training rows' mean and sd.
pub fn sgd_data() -> &'static SgdData {
    static DATA: OnceLock<SgdData> = OnceLock::new();
    DATA.get_or_init(|| {
        let ds = linfa_datasets::diabetes();
        let records = ds.records();
        let targets = ds.targets();
        let n = records.nrows();
        let rows: Vec<usize> = (0..n).map(|k| (37 * k) % n).collect();
        let take = |idx: &[usize]| -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
            (
                idx.iter().map(|&i| records.row(i).to_vec()).collect(),
                idx.iter().map(|&i| vec![targets[i]]).collect(),
            )
        };
        let (mut tx, mut ty) = take(&rows[..SGD_TRAIN_ROWS]);
        let (mut vx, mut vy) = take(&rows[SGD_TRAIN_ROWS..]);
        standardize(&mut tx, &mut vx);
        let mut tx: Vec<Vec<f64>> = tx.iter().map(|r| degree2(r)).collect();
        let mut vx: Vec<Vec<f64>> = vx.iter().map(|r| degree2(r)).collect();
        standardize(&mut tx, &mut vx);
        standardize(&mut ty, &mut vy);
        SgdData {
            train_x: tx,
            train_y: ty.into_iter().map(|r| r[0]).collect(),
            val_x: vx,
            val_y: vy.into_iter().map(|r| r[0]).collect(),
        }
    })
}

const ENET_FEATURES: usize = 10;

/// Rows and targets of `enet_diabetes`.
type EnetRows = Dataset<f64, f64, Ix1>;

/// The rows of [`sgd_data`]'s split with the 10 standardized features only (before the degree-2
/// expansion), as linfa datasets: (training, validation).
fn enet_data() -> &'static (EnetRows, EnetRows) {
    static DATA: OnceLock<(EnetRows, EnetRows)> = OnceLock::new();
    DATA.get_or_init(|| {
        let data = sgd_data();
        let first10 = |rows: &[Vec<f64>]| {
            Array2::from_shape_fn((rows.len(), ENET_FEATURES), |(i, j)| rows[i][j])
        };
        (
            Dataset::new(first10(&data.train_x), Array1::from(data.train_y.clone())),
            Dataset::new(first10(&data.val_x), Array1::from(data.val_y.clone())),
        )
    })
}

/// The validation MSE of linfa's ElasticNet after `sweeps` coordinate-descent sweeps (capped at
/// [`DIVERGED`]; a parameter linfa refuses, or a NaN, counts as diverged).
pub fn enet_value(penalty: f64, l1_ratio: f64, sweeps: i64) -> f64 {
    use linfa::traits::{Fit, Predict};
    let (train, val) = enet_data();
    let fitted = linfa_elasticnet::ElasticNet::params()
        .penalty(penalty)
        .l1_ratio(l1_ratio)
        .tolerance(0.0)
        .max_iterations(u32::try_from(sweeps.max(1)).unwrap_or(u32::MAX))
        .fit(train);
    let Ok(model) = fitted else {
        return DIVERGED;
    };
    let predicted = model.predict(val.records());
    let n = val.targets().len() as f64;
    let mse = predicted
        .iter()
        .zip(val.targets())
        .map(|(p, y)| (p - y).powi(2))
        .sum::<f64>()
        / n;
    if mse.is_nan() || mse > DIVERGED {
        DIVERGED
    } else {
        mse
    }
}

/// Mini-batch SGD with momentum and L2 on [`sgd_data`]: weights and bias start at 0; each epoch
/// goes through the training rows in order, [`SGD_BATCH`] at a time (the last batch shorter).
#[derive(Clone, Debug)]
struct Sgd {
    lr: f64,
    momentum: f64,
    l2: f64,
    w: Vec<f64>,
    b: f64,
    vw: Vec<f64>,
    vb: f64,
}

impl Sgd {
    fn new(lr: f64, momentum: f64, l2: f64) -> Sgd {
        let d = sgd_data().train_x[0].len();
        Sgd {
            lr,
            momentum,
            l2,
            w: vec![0.0; d],
            b: 0.0,
            vw: vec![0.0; d],
            vb: 0.0,
        }
    }

    fn predict(&self, x: &[f64]) -> f64 {
        self.b + x.iter().zip(&self.w).map(|(a, b)| a * b).sum::<f64>()
    }

    /// One epoch; returns the validation MSE (capped at [`DIVERGED`]; NaN counts as diverged).
    fn epoch(&mut self) -> f64 {
        let data = sgd_data();
        let d = self.w.len();
        let mut gw = vec![0.0; d];
        for start in (0..data.train_x.len()).step_by(SGD_BATCH) {
            let end = (start + SGD_BATCH).min(data.train_x.len());
            let m = (end - start) as f64;
            gw.iter_mut().for_each(|g| *g = 0.0);
            let mut gb = 0.0;
            for i in start..end {
                let x = &data.train_x[i];
                let err = self.predict(x) - data.train_y[i];
                for (g, xj) in gw.iter_mut().zip(x) {
                    *g += err * xj;
                }
                gb += err;
            }
            for ((w, v), g) in self.w.iter_mut().zip(&mut self.vw).zip(&gw) {
                let g = g / m + self.l2 * *w;
                *v = self.momentum * *v - self.lr * g;
                *w += *v;
            }
            self.vb = self.momentum * self.vb - self.lr * gb / m;
            self.b += self.vb;
        }
        let mse = data
            .val_x
            .iter()
            .zip(&data.val_y)
            .map(|(x, y)| (self.predict(x) - y).powi(2))
            .sum::<f64>()
            / data.val_y.len() as f64;
        if mse.is_nan() || mse > DIVERGED {
            DIVERGED
        } else {
            mse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(family: Family, x: [f64; 4]) -> Vec<f64> {
        (1..=STEPS)
            .map(|t| synthetic_value(family, &x, t))
            .collect()
    }

    #[test]
    fn final_values_end_the_curves_and_the_minimum_is_at_the_centre() {
        assert!(final_value(&CENTRE).abs() < 1e-15);
        let x = [0.1, 0.9, 0.4, 0.6];
        let a = final_value(&x);
        // hand-computed: 0.04+0.04+0.5*0.01+0.5*0.16 + 0.05*sum(1-cos(4 pi d))
        let ripple: f64 = [-0.2f64, 0.2, -0.1, 0.4]
            .iter()
            .map(|d| 0.05 * (1.0 - (4.0 * PI * d).cos()))
            .sum();
        assert!((a - (0.165 + ripple)).abs() < 1e-12);
        for f in [
            Family::Parallel,
            Family::SlowBest,
            Family::Noisy,
            Family::Crossing,
        ] {
            assert!((synthetic_value(f, &x, STEPS) - a).abs() < 1e-12, "{f:?}");
        }
    }

    #[test]
    fn parallel_curves_keep_their_order_and_decrease() {
        let good = curve(Family::Parallel, [0.3, 0.7, 0.5, 0.3]);
        let bad = curve(Family::Parallel, [0.8, 0.2, 0.5, 0.3]);
        assert!(good.windows(2).all(|w| w[1] < w[0]));
        assert!(good.iter().zip(&bad).all(|(g, b)| g < b));
    }

    #[test]
    fn slow_starters_end_best_after_looking_worse() {
        let best = curve(Family::SlowBest, CENTRE);
        let fast = curve(Family::SlowBest, [0.6, 0.4, 0.5, 0.2]);
        assert!(
            best[9] > fast[9] + 0.2,
            "at step 10 the best trial looks worse"
        );
        assert!(best[STEPS as usize - 1] + 0.1 < fast[STEPS as usize - 1]);
    }

    #[test]
    fn crossing_curves_cross_and_rise_back() {
        let overfit = curve(Family::Crossing, [0.3, 0.7, 0.5, 0.0]);
        let regular = curve(Family::Crossing, CENTRE);
        assert!(overfit[20] < regular[20], "x3 = 0 leads mid-run");
        assert!(overfit[80] > regular[80], "and ends worse");
        let lowest = overfit
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert!(lowest > 5 && lowest < 60, "it dips, then rises: {lowest}");
    }

    #[test]
    fn noise_is_fixed_by_seed_trial_and_step() {
        let p = by_name("curves_noisy").unwrap();
        let params = |x: f64| {
            let raw = (0..4)
                .map(|i| (format!("x{i}"), crate::space::Value::Float(x)))
                .collect();
            let a = p.space.assignment_from_raw(&raw).unwrap();
            p.space.params_of(a)
        };
        let run = |seed, trial| {
            let mut r = CurveRun::new(&p, &params(0.4), seed, trial);
            (0..STEPS).map(|_| r.step().1).collect::<Vec<f64>>()
        };
        assert_eq!(run(3, 7), run(3, 7));
        assert_ne!(run(3, 7), run(3, 8));
        assert_ne!(run(3, 7), run(4, 7));
        let clean = curve(Family::Noisy, [0.4; 4]);
        let noise: Vec<f64> = run(3, 7).iter().zip(&clean).map(|(a, b)| a - b).collect();
        let mean = noise.iter().sum::<f64>() / noise.len() as f64;
        let sd = (noise.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / 80.0).sqrt();
        assert!(
            mean.abs() < 0.02 && (sd - NOISE_SD).abs() < 0.02,
            "{mean} {sd}"
        );
        let r = CurveRun::new(&p, &params(0.4), 3, 7);
        assert!((r.score(0.0) - final_value(&[0.4; 4])).abs() < 1e-12);
    }

    fn close(got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol, "got {got}, want {want}");
    }

    // Expected values computed with benches/anchors/pruning.py (numpy for SGD, hence 1e-9).
    #[test]
    fn values_match_the_python_port() {
        let x = [0.1, 0.9, 0.4, 0.6];
        close(
            synthetic_value(Family::Parallel, &x, 10),
            0.7014647315627971,
            1e-13,
        );
        close(
            synthetic_value(Family::SlowBest, &x, 10),
            0.4325310438218335,
            1e-13,
        );
        close(
            synthetic_value(Family::Noisy, &x, 10),
            0.8237611551716679,
            1e-13,
        );
        close(
            synthetic_value(Family::Crossing, &x, 10),
            0.7269488538954969,
            1e-13,
        );
        close(step_noise(3, 7, 5), -1.8517115314313137, 1e-13);
        let mut s = Sgd::new(0.01, 0.9, 1e-3);
        let v: Vec<f64> = (0..STEPS).map(|_| s.epoch()).collect();
        close(v[0], 0.5375923464872837, 1e-9);
        close(v[9], 0.4837056712757376, 1e-9);
        close(v[80], 0.523961085963653, 1e-9);
        // the port's one sweep per step against linfa's refit with t sweeps
        close(enet_value(0.03, 0.9, 5), 0.501549607490, 1e-11);
        close(enet_value(1e-4, 0.5, 20), 0.517172851753, 1e-11);
    }

    #[test]
    fn sgd_learns_diverges_and_repeats() {
        let data = sgd_data();
        assert_eq!(data.train_x.len(), SGD_TRAIN_ROWS);
        assert_eq!(data.val_x.len(), 441 - SGD_TRAIN_ROWS);
        assert_eq!(data.train_x[0].len(), 65);
        let run = |lr: f64| {
            let mut s = Sgd::new(lr, 0.9, 1e-3);
            (0..STEPS).map(|_| s.epoch()).collect::<Vec<f64>>()
        };
        let good = run(0.003);
        assert!(
            good[0] < 1.0 && good[80] < good[0] && good[80] < 0.7,
            "{good:?}"
        );
        assert_eq!(good, run(0.003));
        let diverged = run(1.0);
        assert_eq!(diverged[80], DIVERGED);
    }

    #[test]
    fn enet_sweeps_learn_converge_and_cross() {
        let at = |penalty: f64, l1: f64, t: i64| enet_value(penalty, l1, t);
        // a strong pure-L1 penalty zeroes every weight: the mean predictor at every step
        let flat = [1, 40, 81].map(|t| at(1.0, 1.0, t));
        assert!(
            flat.iter().all(|v| (v - flat[0]).abs() < 1e-12 && *v > 1.0),
            "{flat:?}"
        );
        // a moderate penalty learns and has converged well before the last sweep
        let moderate = [1, 61, 81].map(|t| at(0.1, 0.1, t));
        assert!(moderate[2] < moderate[0] - 0.02, "{moderate:?}");
        assert!((moderate[2] - moderate[1]).abs() < 1e-6, "{moderate:?}");
        // almost no penalty: best after 2 sweeps, worse at the end (curves cross)
        let loose = [2, 81].map(|t| at(1e-4, 0.5, t));
        assert!(loose[0] < loose[1] - 0.002, "{loose:?}");
        assert!(loose[1] > moderate[2], "{loose:?} {moderate:?}");
        assert_eq!(loose, [2, 81].map(|t| at(1e-4, 0.5, t)), "deterministic");
        // what linfa refuses (a negative penalty) is a diverged run, not a panic
        assert_eq!(enet_value(-1.0, 0.5, 3), DIVERGED);
    }
}
