//! Preprocess: `events.parquet` + the site's catalogue → `articles.parquet` and
//! `dwell.parquet` for the 2-core of readers and articles; reports the funnel.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use polars::prelude::*;
use rayon::prelude::*;
use tracing::{info, instrument, warn};

use crate::articles::article_table;
use crate::catalog::CatalogEntry;
use crate::context::Context;
use crate::db::ArticleRow;
use crate::error::{Error, Result};
use crate::layout::RunLayout;
use crate::metrics::Unit;
use crate::parquet::{self, col, ARTICLES, DWELL, EVENTS};
use crate::site::{self, ArticleKey, Lookup, Site};
use crate::stage::{Funnel, MetadataCounts, PreprocessInput, PreprocessOutput};
use crate::{dwell, kcore};

/// The columns of `events.parquet` preprocessing reads; event ids and the
/// rest are fetch's business and are not decoded.
pub const EVENT_COLUMNS: [&str; 3] = [col::CLIENT_ID, col::ACTIVITY_TIME, col::PAGE_PATH];

/// Cached metadata of articles published more recently than this is looked
/// up again: headlines and dates still change in a story's first day.
const FRESH_FOR: TimeDelta = TimeDelta::days(1);

/// # Errors
/// `Empty` when no reader x article pair survives filtering; storage, frame,
/// catalogue and database errors. A failing metadata lookup is not an error:
/// the article is counted and goes on without metadata.
#[instrument(skip_all, fields(stage = "preprocess", site = %input.run.site, run_id = %input.run.run_id))]
pub async fn run(input: PreprocessInput, ctx: &Context) -> Result<PreprocessOutput> {
    let run = &input.run;
    let layout = RunLayout::new(run)?;
    let events = parquet::read_columns(ctx.store.as_ref(), &layout.events(), &EVENTS, &EVENT_COLUMNS).await?;
    let site = site::open(&ctx.settings, ctx.store.as_ref()).await?;
    let cap = ctx.settings.dwell_cap_secs;
    let key = layout.dwell();
    let k2 = key.clone();
    let rule: Arc<dyn Site> = site.clone();
    let prepared =
        super::blocking(move || transform(&events, rule.as_ref(), cap).map_err(Error::frame(&k2))).await??;
    let funnel = prepared.funnel;
    if funnel.pairs == 0 {
        return Err(Error::Empty {
            stage: "preprocess",
            what: "no reader x article pairs left after the 2-core filter".into(),
        });
    }
    let (catalog, metadata) =
        article_metadata(ctx, site.as_ref(), &run.site, &prepared.kept, run.as_of).await?;
    let articles_df = article_table(&prepared.kept, &catalog).map_err(Error::frame(&layout.articles()))?;
    let current_article_model = ctx
        .db()?
        .current_model(&run.site, crate::db::ModelType::Article)
        .await?
        .map(|m| crate::stage::CurrentModel {
            id: m.id,
            run_id: m.run_id,
        });
    parquet::write(ctx.store.as_ref(), &key, &DWELL, &prepared.dwell).await?;
    parquet::write(ctx.store.as_ref(), &layout.articles(), &ARTICLES, &articles_df).await?;
    info!(?funnel, ?metadata, source = site.source(), "preprocess done");
    for (name, v) in [
        ("readers", funnel.readers),
        ("articles", funnel.articles),
        ("pairs", funnel.pairs),
        ("metadata_looked_up", metadata.looked_up),
        ("metadata_failed", metadata.failed),
    ] {
        ctx.metric("preprocess", name, v as f64, Unit::Count);
    }
    Ok(PreprocessOutput {
        articles_key: layout.articles().to_string(),
        dwell_key: key.to_string(),
        funnel,
        metadata,
        current_article_model,
    })
}

/// Whether an article's cached metadata must be looked up again: never
/// looked up, no publish time yet, or published within the last day.
pub fn needs_refresh(cached: Option<&ArticleRow>, as_of: DateTime<Utc>) -> bool {
    match cached {
        None => true,
        Some(row) => row.published_at.is_none_or(|p| p > as_of - FRESH_FOR),
    }
}

