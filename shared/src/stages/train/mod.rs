//! Train: `dwell.parquet` + `articles.parquet` -> `article_recs.parquet`,
//! every article's list from the model that measured best, and
//! `evaluation.json`: the leaderboard of every candidate on a temporal
//! holdout against the popularity baseline, and the quality gate's
//! decision, which save obeys.
//!
//! Each candidate is fitted on the window minus the holdout (always cold, so
//! no holdout read leaks in through a previous model) and measured; the
//! winner is refitted on the whole window (ALS warm-started from the current
//! model's article factors when there is one), only when the gate promotes.

mod current_model;
pub mod evaluation;
pub mod gate;
pub mod selection;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use bytes::Bytes;
use chrono::Duration;
use rayon::prelude::*;
use tracing::{info, instrument, warn};

use self::current_model::current_model;
use self::evaluation::{ArticleFacts, DwellTable, EvalParams, Fitting, Holdout, Reading};
use self::selection::{FitParams, Fitted};
use crate::adapters::parquet::{
    ArticleColumns, ArticleRecColumns, Articles, Dwell, DwellColumns, FactorColumns,
};
use crate::context::Context;
use crate::contract::error::{Error, Result};
use crate::contract::evaluation::{Evaluation, ModelSpec};
use crate::contract::layout::RunLayout;
use crate::contract::metrics::Unit;
use crate::contract::online::OnlineEvaluation;
use crate::contract::site::CatalogEntry;
use crate::contract::stage::{TrainInput, TrainOutput};
use crate::contract::storage::BlobStore;
use crate::recommend::content_tfidf::{Analyzer, ArticleText};
use crate::recommend::item_item::Serving;
use crate::recommend::model2vec::{self, StaticModel};
use crate::recommend::popularity::RECENT_INTERACTIONS;

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
    preprocess: &crate::contract::stage::PreprocessOutput,
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

