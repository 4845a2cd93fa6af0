//! Save: the article model's lists, defaults and articles → the database. Articles are upserted;
//! each model is written 'pending', filled, then switched to 'current' in one
//! transaction. Idempotent per run: a retried save changes nothing.

pub mod report;

use std::collections::HashMap;
use std::time::Duration;

use chrono::DateTime;
use tracing::{info, instrument, warn};

use crate::adapters::parquet::{ArticleColumns, ArticleRecs, Articles, Defaults, Dwell};
use crate::context::Context;
use crate::contract::database::{ArticleRow, ModelStart, ModelType, RecRow, Rollback, DEFAULT_SOURCE};
use crate::contract::error::{Error, Result};
use crate::contract::layout::RunLayout;
use crate::contract::online::OnlineEvaluation;
use crate::contract::stage::{SaveInput, SaveOutput, TrainOutput};
use crate::contract::storage::BlobStore;
use crate::stages::save::report::{DwellHistogram, ReportData, Sample, Shown, MAX_SAMPLES, SAMPLE_RECS};

/// # Errors
/// Storage, Parquet and database errors; `Data` when factors name unknown articles;
/// `Busy` (retryable) when another run of the site holds the save lock too long.
#[instrument(skip_all, fields(stage = "save", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: SaveInput, ctx: &Context) -> Result<SaveOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let model = &input.model;
    let checked = ctx.checked_store(
        &layout,
        &[&input.preprocess.files, &model.defaults.files, &model.train.files],
    );
    let store: &dyn BlobStore = &checked;
    let articles = Articles::read(store, &layout.articles()).await?;
    let rows = article_rows(&articles.columns()?);
    drop(articles);
    // every file is read (and checked) before the database changes, the
    // report's too: a damaged file fails the save before anything is switched
    let train = train_output(store, &layout).await?;
    let dwell = dwell_histogram(store, &layout).await?;
    let online = if train.online_key.is_some() {
        online_evaluation(store, &layout).await?
    } else {
        None
    };
    let recs = if train.gate.promote && train.recs_key.is_some() {
        Some(ArticleRecs::read(store, &layout.article_recs()).await?)
    } else {
        None
    };
    let defaults = Defaults::read(store, &layout.defaults()).await?;
    // upserts are idempotent and the heavy work needs no lock: both come first
    let ids = ctx.db()?.upsert_articles(&run.site, &rows).await?;
    let gate = train.gate.clone();
    let mut models = Vec::with_capacity(2);
    if gate.promote {
        models.push((
            ModelType::Article,
            article_recs(&layout, &train, recs.as_ref(), &ids)?,
        ));
    } else {
        warn!(reason = %gate.reason, "the quality gate kept the current article model");
    }
    models.push((ModelType::Popularity, default_recs(&layout, &defaults, &ids)?));

    let wait = Duration::from_secs(ctx.settings.save_lock_wait_secs);
    let lock = ctx.db()?.lock_site(&run.site, wait).await?;
    let evaluation = model.train.files.get(layout.evaluation().as_str());
    let saved = save_models(ctx, &run.site, &run.run_id, &models, evaluation).await;
    let released = lock.release().await;
    let saved = saved?;
    released?;

    let written = |kind: ModelType| saved.written.iter().find(|w| w.0 == kind).map(|w| (w.1, w.2));
    let refused = |kind: ModelType| saved.refused.iter().find(|r| r.0 == kind).map(|r| r.1.clone());
    let article = written(ModelType::Article);
    let (popularity_model_id, default_recs_written) = match written(ModelType::Popularity) {
        Some(w) => w,
        // the defaults kept: the id the API still serves
        None => (
            ctx.db()?
                .current_model(&run.site, ModelType::Popularity)
                .await?
                .map_or(0, |m| m.id),
            0,
        ),
    };
    let recs_written = article.map_or(0, |a| a.1);
    let article_model_id = article.map(|a| a.0);
    let newly_saved = saved.newly_saved;
    info!(
        article_model_id,
        popularity_model_id,
        recs_written,
        default_recs_written,
        newly_saved,
        pending_discarded = saved.discarded,
        models_pruned = saved.pruned,
        "save done"
    );
    ctx.counts(
        "save",
        &[
            ("recs_written", recs_written),
            ("default_recs_written", default_recs_written),
            ("pending_discarded", saved.discarded),
        ],
    );

    let report = ReportData {
        site: run.site.clone(),
        run_id: run.run_id.clone(),
        as_of: run.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        days_of_data: ctx.settings.days_of_data,
        fetch: input.fetch.as_ref().map(|f| f.counts.clone()),
        funnel: Some(input.preprocess.funnel.clone()),
        defaults_run: Some(model.defaults.clone()),
        dwell,
        article_model_id,
        popularity_model_id: Some(popularity_model_id),
        ..report_lists(&rows, &ids, &models)
    };
    let report = ReportData {
        train: Some(train),
        online,
        ..report
    };
    let report_key = layout.report();
    ctx.store
        .put(
            &report_key,
            bytes::Bytes::from(crate::stages::save::report::render(&report)),
        )
        .await?;
    Ok(SaveOutput {
        article_model_id,
        article_model_rejected: if gate.promote {
            refused(ModelType::Article)
        } else {
            Some(gate.reason)
        },
        defaults_rejected: refused(ModelType::Popularity),
        popularity_model_id,
        articles_upserted: rows.len() as u64,
        recs_written,
        default_recs_written,
        newly_saved,
        pending_discarded: saved.discarded,
        models_pruned: saved.pruned,
        report_key: report_key.to_string(),
    })
}

