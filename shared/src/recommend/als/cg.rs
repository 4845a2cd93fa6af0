//! One half-iteration of implicit ALS: every row of `x` re-solved against fixed
//! `y` with a few conjugate-gradient steps, warm-started from its current value.
//! Three steps per solve are enough in practice (Takacs et al. 2011; `implicit`
//! uses 3 by default), since each solve starts from the last iteration's answer.

use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;
use sprs::CsMat;

use super::AlsParams;

/// Rows solved together: their `k x k` products are one matrix product.
const BLOCK: usize = 32;

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

/// The dot products of four rows with `v`: four independent chains, `v` read
/// once, so the CPU overlaps the rows' loads instead of waiting on each.
#[inline(always)]
fn dot4(y: [&[f32]; 4], v: &[f32]) -> [f32; 4] {
    let n = v.len();
    let (y0, y1, y2, y3) = (&y[0][..n], &y[1][..n], &y[2][..n], &y[3][..n]);
    let (mut a0, mut a1, mut a2, mut a3) = ([0f32; 16], [0f32; 16], [0f32; 16], [0f32; 16]);
    let chunks = v
        .chunks_exact(16)
        .zip(y0.chunks_exact(16))
        .zip(y1.chunks_exact(16))
        .zip(y2.chunks_exact(16))
        .zip(y3.chunks_exact(16));
    for ((((vc, c0), c1), c2), c3) in chunks {
        for l in 0..16 {
            a0[l] += c0[l] * vc[l];
            a1[l] += c1[l] * vc[l];
            a2[l] += c2[l] * vc[l];
            a3[l] += c3[l] * vc[l];
        }
    }
    let full = n - n % 16;
    let tail = |ye: &[f32]| -> f32 { ye[full..].iter().zip(&v[full..]).map(|(a, b)| a * b).sum() };
    [
        a0.iter().sum::<f32>() + tail(y0),
        a1.iter().sum::<f32>() + tail(y1),
        a2.iter().sum::<f32>() + tail(y2),
        a3.iter().sum::<f32>() + tail(y3),
    ]
}

/// `out += sum_e alpha_e y_e` over four rows, `out` read and written once.
#[inline(always)]
fn axpy4(alpha: [f32; 4], y: [&[f32]; 4], out: &mut [f32]) {
    let n = out.len();
    let (y0, y1, y2, y3) = (&y[0][..n], &y[1][..n], &y[2][..n], &y[3][..n]);
    for i in 0..n {
        out[i] += alpha[0] * y0[i] + alpha[1] * y1[i] + alpha[2] * y2[i] + alpha[3] * y3[i];
    }
}