/// # Errors
/// `Empty` when the dwell table is empty; storage, Parquet and database errors.
#[instrument(skip_all, fields(stage = "train", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: TrainInput, ctx: &Context) -> Result<TrainOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let checked = ctx.checked_store(&layout, &[&input.preprocess.files]);
    let store = &checked;
    let dwell = Dwell::read(store, &layout.dwell()).await?;
    let articles = Articles::read(store, &layout.articles()).await?;
    let article_columns = articles.columns()?;
    let table = dwell_table(&dwell.columns()?, &article_columns.external_id);
    drop(dwell);
    let online = online_evaluation(store, &layout, &input.preprocess).await?;
    if table.readings.is_empty() {
        return Err(Error::Empty {
            stage: "train",
            what: "the dwell table has no interactions".into(),
        });
    }
    let analyzer = Analyzer::new(&ctx.settings.quality.selection.content_language)?;
    let model = embedding_model(ctx).await?;
    let facts = article_facts(&table, &article_columns, &analyzer, model.as_ref());
    drop(model);
    drop(article_columns);
    drop(articles);

    let current = current_model(ctx, run, input.preprocess.current_article_model.as_ref()).await?;
    let settings = &ctx.settings;
    let holdout = settings.quality.holdout_days;
    let as_of_ms = run.as_of.timestamp_millis();
    let params = EvalParams {
        cut_ms: (run.as_of - Duration::milliseconds((holdout * 86_400_000.0) as i64)).timestamp_millis(),
        k: settings.max_recs,
        max_questions: settings.quality.max_questions,
        seed: settings.seed,
        als: settings.als.clone(),
        selection: settings.quality.selection.clone(),
        half_life_days: settings.half_life_days,
        defaults_half_life_days: settings.defaults_half_life_days,
        recent_interactions: RECENT_INTERACTIONS,
        undated_age_days: f64::from(settings.days_of_data),
        cold_readers: settings.quality.cold_readers,
    };
    let evaluation = if holdout > 0.0 && holdout < f64::from(settings.days_of_data) {
        let (table, facts, params) = (table.clone(), facts.clone(), params.clone());
        crate::contract::tasks::blocking(move || evaluate(&table, &facts, &params)).await?
    } else {
        warn!(
            holdout_days = holdout,
            days_of_data = settings.days_of_data,
            "no evaluation: the holdout is off or not shorter than the window"
        );
        None
    };
    let current_metrics = current.as_ref().and_then(|c| c.metrics);
    let mut gate = gate::quality_gate(
        evaluation.as_ref(),
        current_metrics.as_ref(),
        &settings.quality.gate,
    );
    if settings.online.gate {
        gate.online_warning = online.as_ref().and_then(OnlineEvaluation::warning);
    }
    if let Some(w) = &gate.online_warning {
        warn!(warning = %w, "quality gate: online check");
    }
    if gate.promote {
        info!(reason = %gate.reason, "quality gate: promote");
    } else {
        warn!(reason = %gate.reason, "quality gate: the current model stays");
    }

    // dwell_table numbers the readers of its readings, the articles read or listed
    let nnz = table.readings.len() as u64;
    let mut output = TrainOutput {
        model: None,
        recs_key: None,
        fit_secs: 0.0,
        factors_key: None,
        evaluation_key: layout.evaluation().to_string(),
        files: Default::default(),
        online_key: online.as_ref().map(|_| layout.online().to_string()),
        online: online.as_ref().map(|o| o.headline()),
        readers: table.readers.len() as u64,
        articles: table.articles.len() as u64,
        nonzeros: nnz,
        factors: 0,
        iterations: 0,
        loss: Vec::new(),
        warm_start_from: None,
        warm_start_articles: 0,
        evaluation,
        current_model: current_metrics,
        gate,
    };
    if output.gate.promote {
        // every article of the table: read in the window, or listed in it
        let fitting = Fitting::of(&table, &table.readings, |_| true);
        // not evaluated (holdout off or empty): matrix factorisation, as configured
        let spec = output
            .evaluation
            .as_ref()
            .and_then(|e| e.winner.clone())
            .unwrap_or(ModelSpec::Als {
                factors: settings.als.factors,
                regularization: settings.als.regularization,
            });
        let names: Vec<String> = fitting
            .articles
            .iter()
            .map(|&a| table.articles[a as usize].clone())
            .collect();
        let als_factors = match &spec {
            ModelSpec::Als { factors, .. } => Some(*factors),
            ModelSpec::Hybrid { base, .. } => match **base {
                ModelSpec::Als { factors, .. } => Some(factors),
                _ => None,
            },
            _ => None,
        };
        // the current model's factors are read only for a warm start of ALS
        let previous = match (&current, als_factors) {
            (Some(c), Some(_)) if settings.als.warm_start => c.factors().await?,
            _ => None,
        };
        let start: Vec<Option<Vec<f32>>> = match (previous, als_factors) {
            (Some(p), Some(factors)) if p.k == factors => {
                names.iter().map(|a| p.rows.get(a).cloned()).collect()
            }
            (Some(p), Some(factors)) => {
                warn!(previous = p.k, now = factors, "factor count changed: cold start");
                Vec::new()
            }
            _ => Vec::new(),
        };
        output.warm_start_articles = start.iter().flatten().count() as u64;
        if output.warm_start_articles > 0 {
            output.warm_start_from = current.as_ref().map(|c| c.run_id.clone());
        }
        let popularity = if spec == ModelSpec::Popularity {
            fitting.popularity(&table, &facts, &table.readings, as_of_ms, &params)
        } else {
            Vec::new()
        };
        let (decay, excluded) =
            fitting.serving_facts(&facts, as_of_ms, params.half_life_days, params.undated_age_days);
        let (als, selection, seed, k) = (
            settings.als.clone(),
            params.selection.clone(),
            settings.seed,
            settings.max_recs,
        );
        let terms = fitting.terms(&facts);
        let embeddings = fitting.embeddings(&facts);
        let fit_spec = spec.clone();
        let started = Instant::now();
        let (fitted, lists) = crate::contract::tasks::blocking(move || -> Result<_> {
            let start: Vec<Option<&[f32]>> = start.iter().map(|s| s.as_deref()).collect();
            let p = FitParams {
                als: &als,
                selection: &selection,
                seed,
                at_ms: as_of_ms,
                popularity: &popularity,
                warm_start: &start,
                terms: &terms,
                embeddings: &embeddings,
            };
            let fitted: Fitted = selection::fit(&fit_spec, &fitting.reads, &p, |it, loss| {
                info!(iteration = it + 1, loss, "als iteration")
            })?;
            let prior = fitting.reads.prior();
            let serving = Serving {
                decay: &decay,
                excluded: &excluded,
                prior: &prior,
                k,
            };
            let sources: Vec<usize> = (0..fitting.reads.articles()).collect();
            let lists = fitted.model.neighbours(&sources, &serving);
            Ok((fitted, lists))
        })
        .await??;
        output.fit_secs = started.elapsed().as_secs_f64();
        check_fit(&spec, &fitted.loss, &lists)?;
        let mut recs = ArticleRecColumns {
            source_external_id: Vec::new(),
            external_id: Vec::new(),
            score: Vec::new(),
        };
        for (src, list) in names.iter().zip(&lists) {
            for n in list {
                recs.source_external_id.push(src.as_str());
                recs.external_id.push(names[n.index].as_str());
                recs.score.push(f64::from(n.score));
            }
        }
        let key = layout.article_recs();
        recs.write(store, &key).await?;
        output.recs_key = Some(key.to_string());
        if let Some(f) = &fitted.factors {
            let values = f.as_standard_layout();
            let values = values
                .as_slice()
                .ok_or_else(|| Error::Bug("factors not contiguous".into()))?;
            let key = layout.factors();
            FactorColumns {
                external_id: names.iter().map(String::as_str).collect(),
                values: values.to_vec(),
                k: f.ncols(),
            }
            .write(store, &key)
            .await?;
            output.factors_key = Some(key.to_string());
            output.factors = f.ncols() as u32;
            output.iterations = fitted.loss.len() as u32;
        }
        output.loss = fitted.loss;
        output.model = Some(spec.clone());
    }
    // the file lists the lists' and factors' digests; the wire adds its own
    output.files = checked.written();
    let json = serde_json::to_vec_pretty(&output).map_err(|e| Error::Bug(format!("evaluation json: {e}")))?;
    store.put(&layout.evaluation(), Bytes::from(json)).await?;
    output.files = checked.written();
    report(ctx, &output);
    Ok(output)
}

