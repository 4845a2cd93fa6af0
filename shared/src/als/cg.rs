//! One half-iteration of implicit ALS: every row of `x` re-solved against fixed
//! `y` with a few conjugate-gradient steps, warm-started from its current value.
//! Three steps per solve are enough in practice (Takacs et al. 2011; `implicit`
//! uses 3 by default), since each solve starts from the last iteration's answer.

use ndarray::Array2;
use rayon::prelude::*;
use sprs::CsMat;

use crate::settings::AlsParams;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Re-solves each row `u` of `x` for `(Y^T C_u Y + reg I) x_u = Y^T C_u p_u`.
pub(super) fn solve_side(cui: &CsMat<f32>, x: &mut Array2<f32>, y: &Array2<f32>, params: &AlsParams) {
    let k = params.factors;
    let mut yty = y.t().dot(y);
    for i in 0..k {
        yty[[i, i]] += params.regularization;
    }
    let yty = yty.as_standard_layout().into_owned();
    let Some(yty) = yty.as_slice() else { return };
    let y = y.as_standard_layout().into_owned();
    let Some(ys) = y.as_slice() else { return };
    let Some(xs) = x.as_slice_mut() else { return };
    let steps = params.cg_steps;

    xs.par_chunks_mut(k).enumerate().for_each(|(u, xu)| {
        let Some(row) = cui.outer_view(u) else { return };
        let mut r = vec![0f32; k];
        let mut p = vec![0f32; k];
        let mut ap = vec![0f32; k];
        // r = b - A x, with A = YtY + Y^T (C_u - I) Y and b = Y^T C_u p_u
        matvec(yty, xu, &mut r, k);
        r.iter_mut().for_each(|v| *v = -*v);
        for (i, &c) in row.iter() {
            let yi = &ys[i * k..(i + 1) * k];
            axpy(c - (c - 1.0) * dot(yi, xu), yi, &mut r);
        }
        p.copy_from_slice(&r);
        let mut rs_old = dot(&r, &r);
        if rs_old < 1e-20 {
            return;
        }
        for _ in 0..steps {
            matvec(yty, &p, &mut ap, k);
            for (i, &c) in row.iter() {
                let yi = &ys[i * k..(i + 1) * k];
                axpy((c - 1.0) * dot(yi, &p), yi, &mut ap);
            }
            let pap = dot(&p, &ap);
            if pap <= 0.0 {
                break;
            }
            let alpha = rs_old / pap;
            axpy(alpha, &p, xu);
            axpy(-alpha, &ap, &mut r);
            let rs_new = dot(&r, &r);
            if rs_new < 1e-20 {
                break;
            }
            let beta = rs_new / rs_old;
            for (pi, ri) in p.iter_mut().zip(&r) {
                *pi = ri + beta * *pi;
            }
            rs_old = rs_new;
        }
    });
}

/// `out = A v` for a row-major `k x k` matrix `A`.
fn matvec(a: &[f32], v: &[f32], out: &mut [f32], k: usize) {
    for (i, o) in out.iter_mut().enumerate() {
        *o = dot(&a[i * k..(i + 1) * k], v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sprs::TriMat;

    /// Solves one row exactly by Gaussian elimination, for comparison.
    #[allow(clippy::needless_range_loop)] // elimination reads clearest with indices
    fn exact(cui: &CsMat<f32>, u: usize, y: &Array2<f32>, reg: f32) -> Vec<f32> {
        let k = y.ncols();
        let mut a = y.t().dot(y);
        let mut b = vec![0f32; k];
        for i in 0..k {
            a[[i, i]] += reg;
        }
        for (i, &c) in cui.outer_view(u).unwrap().iter() {
            for p in 0..k {
                b[p] += c * y[[i, p]];
                for q in 0..k {
                    a[[p, q]] += (c - 1.0) * y[[i, p]] * y[[i, q]];
                }
            }
        }
        // Gaussian elimination (A is symmetric positive definite)
        let mut m: Vec<Vec<f64>> = (0..k)
            .map(|p| {
                (0..k)
                    .map(|q| f64::from(a[[p, q]]))
                    .chain([f64::from(b[p])])
                    .collect()
            })
            .collect();
        for col in 0..k {
            for row in col + 1..k {
                let f = m[row][col] / m[col][col];
                for c in col..=k {
                    m[row][c] -= f * m[col][c];
                }
            }
        }
        let mut x = vec![0f64; k];
        for row in (0..k).rev() {
            let s: f64 = (row + 1..k).map(|c| m[row][c] * x[c]).sum();
            x[row] = (m[row][k] - s) / m[row][row];
        }
        x.into_iter().map(|v| v as f32).collect()
    }

    #[test]
    fn cg_matches_the_exact_solution() {
        let k = 4;
        let mut tri = TriMat::new((2, 6));
        for (u, i, c) in [(0, 0, 3.0), (0, 2, 1.5), (0, 5, 7.0), (1, 1, 2.0), (1, 3, 4.0)] {
            tri.add_triplet(u, i, c);
        }
        let cui: CsMat<f32> = tri.to_csr();
        let y = Array2::from_shape_fn((6, k), |(i, j)| ((i * 7 + j * 3) % 5) as f32 * 0.3 + 0.1);
        let params = AlsParams {
            factors: k,
            cg_steps: k as u32, // CG is exact after k steps in exact arithmetic
            regularization: 0.1,
            ..AlsParams::default()
        };
        let mut x = Array2::zeros((2, k));
        solve_side(&cui, &mut x, &y, &params);
        for u in 0..2 {
            let want = exact(&cui, u, &y, 0.1);
            for (a, b) in x.row(u).iter().zip(&want) {
                assert!((a - b).abs() < 1e-3, "row {u}: {:?} vs {want:?}", x.row(u));
            }
        }
    }
}