/// Asks the CPU to bring `row` into its caches (a hint: no effect on results).
#[inline(always)]
fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(16) {
        // SAFETY: a prefetch reads nothing and cannot fault; the address is in `row`
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(line.as_ptr().cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// `out += sum_e weight(c_e, y_e . v) y_e` over a row's entries `(i_e, c_e)`,
/// `y_e` the `i_e`-th row of `ys`: the sparse part of `A v` (and of `b`).
/// Entries go four at a time: the rows are scattered through `Y` and their
/// loads, not the arithmetic, are the cost.
#[inline(always)]
fn sparse_product(
    indices: &[usize],
    confidence: &[f32],
    ys: &[f32],
    k: usize,
    v: &[f32],
    out: &mut [f32],
    weight: impl Fn(f32, f32) -> f32,
) {
    let row = |i: usize| &ys[i * k..(i + 1) * k];
    let (ic, cc) = (indices.chunks_exact(4), confidence.chunks_exact(4));
    let (ir, cr) = (ic.remainder(), cc.remainder());
    for (g, (i4, c4)) in ic.zip(cc).enumerate() {
        // the next group's rows are requested now, to arrive while this one is done
        if let Some(next) = indices.get(4 * g + 4..4 * g + 8) {
            for &i in next {
                prefetch(row(i));
            }
        }
        let y = [row(i4[0]), row(i4[1]), row(i4[2]), row(i4[3])];
        let d = dot4(y, v);
        let alpha = [0, 1, 2, 3].map(|e| weight(c4[e], d[e]));
        axpy4(alpha, y, out);
    }
    for (&i, &c) in ir.iter().zip(cr) {
        let yi = row(i);
        axpy(weight(c, dot(yi, v)), yi, out);
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
    let mut yty = gram(y);
    for i in 0..k {
        yty[[i, i]] += params.regularization;
    }
    let y = y.as_standard_layout().into_owned();
    let Some(ys) = y.as_slice() else { return };
    let side = Side {
        cui,
        ys,
        yty: yty.view(),
        k,
        steps: params.cg_steps,
    };
    x.axis_chunks_iter_mut(Axis(0), BLOCK)
        .into_par_iter()
        .enumerate()
        .for_each(|(b, mut xb)| solve_block_dispatch(&side, b * BLOCK, &mut xb));
}

/// What every block of one half-iteration shares: the confidences, the fixed
/// side's factors (row-major), `Y^T Y + reg I`, the factors and CG steps.
#[derive(Clone, Copy)]
struct Side<'a> {
    cui: &'a CsMat<f32>,
    ys: &'a [f32],
    yty: ArrayView2<'a, f32>,
    k: usize,
    steps: u32,
}

/// [`solve_block`] compiled for the widest vectors the CPU has, detected at
/// run time so one x86_64 binary is fast on every Lambda host: AVX-512 (16
/// lanes) where present, else AVX2 (8 lanes; every x86_64 Lambda host has
/// it), else the build's baseline. The sixteen sums of [`dot`] are one
/// AVX-512 register or two AVX2 ones, each lane adding in the same order:
/// the same results on every path.
fn solve_block_dispatch(side: &Side<'_>, lo: usize, xb: &mut ArrayViewMut2<'_, f32>) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU was just checked to support AVX-512F
        #[allow(unsafe_code)]
        unsafe {
            return solve_block_avx512(side, lo, xb);
        }
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just checked to support AVX2
        #[allow(unsafe_code)]
        unsafe {
            return solve_block_avx2(side, lo, xb);
        }
    }
    solve_block(side, lo, xb);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn solve_block_avx512(side: &Side<'_>, lo: usize, xb: &mut ArrayViewMut2<'_, f32>) {
    solve_block(side, lo, xb);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn solve_block_avx2(side: &Side<'_>, lo: usize, xb: &mut ArrayViewMut2<'_, f32>) {
    solve_block(side, lo, xb);
}

/// CG for the rows `lo..lo + xb.nrows()`, in lockstep.
#[inline(always)]
fn solve_block(side: &Side<'_>, lo: usize, xb: &mut ArrayViewMut2<'_, f32>) {
    let Side {
        cui,
        ys,
        yty,
        k,
        steps,
    } = *side;
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
        sparse_product(row.indices(), row.data(), ys, k, xu, ru, |c, d| c - (c - 1.0) * d);
    }
    let mut p = r.clone();
    let mut rs: Vec<f32> = r
        .axis_iter(Axis(0))
        .map(|ru| ru.to_slice().map_or(0.0, |ru| dot(ru, ru)))
        .collect();
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
                sparse_product(row.indices(), row.data(), ys, k, pu, apu_s, |c, d| (c - 1.0) * d);
            }
            let pap = dot(pu, apu_s);
            if pap <= 0.0 {
                active[u] = false;
                continue;
            }
            let alpha = rs[u] / pap;
            let (mut xu, mut ru) = (xb.row_mut(u), r.row_mut(u));
            let (Some(xu), Some(ru), Some(apu)) =
                (xu.as_slice_mut(), ru.as_slice_mut(), ap.row(u).to_slice())
            else {
                active[u] = false;
                continue;
            };
            axpy(alpha, pu, xu);
            axpy(-alpha, apu, ru);
            let rs_new = dot(ru, ru);
            if rs_new < 1e-20 {
                active[u] = false;
                continue;
            }
            let beta = rs_new / rs[u];
            let mut pu = p.row_mut(u);
            let Some(pu) = pu.as_slice_mut() else {
                active[u] = false;
                continue;
            };
            for (pi, &ri) in pu.iter_mut().zip(ru.iter()) {
                *pi = ri + beta * *pi;
            }
            rs[u] = rs_new;
        }
    }
}

