//! Columns in and out of polars frames, by the schema's types: one place
//! that turns vectors into `Column`s of our files' types, and a file's
//! columns back into typed vectors that borrow its strings.

use polars::prelude::{
    Column, DataFrame, DataType, Float32Chunked, Int32Chunked, Int64Chunked, IntoColumn, IntoSeries,
    ListChunked, NewChunkedArray, TimeUnit,
};

use super::schema::FileSchema;
use crate::contract::error::{Error, Result};

pub fn str_column(name: &str, values: &[&str]) -> Column {
    Column::new(name.into(), values)
}

pub fn opt_str_column(name: &str, values: &[Option<&str>]) -> Column {
    Column::new(name.into(), values)
}

pub fn datetime_ms_column(name: &str, ms: Vec<i64>) -> Column {
    Int64Chunked::from_vec(name.into(), ms)
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column()
}

pub fn opt_datetime_ms_column(name: &str, ms: &[Option<i64>]) -> Column {
    Int64Chunked::from_iter_options(name.into(), ms.iter().copied())
        .into_datetime(TimeUnit::Milliseconds, None)
        .into_column()
}

/// Days since the epoch.
pub fn date_column(name: &str, days: Vec<i32>) -> Column {
    Int32Chunked::from_vec(name.into(), days)
        .into_date()
        .into_column()
}

pub fn u32_column(name: &str, v: Vec<u32>) -> Column {
    Column::new(name.into(), v)
}

pub fn opt_u32_column(name: &str, v: &[Option<u32>]) -> Column {
    Column::new(name.into(), v)
}

pub fn u64_column(name: &str, v: Vec<u64>) -> Column {
    Column::new(name.into(), v)
}

pub fn f64_column(name: &str, v: Vec<f64>) -> Column {
    Column::new(name.into(), v)
}

/// Rows of `k` values each, from `values` row-major, as a list column.
///
/// # Errors
/// `Bug` when `values` is not whole rows of `k`.
pub fn f32_rows_column(name: &str, values: &[f32], k: usize) -> Result<Column> {
    if k == 0 || !values.len().is_multiple_of(k) {
        return Err(Error::Bug(format!("{} values are not rows of {k}", values.len())));
    }
    let rows: ListChunked = values
        .chunks_exact(k)
        .map(|row| Some(Float32Chunked::from_slice("".into(), row).into_series()))
        .collect();
    Ok(rows.with_name(name.into()).into_series().into_column())
}

/// A frame of `schema` from its columns, in the schema's order.
///
/// # Errors
/// `Schema` naming `key` when the columns are not the schema's or differ in
/// length.
pub fn frame(schema: &FileSchema, key: &impl std::fmt::Display, columns: Vec<Column>) -> Result<DataFrame> {
    let height = columns.first().map_or(0, Column::len);
    let df = DataFrame::new(height, columns).map_err(|e| Error::Schema {
        key: key.to_string(),
        expected: format!("a {} table ({})", schema.name, schema.describe()),
        found: e.to_string(),
    })?;
    super::io::check_whole_of(&df, schema, key)?;
    Ok(df)
}

fn column<'a>(df: &'a DataFrame, key: &str, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| Error::Schema {
        key: key.to_string(),
        expected: format!("a column {name}"),
        found: "none".into(),
    })
}

fn wrong(key: &str, name: &str, wanted: &str, found: &DataType) -> Error {
    Error::Schema {
        key: key.to_string(),
        expected: format!("{name}: {wanted}"),
        found: format!("{name}: {found}"),
    }
}

/// A string column's values, borrowed from the frame.
///
/// # Errors
/// `Schema` when there is no such column or it is not strings.
pub fn strs<'a>(df: &'a DataFrame, key: &str, name: &str) -> Result<Vec<Option<&'a str>>> {
    let c = column(df, key, name)?;
    let s = c.str().map_err(|_| wrong(key, name, "string", c.dtype()))?;
    Ok(s.iter().collect())
}

