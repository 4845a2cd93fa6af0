//! The neighbours of a factor model (ALS): cosine between article vectors,
//! as an affinity `(1 + cosine) / 2`.

use ndarray::{Array2, ArrayView2, Axis};

use crate::recommend::item_item::ItemItem;

pub struct FactorCosine {
    unit: Array2<f32>,
}

impl FactorCosine {
    pub fn new(factors: ArrayView2<'_, f32>) -> FactorCosine {
        let mut unit = factors.to_owned();
        for mut row in unit.axis_iter_mut(Axis(0)) {
            let norm = row.dot(&row).sqrt();
            if norm > 0.0 {
                row /= norm;
            }
        }
        FactorCosine { unit }
    }
}

impl ItemItem for FactorCosine {
    fn articles(&self) -> usize {
        self.unit.nrows()
    }

    fn affinities(&self, from: usize, out: &mut [f32]) {
        let cos = self.unit.dot(&self.unit.row(from));
        for (o, c) in out.iter_mut().zip(cos.iter()) {
            *o = (1.0 + c.clamp(-1.0, 1.0)) / 2.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::item_item::Serving;

    #[test]
    fn serves_the_nearest_vectors() {
        let f = ndarray::array![[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]];
        let model = FactorCosine::new(f.view());
        let mut a = vec![0f32; 4];
        model.affinities(0, &mut a);
        assert!((a[0] - 1.0).abs() < 1e-6 && a[3].abs() < 1e-6 && (a[2] - 0.5).abs() < 1e-6);
        let serving = Serving {
            decay: &[1.0; 4],
            excluded: &[false; 4],
            prior: &[0.0; 4],
            k: 2,
        };
        let lists = model.neighbours(&[0, 2], &serving);
        assert_eq!(lists[0].iter().map(|n| n.index).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(lists[1][0].index, 1);
    }
}