/// A fit whose loss is not a number, or whose lists score outside [0, 1],
/// is never saved: something fed it values no stage writes.
///
/// # Errors
/// `Bug` naming the model and what is wrong.
fn check_fit(
    spec: &ModelSpec,
    loss: &[f64],
    lists: &[Vec<crate::recommend::neighbours::Neighbour>],
) -> Result<()> {
    if let Some((i, l)) = loss.iter().enumerate().find(|(_, l)| !l.is_finite()) {
        return Err(Error::Bug(format!(
            "the fit of {spec} has loss {l} at iteration {}: not saved",
            i + 1
        )));
    }
    let bad = lists
        .iter()
        .flatten()
        .find(|n| !(n.score.is_finite() && (0.0..=1.0).contains(&n.score)));
    if let Some(n) = bad {
        return Err(Error::Bug(format!(
            "{spec} scored a recommendation {}, outside [0, 1]: not saved",
            n.score
        )));
    }
    Ok(())
}

/// Every candidate on the holdout, and the winner. `None` when either side
/// of the cut is empty.
pub fn evaluate(table: &DwellTable, facts: &ArticleFacts, params: &EvalParams) -> Option<Evaluation> {
    let h = Holdout::split(table, facts, params)?;
    let specs = selection::grid(&params.selection, &params.als);
    let fit = FitParams {
        als: &params.als,
        selection: &params.selection,
        seed: params.seed,
        at_ms: params.cut_ms,
        popularity: &h.popularity,
        warm_start: &[],
        terms: &h.terms,
        embeddings: &h.embeddings,
    };
    let (leaderboard, winner) = selection::select(
        &h,
        &specs,
        &fit,
        params.k,
        params.selection.budget_secs,
        |c| match (&c.metrics, &c.skipped) {
            (Some(m), _) => info!(
                candidate = %c.spec,
                hit_rate = m.hit_rate,
                mrr = m.mrr,
                auc = m.auc,
                coverage = m.coverage,
                secs = c.secs,
                "candidate measured"
            ),
            (None, reason) => {
                warn!(candidate = %c.spec, reason = reason.as_deref().unwrap_or(""), "candidate skipped")
            }
        },
    );
    let find = |spec: &ModelSpec| leaderboard.iter().find(|c| c.spec == *spec);
    let of = |spec: ModelSpec| find(&spec).and_then(|c| c.metrics).unwrap_or_default();
    let slices_of = |spec: &ModelSpec| find(spec).and_then(|c| c.slices);
    let (winner, loss) = winner.map_or((None, Vec::new()), |(w, l)| (Some(w), l));
    Some(Evaluation {
        holdout_start_ms: params.cut_ms,
        train_readings: h.train_readings,
        holdout_readings: h.holdout_readings,
        questions_found: h.questions_found,
        k: params.k as u32,
        model: winner.clone().map(of).unwrap_or_default(),
        popularity: of(ModelSpec::Popularity),
        cold_readers: params.cold_readers,
        model_slices: winner.as_ref().and_then(slices_of),
        popularity_slices: slices_of(&ModelSpec::Popularity),
        loss,
        leaderboard,
        winner,
    })
}

