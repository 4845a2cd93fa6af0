//! The interface every item-item family implements, and the one way a
//! family's affinities become served lists.
//!
//! A family answers "how close is each candidate to article A" as an
//! affinity in [0, 1]. The served score of candidate `j` is then
//! `((1 - PRIOR_WEIGHT) * affinity + PRIOR_WEIGHT * prior[j]) * decay[j]`:
//! the publish-time decay makes fresh stories rank first, and the small
//! popularity prior orders the candidates a sparse model knows nothing about
//! (co-reading and reading-order models give most pairs affinity 0), so a
//! list is never filled by index order.

use rayon::prelude::*;

use crate::recommend::neighbours::{Neighbour, TopK};

/// Weight of the popularity prior in the served score.
pub const PRIOR_WEIGHT: f32 = 0.01;

/// What a served score depends on besides the model, per candidate.
#[derive(Debug, Clone, Copy)]
pub struct Serving<'a> {
    /// Publish-time decay at the reference time.
    pub decay: &'a [f32],
    /// Never shown (still a source).
    pub excluded: &'a [bool],
    /// Readers in the fitted data, scaled so the most read is 1.
    pub prior: &'a [f32],
    /// List length.
    pub k: usize,
}

impl Serving<'_> {
    pub fn score(&self, candidate: usize, affinity: f32) -> f32 {
        let a = if affinity.is_finite() {
            affinity.clamp(0.0, 1.0)
        } else {
            0.0
        };
        ((1.0 - PRIOR_WEIGHT) * a + PRIOR_WEIGHT * self.prior[candidate]) * self.decay[candidate]
    }

    /// The `k` best candidates for readers of `from` given every candidate's
    /// affinity, best first; never `from`, never an excluded article; ties
    /// break on the lower index.
    pub fn top(&self, from: usize, affinity: &[f32]) -> Vec<Neighbour> {
        let mut best = TopK::new(self.k);
        for (j, &a) in affinity.iter().enumerate() {
            let score = self.score(j, a);
            if score > best.floor() && j != from && !self.excluded[j] {
                best.push(Neighbour { index: j, score });
            }
        }
        best.into_sorted()
    }
}

/// An item-item recommender fitted on a reader x article matrix.
pub trait ItemItem: Send + Sync {
    /// Articles (rows and candidates) of the model.
    fn articles(&self) -> usize;

    /// Writes every candidate's affinity for readers of `from` into `out`
    /// (`articles()` long), in [0, 1]. The value at `from` is ignored.
    fn affinities(&self, from: usize, out: &mut [f32]);

    /// The served lists of `sources`, in their order.
    fn neighbours(&self, sources: &[usize], serving: &Serving<'_>) -> Vec<Vec<Neighbour>> {
        let n = self.articles();
        sources
            .par_iter()
            .map_init(
                || vec![0f32; n],
                |buf, &from| {
                    self.affinities(from, buf);
                    serving.top(from, buf)
                },
            )
            .collect()
    }
}

/// Scales `values` so the largest is 1 (all zeros stay zeros); negatives become 0.
pub fn scale_to_unit(values: &mut [f32]) {
    let max = values.iter().copied().fold(0f32, f32::max);
    for v in values.iter_mut() {
        *v = if max > 0.0 { v.max(0.0) / max } else { 0.0 };
    }
}

/// A model of given affinities, for tests.
#[cfg(test)]
pub(crate) struct Fixed(pub(crate) Vec<Vec<f32>>);

#[cfg(test)]
impl ItemItem for Fixed {
    fn articles(&self) -> usize {
        self.0.len()
    }
    fn affinities(&self, from: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.0[from]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prior_orders_what_the_model_does_not_know_and_decay_and_exclusion_apply() {
        let model = Fixed(vec![
            vec![0.0, 1.0, 0.0, 0.0, 0.0],
            vec![1.0, 0.0, 0.0, 0.0, 0.0],
            vec![0.0; 5],
            vec![0.0; 5],
            vec![0.0; 5],
        ]);
        let prior = [1.0, 0.2, 0.5, 0.9, 0.1];
        let serving = Serving {
            decay: &[1.0; 5],
            excluded: &[false, false, false, false, true],
            prior: &prior,
            k: 3,
        };
        let lists = model.neighbours(&[0, 2], &serving);
        let ids = |l: &Vec<Neighbour>| l.iter().map(|n| n.index).collect::<Vec<_>>();
        // the model's one neighbour first, then by prior; never itself or the excluded 4
        assert_eq!(ids(&lists[0]), [1, 3, 2]);
        assert_eq!(ids(&lists[1]), [0, 3, 1]);
        let s = lists[0][0].score;
        assert!((s - (0.99 + 0.01 * 0.2)).abs() < 1e-6, "{s}");
        // an old candidate loses to a fresh one of the same affinity
        let decayed = Serving {
            decay: &[1.0, 0.001, 1.0, 1.0, 1.0],
            ..serving
        };
        assert_eq!(ids(&model.neighbours(&[0], &decayed)[0]), [3, 2, 1]);
    }

    #[test]
    fn scaling_keeps_zeros_and_drops_negatives() {
        let mut v = [2.0, -1.0, 1.0, 0.0];
        scale_to_unit(&mut v);
        assert_eq!(v, [1.0, 0.0, 0.5, 0.0]);
        let mut z = [0.0, -3.0];
        scale_to_unit(&mut z);
        assert_eq!(z, [0.0, 0.0]);
    }
}
