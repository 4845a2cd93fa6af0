//! Proportions and their uncertainty: the Wilson score interval for a
//! click-through rate, and the two-proportion z-test that says whether one
//! rate is significantly below another.

pub use crate::contract::online::{Comparison, Interval};

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Wilson's score interval for `successes` of `trials` at normal quantile
/// `z`; `None` without trials. Unlike the normal approximation it stays in
/// `[0, 1]` and is not zero-width at 0 or `trials` successes, which is what
/// small click counts need.
pub fn wilson(successes: u64, trials: u64, z: f64) -> Option<Interval> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Some(Interval {
        lo: (centre - half).max(0.0),
        hi: (centre + half).min(1.0),
    })
}

/// The complementary error function (libm's, correct to the last bits
/// where the p-values live: far in the tails).
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// `(successes, trials)` of the new and the old; `None` when either has no
/// trials, or neither rate can vary (no successes at all, or only successes).
pub fn compare(new: (u64, u64), old: (u64, u64)) -> Option<Comparison> {
    let ((k1, n1), (k2, n2)) = (new, old);
    if n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2 {
        return None;
    }
    let (p1, p2) = (k1 as f64 / n1 as f64, k2 as f64 / n2 as f64);
    let pooled = (k1 + k2) as f64 / (n1 + n2) as f64;
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se <= 0.0 {
        return None;
    }
    let z = (p1 - p2) / se;
    Some(Comparison {
        new_rate: p1,
        old_rate: p2,
        z,
        p_below: normal_cdf(z),
        p_two_sided: erfc(z.abs() / std::f64::consts::SQRT_2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// Known answers, computed from the textbook formulas with Python's
    /// `math.erfc`.
    #[test]
    fn wilson_intervals_match_known_answers() {
        for (k, n, lo, hi) in [
            (0, 10, 0.0, 0.277_533),
            (5, 10, 0.236_593, 0.763_407),
            (10, 10, 0.722_467, 1.0),
            (81, 263, 0.255_289, 0.366_210),
            (3, 1000, 0.001_021, 0.008_783),
        ] {
            let i = wilson(k, n, Z95).unwrap();
            assert!(close(i.lo, lo, 1e-6) && close(i.hi, hi, 1e-6), "{k}/{n}: {i:?}");
        }
        assert_eq!(wilson(0, 0, Z95), None);
        assert_eq!(wilson(3, 2, Z95), None);
    }

    #[test]
    fn the_normal_distribution_function_is_accurate() {
        assert!(close(normal_cdf(0.0), 0.5, 1e-7));
        assert!(close(normal_cdf(Z95), 0.975, 1e-7));
        assert!(close(normal_cdf(-1.0), 0.158_655_254, 1e-7));
        assert!(close(normal_cdf(3.0), 0.998_650_102, 1e-7));
        // independent values: Python's math.erfc
        assert!(close(erfc(0.5), 0.479_500_122_186_953_5, 1e-15));
        // far in the tail, relative to Python's math.erfc
        assert!(
            (erfc(6.0) / 2.151_973_671_249_891_3e-17 - 1.0).abs() < 1e-12,
            "{}",
            erfc(6.0)
        );
    }

    #[test]
    fn two_rates_are_compared_with_the_pooled_z_test() {
        let c = compare((45, 500), (30, 500)).unwrap();
        assert!(close(c.z, 1.800_901, 1e-5), "{c:?}");
        assert!(close(c.p_two_sided, 0.071_719, 1e-5), "{c:?}");
        assert!(close(c.p_below, 0.964_141, 1e-5), "{c:?}");
        let c = compare((30, 1000), (45, 1000)).unwrap();
        assert!(close(c.z, -1.765_470, 1e-5), "{c:?}");
        assert!(close(c.p_below, 0.038_742, 1e-5), "{c:?}");
        let same = compare((12, 400), (12, 400)).unwrap();
        assert!(close(same.z, 0.0, 1e-12) && close(same.p_two_sided, 1.0, 1e-6));
        assert_eq!(
            compare((0, 100), (0, 100)),
            None,
            "no clicks at all: nothing to test"
        );
        assert_eq!(compare((1, 0), (1, 10)), None);
    }
}
