//! Preprocess: `events.parquet` + the site's catalogue → `articles.parquet` and
//! `dwell.parquet` for the 2-core of readers and articles; reports the funnel.

use polars::prelude::*;
use tracing::{info, instrument};

use crate::articles::{article_events, article_table};
use crate::catalog::{self, CatalogEntry};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::layout::{self, RunLayout};
use crate::metrics::Unit;
use crate::parquet::{self, col, ARTICLES, DWELL, EVENTS};
use crate::stage::{Funnel, PreprocessInput, PreprocessOutput};
use crate::{dwell, kcore};

/// # Errors
/// `Empty` when no reader x article pair survives filtering; storage, frame
/// and catalogue errors.
#[instrument(skip_all, fields(stage = "preprocess", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: PreprocessInput, ctx: &Context) -> Result<PreprocessOutput> {
    let layout = RunLayout::new(&input.run)?;
    let events = parquet::read(ctx.store.as_ref(), &layout.events(), &EVENTS).await?;
    let catalog = load_catalog(ctx, &input.run.site).await?;
    let cap = ctx.settings.dwell_cap_secs;
    let key = layout.dwell();
    let k2 = key.clone();
    let (funnel, dwell_df, articles_df) =
        super::blocking(move || transform(&events, &catalog, cap).map_err(Error::frame(&k2))).await??;
    if funnel.pairs == 0 {
        return Err(Error::Empty {
            stage: "preprocess",
            what: "no reader x article pairs left after the 2-core filter".into(),
        });
    }
    parquet::write(ctx.store.as_ref(), &key, &DWELL, &dwell_df).await?;
    parquet::write(ctx.store.as_ref(), &layout.articles(), &ARTICLES, &articles_df).await?;
    info!(?funnel, "preprocess done");
    for (name, v) in [
        ("readers", funnel.readers),
        ("articles", funnel.articles),
        ("pairs", funnel.pairs),
    ] {
        ctx.metric("preprocess", name, v as f64, Unit::Count);
    }
    Ok(PreprocessOutput {
        articles_key: layout.articles().to_string(),
        dwell_key: key.to_string(),
        funnel,
    })
}

/// The catalogue if the site has one; an absent catalogue is an empty one.
async fn load_catalog(ctx: &Context, site: &str) -> Result<Vec<CatalogEntry>> {
    match ctx.store.get(&layout::catalog(site)?).await {
        Ok(bytes) => catalog::parse(&String::from_utf8_lossy(&bytes)),
        Err(Error::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

fn count_unique(df: &DataFrame, name: &str) -> PolarsResult<u64> {
    Ok(df.column(name)?.n_unique()? as u64)
}

/// Pure preprocessing: the funnel, the dwell table and the article table.
pub fn transform(
    events: &DataFrame,
    catalog: &[CatalogEntry],
    cap_secs: f64,
) -> PolarsResult<(Funnel, DataFrame, DataFrame)> {
    let on_articles = article_events(events)?;
    let core = kcore::filter(&on_articles, 2)?;
    let all_dwell = dwell::dwell(&on_articles, cap_secs)?;
    let dwell_df = all_dwell
        .lazy()
        .join(
            core.pairs.clone().lazy(),
            [col(col::CLIENT_ID), col(col::EXTERNAL_ID)],
            [col(col::CLIENT_ID), col(col::EXTERNAL_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        .sort([col::CLIENT_ID, col::EXTERNAL_ID], SortMultipleOptions::default())
        .collect()?;
    let kept_ids: Vec<String> = core
        .pairs
        .column(col::EXTERNAL_ID)?
        .str()?
        .unique()?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect();
    let articles_df = article_table(&on_articles, &kept_ids, catalog)?;
    let funnel = Funnel {
        events: events.height() as u64,
        article_events: on_articles.height() as u64,
        readers_before_filter: count_unique(&on_articles, col::CLIENT_ID)?,
        articles_before_filter: count_unique(&on_articles, col::EXTERNAL_ID)?,
        filter_passes: core.passes,
        readers: count_unique(&core.pairs, col::CLIENT_ID)?,
        articles: count_unique(&core.pairs, col::EXTERNAL_ID)?,
        pairs: core.pairs.height() as u64,
    };
    Ok((funnel, dwell_df, articles_df))
}
