//! The 2-core of the reader x article graph: drop readers who touched only one
//! article and articles touched by only one reader, repeated until nothing
//! changes (one pass is not enough: dropping a reader can leave an article with
//! one reader).

use polars::prelude::*;

use crate::parquet::col;

/// The filtered pairs and how many passes reaching the fixed point took.
#[derive(Debug)]
pub struct Core {
    /// Distinct (client_id, external_id) pairs that survived.
    pub pairs: DataFrame,
    pub passes: u32,
}

/// Keeps the pairs of readers with at least `min_degree` articles and articles
/// with at least `min_degree` readers, iterated to the fixed point.
///
/// # Errors
/// Polars errors (missing columns).
pub fn filter(pairs: &DataFrame, min_degree: u32) -> PolarsResult<Core> {
    let mut current = pairs
        .clone()
        .lazy()
        .select([col(col::CLIENT_ID), col(col::EXTERNAL_ID)])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?;
    let mut passes = 0;
    loop {
        passes += 1;
        let next = keep_degree(&current, col::CLIENT_ID, min_degree)?;
        let next = keep_degree(&next, col::EXTERNAL_ID, min_degree)?;
        if next.height() == current.height() {
            let pairs = next
                .lazy()
                .sort([col::CLIENT_ID, col::EXTERNAL_ID], SortMultipleOptions::default())
                .collect()?;
            return Ok(Core { pairs, passes });
        }
        current = next;
    }
}

/// Keeps rows whose `key` value occurs at least `min` times.
fn keep_degree(pairs: &DataFrame, key: &str, min: u32) -> PolarsResult<DataFrame> {
    let ok = pairs
        .clone()
        .lazy()
        .group_by([col(key)])
        .agg([len().alias("degree")])
        .filter(col("degree").gt_eq(lit(min)))
        .select([col(key)]);
    pairs.clone().lazy().inner_join(ok, col(key), col(key)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(edges: &[(&str, &str)]) -> DataFrame {
        let (r, a): (Vec<&str>, Vec<&str>) = edges.iter().copied().unzip();
        df!(col::CLIENT_ID => r, col::EXTERNAL_ID => a).unwrap()
    }

    fn edges(df: &DataFrame) -> Vec<(String, String)> {
        let r = df.column(col::CLIENT_ID).unwrap().str().unwrap();
        let a = df.column(col::EXTERNAL_ID).unwrap().str().unwrap();
        r.iter()
            .zip(a.iter())
            .map(|(r, a)| (r.unwrap().to_string(), a.unwrap().to_string()))
            .collect()
    }

    #[test]
    fn a_reader_with_one_article_is_filtered() {
        let g = pairs(&[("r1", "a"), ("r1", "b"), ("r2", "a"), ("r2", "b"), ("r3", "a")]);
        let core = filter(&g, 2).unwrap();
        assert_eq!(
            edges(&core.pairs),
            [("r1", "a"), ("r1", "b"), ("r2", "a"), ("r2", "b")].map(|(r, a)| (r.to_string(), a.to_string()))
        );
    }

    #[test]
    fn reaches_the_fixed_point_where_one_pass_is_not_enough() {
        // r1,r2 x a,b is a 2-core. The chain r3-c, r4-c/d, r5-d/e peels only when
        // iterated: r3 goes (one article), then c has one reader (r4), then r4
        // has one article (d), then d has one reader (r5) ...
        let g = pairs(&[
            ("r1", "a"),
            ("r1", "b"),
            ("r2", "a"),
            ("r2", "b"),
            ("r3", "c"),
            ("r4", "c"),
            ("r4", "d"),
            ("r5", "d"),
            ("r5", "e"),
            ("r6", "e"),
        ]);
        let one_pass =
            keep_degree(&keep_degree(&g, col::CLIENT_ID, 2).unwrap(), col::EXTERNAL_ID, 2).unwrap();
        assert!(one_pass.height() > 4, "one pass should leave some of the chain");
        let core = filter(&g, 2).unwrap();
        assert_eq!(core.pairs.height(), 4);
        assert!(core.passes >= 3, "passes = {}", core.passes);
        // a fixed point: filtering again changes nothing
        let again = filter(&core.pairs, 2).unwrap();
        assert_eq!(edges(&again.pairs), edges(&core.pairs));
        assert_eq!(again.passes, 1);
    }

    #[test]
    fn duplicate_pairs_count_once() {
        let g = pairs(&[("r1", "a"), ("r1", "a"), ("r2", "a")]);
        assert_eq!(filter(&g, 2).unwrap().pairs.height(), 0);
    }
}
