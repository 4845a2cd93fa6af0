//! What every family is fitted on: each reader's reads in the order they
//! first opened them, with the seconds they read.

use sprs::{CsMat, TriMat};

use crate::recommend::als::confidence;

/// One read of one article by the reader whose slice holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Read {
    pub article: u32,
    pub first_seen_ms: i64,
    pub dwell_secs: f64,
}

/// Reads grouped by reader (`0..readers()`), each reader's in first-seen
/// order (ties on the article index).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reads {
    articles: usize,
    offsets: Vec<usize>,
    reads: Vec<Read>,
}

impl Reads {
    /// `rows` are (reader, read); readers are `0..readers`, articles `0..articles`.
    pub fn new(readers: usize, articles: usize, mut rows: Vec<(u32, Read)>) -> Reads {
        rows.sort_by_key(|(r, x)| (*r, x.first_seen_ms, x.article));
        let mut offsets = vec![0usize; readers + 1];
        for (r, _) in &rows {
            offsets[*r as usize + 1] += 1;
        }
        for i in 0..readers {
            offsets[i + 1] += offsets[i];
        }
        Reads {
            articles,
            offsets,
            reads: rows.into_iter().map(|(_, x)| x).collect(),
        }
    }

    pub fn readers(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn articles(&self) -> usize {
        self.articles
    }

    /// Reader x article pairs.
    pub fn len(&self) -> usize {
        self.reads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.reads.is_empty()
    }

    /// Reader `r`'s reads in order.
    pub fn of(&self, r: usize) -> &[Read] {
        &self.reads[self.offsets[r]..self.offsets[r + 1]]
    }

    /// Every reader's reads, in reader order.
    pub fn by_reader(&self) -> impl Iterator<Item = &[Read]> + '_ {
        (0..self.readers()).map(|r| self.of(r))
    }

    /// The reader x article confidence matrix (ALS's input).
    pub fn confidence_matrix(&self, alpha: f32) -> CsMat<f32> {
        let mut tri = TriMat::with_capacity((self.readers(), self.articles), self.reads.len());
        for (r, reads) in self.by_reader().enumerate() {
            for x in reads {
                tri.add_triplet(r, x.article as usize, confidence(x.dwell_secs, alpha));
            }
        }
        tri.to_csr()
    }

    /// Distinct readers of each article.
    pub fn readers_per_article(&self) -> Vec<u32> {
        let mut n = vec![0u32; self.articles];
        for x in &self.reads {
            n[x.article as usize] += 1;
        }
        n
    }

    /// Readers per article scaled so the most read is 1: the served prior.
    pub fn prior(&self) -> Vec<f32> {
        let n = self.readers_per_article();
        let max = n.iter().copied().max().unwrap_or(0).max(1) as f32;
        n.iter().map(|&c| c as f32 / max).collect()
    }

    /// For each article, where its reads are in [`Reads::all`], with the
    /// bounds of the reader's slice, so a family can walk what came next.
    pub fn occurrences(&self) -> Occurrences {
        let mut counts = vec![0usize; self.articles + 1];
        for x in &self.reads {
            counts[x.article as usize + 1] += 1;
        }
        for i in 0..self.articles {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut at = vec![Occurrence::default(); self.reads.len()];
        for r in 0..self.readers() {
            let (lo, hi) = (self.offsets[r], self.offsets[r + 1]);
            for p in lo..hi {
                let a = self.reads[p].article as usize;
                at[next[a]] = Occurrence {
                    start: lo as u32,
                    at: p as u32,
                    end: hi as u32,
                };
                next[a] += 1;
            }
        }
        Occurrences { offsets: counts, at }
    }

    /// All reads, in reader order; [`Occurrence`] positions index this slice.
    pub fn all(&self) -> &[Read] {
        &self.reads
    }
}

/// One read of an article: its position in [`Reads::all`], and the reader's
/// slice `start..end` around it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Occurrence {
    pub start: u32,
    pub at: u32,
    pub end: u32,
}

/// Per article, its reads.
#[derive(Debug, Clone)]
pub struct Occurrences {
    offsets: Vec<usize>,
    at: Vec<Occurrence>,
}

impl Occurrences {
    pub fn of(&self, article: usize) -> &[Occurrence] {
        &self.at[self.offsets[article]..self.offsets[article + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(article: u32, t: i64) -> Read {
        Read {
            article,
            first_seen_ms: t,
            dwell_secs: 30.0,
        }
    }

    #[test]
    fn reads_are_grouped_and_ordered_and_occurrences_point_back() {
        let reads = Reads::new(
            3,
            4,
            vec![
                (1, read(2, 50)),
                (0, read(3, 20)),
                (0, read(1, 10)),
                (2, read(1, 5)),
                (1, read(0, 50)),
            ],
        );
        assert_eq!(reads.readers(), 3);
        assert_eq!(reads.of(0).iter().map(|x| x.article).collect::<Vec<_>>(), [1, 3]);
        // same time: article order
        assert_eq!(reads.of(1).iter().map(|x| x.article).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(reads.readers_per_article(), [1, 2, 1, 1]);
        assert_eq!(reads.prior(), [0.5, 1.0, 0.5, 0.5]);
        let occ = reads.occurrences();
        let of1: Vec<(u32, u32, u32)> = occ.of(1).iter().map(|o| (o.start, o.at, o.end)).collect();
        assert_eq!(of1, [(0, 0, 2), (4, 4, 5)]);
        for a in 0..4 {
            for o in occ.of(a) {
                assert_eq!(reads.all()[o.at as usize].article as usize, a);
                assert!(o.start <= o.at && o.at < o.end);
            }
        }
        let m = reads.confidence_matrix(1.0);
        assert_eq!(m.shape(), (3, 4));
        assert_eq!(m.nnz(), 5);
    }
}