/// Metadata of the kept articles: from the database where it is settled, from
/// the site for the rest (which then goes into the database).
async fn article_metadata(
    ctx: &Context,
    site: &dyn Site,
    site_name: &str,
    kept: &[ArticleKey],
    as_of: DateTime<Utc>,
) -> Result<(Vec<CatalogEntry>, MetadataCounts)> {
    let ids: Vec<String> = kept.iter().map(|k| k.external_id.clone()).collect();
    let cached: HashMap<String, ArticleRow> = ctx
        .db()?
        .articles(site_name, &ids)
        .await?
        .into_iter()
        .map(|r| (r.external_id.clone(), r))
        .collect();
    let stale: Vec<ArticleKey> = kept
        .iter()
        .filter(|k| needs_refresh(cached.get(&k.external_id), as_of))
        .cloned()
        .collect();
    let mut counts = MetadataCounts {
        cached: (kept.len() - stale.len()) as u64,
        looked_up: stale.len() as u64,
        ..MetadataCounts::default()
    };
    let lookups = if stale.is_empty() {
        Vec::new()
    } else {
        site.metadata(&stale).await
    };
    let mut fresh = Vec::with_capacity(stale.len());
    for (k, lookup) in stale.iter().zip(lookups) {
        match lookup {
            Lookup::Found(e) => {
                counts.found += 1;
                fresh.push(ArticleRow {
                    external_id: k.external_id.clone(),
                    title: e.title,
                    path: Some(e.path)
                        .filter(|p| !p.is_empty())
                        .or_else(|| Some(k.path.clone())),
                    published_at: e.published_at,
                    exclude_reason: e.exclude_reason,
                });
            }
            Lookup::Unknown { exclude_reason } => {
                counts.unknown += 1;
                fresh.push(ArticleRow {
                    external_id: k.external_id.clone(),
                    title: None,
                    path: Some(k.path.clone()),
                    published_at: None,
                    exclude_reason,
                });
            }
            Lookup::Failed(why) => {
                counts.failed += 1;
                warn!(article = %k.external_id, source = site.source(), error = %why, "no metadata this run");
            }
        }
    }
    counts.excluded = fresh.iter().filter(|r| r.exclude_reason.is_some()).count() as u64;
    if !fresh.is_empty() {
        // answers replace what was stored: a later answer always wins
        ctx.db()?.replace_metadata(site_name, &fresh).await?;
    }
    let mut merged: HashMap<String, ArticleRow> = cached;
    for row in fresh {
        merged.insert(row.external_id.clone(), row);
    }
    let catalog = merged
        .into_values()
        .map(|r| CatalogEntry {
            external_id: r.external_id,
            path: r.path.unwrap_or_default(),
            title: r.title,
            published_at: r.published_at,
            exclude_reason: r.exclude_reason,
        })
        .collect();
    Ok((catalog, counts))
}

/// What the pure part of preprocessing produces.
#[derive(Debug)]
pub struct Prepared {
    pub funnel: Funnel,
    /// Schema `parquet::DWELL`, sorted by reader, then article.
    pub dwell: DataFrame,
    /// The articles of the 2-core, by id, with the path most read.
    pub kept: Vec<ArticleKey>,
}

