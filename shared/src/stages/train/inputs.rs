//! What train reads: the dwell table, the articles' facts (publish times,
//! exclusions, text terms and vectors) and the online evaluation.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use rayon::prelude::*;
use tracing::info;

use super::evaluation::{ArticleFacts, DwellTable, Reading};
use crate::adapters::parquet::{ArticleColumns, Articles, Dwell, DwellColumns};
use crate::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::layout::RunLayout;
use crate::contract::online::OnlineEvaluation;
use crate::contract::site::CatalogEntry;
use crate::contract::stage::PreprocessOutput;
use crate::contract::storage::BlobStore;
use crate::recommend::content_tfidf::{Analyzer, ArticleText};
use crate::recommend::model2vec::{self, StaticModel};

/// The run's readings and what is known of their articles.
pub struct Inputs {
    pub table: DwellTable,
    pub facts: ArticleFacts,
    pub online: Option<OnlineEvaluation>,
}

/// Reads dwell, articles and the online evaluation through the run's checked
/// store, and derives each article's text terms (and vectors, with a model).
///
/// # Errors
/// `Empty` when the dwell table is empty; storage, Parquet and model errors.
pub async fn load(
    ctx: &Context,
    store: &dyn BlobStore,
    layout: &RunLayout,
    preprocess: &PreprocessOutput,
) -> Result<Inputs> {
    let dwell = Dwell::read(store, &layout.dwell()).await?;
    let articles = Articles::read(store, &layout.articles()).await?;
    let article_columns = articles.columns()?;
    let table = dwell_table(&dwell.columns()?, &article_columns.external_id);
    drop(dwell);
    let online = online_evaluation(store, layout, preprocess).await?;
    if table.readings.is_empty() {
        return Err(Error::Empty {
            stage: "train",
            what: "the dwell table has no interactions".into(),
        });
    }
    let analyzer = Analyzer::new(&ctx.settings.quality.selection.content_language)?;
    let model = embedding_model(ctx).await?;
    let facts = article_facts(&table, &article_columns, &analyzer, model.as_ref());
    Ok(Inputs { table, facts, online })
}

/// The dwell table with readers and articles numbered in id order, so the
/// same table always gives the same matrix; its articles are those read and
/// the `unread` ones (the candidate window's stories nobody read).
pub fn dwell_table(dwell: &DwellColumns<'_>, unread: &[&str]) -> DwellTable {
    let mut reader_ix: BTreeMap<&str, u32> = dwell.client_id.iter().map(|c| (*c, 0)).collect();
    let mut article_ix: BTreeMap<&str, u32> =
        dwell.external_id.iter().chain(unread).map(|a| (*a, 0)).collect();
    for (i, v) in reader_ix.values_mut().enumerate() {
        *v = i as u32;
    }
    for (i, v) in article_ix.values_mut().enumerate() {
        *v = i as u32;
    }
    let readings = (0..dwell.client_id.len())
        .map(|i| Reading {
            reader: reader_ix[dwell.client_id[i]],
            article: article_ix[dwell.external_id[i]],
            dwell_secs: dwell.dwell_secs[i],
            first_seen_ms: dwell.first_seen_ms[i],
            last_seen_ms: dwell.last_seen_ms[i],
        })
        .collect();
    DwellTable {
        readers: reader_ix.into_keys().map(str::to_string).collect(),
        articles: article_ix.into_keys().map(str::to_string).collect(),
        readings,
    }
}

