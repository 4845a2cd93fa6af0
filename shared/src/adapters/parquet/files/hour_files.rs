//! The hour cache's files: each hour's page events, reading sessions (pairs), paths and reader keys, and the duplicates fetch set aside.

use super::*;

file!(
    /// An hour partition's parsed page events (`events.parquet` in the
    /// hour's cache folder), grouped by reader, by time within each.
    HourEvents,
    HOUR_EVENTS
);

/// The columns of an hour's page events; times are epoch ms, UTC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourEventColumns<'a> {
    pub client_id: Vec<&'a str>,
    pub time_ms: Vec<i64>,
    /// Days since the epoch of `time_ms`.
    pub session_date: Vec<i32>,
    pub page_path: Vec<&'a str>,
    pub event_name: Vec<&'a str>,
    pub event_id_hi: Vec<u64>,
    pub event_id_lo: Vec<u64>,
    pub fingerprint_hash: Vec<u64>,
}

impl HourEvents {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<HourEventColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(HourEventColumns {
            client_id: required(key, col::CLIENT_ID, strs(df, key, col::CLIENT_ID)?)?,
            time_ms: required(key, col::ACTIVITY_TIME, i64s(df, key, col::ACTIVITY_TIME)?)?,
            session_date: required(key, col::SESSION_DATE, days(df, key, col::SESSION_DATE)?)?,
            page_path: required(key, col::PAGE_PATH, strs(df, key, col::PAGE_PATH)?)?,
            event_name: required(key, col::EVENT_NAME, strs(df, key, col::EVENT_NAME)?)?,
            event_id_hi: required(key, col::EVENT_ID_HI, u64s(df, key, col::EVENT_ID_HI)?)?,
            event_id_lo: required(key, col::EVENT_ID_LO, u64s(df, key, col::EVENT_ID_LO)?)?,
            fingerprint_hash: required(key, col::FINGERPRINT_HASH, u64s(df, key, col::FINGERPRINT_HASH)?)?,
        })
    }
}

impl HourEventColumns<'_> {
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn frame(&self, key: &ObjectKey) -> Result<DataFrame> {
        frame(
            &HOUR_EVENTS,
            key,
            vec![
                str_column(col::CLIENT_ID, &self.client_id),
                datetime_ms_column(col::ACTIVITY_TIME, self.time_ms.clone()),
                date_column(col::SESSION_DATE, self.session_date.clone()),
                str_column(col::PAGE_PATH, &self.page_path),
                str_column(col::EVENT_NAME, &self.event_name),
                u64_column(col::EVENT_ID_HI, self.event_id_hi.clone()),
                u64_column(col::EVENT_ID_LO, self.event_id_lo.clone()),
                u64_column(col::FINGERPRINT_HASH, self.fingerprint_hash.clone()),
            ],
        )
    }
}

file!(
    /// An hour partition's reading sessions (`pairs.parquet` in the hour's folder).
    HourPairs,
    HOUR_PAIRS
);

/// The columns of an hour's pairs; times are epoch ms, UTC.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourPairColumns<'a> {
    pub client_id: Vec<&'a str>,
    pub external_id: Vec<&'a str>,
    /// The start of the UTC hour the session's events are in.
    pub bucket_ms: Vec<i64>,
    pub start_ms: Vec<i64>,
    pub end_ms: Vec<i64>,
    pub events: Vec<u32>,
}

impl HourPairs {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<HourPairColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(HourPairColumns {
            client_id: required(key, col::CLIENT_ID, strs(df, key, col::CLIENT_ID)?)?,
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            bucket_ms: required(key, col::BUCKET, i64s(df, key, col::BUCKET)?)?,
            start_ms: required(key, col::START, i64s(df, key, col::START)?)?,
            end_ms: required(key, col::END, i64s(df, key, col::END)?)?,
            events: required(key, col::EVENTS, u32s(df, key, col::EVENTS)?)?,
        })
    }
}

impl HourPairColumns<'_> {
    pub fn len(&self) -> usize {
        self.client_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.client_id.is_empty()
    }

    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn frame(&self, key: &ObjectKey) -> Result<DataFrame> {
        frame(
            &HOUR_PAIRS,
            key,
            vec![
                str_column(col::CLIENT_ID, &self.client_id),
                str_column(col::EXTERNAL_ID, &self.external_id),
                datetime_ms_column(col::BUCKET, self.bucket_ms.clone()),
                datetime_ms_column(col::START, self.start_ms.clone()),
                datetime_ms_column(col::END, self.end_ms.clone()),
                u32_column(col::EVENTS, self.events.clone()),
            ],
        )
    }
}

