//! Preprocessing's pure part after the merge: readers and articles in id
//! order, the 2-core, the funnel, the dwell table and each kept article's
//! path.

use rayon::prelude::*;

use crate::adapters::parquet::DwellColumns;
use crate::contract::error::Result;
use crate::contract::layout::ObjectKey;
use crate::contract::site::ArticleKey;
use crate::contract::stage::Funnel;
use crate::stages::preprocess::dwell::PairDwell;
use crate::stages::preprocess::kcore;
use crate::stages::preprocess::merge::Merged;

/// What the pure part of preprocessing produces.
#[derive(Debug)]
pub struct Prepared {
    pub funnel: Funnel,
    /// Schema `DWELL`, sorted by reader, then article.
    pub dwell: polars::prelude::DataFrame,
    /// The articles of the 2-core, by id, with the path most read.
    pub kept: Vec<ArticleKey>,
}

/// The 2-core of the window's reading and the funnel. Readers and articles
/// are renumbered in the order of their ids, so the same window always
/// gives the same table; `events` is the window's page events (fetch's
/// kept count).
///
/// # Errors
/// `Schema` errors (never: the columns are built alike).
pub fn transform(merged: Merged, events: u64, dwell_key: &ObjectKey) -> Result<Prepared> {
    let Merged {
        readers,
        articles,
        pairs,
        path_reads,
        article_events,
    } = merged;
    let reader_ids: Vec<&str> = readers.iter().map(AsRef::as_ref).collect();
    let article_ids: Vec<&str> = articles.iter().map(AsRef::as_ref).collect();
    // recode by id order, so pairs sort as their ids do
    let (reader_rank, reader_ids) = ranked(reader_ids);
    let (article_rank, article_ids) = ranked(article_ids);
    let mut pairs: Vec<PairDwell> = pairs
        .into_par_iter()
        .map(|p| PairDwell {
            reader: reader_rank[p.reader as usize],
            article: article_rank[p.article as usize],
            ..p
        })
        .collect();
    pairs.par_sort_unstable_by_key(|p| (p.reader, p.article));

    let edges: Vec<(u32, u32)> = pairs.iter().map(|p| (p.reader, p.article)).collect();
    let core = kcore::filter(&edges, reader_ids.len(), article_ids.len(), 2);
    drop(edges);
    let kept_pairs: Vec<&PairDwell> = pairs
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
        events,
        article_events,
        readers_before_filter: reader_ids.len() as u64,
        articles_before_filter: article_ids.len() as u64,
        filter_passes: core.passes,
        readers: reader_kept.iter().filter(|&&k| k).count() as u64,
        articles: article_kept.iter().filter(|&&k| k).count() as u64,
        pairs: kept_pairs.len() as u64,
    };

    let dwell = DwellColumns {
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
    .frame(dwell_key)?;

    // each kept article on the canonical path most of its events were on (ties:
    // the smaller path), so a renamed slug neither splits nor flips it
    let mut best: Vec<Option<(u64, &str)>> = vec![None; article_ids.len()];
    for (a, path, reads) in &path_reads {
        let b = &mut best[article_rank[*a as usize] as usize];
        if b.is_none_or(|(n, p)| *reads > n || (*reads == n && path.as_ref() < p)) {
            *b = Some((*reads, path.as_ref()));
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
    Ok(Prepared { funnel, dwell, kept })
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
