//! Zipf-like draws: a few items come up often, most rarely (stories within a
//! topic, names within a topic, related links).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Cumulative Zipf weights `1/(k+1)^s`.
pub(super) fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    (0..n)
        .map(|k| {
            acc += 1.0 / ((k + 1) as f64).powf(s);
            acc
        })
        .collect()
}

pub(super) fn pick(rng: &mut ChaCha8Rng, cdf: &[f64]) -> usize {
    let total = cdf.last().copied().unwrap_or(0.0);
    let x = rng.random::<f64>() * total;
    cdf.partition_point(|&c| c <= x).min(cdf.len().saturating_sub(1))
}
