//! Implicit-feedback matrix factorisation by alternating least squares (Hu,
//! Koren and Volinsky 2008) with the conjugate-gradient solver of Takacs et al.
//! (2011), as the `implicit` library does it.
//!
//! Input: a reader x article matrix whose values are confidences `c >= 1`
//! (preference 1 where observed). Seeded and deterministic: each row's solve
//! depends only on the other side's factors, and reductions are sequential.

mod cg;
mod params;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sprs::CsMat;

pub use self::params::{AlsParams, Loss};

/// Learned factors: one row per reader and one per article.
#[derive(Debug, Clone, PartialEq)]
pub struct Factors {
    pub readers: Array2<f32>,
    pub articles: Array2<f32>,
    /// Loss after each iteration.
    pub loss: Vec<f64>,
}

/// Confidence of a reader's interest from the seconds they read:
/// `1 + alpha * ln(1 + dwell)`. Log-scaled so one very long read does not
/// dominate; `>= 1` so every observed pair counts more than an unobserved one.
pub fn confidence(dwell_secs: f64, alpha: f32) -> f32 {
    1.0 + alpha * (dwell_secs.max(0.0).ln_1p() as f32)
}

/// Fits factors to `cui` (readers x articles, CSR, confidences).
/// `on_iteration` is called with an iteration's index and loss after each
/// iteration whose loss `params.loss` asks for.
pub fn fit(cui: &CsMat<f32>, params: &AlsParams, seed: u64, on_iteration: impl FnMut(u32, f64)) -> Factors {
    fit_warm(cui, params, seed, &[], on_iteration)
}

/// Like [`fit`], but article `i` starts from `start[i]` when it is given (a
/// previous model's factors, of length `params.factors`); the others, and
/// every reader, start from the seeded random values [`fit`] would use.
/// Readers are solved first, so they need no start of their own.
pub fn fit_warm(
    cui: &CsMat<f32>,
    params: &AlsParams,
    seed: u64,
    start: &[Option<&[f32]>],
    mut on_iteration: impl FnMut(u32, f64),
) -> Factors {
    let (n_readers, n_articles) = cui.shape();
    let k = params.factors;
    let ciu: CsMat<f32> = cui.transpose_view().to_csr();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut init = |rows: usize| Array2::from_shape_fn((rows, k), |_| rng.random::<f32>() * 0.01);
    let mut readers = init(n_readers);
    let mut articles = init(n_articles);
    for (mut row, given) in articles.rows_mut().into_iter().zip(start) {
        if let Some(v) = given.filter(|v| v.len() == k) {
            row.assign(&ndarray::ArrayView1::from(v));
        }
    }
    let mut loss = Vec::with_capacity(params.iterations as usize);
    for it in 0..params.iterations {
        cg::solve_side(cui, &mut readers, &articles, params);
        cg::solve_side(&ciu, &mut articles, &readers, params);
        let wanted = match params.loss {
            Loss::EveryIteration => true,
            Loss::LastIteration => it + 1 == params.iterations,
            Loss::Off => false,
        };
        if wanted {
            let l = loss_of(cui, &readers, &articles, params.regularization);
            on_iteration(it, l);
            loss.push(l);
        }
    }
    Factors {
        readers,
        articles,
        loss,
    }
}