/// `Y^T Y` by faer's matrix product on every thread (for the reader side,
/// `Y` is every reader's factors: as many flops as one CG step).
pub(super) fn gram(y: &Array2<f32>) -> Array2<f32> {
    let k = y.ncols();
    let y = y.as_standard_layout();
    let Some(ys) = y.as_slice() else {
        return y.t().dot(&y);
    };
    let mut out = Array2::<f32>::zeros((k, k));
    let Some(os) = out.as_slice_mut() else {
        return y.t().dot(&y);
    };
    let y = faer::MatRef::from_row_major_slice(ys, y.nrows(), k);
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(os, k, k),
        faer::Accum::Replace,
        y.transpose(),
        y,
        1.0,
        faer::Par::rayon(0),
    );
    out
}

/// `m (Y^T Y + reg I)` for a block of rows, by faer's matrix product: it
/// picks its AVX-512 or AVX2 kernel at run time (ndarray's own product stops
/// at AVX2), and at 128 factors this product is most of an iteration.
fn block_product(m: ArrayView2<'_, f32>, yty: ArrayView2<'_, f32>) -> Array2<f32> {
    let (rows, k) = m.dim();
    let mut out = Array2::<f32>::zeros((rows, k));
    let (Some(ms), Some(ys)) = (m.as_slice(), yty.as_slice()) else {
        return m.dot(&yty);
    };
    let Some(os) = out.as_slice_mut() else {
        return m.dot(&yty);
    };
    faer::linalg::matmul::matmul(
        faer::MatMut::from_row_major_slice_mut(os, rows, k),
        faer::Accum::Replace,
        faer::MatRef::from_row_major_slice(ms, rows, k),
        faer::MatRef::from_row_major_slice(ys, k, k),
        1.0,
        faer::Par::Seq,
    );
    out
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

    /// Every SIMD path this CPU has gives the baseline's results bit for bit,
    /// at factor counts that leave remainders in the four-row and 16-lane loops.
    #[test]
    #[allow(unsafe_code)]
    fn every_simd_path_gives_the_same_factors() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for k in [7usize, 16, 37] {
            let (rows, cols) = (70, 40);
            let mut tri = TriMat::new((rows, cols));
            for u in 0..rows {
                for i in 0..cols {
                    if rng.random::<f64>() < 0.2 + 0.1 * (u % 3) as f64 {
                        tri.add_triplet(u, i, 1.0 + 9.0 * rng.random::<f32>());
                    }
                }
            }
            let cui: CsMat<f32> = tri.to_csr();
            let y = Array2::from_shape_fn((cols, k), |_| rng.random::<f32>() - 0.5);
            let x0 = Array2::from_shape_fn((rows, k), |_| rng.random::<f32>() - 0.5);
            let mut yty = gram(&y);
            for i in 0..k {
                yty[[i, i]] += 0.1;
            }
            let ys = y.as_slice().unwrap();
            let side = Side {
                cui: &cui,
                ys,
                yty: yty.view(),
                k,
                steps: 3,
            };
            let run = |path: fn(&Side<'_>, usize, &mut ArrayViewMut2<'_, f32>)| {
                let mut x = x0.clone();
                path(&side, 0, &mut x.view_mut());
                x
            };
            let baseline = run(|side, lo, x| solve_block(side, lo, x));
            assert_ne!(baseline, x0, "the solve moved the factors");
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 was just detected
                    let avx2 = run(|side, lo, x| unsafe { solve_block_avx2(side, lo, x) });
                    assert_eq!(avx2, baseline, "AVX2 at k = {k}");
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: AVX-512F was just detected
                    let avx512 = run(|side, lo, x| unsafe { solve_block_avx512(side, lo, x) });
                    assert_eq!(avx512, baseline, "AVX-512 at k = {k}");
                }
            }
        }
    }
}