/// An integer or datetime column's values as i64 (a datetime's physical
/// milliseconds).
///
/// # Errors
/// `Schema` when there is no such column or it is of another type.
pub fn i64s(df: &DataFrame, key: &str, name: &str) -> Result<Vec<Option<i64>>> {
    let c = column(df, key, name)?;
    match c.dtype() {
        DataType::Datetime(TimeUnit::Milliseconds, _) => {
            let d = c
                .datetime()
                .map_err(|_| wrong(key, name, "datetime[ms]", c.dtype()))?;
            Ok(d.physical().iter().collect())
        }
        DataType::Int64 => Ok(c
            .i64()
            .map_err(|_| wrong(key, name, "i64", c.dtype()))?
            .iter()
            .collect()),
        other => Err(wrong(key, name, "datetime[ms]", other)),
    }
}

/// A date column's days since the epoch.
///
/// # Errors
/// `Schema` when there is no such column or it is not a date.
pub fn days(df: &DataFrame, key: &str, name: &str) -> Result<Vec<Option<i32>>> {
    let c = column(df, key, name)?;
    let d = c.date().map_err(|_| wrong(key, name, "date", c.dtype()))?;
    Ok(d.physical().iter().collect())
}

/// A u32 column.
///
/// # Errors
/// `Schema` when there is no such column or it is of another type.
pub fn u32s(df: &DataFrame, key: &str, name: &str) -> Result<Vec<Option<u32>>> {
    let c = column(df, key, name)?;
    Ok(c.u32()
        .map_err(|_| wrong(key, name, "u32", c.dtype()))?
        .iter()
        .collect())
}

/// A u64 column.
///
/// # Errors
/// `Schema` when there is no such column or it is of another type.
pub fn u64s(df: &DataFrame, key: &str, name: &str) -> Result<Vec<Option<u64>>> {
    let c = column(df, key, name)?;
    Ok(c.u64()
        .map_err(|_| wrong(key, name, "u64", c.dtype()))?
        .iter()
        .collect())
}

/// An f64 column.
///
/// # Errors
/// `Schema` when there is no such column or it is of another type.
pub fn f64s(df: &DataFrame, key: &str, name: &str) -> Result<Vec<Option<f64>>> {
    let c = column(df, key, name)?;
    Ok(c.f64()
        .map_err(|_| wrong(key, name, "f64", c.dtype()))?
        .iter()
        .collect())
}

/// A list-of-f32 column whose rows are all `k` long: the values row-major, and `k`.
///
/// # Errors
/// `Schema` when there is no such column, or a row is null, has a null or
/// differs in length.
pub fn f32_rows(df: &DataFrame, key: &str, name: &str) -> Result<(Vec<f32>, usize)> {
    let c = column(df, key, name)?;
    let list = c.list().map_err(|_| wrong(key, name, "list[f32]", c.dtype()))?;
    let bad = |what: String| Error::Schema {
        key: key.to_string(),
        expected: format!("{name}: rows of one length without nulls"),
        found: what,
    };
    let mut values = Vec::new();
    let mut k = None;
    for i in 0..list.len() {
        let row = list
            .get_as_series(i)
            .ok_or_else(|| bad(format!("row {i} is null")))?;
        let floats = row
            .f32()
            .map_err(|_| wrong(key, name, "list[f32]", row.dtype()))?;
        if floats.null_count() > 0 {
            return Err(bad(format!("row {i} holds a null")));
        }
        match k {
            None => k = Some(floats.len()),
            Some(k) if k != floats.len() => {
                return Err(bad(format!("row {i} has {} values, row 0 {k}", floats.len())))
            }
            Some(_) => {}
        }
        values.extend(floats.iter().flatten());
    }
    Ok((values, k.unwrap_or(0)))
}

/// A column that must have no nulls: the file is not ours if it has one.
///
/// # Errors
/// `Schema` naming the key and the column.
pub fn required<T>(key: &str, name: &str, values: Vec<Option<T>>) -> Result<Vec<T>> {
    let n = values.len();
    let out: Vec<T> = values.into_iter().flatten().collect();
    if out.len() == n {
        Ok(out)
    } else {
        Err(Error::Schema {
            key: key.to_string(),
            expected: format!("{name} without nulls"),
            found: format!("{} nulls in {name}", n - out.len()),
        })
    }
}