/// The weighted squared error the method minimises, normalised as `implicit`
/// does by total confidence plus the number of unobserved cells.
pub fn loss_of(cui: &CsMat<f32>, x: &Array2<f32>, y: &Array2<f32>, reg: f32) -> f64 {
    let yty = cg::gram(y);
    // per block of rows: sum over all items of (x.y)^2 = x^T (Y^T Y) x, the
    // block's products with Y^T Y taken as one matrix product
    let per_row: Vec<f64> = x
        .axis_chunks_iter(ndarray::Axis(0), 256)
        .into_par_iter()
        .enumerate()
        .flat_map_iter(|(b, xb)| {
            let xyty = xb.dot(&yty);
            let y = &y;
            (0..xb.nrows())
                .map(move |i| {
                    let xu = xb.row(i);
                    let mut l = f64::from(xu.dot(&xyty.row(i)));
                    if let Some(row) = cui.outer_view(b * 256 + i) {
                        for (j, &c) in row.iter() {
                            let p = f64::from(xu.dot(&y.row(j)));
                            l += f64::from(c) * (1.0 - p).powi(2) - p * p;
                        }
                    }
                    l
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let total_conf: f64 = cui.data().iter().map(|&c| f64::from(c)).sum();
    let cells = (cui.rows() * cui.cols()) as f64 - cui.nnz() as f64;
    let norms = f64::from(x.iter().map(|v| v * v).sum::<f32>() + y.iter().map(|v| v * v).sum::<f32>());
    (per_row.iter().sum::<f64>() + f64::from(reg) * norms) / (total_conf + cells).max(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprs::TriMat;

    /// Readers in `groups` blocks each read the articles of their block.
    /// Returns the matrix with one observed pair per reader held out.
    fn blocks(groups: usize, readers_per: usize, articles_per: usize) -> (CsMat<f32>, Vec<(usize, usize)>) {
        let n_r = groups * readers_per;
        let n_a = groups * articles_per;
        let mut tri = TriMat::new((n_r, n_a));
        let mut held = Vec::new();
        for r in 0..n_r {
            let g = r / readers_per;
            let hold = g * articles_per + (r % articles_per);
            held.push((r, hold));
            for a in g * articles_per..(g + 1) * articles_per {
                if a != hold {
                    tri.add_triplet(r, a, confidence(60.0, 1.0));
                }
            }
        }
        (tri.to_csr(), held)
    }

    fn params() -> AlsParams {
        AlsParams {
            factors: 8,
            iterations: 10,
            ..AlsParams::default()
        }
    }

    #[test]
    fn recovers_planted_low_rank_structure() {
        let (m, held) = blocks(4, 12, 6);
        let f = fit(&m, &params(), 1, |_, _| {});
        // held-out pairs score above every article of another block
        let mut wins = 0;
        let mut total = 0;
        for &(r, a) in &held {
            let s_held = f.readers.row(r).dot(&f.articles.row(a));
            let g = r / 12;
            for other in 0..24 {
                if other / 6 != g {
                    total += 1;
                    if s_held > f.readers.row(r).dot(&f.articles.row(other)) {
                        wins += 1;
                    }
                }
            }
        }
        assert_eq!(wins, total, "held-out pairs must outrank other blocks");
    }

    #[test]
    fn loss_goes_down() {
        let (m, _) = blocks(3, 10, 5);
        let f = fit(&m, &params(), 1, |_, _| {});
        assert!(f.loss.last().unwrap() < &f.loss[0], "{:?}", f.loss);
    }

    #[test]
    fn identical_seeds_give_identical_factors() {
        let (m, _) = blocks(3, 10, 5);
        let a = fit(&m, &params(), 42, |_, _| {});
        let b = fit(&m, &params(), 42, |_, _| {});
        assert_eq!(a, b);
        let c = fit(&m, &params(), 43, |_, _| {});
        assert_ne!(a.articles, c.articles);
    }

    #[test]
    fn a_warm_start_reaches_the_cold_loss_sooner() {
        let (m, _) = blocks(4, 12, 6);
        let cold = fit(&m, &params(), 1, |_, _| {});
        let start: Vec<Option<&[f32]>> = cold.articles.rows().into_iter().map(|r| r.to_slice()).collect();
        let one = AlsParams {
            iterations: 1,
            ..params()
        };
        let warm = fit_warm(&m, &one, 2, &start, |_, _| {});
        let cold_one = fit(&m, &one, 2, |_, _| {});
        assert!(
            warm.loss[0] <= cold.loss[9] * 1.01,
            "{:?} vs {:?}",
            warm.loss,
            cold.loss
        );
        assert!(warm.loss[0] < cold_one.loss[0]);
        // a start of the wrong length is ignored, not a panic
        let short = [Some(&[1.0f32][..])];
        assert_eq!(fit_warm(&m, &one, 2, &short, |_, _| {}), cold_one);
    }

    /// The loss is computed only where asked, and asking changes nothing
    /// of the fit: the same factors, the same last loss.
    #[test]
    fn the_loss_is_computed_only_where_asked() {
        let (m, _) = blocks(3, 10, 5);
        let every = fit(&m, &params(), 5, |_, _| {});
        assert_eq!(every.loss.len(), 10);
        let mut seen = Vec::new();
        let last = fit(
            &m,
            &AlsParams {
                loss: Loss::LastIteration,
                ..params()
            },
            5,
            |it, l| seen.push((it, l)),
        );
        assert_eq!(last.loss, [every.loss[9]]);
        assert_eq!(seen, [(9, every.loss[9])]);
        assert_eq!(last.articles, every.articles);
        let off = fit(
            &m,
            &AlsParams {
                loss: Loss::Off,
                ..params()
            },
            5,
            |_, _| panic!("no loss was asked for"),
        );
        assert!(off.loss.is_empty());
        assert_eq!(off.readers, every.readers);
    }

    #[test]
    fn confidence_grows_with_dwell_and_is_at_least_one() {
        assert_eq!(confidence(0.0, 1.0), 1.0);
        assert!(confidence(600.0, 1.0) > confidence(30.0, 1.0));
        assert_eq!(confidence(-5.0, 1.0), 1.0);
    }
}