fn report(ctx: &Context, out: &TrainOutput) {
    info!(
        readers = out.readers,
        articles = out.articles,
        nnz = out.nonzeros,
        model = %out.model.as_ref().map(ToString::to_string).unwrap_or_default(),
        fit_secs = out.fit_secs,
        warm_start_articles = out.warm_start_articles,
        "train done"
    );
    ctx.metric("train", "nonzeros", out.nonzeros as f64, Unit::Count);
    ctx.metric("train", "fit_seconds", out.fit_secs, Unit::Seconds);
    ctx.metric(
        "train",
        "promoted",
        f64::from(u8::from(out.gate.promote)),
        Unit::Count,
    );
    if let Some(o) = &out.online {
        ctx.metric("train", "widget_events", o.widget_events as f64, Unit::Count);
        // per model type, not per model id: a new id every run would make a
        // new metric every two hours
        for (who, m) in [("article", &o.article), ("defaults", &o.defaults)] {
            if let Some(m) = m {
                ctx.metric(
                    "train",
                    &format!("online_{who}_impressions"),
                    m.counts.impressions as f64,
                    Unit::Count,
                );
                if let Some(ctr) = m.ctr {
                    ctx.metric("train", &format!("online_{who}_ctr"), ctr, Unit::None);
                }
                if m.dwell_after_click.read > 0 {
                    ctx.metric(
                        "train",
                        &format!("online_{who}_dwell_after_click"),
                        m.dwell_after_click.median_secs,
                        Unit::Seconds,
                    );
                }
            }
        }
        ctx.metric(
            "train",
            "online_flagged",
            f64::from(u8::from(out.gate.online_warning.is_some())),
            Unit::Count,
        );
    }
    if let Some(e) = &out.evaluation {
        let beats = e.winner.as_ref().is_some_and(|w| *w != ModelSpec::Popularity) && out.gate.promote;
        ctx.metric(
            "train",
            "beats_popularity",
            f64::from(u8::from(beats)),
            Unit::Count,
        );
        for (who, m) in [("model", &e.model), ("popularity", &e.popularity)] {
            ctx.metric("train", &format!("{who}_hit_rate"), m.hit_rate, Unit::None);
            ctx.metric("train", &format!("{who}_mrr"), m.mrr, Unit::None);
            ctx.metric("train", &format!("{who}_auc"), m.auc, Unit::None);
            ctx.metric("train", &format!("{who}_coverage"), m.coverage, Unit::None);
        }
        for (who, slices) in [("model", &e.model_slices), ("popularity", &e.popularity_slices)] {
            if let Some(s) = slices {
                for (slice, m) in [("cold", &s.cold), ("warm", &s.warm)] {
                    ctx.metric(
                        "train",
                        &format!("{who}_{slice}_hit_rate"),
                        m.hit_rate,
                        Unit::None,
                    );
                    ctx.metric("train", &format!("{who}_{slice}_mrr"), m.mrr, Unit::None);
                }
                ctx.metric(
                    "train",
                    &format!("{who}_cold_questions"),
                    s.cold.questions as f64,
                    Unit::Count,
                );
            }
        }
    }
}
