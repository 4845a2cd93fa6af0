//! The same list for every article: baselines an item-item model must beat,
//! and that win where it cannot. Most read (readers per article), trending
//! (reads weighted by how recent they are), or any given score per article
//! (the defaults' rule). Served as they are: their scores already say what
//! they mean to (the defaults' rule has its own decay), so neither the
//! article model's publish decay nor the prior is applied.

use crate::recommend::item_item::{scale_to_unit, ItemItem, Serving};
use crate::recommend::neighbours::{Neighbour, TopK};
use crate::recommend::reads::Reads;

pub struct SameForAll {
    score: Vec<f32>,
}

impl SameForAll {
    /// `score[j]` ranks article `j`; scaled so the best is 1.
    pub fn new(mut score: Vec<f32>) -> SameForAll {
        scale_to_unit(&mut score);
        SameForAll { score }
    }

    /// Readers per article.
    pub fn most_read(reads: &Reads) -> SameForAll {
        SameForAll::new(reads.readers_per_article().iter().map(|&n| n as f32).collect())
    }

    /// Reads weighted by `0.5 ^ (hours before as_of / half_life_hours)` of
    /// their first event: what readers open now.
    pub fn trending(reads: &Reads, as_of_ms: i64, half_life_hours: f64) -> SameForAll {
        let mut score = vec![0f64; reads.articles()];
        for x in reads.all() {
            let hours = (as_of_ms - x.first_seen_ms).max(0) as f64 / 3_600_000.0;
            score[x.article as usize] += 0.5f64.powf(hours / half_life_hours);
        }
        SameForAll::new(score.into_iter().map(|s| s as f32).collect())
    }

    pub fn scores(&self) -> &[f32] {
        &self.score
    }
}

impl ItemItem for SameForAll {
    fn articles(&self) -> usize {
        self.score.len()
    }

    fn affinities(&self, _from: usize, out: &mut [f32]) {
        out.copy_from_slice(&self.score);
    }

    fn neighbours(&self, sources: &[usize], serving: &Serving<'_>) -> Vec<Vec<Neighbour>> {
        // one ranking; each source's list is it without the source
        let mut best = TopK::new(serving.k + 1);
        for (j, &score) in self.score.iter().enumerate() {
            if score > best.floor() && !serving.excluded[j] {
                best.push(Neighbour { index: j, score });
            }
        }
        let top = best.into_sorted();
        sources
            .iter()
            .map(|&from| {
                top.iter()
                    .filter(|n| n.index != from)
                    .take(serving.k)
                    .copied()
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::reads::Read;

    #[test]
    fn trending_favours_recent_reads_and_most_read_counts_readers() {
        let read = |article, t| Read {
            article,
            first_seen_ms: t,
            dwell_secs: 5.0,
        };
        let h = 3_600_000;
        // article 0: three readers a day ago; article 1: two readers an hour ago
        let reads = Reads::new(
            3,
            2,
            vec![
                (0, read(0, 0)),
                (1, read(0, 0)),
                (2, read(0, 0)),
                (0, read(1, 23 * h)),
                (1, read(1, 23 * h)),
            ],
        );
        assert_eq!(SameForAll::most_read(&reads).scores(), [1.0, 2.0 / 3.0]);
        let t = SameForAll::trending(&reads, 24 * h, 6.0);
        assert_eq!(t.scores()[1], 1.0);
        // 3 * 0.5^4 against 2 * 0.5^(1/6)
        let want = (3.0 * 0.5f64.powi(4) / (2.0 * 0.5f64.powf(1.0 / 6.0))) as f32;
        assert!((t.scores()[0] - want).abs() < 1e-6);
        // served as scored: no decay, never the source or an excluded article
        let serving = Serving {
            decay: &[0.0, 1.0],
            excluded: &[false, false],
            prior: &[0.0, 0.0],
            k: 1,
        };
        let lists = t.neighbours(&[0, 1], &serving);
        assert_eq!((lists[0][0].index, lists[0][0].score), (1, 1.0));
        assert_eq!(lists[1][0].index, 0);
        let excluded = Serving {
            excluded: &[true, false],
            ..serving
        };
        assert!(t.neighbours(&[1], &excluded)[0].is_empty());
    }
}
