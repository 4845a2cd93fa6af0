//! Preprocessing's pure part: article events, dwell, the 2-core and the funnel.

use rayon::prelude::*;

use crate::contract::error::{Error, Result};
use crate::contract::layout::ObjectKey;
use crate::contract::parquet::{col, DwellColumns, Table};
use crate::contract::site::{ArticleKey, Site};
use crate::contract::stage::Funnel;
use crate::preprocess::{dwell, kcore};

/// What the pure part of preprocessing produces.
#[derive(Debug)]
pub struct Prepared {
    pub funnel: Funnel,
    /// Schema `parquet::DWELL`, sorted by reader, then article.
    pub dwell: Table,
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
/// `dwell_key` names the dwell table in errors.
///
/// # Errors
/// `Schema` errors (missing columns, wrong types); events without a reader,
/// a time or a path (fetch never writes one: the file is not fetch's).
pub fn transform(events: &Table, site: &dyn Site, cap_secs: f64, dwell_key: &ObjectKey) -> Result<Prepared> {
    for name in [col::CLIENT_ID, col::ACTIVITY_TIME, col::PAGE_PATH] {
        let missing = events.null_count(name)?;
        if missing > 0 {
            return Err(Error::Schema {
                key: events.key().to_string(),
                expected: format!("events each with a {name}"),
                found: format!(
                    "{missing} events have no {name}; fetch writes none, so these events are not fetch's output"
                ),
            });
        }
    }
    let clients = events.strs_iter(col::CLIENT_ID)?;
    let times = events.times_iter(col::ACTIVITY_TIME)?;
    let paths = events.strs_iter(col::PAGE_PATH)?;

    // every distinct path once through the rule; readers and articles coded by first sight
    let mut path_slot: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    // per distinct path: (article code and canonical path, events on it)
    let mut slots: Vec<(Option<(u32, &str)>, u64)> = Vec::new();
    let mut article_code: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    let mut article_ids: Vec<&str> = Vec::new();
    let mut reader_code: foldhash::HashMap<&str, u32> = foldhash::HashMap::default();
    let mut reader_ids: Vec<&str> = Vec::new();
    let mut rows: Vec<(u64, i64)> = Vec::with_capacity(events.len());
    for ((client, t), path) in clients.zip(times).zip(paths) {
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
        events: events.len() as u64,
        article_events,
        readers_before_filter: reader_ids.len() as u64,
        articles_before_filter: article_ids.len() as u64,
        filter_passes: core.passes,
        readers: reader_kept.iter().filter(|&&k| k).count() as u64,
        articles: article_kept.iter().filter(|&&k| k).count() as u64,
        pairs: kept_pairs.len() as u64,
    };

    let dwell_df = DwellColumns {
        client_id: kept_pairs.iter().map(|p| reader_ids[p.reader as usize]).collect(),
        external_id: kept_pairs
            .iter()
            .map(|p| article_ids[p.article as usize])
            .collect(),
        dwell_secs: kept_pairs.iter().map(|p| p.dwell_ms as f64 / 1000.0).collect(),
        events: kept_pairs.iter().map(|p| p.events).collect(),
        first_seen_ms: kept_pairs.iter().map(|p| p.first_seen_ms).collect(),
        last_seen_ms: kept_pairs.iter().map(|p| p.last_seen_ms).collect(),
    }
    .table(dwell_key)?;

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
