//! Content neighbours from dense text vectors (an operator's static
//! embedding model, [`crate::recommend::model2vec`]): the cosine between
//! articles' vectors, exact, one source's row at a time. An article without
//! a vector is close to nothing.

use crate::recommend::item_item::ItemItem;

pub struct EmbeddingCosine {
    dim: usize,
    /// Per article, L2-normalised (`dim` values), or all zeros.
    vectors: Vec<f32>,
}

impl EmbeddingCosine {
    /// # Panics
    /// Never: vectors of another length than the first non-empty one count
    /// as missing.
    pub fn new(vectors: &[Vec<f32>]) -> EmbeddingCosine {
        let dim = vectors.iter().map(Vec::len).find(|&d| d > 0).unwrap_or(0);
        let mut flat = vec![0f32; vectors.len() * dim];
        for (a, v) in vectors.iter().enumerate() {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if v.len() == dim && norm > 0.0 && norm.is_finite() {
                for (o, x) in flat[a * dim..(a + 1) * dim].iter_mut().zip(v) {
                    *o = x / norm;
                }
            }
        }
        EmbeddingCosine { dim, vectors: flat }
    }

    fn row(&self, a: usize) -> &[f32] {
        &self.vectors[a * self.dim..(a + 1) * self.dim]
    }
}

impl ItemItem for EmbeddingCosine {
    fn articles(&self) -> usize {
        self.vectors.len().checked_div(self.dim).unwrap_or(0)
    }

    fn affinities(&self, from: usize, out: &mut [f32]) {
        if self.dim == 0 {
            out.fill(0.0);
            return;
        }
        let source = self.row(from);
        for (j, o) in out.iter_mut().enumerate() {
            let dot: f32 = source.iter().zip(self.row(j)).map(|(a, b)| a * b).sum();
            *o = dot.clamp(0.0, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cosine_of_the_vectors_and_nothing_for_an_article_without_one() {
        let m = EmbeddingCosine::new(&[vec![1.0, 0.0], vec![2.0, 2.0], vec![], vec![-1.0, 0.0]]);
        assert_eq!(m.articles(), 4);
        let mut out = vec![0.0; 4];
        m.affinities(0, &mut out);
        let c = 1.0 / 2f32.sqrt();
        assert!((out[1] - c).abs() < 1e-6, "{out:?}");
        assert_eq!((out[2], out[3]), (0.0, 0.0), "no vector; opposite (clamped)");
        m.affinities(2, &mut out);
        assert_eq!(out, [0.0; 4]);
    }
}
