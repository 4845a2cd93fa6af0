//! Train: `dwell.parquet` → `article_factors.parquet`, implicit ALS factors of
//! every article, with the loss of each iteration.

use std::collections::BTreeMap;

use polars::prelude::*;
use sprs::{CsMat, TriMat};
use tracing::{info, instrument};

use crate::als::{self, confidence};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::layout::RunLayout;
use crate::metrics::Unit;
use crate::parquet::{self, col, factors_column, strs, DWELL, FACTORS};
use crate::stage::{TrainInput, TrainOutput};

/// The reader x article confidence matrix and the ids of its rows and columns,
/// both sorted, so the same table always gives the same matrix.
pub struct Interactions {
    pub matrix: CsMat<f32>,
    pub readers: Vec<String>,
    pub articles: Vec<String>,
}

/// # Errors
/// Polars errors (missing columns, nulls).
pub fn interactions(dwell: &DataFrame, alpha: f32) -> PolarsResult<Interactions> {
    let clients = strs(dwell, col::CLIENT_ID)?;
    let ids = strs(dwell, col::EXTERNAL_ID)?;
    let secs = parquet::f64s(dwell, col::DWELL_SECS)?;
    let mut reader_ix: BTreeMap<&str, usize> = clients.iter().flatten().map(|c| (*c, 0)).collect();
    let mut article_ix: BTreeMap<&str, usize> = ids.iter().flatten().map(|a| (*a, 0)).collect();
    for (i, v) in reader_ix.values_mut().enumerate() {
        *v = i;
    }
    for (i, v) in article_ix.values_mut().enumerate() {
        *v = i;
    }
    let mut tri = TriMat::new((reader_ix.len(), article_ix.len()));
    for i in 0..dwell.height() {
        if let (Some(c), Some(a), Some(s)) = (clients[i], ids[i], secs[i]) {
            tri.add_triplet(reader_ix[c], article_ix[a], confidence(s, alpha));
        }
    }
    Ok(Interactions {
        matrix: tri.to_csr(),
        readers: reader_ix.into_keys().map(str::to_string).collect(),
        articles: article_ix.into_keys().map(str::to_string).collect(),
    })
}

/// # Errors
/// `Empty` when the dwell table is empty; storage and frame errors.
#[instrument(skip_all, fields(stage = "train", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: TrainInput, ctx: &Context) -> Result<TrainOutput> {
    let layout = RunLayout::new(&input.run)?;
    let dwell_key = layout.dwell();
    let dwell = parquet::read(ctx.store.as_ref(), &dwell_key, &DWELL).await?;
    let data = interactions(&dwell, ctx.settings.als.alpha).map_err(Error::frame(&dwell_key))?;
    if data.matrix.nnz() == 0 {
        return Err(Error::Empty {
            stage: "train",
            what: "the dwell table has no interactions".into(),
        });
    }
    let params = ctx.settings.als.clone();
    let seed = ctx.settings.seed;
    let matrix = data.matrix;
    let nnz = matrix.nnz() as u64;
    let factors = super::blocking(move || {
        als::fit(&matrix, &params, seed, |it, loss| {
            info!(iteration = it + 1, loss, "als iteration")
        })
    })
    .await?;
    let k = ctx.settings.als.factors;
    let key = layout.factors();
    let values = factors.articles.as_standard_layout();
    let values = values
        .as_slice()
        .ok_or_else(|| Error::Bug("factors not contiguous".into()))?;
    let n = data.articles.len();
    let df = DataFrame::new(
        n,
        vec![
            Column::new(col::EXTERNAL_ID.into(), data.articles),
            factors_column(values, k),
        ],
    )
    .map_err(Error::frame(&key))?;
    parquet::write(ctx.store.as_ref(), &key, &FACTORS, &df).await?;
    let final_loss = factors.loss.last().copied().unwrap_or(f64::NAN);
    info!(
        readers = data.readers.len(),
        articles = n,
        nnz,
        final_loss,
        "train done"
    );
    ctx.metric("train", "final_loss", final_loss, Unit::None);
    ctx.metric("train", "nonzeros", nnz as f64, Unit::Count);
    Ok(TrainOutput {
        factors_key: key.to_string(),
        readers: data.readers.len() as u64,
        articles: n as u64,
        nonzeros: nnz,
        factors: k as u32,
        iterations: ctx.settings.als.iterations,
        loss: factors.loss,
    })
}
