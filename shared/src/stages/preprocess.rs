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

/// Real page pings of a news site (`shared/testdata/README.md`): the stage's
/// funnel and dwell against figures counted outside this code.
#[cfg(test)]
mod wcp {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::parquet::{date_column, datetime_ms_column, f64s, strs};
    use crate::snowplow::normalise_path;
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
    fn events_frame(pings: &[Ping<'_>], key: &crate::layout::ObjectKey) -> DataFrame {
        let times: Vec<Option<i64>> = pings.iter().map(|p| Some(p.time.timestamp_millis())).collect();
        let days: Vec<i32> = pings
            .iter()
            .map(|p| p.time.timestamp_millis().div_euclid(86_400_000) as i32)
            .collect();
        let paths: Vec<String> = pings.iter().map(|p| normalise_path(p.path)).collect();
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
            Column::new(col::EVENT_FINGERPRINT.into(), vec![None::<&str>; pings.len()]),
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
}
