//! One half-iteration of implicit ALS: every row of `x` re-solved against fixed
//! `y` with a few conjugate-gradient steps, warm-started from its current value.
//! Three steps per solve are enough in practice (Takacs et al. 2011; `implicit`
//! uses 3 by default), since each solve starts from the last iteration's answer.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use sprs::CsMat;

use super::AlsParams;

/// Rows solved together: their `k x k` products are one matrix product.
const BLOCK: usize = 128;

/// Dot product with sixteen independent sums, so the compiler can vectorise it
/// (a single running sum has to be added in order).
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..16 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

#[inline(always)]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

/// Re-solves each row `u` of `x` for `(Y^T C_u Y + reg I) x_u = Y^T C_u p_u`.
///
/// The dense part of every CG step, `(Y^T Y + reg I) p`, is computed for a
/// block of rows at once as one matrix product (`P (Y^T Y + reg I)`, the
/// matrix being symmetric), which runs at matrix-multiply speed; the sparse
/// part, `Y^T (C_u - I) Y p`, is added row by row over the row's entries.
pub(super) fn solve_side(cui: &CsMat<f32>, x: &mut Array2<f32>, y: &Array2<f32>, params: &AlsParams) {
    let k = params.factors;
    let mut yty = y.t().dot(y);
    for i in 0..k {
        yty[[i, i]] += params.regularization;
    }
    let y = y.as_standard_layout().into_owned();
    let Some(ys) = y.as_slice() else { return };
    let steps = params.cg_steps;
    let yty = yty.view();

    x.axis_chunks_iter_mut(Axis(0), BLOCK)
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut xb)| solve_block_dispatch(cui, b * BLOCK, &mut xb, ys, yty, k, steps));
}

/// [`solve_block`] compiled for AVX2 when the CPU has it (every x86_64 Lambda
/// host does): the sparse part's dot products and updates run 8 lanes wide
/// instead of SSE2's 4. Same arithmetic, same order: the same results.
fn solve_block_dispatch(
    cui: &CsMat<f32>,
    lo: usize,
    xb: &mut ndarray::ArrayViewMut2<'_, f32>,
    ys: &[f32],
    yty: ArrayView2<'_, f32>,
    k: usize,
    steps: u32,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just checked to support AVX2
        #[allow(unsafe_code)]
        unsafe {
            return solve_block_avx2(cui, lo, xb, ys, yty, k, steps);
        }
    }
    solve_block(cui, lo, xb, ys, yty, k, steps);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn solve_block_avx2(
    cui: &CsMat<f32>,
    lo: usize,
    xb: &mut ndarray::ArrayViewMut2<'_, f32>,
    ys: &[f32],
    yty: ArrayView2<'_, f32>,
    k: usize,
    steps: u32,
) {
    solve_block(cui, lo, xb, ys, yty, k, steps);
}

/// CG for the rows `lo..lo + xb.nrows()`, in lockstep.
#[inline(always)]
fn solve_block(
    cui: &CsMat<f32>,
    lo: usize,
    xb: &mut ndarray::ArrayViewMut2<'_, f32>,
    ys: &[f32],
    yty: ArrayView2<'_, f32>,
    k: usize,
    steps: u32,
) {
    let rows = xb.nrows();
    let sparse = |u: usize| cui.outer_view(lo + u);
    // r = b - A x, with A = YtY + reg I + Y^T (C_u - I) Y and b = Y^T C_u p_u
    let mut r = block_product(xb.view(), yty);
    r.mapv_inplace(|v| -v);
    for (u, mut ru) in r.axis_iter_mut(Axis(0)).enumerate() {
        let (Some(row), Some(xu)) = (sparse(u), xb.row(u).to_slice()) else {
            continue;
        };
        let Some(ru) = ru.as_slice_mut() else { continue };
        for (i, &c) in row.iter() {
            let yi = &ys[i * k..(i + 1) * k];
            axpy(c - (c - 1.0) * dot(yi, xu), yi, ru);
        }
    }
    let mut p = r.clone();
    let mut rs: Vec<f32> = r.axis_iter(Axis(0)).map(|ru| ru.dot(&ru)).collect();
    let mut active: Vec<bool> = rs.iter().map(|&v| v >= 1e-20).collect();
    for _ in 0..steps {
        if !active.iter().any(|&a| a) {
            break;
        }
        let mut ap = block_product(p.view(), yty);
        for u in 0..rows {
            if !active[u] {
                continue;
            }
            let row = sparse(u);
            let mut apu = ap.row_mut(u);
            let (Some(pu), Some(apu_s)) = (p.row(u).to_slice(), apu.as_slice_mut()) else {
                active[u] = false;
                continue;
            };
            if let Some(row) = row {
                for (i, &c) in row.iter() {
                    let yi = &ys[i * k..(i + 1) * k];
                    axpy((c - 1.0) * dot(yi, pu), yi, apu_s);
                }
            }
            let pap = dot(pu, apu_s);
            if pap <= 0.0 {
                active[u] = false;
                continue;
            }
            let alpha = rs[u] / pap;
            xb.row_mut(u).zip_mut_with(&p.row(u), |xi, &pi| *xi += alpha * pi);
            r.row_mut(u).zip_mut_with(&ap.row(u), |ri, &ai| *ri -= alpha * ai);
            let ru = r.row(u);
            let rs_new = ru.dot(&ru);
            if rs_new < 1e-20 {
                active[u] = false;
                continue;
            }
            let beta = rs_new / rs[u];
            let mut pu = p.row_mut(u);
            pu.zip_mut_with(&ru, |pi, &ri| *pi = ri + beta * *pi);
            rs[u] = rs_new;
        }
    }
}

/// `m (Y^T Y + reg I)` for a block of rows.
fn block_product(m: ArrayView2<'_, f32>, yty: ArrayView2<'_, f32>) -> Array2<f32> {
    m.dot(&yty)
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
