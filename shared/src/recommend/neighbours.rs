//! For every article, the `k` most similar articles in factor space.
//!
//! Score = `(1 + cosine) / 2 * decay[candidate]`: cosine scaled to [0, 1], times
//! the candidate's publish-time decay, so fresh related articles rank first.
//! Computed in blocks of rows (a `block x n` slice of the similarity matrix at a
//! time, in parallel), so no `n x n` matrix is ever held.

use ndarray::{s, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// One recommendation: candidate row index and score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub index: usize,
    pub score: f32,
}

const BLOCK: usize = 256;

/// Neighbours of every row, best first. `decay[j]` multiplies every score of
/// candidate `j`; `excluded[j]` keeps `j` out of every list (it still gets its
/// own list). A row never lists itself. Ties break on the lower index.
pub fn nearest(
    factors: ArrayView2<'_, f32>,
    decay: &[f32],
    excluded: &[bool],
    k: usize,
) -> Vec<Vec<Neighbour>> {
    let n = factors.nrows();
    let unit = normalise_rows(factors);
    let unit_t = unit.t();
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .flat_map_iter(|b| {
            let lo = b * BLOCK;
            let hi = (lo + BLOCK).min(n);
            let sims = unit.slice(s![lo..hi, ..]).dot(&unit_t);
            let mut lists = Vec::with_capacity(hi - lo);
            for (offset, row) in sims.axis_iter(Axis(0)).enumerate() {
                let me = lo + offset;
                let mut best = TopK::new(k);
                for (j, &cos) in row.iter().enumerate() {
                    let score = (1.0 + cos.clamp(-1.0, 1.0)) / 2.0 * decay[j];
                    // candidates come in index order, so a tie never displaces a kept one
                    if score > best.floor() && j != me && !excluded[j] {
                        best.push(Neighbour { index: j, score });
                    }
                }
                lists.push(best.into_sorted());
            }
            lists
        })
        .collect()
}

/// Orders neighbours best first: higher score, then lower index.
fn better(a: &Neighbour, b: &Neighbour) -> std::cmp::Ordering {
    b.score.total_cmp(&a.score).then(a.index.cmp(&b.index))
}

/// The `k` best candidates seen so far. Most candidates of a large catalogue
/// fail the one comparison with [`TopK::floor`], so a row costs about one
/// comparison per article instead of a sort.
pub struct TopK {
    k: usize,
    items: Vec<Neighbour>,
    /// Position of the worst kept item, once `items` is full.
    worst: usize,
}

impl TopK {
    pub fn new(k: usize) -> TopK {
        TopK {
            k,
            items: Vec::with_capacity(k),
            worst: 0,
        }
    }

    /// The score a candidate must beat to enter.
    pub fn floor(&self) -> f32 {
        if self.items.len() < self.k {
            f32::NEG_INFINITY
        } else {
            self.items.get(self.worst).map_or(f32::INFINITY, |n| n.score)
        }
    }

    pub fn push(&mut self, n: Neighbour) {
        if self.items.len() < self.k {
            self.items.push(n);
        } else {
            self.items[self.worst] = n;
        }
        if self.items.len() == self.k {
            self.worst = (0..self.items.len())
                .max_by(|&a, &b| better(&self.items[a], &self.items[b]))
                .unwrap_or(0);
        }
    }

    pub fn into_sorted(mut self) -> Vec<Neighbour> {
        self.items.sort_by(better);
        self.items
    }
}

fn normalise_rows(m: ArrayView2<'_, f32>) -> Array2<f32> {
    let mut out = m.to_owned();
    for mut row in out.axis_iter_mut(Axis(0)) {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 {
            row /= norm;
        }
    }
    out
}