/// The dwell-time distribution of the run's pairs.
async fn dwell_histogram(store: &dyn BlobStore, layout: &RunLayout) -> Result<DwellHistogram> {
    let secs = Dwell::read_seconds(store, &layout.dwell()).await?;
    Ok(DwellHistogram::of(&secs))
}

/// The defaults with titles, and the first recommendations of the most read
/// articles (the defaults' order), as the report shows them.
fn report_lists(
    rows: &[ArticleRow],
    ids: &HashMap<String, i64>,
    models: &[(ModelType, Vec<RecRow>)],
) -> ReportData {
    let by_external: HashMap<&str, &ArticleRow> = rows.iter().map(|r| (r.external_id.as_str(), r)).collect();
    let by_id: HashMap<i64, &str> = ids.iter().map(|(e, i)| (*i, e.as_str())).collect();
    let shown = |external: &str, score: f64| {
        let row = by_external.get(external);
        Shown {
            external_id: external.to_string(),
            title: row.and_then(|r| r.title.clone()),
            path: row.and_then(|r| r.path.clone()),
            score,
        }
    };
    let recs_of = |kind: ModelType| models.iter().find(|m| m.0 == kind).map(|m| m.1.as_slice());
    let defaults: Vec<Shown> = recs_of(ModelType::Popularity)
        .unwrap_or_default()
        .iter()
        .filter_map(|r| by_id.get(&r.recommended_article_id).map(|e| shown(e, r.score)))
        .collect();
    let mut samples = Vec::new();
    if let Some(recs) = recs_of(ModelType::Article) {
        let wanted: Vec<&str> = defaults
            .iter()
            .take(MAX_SAMPLES)
            .map(|d| d.external_id.as_str())
            .collect();
        let mut lists: HashMap<&str, Vec<Shown>> = HashMap::new();
        for r in recs {
            let source = r.source_entity_id.as_str();
            if !wanted.contains(&source) {
                continue;
            }
            let list = lists.entry(source).or_default();
            if list.len() < SAMPLE_RECS {
                if let Some(e) = by_id.get(&r.recommended_article_id) {
                    list.push(shown(e, r.score));
                }
            }
        }
        for d in defaults.iter().take(MAX_SAMPLES) {
            if let Some(list) = lists.remove(d.external_id.as_str()) {
                samples.push(Sample {
                    article: d.clone(),
                    recs: list,
                });
            }
        }
    }
    ReportData {
        defaults,
        samples,
        ..ReportData::default()
    }
}

