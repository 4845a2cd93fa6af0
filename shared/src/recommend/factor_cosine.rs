//! The neighbours of a factor model (ALS): cosine between article vectors,
//! as an affinity `(1 + cosine) / 2`. An article nobody read has no vector
//! worth the name (ALS leaves it at or near zero): its affinity with
//! everything is 0, not the 1/2 of an orthogonal pair.

use ndarray::{Array2, ArrayView2, Axis};

use crate::recommend::item_item::ItemItem;

pub struct FactorCosine {
    unit: Array2<f32>,
    read: Vec<bool>,
}

impl FactorCosine {
    /// `readers[i]`: readers of article `i` in the data the factors were fitted on.
    pub fn new(factors: ArrayView2<'_, f32>, readers: &[u32]) -> FactorCosine {
        let mut unit = factors.to_owned();
        for mut row in unit.axis_iter_mut(Axis(0)) {
            let norm = row.dot(&row).sqrt();
            if norm > 0.0 {
                row /= norm;
            }
        }
        let read = (0..unit.nrows())
            .map(|i| readers.get(i).is_some_and(|&n| n > 0))
            .collect();
        FactorCosine { unit, read }
    }
}

impl ItemItem for FactorCosine {
    fn articles(&self) -> usize {
        self.unit.nrows()
    }

    fn affinities(&self, from: usize, out: &mut [f32]) {
        if !self.read[from] {
            out.fill(0.0);
            return;
        }
        let cos = self.unit.dot(&self.unit.row(from));
        for ((o, c), &read) in out.iter_mut().zip(cos.iter()).zip(&self.read) {
            *o = if read {
                (1.0 + c.clamp(-1.0, 1.0)) / 2.0
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::item_item::Serving;

    #[test]
    fn serves_the_nearest_vectors() {
        let f = ndarray::array![[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [0.0, 0.0]];
        let model = FactorCosine::new(f.view(), &[3, 2, 2, 1, 0]);
        let mut a = vec![0f32; 5];
        model.affinities(0, &mut a);
        assert!((a[0] - 1.0).abs() < 1e-6 && a[3].abs() < 1e-6 && (a[2] - 0.5).abs() < 1e-6);
        assert_eq!(a[4], 0.0, "nobody read it: no affinity, not an orthogonal 1/2");
        model.affinities(4, &mut a);
        assert!(a.iter().all(|&x| x == 0.0));
        let serving = Serving {
            decay: &[1.0; 5],
            excluded: &[false; 5],
            prior: &[0.0; 5],
            k: 2,
        };
        let lists = model.neighbours(&[0, 2], &serving);
        assert_eq!(lists[0].iter().map(|n| n.index).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(lists[1][0].index, 1);
    }
}
