//! EASE (Steck 2019): the closed-form linear item-item model
//! `B = I - P diag(1 / diag P)`, `P = (X'X + lambda I)^-1`, with `X` the
//! binary reader x article matrix. Readers of A are served the candidates of
//! row A of B: `B[A, j] = -P[j, A] / P[j, j]`.
//!
//! Dense, f32, one `n x n` matrix throughout: the Gram matrix is inverted in
//! place ([`crate::recommend::spd_inverse`]: faer's blocked Cholesky, then
//! the triangular inverse and product in place) and becomes P. Catalogues
//! are capped: only the `max_articles` most-read articles of the window are
//! in the model, the others get no EASE neighbours (their lists come from
//! the popularity prior).

use faer::{Mat, Par};

use crate::contract::error::{Error, Result};
use crate::recommend::item_item::{scale_to_unit, ItemItem};
use crate::recommend::reads::Reads;

pub struct Ease {
    articles: usize,
    /// Article of each model slot, and the slot of each article.
    kept: Vec<u32>,
    slot: Vec<Option<u32>>,
    /// `P`, symmetric (both triangles filled).
    p: Mat<f32>,
}

impl Ease {
    /// # Errors
    /// `Bug` when the Gram matrix is not positive definite (it always is for `lambda > 0`).
    pub fn fit(reads: &Reads, lambda: f32, max_articles: usize) -> Result<Ease> {
        let n_all = reads.articles();
        let per_article = reads.readers_per_article();
        let mut order: Vec<u32> = (0..n_all as u32)
            .filter(|&a| per_article[a as usize] > 0)
            .collect();
        // the most read first, ties on the index, then back in index order
        order.sort_by_key(|&a| (std::cmp::Reverse(per_article[a as usize]), a));
        order.truncate(max_articles);
        order.sort_unstable();
        let mut slot = vec![None; n_all];
        for (s, &a) in order.iter().enumerate() {
            slot[a as usize] = Some(s as u32);
        }
        let n = order.len();
        let mut g = Mat::<f32>::zeros(n, n);
        let mut mine: Vec<usize> = Vec::new();
        for reads_of in reads.by_reader() {
            mine.clear();
            mine.extend(
                reads_of
                    .iter()
                    .filter_map(|x| slot[x.article as usize])
                    .map(|s| s as usize),
            );
            mine.sort_unstable();
            mine.dedup();
            for (at, &j) in mine.iter().enumerate() {
                let col = g.col_as_slice_mut(j);
                for &i in &mine[at..] {
                    col[i] += 1.0;
                }
            }
        }
        for j in 0..n {
            g.col_as_slice_mut(j)[j] += lambda.max(f32::MIN_POSITIVE);
        }
        // one n x n buffer throughout: the Gram matrix becomes P in place
        crate::recommend::spd_inverse::invert_in_place(g.as_mut(), Par::rayon(0))
            .map_err(|pivot| Error::Bug(format!("EASE Gram matrix is not positive definite at {pivot}")))?;
        let mut p = g;
        // the inverse is in the lower triangle; a column of P is then one slice
        for j in 0..n {
            for i in j + 1..n {
                let v = p.col_as_slice(j)[i];
                p.col_as_slice_mut(i)[j] = v;
            }
        }
        Ok(Ease {
            articles: n_all,
            kept: order,
            slot,
            p,
        })
    }

    /// Articles in the model (at most `max_articles`).
    pub fn modelled(&self) -> usize {
        self.kept.len()
    }

    /// Row `a` of B: the weight of every article for readers of `a` (0 outside the model).
    pub fn weights(&self, a: usize, out: &mut [f32]) {
        out.fill(0.0);
        let Some(s) = self.slot[a] else { return };
        let col = self.p.col_as_slice(s as usize);
        for (j, (&article, &pja)) in self.kept.iter().zip(col).enumerate() {
            if j != s as usize {
                out[article as usize] = -pja / self.p.col_as_slice(j)[j];
            }
        }
    }
}

impl ItemItem for Ease {
    fn articles(&self) -> usize {
        self.articles
    }

    fn affinities(&self, from: usize, out: &mut [f32]) {
        self.weights(from, out);
        scale_to_unit(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::reads::Read;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Inverse by Gauss-Jordan elimination in f64: the direct dense solve.
    fn inverse_f64(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let n = m.len();
        let mut a: Vec<Vec<f64>> = m
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let mut r = row.clone();
                r.extend((0..n).map(|j| f64::from(u8::from(i == j))));
                r
            })
            .collect();
        for c in 0..n {
            let pivot = (c..n)
                .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
                .unwrap();
            a.swap(c, pivot);
            let d = a[c][c];
            for v in &mut a[c] {
                *v /= d;
            }
            for r in 0..n {
                if r != c {
                    let f = a[r][c];
                    let pivot_row = a[c].clone();
                    for (v, p) in a[r].iter_mut().zip(pivot_row) {
                        *v -= f * p;
                    }
                }
            }
        }
        a.into_iter().map(|r| r[n..].to_vec()).collect()
    }

    fn random_reads(readers: usize, articles: usize, density: f64, seed: u64) -> (Reads, Vec<Vec<bool>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = vec![vec![false; articles]; readers];
        let mut rows = Vec::new();
        for (r, row) in x.iter_mut().enumerate() {
            for (a, v) in row.iter_mut().enumerate() {
                if rng.random::<f64>() < density {
                    *v = true;
                    let read = Read {
                        article: a as u32,
                        first_seen_ms: 0,
                        dwell_secs: 1.0,
                    };
                    rows.push((r as u32, read));
                }
            }
        }
        (Reads::new(readers, articles, rows), x)
    }

    #[test]
    fn equals_a_direct_dense_solve() {
        let (readers, articles, lambda) = (80, 12, 5.0);
        let (reads, x) = random_reads(readers, articles, 0.3, 11);
        let ease = Ease::fit(&reads, lambda as f32, 1000).unwrap();
        let gram: Vec<Vec<f64>> = (0..articles)
            .map(|i| {
                (0..articles)
                    .map(|j| {
                        let co = x.iter().filter(|r| r[i] && r[j]).count() as f64;
                        co + if i == j { lambda } else { 0.0 }
                    })
                    .collect()
            })
            .collect();
        let p = inverse_f64(&gram);
        let mut row = vec![0f32; articles];
        for a in 0..articles {
            ease.weights(a, &mut row);
            for j in 0..articles {
                let want = if j == a { 0.0 } else { -p[a][j] / p[j][j] };
                assert!(
                    (f64::from(row[j]) - want).abs() < 1e-4,
                    "B[{a},{j}] {} vs {want}",
                    row[j]
                );
            }
        }
    }

    #[test]
    fn a_capped_model_keeps_the_most_read_articles() {
        let (reads, _) = random_reads(50, 10, 0.4, 5);
        let per = reads.readers_per_article();
        let ease = Ease::fit(&reads, 10.0, 4).unwrap();
        assert_eq!(ease.modelled(), 4);
        let least_kept = ease.kept.iter().map(|&a| per[a as usize]).min().unwrap();
        let most_left = (0..10u32)
            .filter(|a| !ease.kept.contains(a))
            .map(|a| per[a as usize])
            .max()
            .unwrap();
        assert!(least_kept >= most_left);
        let outside = (0..10).find(|&a| ease.slot[a].is_none()).unwrap();
        let mut row = vec![1f32; 10];
        ease.affinities(outside, &mut row);
        assert!(
            row.iter().all(|&v| v == 0.0),
            "no EASE neighbours outside the model"
        );
    }
}
