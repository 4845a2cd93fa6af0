//! The inverse of a symmetric positive definite matrix in place, in one
//! `n x n` buffer: faer's blocked Cholesky `A = L L^T`, then `L^-1` in
//! place and `L^-T L^-1` in place (LAPACK's `potri` = `trtri` + `lauum`,
//! recursive, the large products by faer's matmul). faer's own
//! `llt::inverse` needs the factor, the output and a scratch matrix: three
//! times the memory, which is what bounds EASE's catalogue.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor;
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};

/// Diagonal blocks at most this wide are done by plain loops, strips of
/// this width through a copy.
const LEAF: usize = 64;

/// Replaces the lower triangle of `a` (symmetric positive definite, lower
/// triangle read) by the lower triangle of its inverse. The strict upper
/// triangle is workspace (faer's factorisation may write there).
///
/// # Errors
/// The index of the first pivot that is not positive.
pub fn invert_in_place(mut a: MatMut<'_, f32>, par: Par) -> Result<(), usize> {
    let n = a.nrows();
    let mut mem = MemBuffer::new(factor::cholesky_in_place_scratch::<f32>(
        n,
        par,
        Default::default(),
    ));
    factor::cholesky_in_place(
        a.rb_mut(),
        Default::default(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| match e {
        factor::LltError::NonPositivePivot { index } => index,
    })?;
    drop(mem);
    invert_lower(a.rb_mut(), par);
    lower_t_times_lower(a, par);
    Ok(())
}

fn at(m: &MatRef<'_, f32>, i: usize, j: usize) -> f32 {
    *m.get(i, j)
}

fn set(m: &mut MatMut<'_, f32>, i: usize, j: usize, v: f32) {
    *m.rb_mut().get_mut(i, j) = v;
}

/// `L <- L^-1` for the lower triangle of `l`.
fn invert_lower(mut l: MatMut<'_, f32>, par: Par) {
    let n = l.nrows();
    if n <= LEAF {
        // column by column: column j of the inverse needs L's columns > j, not yet replaced
        for j in 0..n {
            let d = 1.0 / at(&l.rb(), j, j);
            set(&mut l, j, j, d);
            for i in j + 1..n {
                let mut s = 0f32;
                for k in j..i {
                    s += at(&l.rb(), i, k) * at(&l.rb(), k, j);
                }
                let d = at(&l.rb(), i, i);
                set(&mut l, i, j, -s / d);
            }
        }
        return;
    }
    let h = n / 2;
    let (mut l11, _, mut l21, mut l22) = l.split_at_mut(h, h);
    // [L11 0; L21 L22]^-1 = [X11 0; -X22 L21 X11  X22]
    invert_lower(l11.rb_mut(), par);
    invert_lower(l22.rb_mut(), par);
    times_lower_from_right(l21.rb_mut(), l11.rb(), par);
    lower_times_from_left(l22.rb(), l21.rb_mut(), par);
    for j in 0..l21.ncols() {
        for i in 0..l21.nrows() {
            let v = at(&l21.rb(), i, j);
            set(&mut l21, i, j, -v);
        }
    }
}

/// `lhs * rhs` of a narrow strip into a new matrix (one side triangular),
/// so the in-place products' leaves run at matmul speed.
fn strip(
    lhs: MatRef<'_, f32>,
    lhs_structure: BlockStructure,
    rhs: MatRef<'_, f32>,
    rhs_structure: BlockStructure,
    par: Par,
) -> Mat<f32> {
    let mut out = Mat::<f32>::zeros(lhs.nrows(), rhs.ncols());
    triangular::matmul(
        out.as_mut(),
        BlockStructure::Rectangular,
        Accum::Replace,
        lhs,
        lhs_structure,
        rhs,
        rhs_structure,
        1.0,
        par,
    );
    out
}

/// `B <- B T`, `T` lower triangular (its lower triangle read).
fn times_lower_from_right(mut b: MatMut<'_, f32>, t: MatRef<'_, f32>, par: Par) {
    let k = t.nrows();
    if k <= LEAF {
        let out = strip(
            b.rb(),
            BlockStructure::Rectangular,
            t,
            BlockStructure::TriangularLower,
            par,
        );
        b.copy_from(&out);
        return;
    }
    let h = k / 2;
    let (t11, _, t21, t22) = t.split_at(h, h);
    let (mut b1, b2) = b.split_at_col_mut(h);
    times_lower_from_right(b1.rb_mut(), t11, par);
    matmul(b1.rb_mut(), Accum::Add, b2.rb(), t21, 1.0, par);
    times_lower_from_right(b2, t22, par);
}

/// `B <- T B`, `T` lower triangular (its lower triangle read).
fn lower_times_from_left(t: MatRef<'_, f32>, mut b: MatMut<'_, f32>, par: Par) {
    let m = t.nrows();
    if m <= LEAF {
        let out = strip(
            t,
            BlockStructure::TriangularLower,
            b.rb(),
            BlockStructure::Rectangular,
            par,
        );
        b.copy_from(&out);
        return;
    }
    let h = m / 2;
    let (t11, _, t21, t22) = t.split_at(h, h);
    let (b1, mut b2) = b.split_at_row_mut(h);
    lower_times_from_left(t22, b2.rb_mut(), par);
    matmul(b2.rb_mut(), Accum::Add, t21, b1.rb(), 1.0, par);
    lower_times_from_left(t11, b1, par);
}

/// `B <- T^T B`, `T` lower triangular (its lower triangle read).
fn lower_t_times_from_left(t: MatRef<'_, f32>, mut b: MatMut<'_, f32>, par: Par) {
    let m = t.nrows();
    if m <= LEAF {
        let out = strip(
            t.transpose(),
            BlockStructure::TriangularUpper,
            b.rb(),
            BlockStructure::Rectangular,
            par,
        );
        b.copy_from(&out);
        return;
    }
    let h = m / 2;
    let (t11, _, t21, t22) = t.split_at(h, h);
    let (mut b1, b2) = b.split_at_row_mut(h);
    lower_t_times_from_left(t11, b1.rb_mut(), par);
    matmul(b1.rb_mut(), Accum::Add, t21.transpose(), b2.rb(), 1.0, par);
    lower_t_times_from_left(t22, b2, par);
}

/// `X <- X^T X` on the lower triangle, `X` lower triangular.
fn lower_t_times_lower(mut x: MatMut<'_, f32>, par: Par) {
    let n = x.nrows();
    if n <= LEAF {
        // ascending columns, then rows: entry (i, j) needs X's (k >= i, i) and (k >= i, j)
        for j in 0..n {
            for i in j..n {
                let mut s = 0f32;
                for k in i..n {
                    s += at(&x.rb(), k, i) * at(&x.rb(), k, j);
                }
                set(&mut x, i, j, s);
            }
        }
        return;
    }
    let h = n / 2;
    let (mut x11, _, mut x21, x22) = x.split_at_mut(h, h);
    // [X11 0; X21 X22]^T [X11 0; X21 X22] = [X11^T X11 + X21^T X21, .; X22^T X21, X22^T X22]
    lower_t_times_lower(x11.rb_mut(), par);
    triangular::matmul(
        x11.rb_mut(),
        BlockStructure::TriangularLower,
        Accum::Add,
        x21.rb().transpose(),
        BlockStructure::Rectangular,
        x21.rb(),
        BlockStructure::Rectangular,
        1.0,
        par,
    );
    lower_t_times_from_left(x22.rb(), x21.rb_mut(), par);
    lower_t_times_lower(x22, par);
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::linalg::solvers::DenseSolveCore;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn equals_a_direct_inverse_at_sizes_that_take_every_branch() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for n in [1usize, 5, 64, 65, 130, 300] {
            let x = Mat::<f64>::from_fn(n + 7, n, |_, _| rng.random::<f64>() - 0.5);
            let mut a = x.transpose() * &x;
            for i in 0..n {
                a[(i, i)] += 1.0;
            }
            let want = a.llt(faer::Side::Lower).unwrap().inverse();
            let mut got = Mat::<f32>::from_fn(n, n, |i, j| if i >= j { a[(i, j)] as f32 } else { 7.0 });
            invert_in_place(got.as_mut(), Par::Seq).unwrap();
            for j in 0..n {
                for i in j..n {
                    let err = (f64::from(got[(i, j)]) - want[(i, j)]).abs();
                    assert!(
                        err < 1e-3 * want[(i, i)].abs().max(1.0),
                        "n {n} ({i}, {j}): {} vs {}",
                        got[(i, j)],
                        want[(i, j)]
                    );
                }
            }
        }
        let mut not_pd = Mat::<f32>::from_fn(2, 2, |i, j| if i == j { -1.0 } else { 0.0 });
        assert_eq!(invert_in_place(not_pd.as_mut(), Par::Seq), Err(0));
    }
}
