//! A file's columns in memory: arrow arrays (polars' arrow crate, which its
//! Parquet reader and writer speak), named and typed by the file's schema,
//! each column in one chunk per row group read. Values come out as plain
//! vectors through typed accessors that check the type and name the object
//! and column when it is not what the schema says.

use polars_arrow::array::{Array, ListArray, MutableBinaryViewArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::bitmap::Bitmap;
use polars_arrow::offset::OffsetsBuffer;
use polars_arrow::types::NativeType;

use super::{ColType, FileSchema};
use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;

/// An arrow array of any type.
pub type ArrayRef = Box<dyn Array>;

/// One named column: its chunks, in row order.
#[derive(Debug, Clone)]
struct TableColumn {
    name: &'static str,
    ty: ColType,
    chunks: Vec<ArrayRef>,
}

/// The columns of one file of `schema` (all of them, or those read), as if
/// read from `key`, which errors name.
#[derive(Debug, Clone)]
pub struct Table {
    schema: &'static FileSchema,
    key: ObjectKey,
    columns: Vec<TableColumn>,
    rows: usize,
}

impl Table {
    /// A table of every column of `schema`, one array each, in schema order.
    ///
    /// # Errors
    /// `Schema` when an array is missing, of another type or of another length.
    pub fn new(schema: &'static FileSchema, key: &ObjectKey, arrays: Vec<ArrayRef>) -> Result<Table> {
        if arrays.len() != schema.columns.len() {
            return Err(Error::Schema {
                key: key.to_string(),
                expected: schema.describe(),
                found: format!("{} arrays", arrays.len()),
            });
        }
        let rows = arrays.first().map_or(0, |a| a.len());
        Self::whole(schema, key, arrays.into_iter().map(|a| vec![a]).collect(), rows)
    }

    /// A whole table of `schema` from each column's chunks, in schema order,
    /// checked: every chunk of its column's type, every column `rows` long.
    fn whole(
        schema: &'static FileSchema,
        key: &ObjectKey,
        chunks: Vec<Vec<ArrayRef>>,
        rows: usize,
    ) -> Result<Table> {
        let columns = schema
            .columns
            .iter()
            .zip(chunks)
            .map(|(&(name, ty), chunks)| {
                let len: usize = chunks.iter().map(|a| a.len()).sum();
                match chunks.iter().find(|a| !ty.holds(a.dtype())) {
                    None if len == rows => Ok(TableColumn { name, ty, chunks }),
                    wrong => Err(Error::Schema {
                        key: key.to_string(),
                        expected: schema.describe(),
                        found: match wrong {
                            Some(a) => format!("{name}: {}", ColType::describe_arrow(a.dtype())),
                            None => format!("{name}: {len} rows of {rows}"),
                        },
                    }),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Table {
            schema,
            key: key.clone(),
            columns,
            rows,
        })
    }

    /// A table of the named columns' chunks (the reader's; types checked there).
    pub(super) fn from_chunks(
        schema: &'static FileSchema,
        key: &ObjectKey,
        columns: Vec<(&'static str, ColType, Vec<ArrayRef>)>,
        rows: usize,
    ) -> Table {
        Table {
            schema,
            key: key.clone(),
            columns: columns
                .into_iter()
                .map(|(name, ty, chunks)| TableColumn { name, ty, chunks })
                .collect(),
            rows,
        }
    }

    pub fn schema(&self) -> &'static FileSchema {
        self.schema
    }

    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// Rows in the table.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The names of the columns held, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }

    /// Whether this is a whole table of `schema`: every column, in order.
    pub fn is_of(&self, schema: &FileSchema) -> bool {
        self.schema.name == schema.name && self.schema.columns == schema.columns && self.is_whole()
    }

    /// Whether the table holds every column of its schema, in order.
    pub fn is_whole(&self) -> bool {
        self.columns.len() == self.schema.columns.len()
            && self
                .columns
                .iter()
                .zip(self.schema.columns)
                .all(|(c, (n, _))| c.name == *n)
    }

    fn column(&self, name: &str) -> Result<&TableColumn> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::Schema {
                key: self.key.to_string(),
                expected: format!("a column {name}"),
                found: self.names().join(", "),
            })
    }

    /// The chunks of a column, in row order.
    ///
    /// # Errors
    /// `Schema` when the table has no such column.
    pub fn chunks(&self, name: &str) -> Result<&[ArrayRef]> {
        Ok(&self.column(name)?.chunks)
    }

    /// The chunks of a column holding `ty`, each as the array type `A`.
    fn typed<A: Array>(&self, name: &str, ty: &[ColType]) -> Result<Vec<&A>> {
        let c = self.column(name)?;
        let wrong = || Error::Schema {
            key: self.key.to_string(),
            expected: format!(
                "{name}: {}",
                ty.iter().map(|t| t.name()).collect::<Vec<_>>().join(" or ")
            ),
            found: format!("{name}: {}", c.ty.name()),
        };
        if !ty.contains(&c.ty) {
            return Err(wrong());
        }
        c.chunks
            .iter()
            .map(|a| a.as_any().downcast_ref::<A>().ok_or_else(wrong))
            .collect()
    }

    fn primitive<T: NativeType>(&self, name: &str, ty: &[ColType]) -> Result<Vec<Option<T>>> {
        let mut out = Vec::with_capacity(self.rows);
        for a in self.typed::<PrimitiveArray<T>>(name, ty)? {
            out.extend(a.iter().map(|v| v.copied()));
        }
        Ok(out)
    }

    /// A string column's values.
    ///
    /// # Errors
    /// `Schema` when the column is missing or holds another type.
    pub fn strs(&self, name: &str) -> Result<Vec<Option<&str>>> {
        let mut out = Vec::with_capacity(self.rows);
        out.extend(self.strs_iter(name)?);
        Ok(out)
    }

    /// A string column's values one by one, for a pass over a big table
    /// that need not hold them all.
    ///
    /// # Errors
    /// `Schema` when the column is missing or holds another type.
    pub fn strs_iter(&self, name: &str) -> Result<impl Iterator<Item = Option<&str>> + '_> {
        let chunks = self.typed::<Utf8ViewArray>(name, &[ColType::Str])?;
        Ok(chunks.into_iter().flat_map(|a| a.iter()))
    }

    /// A datetime column's values (epoch milliseconds) one by one.
    ///
    /// # Errors
    /// `Schema` when the column is missing or holds another type.
    pub fn times_iter(&self, name: &str) -> Result<impl Iterator<Item = Option<i64>> + '_> {
        let chunks = self.typed::<PrimitiveArray<i64>>(name, &[ColType::DatetimeMs])?;
        Ok(chunks.into_iter().flat_map(|a| a.iter().map(|v| v.copied())))
    }

    /// A datetime column's values as epoch milliseconds, or a date column's
    /// as days since the epoch.
    ///
    /// # Errors
    /// `Schema` when the column is missing or holds another type.
    pub fn i64s(&self, name: &str) -> Result<Vec<Option<i64>>> {
        if self.column(name)?.ty == ColType::Date {
            let days = self.primitive::<i32>(name, &[ColType::Date])?;
            return Ok(days.into_iter().map(|d| d.map(i64::from)).collect());
        }
        self.primitive::<i64>(name, &[ColType::DatetimeMs])
    }

    /// An unsigned 64-bit column's values.
    ///
    /// # Errors
    /// `Schema` when the column is missing or holds another type.
    pub fn u64s(&self, name: &str) -> Result<Vec<Option<u64>>> {
        self.primitive::<u64>(name, &[ColType::U64])
    }

    /// An unsigned 32-bit column's values.
    ///
    /// # Errors
    /// `Schema` when the column is missing or holds another type.
    pub fn u32s(&self, name: &str) -> Result<Vec<Option<u32>>> {
        self.primitive::<u32>(name, &[ColType::U32])
    }

    /// A float column's values.
    ///
    /// # Errors
    /// `Schema` when the column is missing or holds another type.
    pub fn f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        self.primitive::<f64>(name, &[ColType::F64])
    }

    /// A column of float vectors, row-major, and the vectors' length.
    ///
    /// # Errors
    /// `Schema` when the column is missing or of another type, or when a
    /// vector is null, holds a null or differs in length from the first.
    pub fn f32_rows(&self, name: &str) -> Result<(Vec<f32>, usize)> {
        let bad = |what: &str| Error::Schema {
            key: self.key.to_string(),
            expected: format!("{name}: vectors of one length without nulls"),
            found: what.to_string(),
        };
        let mut values = Vec::new();
        let mut k = None;
        for list in self.typed::<ListArray<i64>>(name, &[ColType::ListF32])? {
            if list.null_count() > 0 {
                return Err(bad("a null factor vector"));
            }
            let inner = list
                .values()
                .as_any()
                .downcast_ref::<PrimitiveArray<f32>>()
                .ok_or_else(|| bad("vectors of another type"))?;
            if inner.null_count() > 0 {
                return Err(bad("a null in a factor vector"));
            }
            for w in list.offsets().buffer().windows(2) {
                let row = &inner.values()[w[0] as usize..w[1] as usize];
                match k {
                    None => k = Some(row.len()),
                    Some(k) if k != row.len() => return Err(bad("factor vectors of different lengths")),
                    Some(_) => {}
                }
                values.extend_from_slice(row);
            }
        }
        Ok((values, k.unwrap_or(0)))
    }

    /// Nulls in a column.
    ///
    /// # Errors
    /// `Schema` when the table has no such column.
    pub fn null_count(&self, name: &str) -> Result<usize> {
        Ok(self.column(name)?.chunks.iter().map(|a| a.null_count()).sum())
    }

    /// The rows whose bit in `keep` is set (one bit a row), in their order.
    ///
    /// # Errors
    /// `Bug` when the mask is not one bit a row.
    pub fn filter(&self, keep: &Bitmap) -> Result<Table> {
        if keep.len() != self.rows {
            return Err(Error::Bug(format!(
                "a mask of {} bits for {} rows of {}",
                keep.len(),
                self.rows,
                self.key
            )));
        }
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let mut offset = 0;
                let chunks = c
                    .chunks
                    .iter()
                    .map(|a| {
                        let mask = keep.clone().sliced(offset, a.len());
                        offset += a.len();
                        let kept = polars_compute::filter::filter_with_bitmap(a.as_ref(), &mask);
                        with_type(kept, c.ty)
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(TableColumn { chunks, ..*c })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Table {
            schema: self.schema,
            key: self.key.clone(),
            columns,
            rows: keep.set_bits(),
        })
    }

    /// The columns of `schema` taken from this table by name, with `extra`
    /// filling those it lacks (each `rows` long).
    ///
    /// # Errors
    /// `Schema` when a column is in neither or has another type.
    pub fn reshaped(
        &self,
        schema: &'static FileSchema,
        mut extra: Vec<(&'static str, ArrayRef)>,
    ) -> Result<Table> {
        let chunks = schema
            .columns
            .iter()
            .map(|&(name, _)| match extra.iter().position(|(n, _)| *n == name) {
                Some(i) => Ok(vec![extra.swap_remove(i).1]),
                None => Ok(self.column(name)?.chunks.clone()),
            })
            .collect::<Result<Vec<_>>>()?;
        Self::whole(schema, &self.key, chunks, self.rows)
    }

    /// Nothing when this is a whole table of `schema`, else a `Schema` error
    /// naming `key` (the file it was to be written to).
    ///
    /// # Errors
    /// `Schema` when the table is of another schema or lacks columns.
    pub fn check_whole_of(&self, schema: &FileSchema, key: &ObjectKey) -> Result<()> {
        if self.is_of(schema) {
            return Ok(());
        }
        Err(Error::Schema {
            key: key.to_string(),
            expected: schema.describe(),
            found: format!("{} of {}", self.names().join(", "), self.schema.name),
        })
    }

    /// Each column in one array (the chunks put together).
    ///
    /// # Errors
    /// Arrow errors (never for chunks of one type).
    pub(super) fn arrays(&self) -> Result<Vec<ArrayRef>> {
        self.columns
            .iter()
            .map(|c| concatenated(&c.chunks, c.ty, &self.key))
            .collect()
    }
}

/// Chunks of one column as one array (the one chunk as it is).
///
/// # Errors
/// Arrow errors (never for chunks of one type).
pub(super) fn concatenated(chunks: &[ArrayRef], ty: ColType, key: &ObjectKey) -> Result<ArrayRef> {
    match chunks {
        [one] => Ok(one.clone()),
        [] => Ok(polars_arrow::array::new_empty_array(ty.arrow())),
        many => {
            let refs: Vec<&dyn Array> = many.iter().map(|a| a.as_ref()).collect();
            polars_arrow::compute::concatenate::concatenate(&refs).map_err(Error::parquet(key))
        }
    }
}

/// The array as a column of `ty`: polars' kernels return a datetime's or a
/// date's values as plain integers (polars puts the type back a layer up).
fn with_type(array: ArrayRef, ty: ColType) -> Result<ArrayRef> {
    let dtype = ty.arrow();
    if array.dtype() == &dtype {
        return Ok(array);
    }
    let retyped = match ty {
        ColType::DatetimeMs => array
            .as_any()
            .downcast_ref::<PrimitiveArray<i64>>()
            .map(|a| a.clone().to(dtype).boxed()),
        ColType::Date => array
            .as_any()
            .downcast_ref::<PrimitiveArray<i32>>()
            .map(|a| a.clone().to(dtype).boxed()),
        _ => None,
    };
    retyped.ok_or_else(|| Error::Bug(format!("a {} column came back as {:?}", ty.name(), array.dtype())))
}

/// Tables are equal when they hold the same columns with the same values
/// (nulls in the same places), however they are chunked.
impl PartialEq for Table {
    fn eq(&self, other: &Table) -> bool {
        self.rows == other.rows
            && self.names() == other.names()
            && match (self.arrays(), other.arrays()) {
                (Ok(a), Ok(b)) => a.iter().zip(&b).all(|(a, b)| a == b),
                _ => false,
            }
    }
}

/// A string column without nulls.
pub fn str_array<S: AsRef<str>>(values: &[S]) -> ArrayRef {
    Utf8ViewArray::from_slice_values(values).boxed()
}

/// A string column built value by value (each copied in as it comes).
#[derive(Debug, Default)]
pub struct StrColumn(MutableBinaryViewArray<str>);

impl StrColumn {
    pub fn with_capacity(rows: usize) -> StrColumn {
        StrColumn(MutableBinaryViewArray::with_capacity(rows))
    }

    pub fn push(&mut self, value: &str) {
        self.0.push_value(value);
    }

    pub fn finish(self) -> ArrayRef {
        self.0.freeze().boxed()
    }
}

/// A string column with nulls.
pub fn opt_str_array<S: AsRef<str>>(values: &[Option<S>]) -> ArrayRef {
    Utf8ViewArray::from_slice(values).boxed()
}

/// The strings `values[codes[i]]`, each distinct string stored once however
/// many rows hold it: the rows are views into the distinct values' buffers,
/// copied as they are (they point into a valid array, so their text is not
/// checked again).
///
/// # Errors
/// `Bug` when a code is out of range.
pub fn coded_str_array(values: &[&str], codes: &[u32]) -> Result<ArrayRef> {
    let distinct = Utf8ViewArray::from_slice_values(values);
    let views = distinct.views();
    if codes.iter().any(|&c| c as usize >= views.len()) {
        return Err(Error::Bug(format!("a code beyond {} strings", values.len())));
    }
    let mut rows = MutableBinaryViewArray::<str>::with_capacity(codes.len());
    rows.extend_non_null_views(codes.iter().map(|&c| views[c as usize]), distinct.data_buffers());
    Ok(rows.freeze().boxed())
}

/// A datetime column (epoch milliseconds, UTC).
pub fn datetime_ms_array(ms: Vec<i64>) -> ArrayRef {
    PrimitiveArray::from_vec(ms)
        .to(ColType::DatetimeMs.arrow())
        .boxed()
}

/// A datetime column with nulls.
pub fn opt_datetime_ms_array(ms: &[Option<i64>]) -> ArrayRef {
    PrimitiveArray::<i64>::from(ms)
        .to(ColType::DatetimeMs.arrow())
        .boxed()
}

/// A date column (days since the epoch).
pub fn date_array(days: Vec<i32>) -> ArrayRef {
    PrimitiveArray::from_vec(days).to(ColType::Date.arrow()).boxed()
}

/// A numeric column without nulls (`f64`, `u32`, `u64`).
pub fn values_array<T: NativeType>(values: Vec<T>) -> ArrayRef {
    PrimitiveArray::from_vec(values).boxed()
}

/// A numeric column with nulls.
pub fn opt_values_array<T: NativeType>(values: &[Option<T>]) -> ArrayRef {
    PrimitiveArray::<T>::from(values).boxed()
}

/// A column of `k`-long float vectors from a row-major buffer.
///
/// # Errors
/// `Bug` when the buffer is not whole rows.
pub fn f32_rows_array(values: &[f32], k: usize) -> Result<ArrayRef> {
    let k = k.max(1);
    if !values.len().is_multiple_of(k) {
        return Err(Error::Bug(format!("{} floats are not rows of {k}", values.len())));
    }
    let offsets: Vec<i64> = (0..=values.len() / k).map(|r| (r * k) as i64).collect();
    let offsets = OffsetsBuffer::try_from(offsets).map_err(|e| Error::Bug(format!("offsets: {e}")))?;
    ListArray::<i64>::try_new(
        ColType::ListF32.arrow(),
        offsets,
        PrimitiveArray::from_slice(values).boxed(),
        None,
    )
    .map(|a| a.boxed())
    .map_err(|e| Error::Bug(format!("factor rows: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::parquet::{col, EVENTS};

    fn events(n: i64) -> Table {
        let key = ObjectKey::from_listing("t/events.parquet").unwrap();
        let ids: Vec<String> = (0..n).map(|i| format!("id-{i}")).collect();
        Table::new(
            &EVENTS,
            &key,
            vec![
                str_array(&vec!["reader"; n as usize]),
                datetime_ms_array((0..n).map(|i| 1_000 * i).collect()),
                date_array((0..n).map(|i| i as i32).collect()),
                str_array(&vec!["/"; n as usize]),
                str_array(&vec!["page_ping"; n as usize]),
                str_array(&ids),
            ],
        )
        .unwrap()
    }

    #[test]
    fn coded_strings_are_the_values_their_codes_name() {
        // short values sit in the view, long ones in a buffer the rows share
        let values = [
            "b",
            "a-reader-id-longer-than-twelve-bytes",
            "/article/1/a-long-slug",
        ];
        let codes = [1, 0, 1, 2, 2, 0];
        let a = coded_str_array(&values, &codes).unwrap();
        let a = a.as_any().downcast_ref::<Utf8ViewArray>().unwrap();
        let got: Vec<&str> = a.values_iter().collect();
        let want: Vec<&str> = codes.iter().map(|&c| values[c as usize]).collect();
        assert_eq!(got, want);
        assert_eq!(a.data_buffers().len(), 1, "one copy of the distinct values");
        assert!(matches!(coded_str_array(&values, &[3]), Err(Error::Bug(_))));
    }

    /// Every mask, the kernels' fast paths (none, all, a run) and their
    /// general one (rows here and there): the same types, the chosen rows.
    #[test]
    fn a_filter_keeps_each_columns_type_and_the_chosen_rows() {
        let t = events(6);
        for keep in [
            vec![true, false, true, true, false, true],
            vec![false; 6],
            vec![true; 6],
            vec![false, true, true, false, false, false],
        ] {
            let mask: Bitmap = keep.iter().copied().collect();
            let f = t.filter(&mask).unwrap();
            assert!(f.is_of(&EVENTS), "{keep:?}");
            let want: Vec<Option<i64>> = (0..6)
                .filter(|&i| keep[i as usize])
                .map(|i| Some(1_000 * i))
                .collect();
            assert_eq!(f.i64s(col::ACTIVITY_TIME).unwrap(), want, "{keep:?}");
            let days: Vec<Option<i64>> = (0..6).filter(|&i| keep[i as usize]).map(Some).collect();
            assert_eq!(f.i64s(col::SESSION_DATE).unwrap(), days, "{keep:?}");
            let ids: Vec<String> = (0..6).filter(|&i| keep[i]).map(|i| format!("id-{i}")).collect();
            assert_eq!(
                f.strs(col::EVENT_ID).unwrap(),
                ids.iter().map(|s| Some(s.as_str())).collect::<Vec<_>>()
            );
            // and the result is a whole table of its schema, ready to write
            assert!(f.reshaped(&EVENTS, vec![]).is_ok(), "{keep:?}");
        }
        assert!(matches!(t.filter(&Bitmap::new_zeroed(5)), Err(Error::Bug(_))));
    }
}
