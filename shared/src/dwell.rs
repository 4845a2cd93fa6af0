//! Dwell time: the time between a reader's consecutive events on the same
//! article, summed per reader x article. Gaps longer than the cap (10 minutes by
//! default) are inactivity (a tab left open) and are dropped, not capped.

use polars::prelude::*;

use crate::parquet::{col, ColType};

/// Aggregates article events (`client_id`, `external_id`, `activity_time`) into
/// the dwell table: `client_id`, `external_id`, `dwell_secs`, `events`,
/// `last_seen`, sorted by reader then article.
///
/// # Errors
/// Polars errors (missing columns).
pub fn dwell(events: &DataFrame, cap_secs: f64) -> PolarsResult<DataFrame> {
    let cap_ms = (cap_secs * 1000.0).round() as i64;
    let t = || col(col::ACTIVITY_TIME).cast(DataType::Int64);
    events
        .clone()
        .lazy()
        .select([
            col(col::CLIENT_ID),
            col(col::EXTERNAL_ID),
            col(col::ACTIVITY_TIME),
        ])
        .sort(
            [col::CLIENT_ID, col::EXTERNAL_ID, col::ACTIVITY_TIME],
            SortMultipleOptions::default(),
        )
        .with_column(
            (t() - t().shift(lit(1)))
                .over([col(col::CLIENT_ID), col(col::EXTERNAL_ID)])?
                .alias("gap_ms"),
        )
        .with_column(
            when(col("gap_ms").lt_eq(lit(cap_ms)))
                .then(col("gap_ms"))
                .otherwise(lit(0i64))
                .alias("gap_ms"),
        )
        .group_by([col(col::CLIENT_ID), col(col::EXTERNAL_ID)])
        .agg([
            (col("gap_ms").sum().cast(DataType::Float64) / lit(1000.0)).alias(col::DWELL_SECS),
            len().cast(DataType::UInt32).alias(col::EVENTS),
            col(col::ACTIVITY_TIME).max().alias(col::LAST_SEEN),
        ])
        .with_column(col(col::LAST_SEEN).cast(ColType::DatetimeMs.dtype()))
        .sort([col::CLIENT_ID, col::EXTERNAL_ID], SortMultipleOptions::default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(rows: &[(&str, &str, i64)]) -> DataFrame {
        let r: Vec<&str> = rows.iter().map(|x| x.0).collect();
        let a: Vec<&str> = rows.iter().map(|x| x.1).collect();
        let t: Vec<i64> = rows.iter().map(|x| x.2 * 1000).collect();
        let mut df = df!(col::CLIENT_ID => r, col::EXTERNAL_ID => a, col::ACTIVITY_TIME => t).unwrap();
        df.apply(col::ACTIVITY_TIME, |c| {
            c.cast(&ColType::DatetimeMs.dtype()).unwrap()
        })
        .unwrap();
        df
    }

    fn secs(df: &DataFrame) -> Vec<f64> {
        df.column(col::DWELL_SECS)
            .unwrap()
            .f64()
            .unwrap()
            .into_no_null_iter()
            .collect()
    }

    #[test]
    fn dwell_of_a_page_ping_sequence() {
        // view at 0, pings at 10, 30, 55: 55 s of reading
        let df = dwell(
            &events(&[("r", "a", 30), ("r", "a", 0), ("r", "a", 55), ("r", "a", 10)]),
            600.0,
        )
        .unwrap();
        assert_eq!(secs(&df), [55.0]);
        assert_eq!(df.column(col::EVENTS).unwrap().u32().unwrap().get(0), Some(4));
    }

    #[test]
    fn a_gap_over_ten_minutes_is_dropped() {
        // 0 -> 20 -> (11 min away) 680 -> 700: 20 + 20 seconds
        let df = dwell(
            &events(&[("r", "a", 0), ("r", "a", 20), ("r", "a", 680), ("r", "a", 700)]),
            600.0,
        )
        .unwrap();
        assert_eq!(secs(&df), [40.0]);
        // exactly the cap is still reading
        let df = dwell(&events(&[("r", "a", 0), ("r", "a", 600)]), 600.0).unwrap();
        assert_eq!(secs(&df), [600.0]);
    }

    #[test]
    fn readers_and_articles_are_timed_separately() {
        let df = dwell(
            &events(&[
                ("r1", "a", 0),
                ("r1", "b", 5),
                ("r1", "a", 10),
                ("r2", "a", 3),
                ("r2", "a", 4),
            ]),
            600.0,
        )
        .unwrap();
        // r1/a: 0 -> 10 (interleaved visit to b does not split it); r1/b: one event; r2/a: 1 s
        assert_eq!(secs(&df), [10.0, 0.0, 1.0]);
    }
}