/// The run's online evaluation (`online.json`), which train wrote; a file
/// that is not one is reported and left out, not a failed save.
async fn online_evaluation(store: &dyn BlobStore, layout: &RunLayout) -> Result<Option<OnlineEvaluation>> {
    let key = layout.online();
    let body = store.get(&key).await?;
    match serde_json::from_slice(&body) {
        Ok(o) => Ok(Some(o)),
        Err(e) => {
            tracing::warn!(%key, error = %e, "not an online evaluation; the report leaves it out");
            Ok(None)
        }
    }
}

/// The train stage's output (with the quality gate's decision), from
/// `evaluation.json`.
async fn train_output(store: &dyn BlobStore, layout: &RunLayout) -> Result<TrainOutput> {
    let key = layout.evaluation();
    let body = store.get(&key).await?;
    let train: TrainOutput = serde_json::from_slice(&body).map_err(|e| Error::Empty {
        stage: "save",
        what: format!("{key} is not a train output: {e}"),
    })?;
    Ok(train)
}

/// Makes the site's previous model of `kind` current again, under the site
/// lock so it cannot interleave with a save.
///
/// # Errors
/// `InvalidInput` when there is nothing to roll back to; `Busy` when a save
/// holds the lock too long; `Db` on database failure.
pub async fn rollback(ctx: &Context, site: &str, kind: ModelType) -> Result<Rollback> {
    let wait = Duration::from_secs(ctx.settings.save_lock_wait_secs);
    let db = ctx.db()?;
    let lock = db.lock_site(site, wait).await?;
    let done = db.rollback(site, kind).await;
    let released = lock.release().await;
    let done = done?;
    released?;
    info!(
        site,
        model_type = kind.as_str(),
        from = done.from.id,
        from_run = %done.from.run_id,
        to = done.to.id,
        to_run = %done.to.run_id,
        "rolled back"
    );
    Ok(done)
}

struct Saved {
    /// (model type, model id, rows written) per model, in the order given.
    written: Vec<(ModelType, i64, u64)>,
    /// Models not saved, and why: the current one stays.
    refused: Vec<(ModelType, String)>,
    newly_saved: bool,
    discarded: u64,
    pruned: u64,
}

/// A new model may replace the current one only with a list as long as half
/// of the current one's, and never with none: a run that read too little
/// (a loader outage, a damaged file) must not empty what the API serves.
pub const MIN_SHARE_OF_CURRENT: f64 = 0.5;

/// Why `recs` must not replace the site's current model of `kind`, if so.
async fn refusal(
    ctx: &Context,
    site: &str,
    kind: ModelType,
    run_id: &str,
    recs: &[RecRow],
) -> Result<Option<String>> {
    let db = ctx.db()?;
    let current = db.current_model(site, kind).await?;
    if current.as_ref().is_some_and(|c| c.run_id == run_id) {
        return Ok(None); // a retried save of the run that made it
    }
    if recs.is_empty() {
        return Ok(Some(format!(
            "this run's {} model has no recommendations",
            kind.as_str()
        )));
    }
    let Some(current) = current else {
        return Ok(None);
    };
    let had = db.rec_count(current.id).await?;
    if (recs.len() as f64) < MIN_SHARE_OF_CURRENT * had as f64 {
        return Ok(Some(format!(
            "this run's {} model has {} recommendations, under half of the current model {}'s {had} (run {})",
            kind.as_str(),
            recs.len(),
            current.id,
            current.run_id
        )));
    }
    Ok(None)
}