file!(
    /// An hour partition's article paths (`paths.parquet` in the hour's folder).
    HourPaths,
    HOUR_PATHS
);

/// The columns of an hour's article paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourPathColumns<'a> {
    pub external_id: Vec<&'a str>,
    pub path: Vec<&'a str>,
    /// The start of the UTC hour the reads' events are in.
    pub bucket_ms: Vec<i64>,
    pub reads: Vec<u64>,
}

impl HourPaths {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<HourPathColumns<'_>> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(HourPathColumns {
            external_id: required(key, col::EXTERNAL_ID, strs(df, key, col::EXTERNAL_ID)?)?,
            path: required(key, col::PATH, strs(df, key, col::PATH)?)?,
            bucket_ms: required(key, col::BUCKET, i64s(df, key, col::BUCKET)?)?,
            reads: required(key, col::READS, u64s(df, key, col::READS)?)?,
        })
    }
}

impl HourPathColumns<'_> {
    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn frame(&self, key: &ObjectKey) -> Result<DataFrame> {
        frame(
            &HOUR_PATHS,
            key,
            vec![
                str_column(col::EXTERNAL_ID, &self.external_id),
                str_column(col::PATH, &self.path),
                datetime_ms_column(col::BUCKET, self.bucket_ms.clone()),
                u64_column(col::READS, self.reads.clone()),
            ],
        )
    }
}

file!(
    /// An hour partition's event identities (`keys.parquet` in the hour's folder).
    HourKeys,
    HOUR_KEYS
);

/// The columns of an hour's event identities.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HourKeyColumns {
    pub identity_hi: Vec<u64>,
    pub identity_lo: Vec<u64>,
    pub bucket_ms: Vec<i64>,
    /// The pairs row the event counted in; `u32::MAX`: not an article page.
    pub pair_row: Vec<u32>,
}

impl HourKeys {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<HourKeyColumns> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(HourKeyColumns {
            identity_hi: required(key, col::EVENT_ID_HI, u64s(df, key, col::EVENT_ID_HI)?)?,
            identity_lo: required(key, col::EVENT_ID_LO, u64s(df, key, col::EVENT_ID_LO)?)?,
            bucket_ms: required(key, col::BUCKET, i64s(df, key, col::BUCKET)?)?,
            pair_row: required(key, col::PAIR_ROW, u32s(df, key, col::PAIR_ROW)?)?,
        })
    }
}

impl HourKeyColumns {
    pub fn len(&self) -> usize {
        self.identity_hi.len()
    }

    pub fn is_empty(&self) -> bool {
        self.identity_hi.is_empty()
    }

    /// # Errors
    /// `Schema` when the columns differ in length.
    pub fn frame(&self, key: &ObjectKey) -> Result<DataFrame> {
        frame(
            &HOUR_KEYS,
            key,
            vec![
                u64_column(col::EVENT_ID_HI, self.identity_hi.clone()),
                u64_column(col::EVENT_ID_LO, self.identity_lo.clone()),
                datetime_ms_column(col::BUCKET, self.bucket_ms.clone()),
                u32_column(col::PAIR_ROW, self.pair_row.clone()),
            ],
        )
    }
}

file!(
    /// `duplicates.parquet`: the window's events found again in a later hour.
    Duplicates,
    DUPLICATES
);

/// The columns of `duplicates.parquet`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DuplicateColumns {
    /// The hour partition (its start, epoch ms) the duplicate is in.
    pub hour_ms: Vec<i64>,
    /// The row of that hour's pairs it counted in.
    pub pair_row: Vec<u32>,
}

impl Duplicates {
    /// # Errors
    /// `Schema` when a column has nulls.
    pub fn columns(&self) -> Result<DuplicateColumns> {
        let (df, key) = (&self.df, self.key.as_str());
        Ok(DuplicateColumns {
            hour_ms: required(key, col::HOUR, i64s(df, key, col::HOUR)?)?,
            pair_row: required(key, col::PAIR_ROW, u32s(df, key, col::PAIR_ROW)?)?,
        })
    }
}

impl DuplicateColumns {
    /// # Errors
    /// `Schema`, `Parquet` or storage errors.
    pub async fn write(&self, store: &dyn BlobStore, key: &ObjectKey) -> Result<()> {
        let mut df = frame(
            &DUPLICATES,
            key,
            vec![
                datetime_ms_column(col::HOUR, self.hour_ms.clone()),
                u32_column(col::PAIR_ROW, self.pair_row.clone()),
            ],
        )?;
        write(store, key, &DUPLICATES, &mut df).await
    }
}