/// Publish times, exclusions, text terms and (with a model) text vectors
/// of the table's articles.
fn article_facts(
    table: &DwellTable,
    articles: &ArticleColumns<'_>,
    analyzer: &Analyzer,
    model: Option<&StaticModel>,
) -> ArticleFacts {
    let text: HashMap<&str, usize> = (0..articles.external_id.len())
        .map(|i| (articles.external_id[i], i))
        .collect();
    let embeddings = model.map_or_else(Vec::new, |m| {
        table
            .articles
            .par_iter()
            .map(|a| {
                text.get(a.as_str()).map_or_else(Vec::new, |&i| {
                    let tags = CatalogEntry::tags_of(articles.tags[i]);
                    let parts = [articles.title[i], articles.excerpt[i], articles.section[i]];
                    let all: Vec<&str> = parts
                        .into_iter()
                        .flatten()
                        .chain(tags.iter().map(String::as_str))
                        .collect();
                    m.encode(&all.join(". "))
                })
            })
            .collect()
    });
    let terms = table
        .articles
        .iter()
        .map(|a| {
            text.get(a.as_str()).map_or_else(Vec::new, |&i| {
                let tags = CatalogEntry::tags_of(articles.tags[i]);
                analyzer.terms(&ArticleText {
                    title: articles.title[i],
                    excerpt: articles.excerpt[i],
                    section: articles.section[i],
                    tags: &tags,
                })
            })
        })
        .collect();
    let by_id: HashMap<&str, (Option<i64>, bool)> = (0..articles.external_id.len())
        .map(|i| {
            (
                articles.external_id[i],
                (articles.published_at_ms[i], articles.exclude_reason[i].is_some()),
            )
        })
        .collect();
    let (published_ms, excluded) = table
        .articles
        .iter()
        .map(|a| by_id.get(a.as_str()).copied().unwrap_or((None, false)))
        .unzip();
    ArticleFacts {
        published_ms,
        excluded,
        terms,
        embeddings,
    }
}

/// The online evaluation preprocess wrote, when it wrote one.
///
/// # Errors
/// Storage errors; `Schema` for a file that is not an online evaluation.
async fn online_evaluation(
    store: &dyn BlobStore,
    layout: &RunLayout,
    preprocess: &PreprocessOutput,
) -> Result<Option<OnlineEvaluation>> {
    if preprocess.online_key.is_none() {
        return Ok(None);
    }
    let key = layout.online();
    let body = store.get(&key).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| Error::Schema {
            key: key.to_string(),
            expected: "an online evaluation (online.json)".into(),
            found: e.to_string(),
        })
}

/// The operator's static embedding model, when `CONTENT_EMBEDDINGS` names
/// one: an absolute path is a local folder, a name is `models/<name>/` in
/// the store. `config.json` may be absent; the other two files may not.
///
/// # Errors
/// `Config` naming the file that is missing or not in the model2vec format.
pub async fn embedding_model(ctx: &Context) -> Result<Option<StaticModel>> {
    let Some(at) = ctx.settings.quality.selection.embeddings.as_deref() else {
        return Ok(None);
    };
    let read = |file: &'static str| async move {
        let optional = file == model2vec::CONFIG_FILE;
        if at.starts_with('/') {
            let path = std::path::Path::new(at).join(file);
            match tokio::fs::read(&path).await {
                Ok(b) => Ok(Some(Bytes::from(b))),
                Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Config(format!(
                    "CONTENT_EMBEDDINGS: cannot read {}: {e}",
                    path.display()
                ))),
            }
        } else {
            match ctx
                .store
                .get(&crate::contract::layout::embedding_model(at, file)?)
                .await
            {
                Ok(b) => Ok(Some(b)),
                Err(Error::NotFound { .. }) if optional => Ok(None),
                Err(Error::NotFound { key }) => Err(Error::Config(format!(
                    "CONTENT_EMBEDDINGS: no {key} in the store"
                ))),
                Err(e) => Err(e),
            }
        }
    };
    let missing = |file: &str| Error::Bug(format!("{file} is required but was read as absent"));
    let weights = read(model2vec::WEIGHTS_FILE)
        .await?
        .ok_or_else(|| missing(model2vec::WEIGHTS_FILE))?;
    let tokenizer = read(model2vec::TOKENIZER_FILE)
        .await?
        .ok_or_else(|| missing(model2vec::TOKENIZER_FILE))?;
    let config = read(model2vec::CONFIG_FILE).await?;
    let model = StaticModel::load(&weights, &tokenizer, config.as_deref())?;
    info!(
        model = at,
        dimensions = model.dim(),
        "static embedding model loaded"
    );
    Ok(Some(model))
}