/// Pure preprocessing: article events, dwell, the 2-core and the funnel.
///
/// Readers and articles become integer codes in the order of their ids, so
/// the heavy steps (one sort, one scan, a few passes over pairs) touch 16
/// bytes an event and no strings; a page path is run through the site's rule
/// once, however many events it has.
///
/// # Errors
/// Polars errors (missing columns, wrong types); events without a reader, a
/// time or a path (fetch never writes one: the file is not fetch's).
pub fn transform(events: &DataFrame, site: &dyn Site, cap_secs: f64) -> PolarsResult<Prepared> {
    for name in [col::CLIENT_ID, col::ACTIVITY_TIME, col::PAGE_PATH] {
        let missing = events.column(name)?.null_count();
        if missing > 0 {
            polars_bail!(ComputeError: "{missing} events have no {name}; fetch writes none, so these events are not fetch's output");
        }
    }
    let clients = events.column(col::CLIENT_ID)?.str()?;
    let times = events.column(col::ACTIVITY_TIME)?.cast(&DataType::Int64)?;
    let times = times.i64()?;
    let paths = events.column(col::PAGE_PATH)?.str()?;

    // every distinct path once through the rule; readers and articles coded by first sight
    let mut path_slot: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    // per distinct path: (article code and canonical path, events on it)
    let mut slots: Vec<(Option<(u32, &str)>, u64)> = Vec::new();
    let mut article_code: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    let mut article_ids: Vec<&str> = Vec::new();
    let mut reader_code: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    let mut reader_ids: Vec<&str> = Vec::new();
    let mut rows: Vec<(u64, i64)> = Vec::with_capacity(events.height());
    for ((client, t), path) in clients.iter().zip(times.iter()).zip(paths.iter()) {
        let (Some(client), Some(t), Some(path)) = (client, t, path) else {
            continue; // none: refused above
        };
        let slot = *path_slot.entry(path).or_insert_with(|| {
            let article = site.article_of(path).map(|a| {
                let code = *article_code.entry(a.external_id).or_insert_with(|| {
                    article_ids.push(a.external_id);
                    (article_ids.len() - 1) as u32
                });
                (code, a.canonical_path)
            });
            slots.push((article, 0));
            (slots.len() - 1) as u32
        }) as usize;
        slots[slot].1 += 1;
        let Some((article, _)) = slots[slot].0 else {
            continue;
        };
        let reader = *reader_code.entry(client).or_insert_with(|| {
            reader_ids.push(client);
            (reader_ids.len() - 1) as u32
        });
        rows.push((dwell::pair_key(reader, article), t));
    }
    drop((path_slot, article_code, reader_code));

    // recode by id order, so pairs sort as their ids do
    let (reader_rank, reader_ids) = ranked(reader_ids);
    let (article_rank, article_ids) = ranked(article_ids);
    rows.par_iter_mut().for_each(|(key, _)| {
        let (r, a) = dwell::split_key(*key);
        *key = dwell::pair_key(reader_rank[r as usize], article_rank[a as usize]);
    });
    rows.par_sort_unstable();
    let article_events = rows.len() as u64;
    let cap_ms = (cap_secs * 1000.0).round() as i64;
    let pairs = dwell::dwell(&rows, cap_ms);
    drop(rows);

    let edges: Vec<(u32, u32)> = pairs.iter().map(|p| (p.reader, p.article)).collect();
    let core = kcore::filter(&edges, reader_ids.len(), article_ids.len(), 2);
    let kept_pairs: Vec<&dwell::PairDwell> = pairs
        .iter()
        .zip(&core.alive)
        .filter(|(_, &a)| a)
        .map(|(p, _)| p)
        .collect();

    let mut reader_kept = vec![false; reader_ids.len()];
    let mut article_kept = vec![false; article_ids.len()];
    for p in &kept_pairs {
        reader_kept[p.reader as usize] = true;
        article_kept[p.article as usize] = true;
    }
    let funnel = Funnel {
        events: events.height() as u64,
        article_events,
        readers_before_filter: reader_ids.len() as u64,
        articles_before_filter: article_ids.len() as u64,
        filter_passes: core.passes,
        readers: reader_kept.iter().filter(|&&k| k).count() as u64,
        articles: article_kept.iter().filter(|&&k| k).count() as u64,
        pairs: kept_pairs.len() as u64,
    };

    let n = kept_pairs.len();
    let first_seen: Vec<Option<i64>> = kept_pairs.iter().map(|p| Some(p.first_seen_ms)).collect();
    let last_seen: Vec<Option<i64>> = kept_pairs.iter().map(|p| Some(p.last_seen_ms)).collect();
    let dwell_df = DataFrame::new(
        n,
        vec![
            Column::new(
                col::CLIENT_ID.into(),
                kept_pairs
                    .iter()
                    .map(|p| reader_ids[p.reader as usize])
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::EXTERNAL_ID.into(),
                kept_pairs
                    .iter()
                    .map(|p| article_ids[p.article as usize])
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::DWELL_SECS.into(),
                kept_pairs
                    .iter()
                    .map(|p| p.dwell_ms as f64 / 1000.0)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                col::EVENTS.into(),
                kept_pairs.iter().map(|p| p.events).collect::<Vec<_>>(),
            ),
            Series::new(col::FIRST_SEEN.into(), first_seen)
                .cast(&crate::parquet::ColType::DatetimeMs.dtype())?
                .into(),
            Series::new(col::LAST_SEEN.into(), last_seen)
                .cast(&crate::parquet::ColType::DatetimeMs.dtype())?
                .into(),
        ],
    )?;

    // each kept article on the canonical path most of its events were on (ties:
    // the smaller path), so a renamed slug neither splits nor flips it
    let mut path_reads: foldhash::HashMap<(u32, &str), u64> = foldhash::HashMap::default();
    for &(article, reads) in &slots {
        if let Some((a, canonical)) = article {
            *path_reads
                .entry((article_rank[a as usize], canonical))
                .or_default() += reads;
        }
    }
    let mut best: Vec<Option<(u64, &str)>> = vec![None; article_ids.len()];
    for ((a, path), reads) in path_reads {
        let b = &mut best[a as usize];
        if b.is_none_or(|(n, p)| reads > n || (reads == n && path < p)) {
            *b = Some((reads, path));
        }
    }
    let kept = article_ids
        .iter()
        .enumerate()
        .filter(|&(a, _)| article_kept[a])
        .map(|(a, id)| ArticleKey {
            external_id: (*id).to_string(),
            path: best[a].map(|(_, p)| p.to_string()).unwrap_or_default(),
        })
        .collect();
    Ok(Prepared {
        funnel,
        dwell: dwell_df,
        kept,
    })
}

