//! Item-kNN: cosine between articles' sets of readers, with a shrinkage term
//! that discounts similarities resting on few co-readers:
//! `sim(a, b) = |R(a) ∩ R(b)| / (sqrt(|R(a)| |R(b)|) + shrinkage)`.
//!
//! Nothing is precomputed beyond the reads and their index: a source's row is
//! counted when it is asked for, from its readers' other reads, so the model
//! costs the reads' memory and a row costs the co-reads of its readers.

use crate::recommend::item_item::ItemItem;
use crate::recommend::reads::{Occurrences, Reads};

pub struct ItemKnn {
    reads: Reads,
    occurrences: Occurrences,
    readers: Vec<u32>,
    shrinkage: f32,
}

impl ItemKnn {
    pub fn fit(reads: Reads, shrinkage: f32) -> ItemKnn {
        ItemKnn {
            occurrences: reads.occurrences(),
            readers: reads.readers_per_article(),
            reads,
            shrinkage: shrinkage.max(0.0),
        }
    }

    /// The shrunk cosine of `a` with every article (before scaling).
    pub fn similarities(&self, a: usize, out: &mut [f32]) {
        let mut touched = Vec::new();
        self.similarities_touched(a, out, &mut touched);
    }

    /// [`Self::similarities`], also listing the articles with a co-reader:
    /// the only entries that are not 0, so the rest of a row is never scanned
    /// again (a row of a 50,000-article site has a few thousand of them).
    fn similarities_touched(&self, a: usize, out: &mut [f32], touched: &mut Vec<u32>) {
        out.fill(0.0);
        touched.clear();
        let all = self.reads.all();
        for o in self.occurrences.of(a) {
            for x in &all[o.start as usize..o.end as usize] {
                let v = &mut out[x.article as usize];
                if *v == 0.0 {
                    touched.push(x.article);
                }
                *v += 1.0;
            }
        }
        let na = self.readers[a] as f32;
        for &j in touched.iter() {
            let v = &mut out[j as usize];
            *v /= (na * self.readers[j as usize] as f32).sqrt() + self.shrinkage;
        }
    }
}

impl ItemItem for ItemKnn {
    fn articles(&self) -> usize {
        self.reads.articles()
    }

    /// As [`crate::recommend::item_item::scale_to_unit`] over the whole row, over the touched entries only.
    fn affinities(&self, from: usize, out: &mut [f32]) {
        let mut touched = Vec::new();
        self.similarities_touched(from, out, &mut touched);
        out[from] = 0.0;
        let max = touched.iter().map(|&j| out[j as usize]).fold(0f32, f32::max);
        for &j in &touched {
            let v = &mut out[j as usize];
            *v = if max > 0.0 { v.max(0.0) / max } else { 0.0 };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::reads::Read;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn equals_a_brute_force_cosine_of_the_reader_sets() {
        let (readers, articles) = (60usize, 25usize);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut sets = vec![vec![false; articles]; readers];
        let mut rows = Vec::new();
        for (r, set) in sets.iter_mut().enumerate() {
            for (a, read) in set.iter_mut().enumerate() {
                if rng.random::<f64>() < 0.2 {
                    *read = true;
                    let read = Read {
                        article: a as u32,
                        first_seen_ms: rng.random_range(0..1000),
                        dwell_secs: 10.0,
                    };
                    rows.push((r as u32, read));
                }
            }
        }
        let shrinkage = 3.0;
        let knn = ItemKnn::fit(Reads::new(readers, articles, rows), shrinkage);
        let mut got = vec![0f32; articles];
        for a in 0..articles {
            knn.similarities(a, &mut got);
            for b in 0..articles {
                let col = |x: usize| sets.iter().filter(|s| s[x]).count() as f32;
                let both = sets.iter().filter(|s| s[a] && s[b]).count() as f32;
                let want = if both == 0.0 {
                    0.0
                } else {
                    both / ((col(a) * col(b)).sqrt() + shrinkage)
                };
                assert!((got[b] - want).abs() < 1e-5, "{a} {b}: {} vs {want}", got[b]);
            }
        }
        // the scaling over the touched entries only is the whole row's, bit for bit
        let mut whole = vec![0f32; articles];
        for a in 0..articles {
            knn.similarities(a, &mut whole);
            whole[a] = 0.0;
            crate::recommend::item_item::scale_to_unit(&mut whole);
            knn.affinities(a, &mut got);
            assert_eq!(got, whole, "source {a}");
        }
        knn.affinities(0, &mut got);
        assert_eq!(got[0], 0.0, "a source is not its own neighbour");
        assert!(got.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(got.contains(&1.0));
    }
}
