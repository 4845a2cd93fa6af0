//! The job's Parquet files through polars' public API: their schemas (the
//! one place their columns are named), the codec, and one typed struct per
//! file.

#[cfg(test)]
mod compat;
mod files;
pub mod frame;
mod io;
pub mod schema;

pub use files::{
    ArticleColumns, ArticleRecColumns, ArticleRecs, Articles, DefaultColumns, Defaults, DuplicateColumns,
    Duplicates, Dwell, DwellColumns, FactorColumns, Factors, HourEventColumns, HourEvents, HourKeyColumns,
    HourKeys, HourPairColumns, HourPairs, HourPathColumns, HourPaths, WidgetEventColumns, WidgetEvents,
};
pub use io::{check_whole_of, decode, encode, read, read_columns, write};
pub use schema::{col, ColType, FileSchema};