/// Ids in sorted order, and for each first-sight code its rank in that order.
fn ranked(ids: Vec<&str>) -> (Vec<u32>, Vec<&str>) {
    let mut order: Vec<u32> = (0..ids.len() as u32).collect();
    order.par_sort_unstable_by_key(|&i| ids[i as usize]);
    let mut rank = vec![0u32; ids.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let sorted = order.iter().map(|&i| ids[i as usize]).collect();
    (rank, sorted)
}

/// Real page pings of a news site (`shared/testdata/README.md`): the stage's
/// funnel and dwell against figures counted outside this code.
#[cfg(test)]
mod wcp {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::parquet::{date_column, datetime_ms_column, f64s, strs};
    use crate::snowplow::normalise_path;
    use crate::stage::MetadataCounts;
    use crate::stage::RunRef;

    const CSV: &str = include_str!("../../testdata/wcp-activities.csv");

    struct Ping<'a> {
        client_id: &'a str,
        time: DateTime<Utc>,
        path: &'a str,
    }

    fn pings() -> Vec<Ping<'static>> {
        CSV.lines()
            .skip(1)
            .enumerate()
            .map(|(i, line)| {
                // the file has no quoted fields: a plain split is the whole CSV grammar here
                let f: Vec<&str> = line.split(',').collect();
                assert_eq!(f.len(), 9, "line {}: {line}", i + 2);
                Ping {
                    client_id: f[0],
                    // two exports meet in this file: "2021-05-13 23:39:12.890000+00:00"
                    // and "2020-12-04T12:56:58.652750Z"
                    time: DateTime::parse_from_str(f[1], "%Y-%m-%d %H:%M:%S%.f%:z")
                        .or_else(|_| DateTime::parse_from_rfc3339(f[1]))
                        .unwrap_or_else(|e| panic!("line {}: {e}", i + 2))
                        .with_timezone(&Utc),
                    path: f[3],
                }
            })
            .collect()
    }

    /// The events as fetch writes them: normalised paths, event ids.
    #[test]
    fn events_without_a_reader_are_refused_not_skipped() {
        let key = crate::layout::ObjectKey::from_listing("x").unwrap();
        let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let pings: Vec<Ping<'_>> = ["r1", "r2"]
            .into_iter()
            .map(|client_id| Ping {
                client_id,
                time: at(0),
                path: "/article/1/a",
            })
            .collect();
        let mut frame = events_frame(&pings, &key);
        frame
            .replace(
                col::CLIENT_ID,
                Column::new(col::CLIENT_ID.into(), [Some("r1"), None]),
            )
            .unwrap();
        let err = transform(&frame, &crate::site::StaticCatalog::default(), 600.0)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("1 events have no client_id"), "{err}");
    }

    fn events_frame(pings: &[Ping<'_>], key: &crate::layout::ObjectKey) -> DataFrame {
        let times: Vec<Option<i64>> = pings.iter().map(|p| Some(p.time.timestamp_millis())).collect();
        let days: Vec<i32> = pings
            .iter()
            .map(|p| p.time.timestamp_millis().div_euclid(86_400_000) as i32)
            .collect();
        let paths: Vec<String> = pings
            .iter()
            .map(|p| normalise_path(p.path).into_owned())
            .collect();
        let ids: Vec<String> = (0..pings.len()).map(|i| format!("wcp-{i}")).collect();
        let cols = vec![
            Column::new(
                col::CLIENT_ID.into(),
                pings.iter().map(|p| p.client_id).collect::<Vec<_>>(),
            ),
            datetime_ms_column(col::ACTIVITY_TIME, times, key).unwrap(),
            date_column(col::SESSION_DATE, days, key).unwrap(),
            Column::new(col::PAGE_PATH.into(), paths),
            Column::new(col::EVENT_NAME.into(), vec!["page_ping"; pings.len()]),
            Column::new(col::EVENT_ID.into(), ids),
        ];
        DataFrame::new(pings.len(), cols).unwrap()
    }

    /// The site's article rule, written out again without the code under test:
    /// `/article/<digits>/...`, optionally behind the AMP viewer's `/v/s/<host>`.
    fn article_id(path: &str) -> Option<&str> {
        let path = match path.strip_prefix("/v/s/") {
            Some(rest) => &rest[rest.find('/')?..],
            None => path,
        };
        let id = path.strip_prefix("/article/")?.split(['/', '?']).next()?;
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
    }

    /// Readers, articles and pairs of the 2-core, by repeated peeling over sets.
    fn two_core(mut pairs: BTreeSet<(String, String)>) -> (BTreeSet<(String, String)>, u32) {
        let mut passes = 0;
        loop {
            passes += 1;
            let degree = |pairs: &BTreeSet<(String, String)>, reader: bool| {
                let mut d: HashMap<String, usize> = HashMap::new();
                for (r, a) in pairs {
                    *d.entry(if reader { r.clone() } else { a.clone() }).or_default() += 1;
                }
                d
            };
            let by_reader = degree(&pairs, true);
            let next: BTreeSet<_> = pairs.iter().filter(|(r, _)| by_reader[r] >= 2).cloned().collect();
            let by_article = degree(&next, false);
            let next: BTreeSet<_> = next.into_iter().filter(|(_, a)| by_article[a] >= 2).collect();
            if next == pairs {
                return (pairs, passes);
            }
            pairs = next;
        }
    }

    #[test]
    fn the_site_rule_on_real_paths() {
        // AMP viewer and web paths of one story are one article
        let amp = "/v/s/washingtoncitypaper.com/article/503532/at-a-rakes-progress-former-staff-members-allege-discrimination-verbal-attacks/";
        let web = crate::site::article_of(
            "/article/503532/at-a-rakes-progress-former-staff-members-allege-discrimination-verbal-attacks",
        )
        .unwrap();
        let amp = normalise_path(amp);
        let via_amp = crate::site::article_of(&amp).unwrap();
        assert_eq!(
            (via_amp.external_id, via_amp.canonical_path),
            (web.external_id, web.canonical_path)
        );
        // home page, section fronts, the AMP viewer's home, non-numeric "articles"
        for not_article in [
            "/",
            "/food/",
            "/city-desk/",
            "/v/s/washingtoncitypaper.com/",
            "/article/emailnewsletter/d-c-calls-for-pause-in-use-of-jj-vaccine/",
        ] {
            assert!(
                crate::site::article_of(&normalise_path(not_article)).is_none(),
                "{not_article}"
            );
        }
        // a query string does not change the article
        let q = "/article/503294/everyone-is-suddenly-a-home-cook-bold-fork-books-is-here-to-help/?fbclid=IwAR2hNL";
        let q = normalise_path(q);
        let a = crate::site::article_of(&q).unwrap();
        assert_eq!(a.external_id, "503294");
        assert_eq!(
            a.canonical_path,
            "/article/503294/everyone-is-suddenly-a-home-cook-bold-fork-books-is-here-to-help"
        );
    }

    #[tokio::test]
    async fn preprocess_on_real_page_pings() {
        let pings = pings();
        assert_eq!(pings.len(), 937);

        // the expected figures, counted here without the stage's code...
        let mut by_pair: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
        for p in &pings {
            if let Some(id) = article_id(p.path) {
                by_pair
                    .entry((p.client_id.to_string(), id.to_string()))
                    .or_default()
                    .push(p.time.timestamp_millis());
            }
        }
        let on_articles: usize = by_pair.values().map(Vec::len).sum();
        let pairs: BTreeSet<_> = by_pair.keys().cloned().collect();
        let readers = |s: &BTreeSet<(String, String)>| s.iter().map(|p| &p.0).collect::<BTreeSet<_>>().len();
        let articles = |s: &BTreeSet<(String, String)>| s.iter().map(|p| &p.1).collect::<BTreeSet<_>>().len();
        let (core, passes) = two_core(pairs.clone());
        // ...agree with the ones counted in Python (testdata/README.md)
        assert_eq!(
            (on_articles, pairs.len(), readers(&pairs), articles(&pairs)),
            (722, 264, 238, 131)
        );
        assert_eq!(
            (core.len(), readers(&core), articles(&core), passes),
            (9, 4, 3, 4)
        );

        // the stage, end to end through the store
        let dir = tempfile::tempdir().unwrap();
        let mut settings = crate::settings::Settings::local(dir.path());
        settings.site = "wcp".into();
        let ctx = Context::from_settings(settings).await.unwrap();
        let run = RunRef {
            site: "wcp".into(),
            run_id: "real-data".into(),
            as_of: "2021-05-14T00:00:00Z".parse().unwrap(),
        };
        let layout = RunLayout::new(&run).unwrap();
        let events = events_frame(&pings, &layout.events());
        parquet::write(ctx.store.as_ref(), &layout.events(), &EVENTS, &events)
            .await
            .unwrap();
        let out = run_stage(PreprocessInput { run }, &ctx).await.unwrap();
        assert_eq!(
            out.funnel,
            Funnel {
                events: 937,
                article_events: on_articles as u64,
                readers_before_filter: readers(&pairs) as u64,
                articles_before_filter: articles(&pairs) as u64,
                filter_passes: passes,
                readers: readers(&core) as u64,
                articles: articles(&core) as u64,
                pairs: core.len() as u64,
            }
        );

        let articles_df = parquet::read(ctx.store.as_ref(), &layout.articles(), &ARTICLES)
            .await
            .unwrap();
        let ids: Vec<&str> = strs(&articles_df, col::EXTERNAL_ID)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(ids, ["516542", "516627", "516670"]);

        // dwell: gaps between a reader's consecutive events on an article, over 600 s dropped
        let dwell_df = parquet::read(ctx.store.as_ref(), &layout.dwell(), &DWELL)
            .await
            .unwrap();
        let got: BTreeMap<(String, String), f64> = strs(&dwell_df, col::CLIENT_ID)
            .unwrap()
            .into_iter()
            .zip(strs(&dwell_df, col::EXTERNAL_ID).unwrap())
            .zip(f64s(&dwell_df, col::DWELL_SECS).unwrap())
            .map(|((r, a), d)| ((r.unwrap().to_string(), a.unwrap().to_string()), d.unwrap()))
            .collect();
        let want: BTreeMap<(String, String), f64> = core
            .iter()
            .map(|pair| {
                let mut t = by_pair[pair].clone();
                t.sort_unstable();
                let secs: i64 = t.windows(2).map(|w| w[1] - w[0]).filter(|&g| g <= 600_000).sum();
                (pair.clone(), secs as f64 / 1000.0)
            })
            .collect();
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
        for (pair, secs) in &want {
            assert!(
                (got[pair] - secs).abs() < 1e-9,
                "{pair:?}: {} vs {secs}",
                got[pair]
            );
        }
        let total: f64 = got.values().sum();
        assert!(
            (total - 555.496).abs() < 1e-6,
            "total dwell {total} s (Python: 555.496 s)"
        );
    }

    use super::run as run_stage;

    async fn wcp_context(dir: &std::path::Path, wordpress: Option<&str>) -> (Context, RunLayout, RunRef) {
        let mut settings = crate::settings::Settings::local(dir);
        settings.site = "wcp".into();
        settings.wordpress.url = wordpress.map(str::to_string);
        settings.wordpress.requests_per_sec = 1000.0;
        let ctx = Context::from_settings(settings).await.unwrap();
        let run = RunRef {
            site: "wcp".into(),
            run_id: "first".into(),
            as_of: "2021-05-14T00:00:00Z".parse().unwrap(),
        };
        let layout = RunLayout::new(&run).unwrap();
        let events = events_frame(&pings(), &layout.events());
        parquet::write(ctx.store.as_ref(), &layout.events(), &EVENTS, &events)
            .await
            .unwrap();
        (ctx, layout, run)
    }

    #[tokio::test]
    async fn metadata_comes_from_wordpress_once_settled() {
        let wp = crate::site::fake::FakeWordPress::start().await;
        let dir = tempfile::tempdir().unwrap();
        let (ctx, layout, run) = wcp_context(dir.path(), Some(&wp.url)).await;
        let first = run_stage(PreprocessInput { run: run.clone() }, &ctx)
            .await
            .unwrap();
        assert_eq!(
            first.metadata,
            MetadataCounts {
                cached: 0,
                looked_up: 3,
                found: 3,
                unknown: 0,
                excluded: 0,
                failed: 0
            }
        );
        let articles = parquet::read(ctx.store.as_ref(), &layout.articles(), &ARTICLES)
            .await
            .unwrap();
        let titles: Vec<&str> = strs(&articles, col::TITLE)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(
            titles,
            [
                "At A Rake\u{2019}s Progress, Former Staff Members Allege Discrimination",
                "Crazy Aunt Helen\u{2019}s Is Capitol Hill\u{2019}s New Destination for Comfort Food",
                "D.C. Council Weighs School Budgets & Recovery Funds",
            ]
        );
        let published = crate::parquet::i64s(&articles, col::PUBLISHED_AT).unwrap();
        assert_eq!(
            published[1].and_then(DateTime::from_timestamp_millis),
            Some("2021-05-12T18:09:09Z".parse().unwrap())
        );
        assert_eq!(wp.hits("list"), 1, "three ids, one page");

        // the next run asks only for the story published within the last day (516670)
        let second = RunRef {
            run_id: "second".into(),
            ..run
        };
        let second_layout = RunLayout::new(&second).unwrap();
        let events = parquet::read(ctx.store.as_ref(), &layout.events(), &EVENTS)
            .await
            .unwrap();
        parquet::write(ctx.store.as_ref(), &second_layout.events(), &EVENTS, &events)
            .await
            .unwrap();
        let again = run_stage(PreprocessInput { run: second }, &ctx).await.unwrap();
        assert_eq!(
            again.metadata,
            MetadataCounts {
                cached: 2,
                looked_up: 1,
                found: 1,
                unknown: 0,
                excluded: 0,
                failed: 0
            }
        );
        assert_eq!(wp.hits("list"), 2);
        let again_articles = parquet::read(ctx.store.as_ref(), &second_layout.articles(), &ARTICLES)
            .await
            .unwrap();
        assert!(
            again_articles.equals_missing(&articles),
            "cached metadata is the same metadata"
        );
    }

    /// A site behind a firewall that blocks the job: no article is excluded
    /// (a 403 is not an answer), and the next run's successful lookups
    /// replace what is stored, an earlier exclusion included.
    #[tokio::test]
    async fn a_blocked_wordpress_excludes_nothing_and_a_later_answer_replaces_stale_metadata() {
        let wp = crate::site::fake::FakeWordPress::start().await;
        let dir = tempfile::tempdir().unwrap();
        let (ctx, layout, run) = wcp_context(dir.path(), Some(&wp.url)).await;
        // an exclusion a broken earlier version of the job stored
        ctx.db()
            .unwrap()
            .replace_metadata(
                "wcp",
                &[ArticleRow {
                    external_id: "516627".into(),
                    title: None,
                    path: Some("/article/516627/x".into()),
                    published_at: None,
                    exclude_reason: Some("no public WordPress post (HTTP 403)".into()),
                }],
            )
            .await
            .unwrap();
        wp.block(true);
        let blocked = run_stage(PreprocessInput { run: run.clone() }, &ctx)
            .await
            .unwrap();
        assert_eq!(
            (blocked.metadata.failed, blocked.metadata.excluded),
            (3, 0),
            "{:?}",
            blocked.metadata
        );
        let stored = ctx
            .db()
            .unwrap()
            .articles("wcp", &["503532".into()])
            .await
            .unwrap();
        assert!(stored.is_empty(), "a failed lookup stores nothing: {stored:?}");

        wp.block(false);
        let second = RunRef {
            run_id: "second".into(),
            ..run
        };
        let second_layout = RunLayout::new(&second).unwrap();
        let events = parquet::read(ctx.store.as_ref(), &layout.events(), &EVENTS)
            .await
            .unwrap();
        parquet::write(ctx.store.as_ref(), &second_layout.events(), &EVENTS, &events)
            .await
            .unwrap();
        let answered = run_stage(PreprocessInput { run: second }, &ctx).await.unwrap();
        assert_eq!(
            (answered.metadata.found, answered.metadata.excluded),
            (3, 0),
            "{:?}",
            answered.metadata
        );
        let stored = ctx
            .db()
            .unwrap()
            .articles("wcp", &["516627".into()])
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(
            stored[0].exclude_reason, None,
            "the answer replaced the stale exclusion"
        );
        assert!(stored[0].title.is_some());
    }

    #[tokio::test]
    async fn without_an_api_the_articles_go_on_without_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, layout, run) = wcp_context(dir.path(), None).await;
        let out = run_stage(PreprocessInput { run }, &ctx).await.unwrap();
        assert_eq!(
            out.metadata,
            MetadataCounts {
                cached: 0,
                looked_up: 3,
                found: 0,
                unknown: 3,
                excluded: 0,
                failed: 0
            }
        );
        let articles = parquet::read(ctx.store.as_ref(), &layout.articles(), &ARTICLES)
            .await
            .unwrap();
        assert_eq!(articles.column(col::TITLE).unwrap().null_count(), 3);
        let paths: Vec<&str> = strs(&articles, col::PATH)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert!(paths.iter().all(|p| p.starts_with("/article/5")), "{paths:?}");
    }

    #[test]
    fn each_article_keeps_its_most_read_canonical_path() {
        let at = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let ping = |client, s, path| Ping {
            client_id: client,
            time: at(s),
            path,
        };
        let pings = [
            ping("r1", 0, "/article/1/old-slug"),
            ping("r1", 10, "/article/1/new-slug"),
            ping("r2", 0, "/v/s/host.example/article/1/new-slug"),
            ping("r1", 20, "/article/2/b"),
            ping("r2", 20, "/article/2/a"),
            ping("r2", 30, "/"),
        ];
        let key = crate::layout::ObjectKey::from_listing("x").unwrap();
        let p = transform(
            &events_frame(&pings, &key),
            &crate::site::StaticCatalog::default(),
            600.0,
        )
        .unwrap();
        let kept: Vec<(&str, &str)> = p
            .kept
            .iter()
            .map(|k| (k.external_id.as_str(), k.path.as_str()))
            .collect();
        // AMP reads count for the web path; a tie goes to the smaller path
        assert_eq!(kept, [("1", "/article/1/new-slug"), ("2", "/article/2/a")]);
        assert_eq!(
            (p.funnel.events, p.funnel.article_events, p.funnel.pairs),
            (6, 5, 4)
        );
        let readers: Vec<&str> = strs(&p.dwell, col::CLIENT_ID)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(
            readers,
            ["r1", "r1", "r2", "r2"],
            "sorted by reader, then article"
        );
        assert_eq!(f64s(&p.dwell, col::DWELL_SECS).unwrap()[0], Some(10.0));
    }

    #[test]
    fn the_refresh_rule() {
        let as_of: DateTime<Utc> = "2026-11-23T12:00:00Z".parse().unwrap();
        let row = |published: Option<&str>| ArticleRow {
            external_id: "1".into(),
            title: None,
            path: None,
            published_at: published.map(|p| p.parse().unwrap()),
            exclude_reason: None,
        };
        assert!(needs_refresh(None, as_of), "never looked up");
        assert!(needs_refresh(Some(&row(None)), as_of), "no publish time yet");
        assert!(
            needs_refresh(Some(&row(Some("2026-11-23T01:00:00Z"))), as_of),
            "published today"
        );
        assert!(
            !needs_refresh(Some(&row(Some("2026-11-22T11:59:59Z"))), as_of),
            "settled"
        );
    }
}