/// `0.5 ^ (age_days / half_life_days)`; ages below zero count as zero.
pub fn decay(age_days: f64, half_life_days: f64) -> f32 {
    0.5f64.powf(age_days.max(0.0) / half_life_days) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn checkerboard_neighbours_are_known() {
        // rows 0,1 point one way, 2,3 another, 4 opposite to 0
        let f = array![[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]];
        let out = nearest(f.view(), &[1.0; 5], &[false; 5], 2);
        assert_eq!(out[0].iter().map(|n| n.index).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(out[2][0].index, 3);
        // the opposite vector scores (1 + -1)/2 = 0 and is last for row 0
        let all = nearest(f.view(), &[1.0; 5], &[false; 5], 4);
        assert_eq!(all[0].last().unwrap().index, 4);
        assert!(all[0].last().unwrap().score.abs() < 1e-6);
        for (i, list) in all.iter().enumerate() {
            assert!(list.iter().all(|n| n.index != i), "row {i} lists itself");
            assert!(list.windows(2).all(|w| w[0].score >= w[1].score));
        }
    }

    #[test]
    fn decay_and_exclusion_apply_to_candidates() {
        let f = array![[1.0f32, 0.0], [1.0, 0.0], [0.9, 0.1]];
        // row 1 is identical to 0 but old; row 2 is close and fresh
        let out = nearest(f.view(), &[1.0, 0.1, 1.0], &[false; 3], 1);
        assert_eq!(out[0][0].index, 2);
        let out = nearest(f.view(), &[1.0; 3], &[false, false, true], 2);
        assert_eq!(out[0].iter().map(|n| n.index).collect::<Vec<_>>(), [1]);
        assert_eq!(out[2].len(), 2, "an excluded article still gets recommendations");
    }

    /// Every candidate scored and sorted: the obvious answer to compare with.
    fn brute_force(f: &Array2<f32>, decay: &[f32], excluded: &[bool], k: usize) -> Vec<Vec<(usize, f32)>> {
        let n = f.nrows();
        (0..n)
            .map(|i| {
                let a = f.row(i);
                let mut all: Vec<(usize, f32)> = (0..n)
                    .filter(|&j| j != i && !excluded[j])
                    .map(|j| {
                        let b = f.row(j);
                        let cos = a.dot(&b) / (a.dot(&a).sqrt() * b.dot(&b).sqrt());
                        (j, (1.0 + cos.clamp(-1.0, 1.0)) / 2.0 * decay[j])
                    })
                    .collect();
                all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                all.truncate(k);
                all
            })
            .collect()
    }

    #[test]
    fn many_blocks_match_brute_force() {
        let n = BLOCK * 2 + 7;
        // few distinct rows, so there are many exact ties to break by index
        let f = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 31 + j * 17) % 13) as f32 - 6.0 + 0.5);
        let decay: Vec<f32> = (0..n).map(|j| if j % 7 == 0 { 0.5 } else { 1.0 }).collect();
        let excluded: Vec<bool> = (0..n).map(|j| j % 11 == 3).collect();
        let k = 5;
        let out = nearest(f.view(), &decay, &excluded, k);
        let want = brute_force(&f, &decay, &excluded, k);
        assert_eq!(out.len(), n);
        for (i, (got, want)) in out.iter().zip(&want).enumerate() {
            assert_eq!(got.len(), k, "row {i}");
            for (g, w) in got.iter().zip(want) {
                assert!((g.score - w.1).abs() < 1e-5, "row {i}: {got:?} vs {want:?}");
            }
            assert!(got.iter().all(|g| g.index != i && !excluded[g.index]), "row {i}");
            assert!(
                got.windows(2).all(|w| better(&w[0], &w[1]).is_lt()),
                "row {i} is best first, ties by index: {got:?}"
            );
        }
    }

    #[test]
    fn top_k_keeps_the_best_and_breaks_ties_by_index() {
        let mut t = TopK::new(3);
        for (index, score) in [(0, 0.5), (1, 0.9), (2, 0.5), (3, 0.1), (4, 0.7), (5, 0.5)] {
            if score > t.floor() {
                t.push(Neighbour { index, score });
            }
        }
        let got: Vec<usize> = t.into_sorted().iter().map(|n| n.index).collect();
        assert_eq!(got, [1, 4, 0]);
        assert!(TopK::new(0).into_sorted().is_empty());
        assert_eq!(TopK::new(0).floor(), f32::INFINITY);
    }

    #[test]
    fn half_life() {
        assert!((decay(30.0, 30.0) - 0.5).abs() < 1e-6);
        assert_eq!(decay(-3.0, 30.0), 1.0);
    }
}
