//! A collaborative model blended with content neighbours, per source:
//! `affinity = w * collaborative + (1 - w) * content`, `w = n / (n + k)` for a
//! source read by `n` readers. A much-read story is served by what its
//! readers did; a story few have read, by what it is about. `k = 0` is the
//! collaborative model alone, `k = inf` content alone.

use std::sync::Arc;

use rayon::prelude::*;

use crate::recommend::item_item::{ItemItem, Serving};
use crate::recommend::neighbours::Neighbour;

pub struct Hybrid {
    collaborative: Arc<dyn ItemItem>,
    content: Arc<dyn ItemItem>,
    /// Readers of each article in the fitted data.
    readers: Vec<u32>,
    k: f32,
}

/// The collaborative weight of a source with `readers` readers.
pub fn weight(readers: u32, k: f32) -> f32 {
    if k <= 0.0 {
        1.0
    } else if !k.is_finite() {
        0.0
    } else {
        let n = readers as f32;
        n / (n + k)
    }
}

impl Hybrid {
    pub fn new(
        collaborative: Arc<dyn ItemItem>,
        content: Arc<dyn ItemItem>,
        readers: Vec<u32>,
        k: f32,
    ) -> Hybrid {
        Hybrid {
            collaborative,
            content,
            readers,
            k,
        }
    }

    fn blend(&self, from: usize, out: &mut [f32], content: &mut [f32]) {
        let w = weight(self.readers.get(from).copied().unwrap_or(0), self.k);
        if w > 0.0 {
            self.collaborative.affinities(from, out);
        } else {
            out.fill(0.0);
        }
        if w < 1.0 {
            self.content.affinities(from, content);
            for (o, c) in out.iter_mut().zip(content.iter()) {
                *o = w * *o + (1.0 - w) * c;
            }
        }
    }
}

impl ItemItem for Hybrid {
    fn articles(&self) -> usize {
        self.collaborative.articles()
    }

    fn affinities(&self, from: usize, out: &mut [f32]) {
        let mut content = vec![0f32; out.len()];
        self.blend(from, out, &mut content);
    }

    fn neighbours(&self, sources: &[usize], serving: &Serving<'_>) -> Vec<Vec<Neighbour>> {
        let n = self.articles();
        sources
            .par_iter()
            .map_init(
                || (vec![0f32; n], vec![0f32; n]),
                |(out, content), &from| {
                    self.blend(from, out, content);
                    serving.top(from, out)
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::item_item::Fixed;

    #[test]
    fn the_weight_follows_the_readers() {
        assert_eq!(weight(0, 10.0), 0.0, "nobody read it: content only");
        assert!((weight(10, 10.0) - 0.5).abs() < 1e-6);
        assert!((weight(90, 10.0) - 0.9).abs() < 1e-6);
        assert_eq!(weight(0, 0.0), 1.0, "k = 0: the collaborative model alone");
        assert_eq!(weight(1000, f32::INFINITY), 0.0, "k = inf: content alone");
    }

    #[test]
    fn a_little_read_source_is_served_by_content_a_much_read_one_by_its_readers() {
        let collaborative = Arc::new(Fixed(vec![
            vec![0.0, 1.0, 0.0],
            vec![1.0, 0.0, 0.0],
            vec![1.0, 0.0, 0.0],
        ]));
        let content = Arc::new(Fixed(vec![
            vec![0.0, 0.0, 1.0],
            vec![0.0, 0.0, 1.0],
            vec![0.0, 1.0, 0.0],
        ]));
        let h = Hybrid::new(collaborative, content, vec![100, 1, 0], 10.0);
        let mut out = vec![0.0; 3];
        h.affinities(0, &mut out);
        let w = 100.0 / 110.0;
        assert!(
            (out[1] - w).abs() < 1e-6 && (out[2] - (1.0 - w)).abs() < 1e-6,
            "{out:?}"
        );
        let serving = Serving {
            decay: &[1.0; 3],
            excluded: &[false; 3],
            prior: &[0.0; 3],
            k: 1,
        };
        let lists = h.neighbours(&[0, 1, 2], &serving);
        let top: Vec<usize> = lists.iter().map(|l| l[0].index).collect();
        // 0 is much read: its readers' pick; 1 and 2 are (nearly) unread: content's
        assert_eq!(top, [1, 2, 1]);
    }
}