/// Under the site lock: each model is created 'pending', filled, and switched
/// to 'current' in one transaction, unless this run already saved it or it
/// would replace the current model with too few recommendations.
async fn save_models(
    ctx: &Context,
    site: &str,
    run_id: &str,
    models: &[(ModelType, Vec<RecRow>)],
    evaluation: Option<&crate::contract::integrity::Digest>,
) -> Result<Saved> {
    let db = ctx.db()?;
    let mut saved = Saved {
        written: Vec::with_capacity(models.len()),
        refused: Vec::new(),
        newly_saved: false,
        discarded: 0,
        pruned: 0,
    };
    for (kind, recs) in models {
        // a run that died midway left its pending model; nobody else will finish it
        saved.discarded += db.discard_pending(site, *kind, run_id).await?;
        if let Some(why) = refusal(ctx, site, *kind, run_id, recs).await? {
            warn!(model_type = kind.as_str(), reason = %why, "the current model stays");
            saved.refused.push((*kind, why));
            continue;
        }
        let (id, n) = match db.begin_model(site, *kind, run_id).await? {
            ModelStart::AlreadySaved(id) => {
                // a retried train rewrote evaluation.json (its seconds): the
                // model's record follows the file this save checked
                if let (ModelType::Article, Some(d)) = (kind, evaluation) {
                    db.record_evaluation(id, d.as_str()).await?;
                }
                (id, 0)
            }
            ModelStart::Fresh(id) => {
                let n = db.insert_recs(id, recs).await?;
                if let (ModelType::Article, Some(d)) = (kind, evaluation) {
                    db.record_evaluation(id, d.as_str()).await?;
                }
                db.activate(id).await?;
                saved.newly_saved = true;
                (id, n)
            }
        };
        saved.written.push((*kind, id, n));
        saved.pruned += db.prune_stale(site, *kind, ctx.settings.keep_models).await?;
    }
    Ok(saved)
}

/// Every score a stage writes is in [0, 1]; one that is not was damaged
/// on its way.
fn check_score(key: &impl std::fmt::Display, score: f64) -> Result<()> {
    if score.is_finite() && (0.0..=1.0).contains(&score) {
        Ok(())
    } else {
        Err(Error::Corrupt {
            key: key.to_string(),
            why: format!("it holds a score of {score}, outside [0, 1]"),
        })
    }
}

/// The database rows of the run's articles.
fn article_rows(a: &ArticleColumns<'_>) -> Vec<ArticleRow> {
    (0..a.external_id.len())
        .map(|i| ArticleRow {
            external_id: a.external_id[i].to_string(),
            title: a.title[i].map(str::to_string),
            path: a.path[i].map(str::to_string),
            published_at: a.published_at_ms[i].and_then(DateTime::from_timestamp_millis),
            exclude_reason: a.exclude_reason[i].map(str::to_string),
            excerpt: a.excerpt[i].map(str::to_string),
            section: a.section[i].map(str::to_string),
            tags: a.tags[i].map(str::to_string),
        })
        .collect()
}

/// The article model's lists as train wrote them, with database ids.
fn article_recs(
    layout: &RunLayout,
    train: &TrainOutput,
    file: Option<&ArticleRecs>,
    ids: &HashMap<String, i64>,
) -> Result<Vec<RecRow>> {
    let (Some(file), Some(_)) = (file, &train.recs_key) else {
        return Err(Error::Empty {
            stage: "save",
            what: "the gate promoted a model but train wrote no article lists".into(),
        });
    };
    let key = layout.article_recs();
    let r = file.columns()?;
    (0..r.external_id.len())
        .map(|i| {
            let target = r.external_id[i];
            check_score(&key, r.score[i])?;
            let id = ids.get(target).ok_or_else(|| Error::Empty {
                stage: "save",
                what: format!("{key} recommends article {target}, which is not in the run's articles"),
            })?;
            Ok(RecRow {
                source_entity_id: r.source_external_id[i].to_string(),
                recommended_article_id: *id,
                score: r.score[i],
            })
        })
        .collect()
}

fn default_recs(layout: &RunLayout, file: &Defaults, ids: &HashMap<String, i64>) -> Result<Vec<RecRow>> {
    let key = layout.defaults();
    let d = file.columns()?;
    d.external_id
        .iter()
        .zip(&d.score)
        .map(|(&name, &score)| {
            check_score(&key, score)?;
            let id = ids.get(name).ok_or_else(|| Error::Empty {
                stage: "save",
                what: format!("default article {name} is not in {}", layout.articles()),
            })?;
            Ok(RecRow {
                source_entity_id: DEFAULT_SOURCE.into(),
                recommended_article_id: *id,
                score,
            })
        })
        .collect()
}
