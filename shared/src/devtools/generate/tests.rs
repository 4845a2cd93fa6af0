//! The generator's known answers: same seed, same data; every line what the
//! truth says; hours handed out in time; reads after publication; links
//! followed; the widget clicked more when it serves related stories.

use super::world::{World, RELATED_LINKS};
use super::*;
use crate::stages::fetch::snowplow::fields::{FIELDS, FIELD_COUNT};
use crate::stages::fetch::snowplow::{parse_line, Parsed};

fn small() -> Spec {
    let mut s = Spec::sample("site", "2026-01-10T00:00:00Z".parse().unwrap(), 3, 7);
    s.readers = 200;
    s.articles = 40;
    s
}

#[test]
fn same_seed_same_data() {
    let input = InputLayout::new("in").unwrap();
    let a = generate(&small(), &input).unwrap();
    let b = generate(&small(), &input).unwrap();
    assert_eq!(a.hours, b.hours);
    let mut other = small();
    other.seed = 8;
    assert_ne!(generate(&other, &input).unwrap().hours, a.hours);
}

#[test]
fn an_app_id_that_cannot_name_an_object_is_refused_before_any_write() {
    let mut spec = small();
    spec.app_id = "../../outside".into();
    let err = generate(&spec, &InputLayout::new("in").unwrap()).err().unwrap();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("object name"), "{err}");
}

#[test]
fn every_line_is_what_the_truth_says() {
    let g = generate(&small(), &InputLayout::new("in").unwrap()).unwrap();
    let mut keep = 0u64;
    let mut bad = 0u64;
    let mut lines = 0u64;
    for lines_of_hour in g.hours.values() {
        for l in lines_of_hour {
            lines += 1;
            match parse_line(l, "site") {
                Ok(Parsed::Keep(_)) => keep += 1,
                Ok(Parsed::Skip(_) | Parsed::Widget(_)) => {}
                Err(_) => bad += 1,
            }
        }
    }
    assert_eq!(lines, g.truth.lines);
    assert_eq!(bad, g.truth.malformed.len() as u64);
    assert_eq!(bad, 20);
    assert_eq!(keep, g.truth.valid_events + g.truth.duplicates);
    assert!(g.truth.bot_events > 0 && g.truth.other_app_events > 0);
    assert!(g.truth.non_page_events > 0);
}

#[test]
fn an_hour_is_handed_out_once_no_session_can_reach_it() {
    let mut spec = small();
    spec.days = 7;
    let input = InputLayout::new("in").unwrap();
    let mut s = stream(&spec, &input).unwrap();
    let (mut largest, mut hours, mut last) = (0, 0, None);
    while let Some(h) = s.next_hour().unwrap() {
        assert!(last < Some(h.hour), "hours in order, each once");
        last = Some(h.hour);
        largest = largest.max(h.lines.len());
        hours += 1;
    }
    assert!(hours > 24 * 6, "{hours} hours");
    // a session spans at most a few hours: what is held is a few hours'
    // lines, not the week's
    assert!(
        s.peak_open_lines() <= 4 * largest,
        "held {} lines at once, the largest hour has {largest}",
        s.peak_open_lines()
    );
    let truth = s.truth();
    assert_eq!(truth.duplicates, spec.duplicates as u64);
    assert_eq!(truth.malformed.len(), 4 * spec.malformed_per_kind);
}

/// Article index of a story's page path (AMP viewer paths included).
fn story(path: &str) -> Option<usize> {
    let id: usize = path.split("/article/").nth(1)?.split('/').next()?.parse().ok()?;
    id.checked_sub(100_000)
}

/// Every session's story reads (time, catalogue index) in time order, and
/// the world's related links and publication times.
#[allow(clippy::type_complexity)]
fn story_reads(spec: &Spec) -> (Vec<Vec<(i64, usize)>>, Vec<Vec<usize>>, Vec<i64>) {
    let input = InputLayout::new("in").unwrap();
    let mut s = stream(spec, &input).unwrap();
    let related = s.world.related.clone();
    let published = s.world.published_ms.clone();
    let mut sessions: BTreeMap<String, Vec<(i64, usize)>> = BTreeMap::new();
    let col = |n: &str| FIELDS.iter().position(|f| *f == n).unwrap();
    let (event, sid, path, t) = (
        col("event"),
        col("domain_sessionid"),
        col("page_urlpath"),
        col("dvce_created_tstamp"),
    );
    while let Some(h) = s.next_hour().unwrap() {
        for l in &h.lines {
            let v: Vec<&str> = l.split('\t').collect();
            if v.len() != FIELD_COUNT || v[event] != "page_view" {
                continue;
            }
            if let Some(a) = story(v[path]) {
                sessions.entry(v[sid].to_string()).or_default().push((
                    chrono::NaiveDateTime::parse_from_str(v[t], "%Y-%m-%d %H:%M:%S%.3f")
                        .map(|d| d.and_utc().timestamp_millis())
                        .unwrap_or(0),
                    a,
                ));
            }
        }
    }
    let mut sessions: Vec<Vec<(i64, usize)>> = sessions.into_values().collect();
    for reads_of in &mut sessions {
        reads_of.sort_unstable();
    }
    (sessions, related, published)
}

/// Early in a long window most of the catalogue is not out yet: a
/// reader whose draws all miss still opens a story that is out.
#[test]
fn no_story_is_read_before_it_is_published_even_early_in_a_long_window() {
    let mut spec = Spec::sample("site", "2026-01-29T00:00:00Z".parse().unwrap(), 28, 7);
    spec.readers = 150;
    spec.articles = 60;
    let (sessions, _, published) = story_reads(&spec);
    let reads: Vec<&(i64, usize)> = sessions.iter().flatten().collect();
    let early = reads
        .iter()
        .filter(|(t, _)| *t < spec.end.timestamp_millis() - 21 * 86_400_000)
        .count();
    assert!(early > 100, "{early} reads in the first week");
    let unpublished: Vec<_> = reads.iter().filter(|(t, a)| *t < published[*a]).collect();
    assert!(
        unpublished.is_empty(),
        "{} of {} reads before publication, e.g. {:?}",
        unpublished.len(),
        reads.len(),
        unpublished.first()
    );
}

#[test]
fn readers_follow_related_links_so_the_order_of_reads_carries_signal() {
    let spec = small();
    let (mut sessions, related, published) = story_reads(&spec);
    let (mut followed, mut pairs, mut reads, mut unpublished) = (0, 0, 0, 0);
    for reads_of in &mut sessions {
        reads += reads_of.len();
        unpublished += reads_of.iter().filter(|(t, a)| *t < published[*a]).count();
        for w in reads_of.windows(2) {
            pairs += 1;
            followed += usize::from(related[w[0].1].contains(&w[1].1));
        }
    }
    assert!(pairs > 500, "{pairs} consecutive reads");
    // by chance a next read is linked as often as links are among stories
    let chance = related.iter().map(Vec::len).sum::<usize>() as f64 / (related.len() * related.len()) as f64;
    let share = followed as f64 / pairs as f64;
    assert!(
        share > 2.5 * chance,
        "{followed} of {pairs} next reads follow a related link (chance {chance:.3})"
    );
    assert_eq!(
        unpublished, 0,
        "{unpublished} of {reads} reads before publication"
    );
    for (a, links) in related.iter().enumerate() {
        assert!(
            links.len() <= RELATED_LINKS && !links.contains(&a),
            "story {a}: {links:?}"
        );
    }
    // only a topic's first story can lack earlier coverage
    let unlinked = related.iter().filter(|l| l.is_empty()).count();
    assert!(unlinked <= spec.clusters, "{unlinked} stories without links");
}

/// Views and clicks of the simulated widget when it serves `lists`
/// (story index -> stories), from the start.
fn widget_ctr(lists: impl Fn(&World, usize) -> Vec<usize>) -> (u64, u64, Generated) {
    let spec = small();
    let input = InputLayout::new("in").unwrap();
    let mut s = stream(&spec, &input).unwrap();
    let served = Served {
        article_model_id: Some(7),
        lists: (0..s.world.catalog.len())
            .map(|a| {
                let list = lists(&s.world, a)
                    .into_iter()
                    .map(|b| s.world.catalog[b].external_id.clone());
                (s.world.catalog[a].external_id.clone(), list.collect())
            })
            .collect(),
        defaults_model_id: Some(8),
        defaults: Vec::new(),
        defaults_share: 0.0,
    };
    s.serve(served);
    let mut hours = BTreeMap::new();
    while let Some(h) = s.next_hour().unwrap() {
        hours.insert(h.hour, h.lines);
    }
    let catalog = s.catalog().to_vec();
    let truth = s.truth();
    let (events, clicks) = (truth.widget_events, truth.widget_clicks);
    (
        events - clicks,
        clicks,
        Generated {
            app_id: spec.app_id.clone(),
            hours,
            catalog,
            truth,
        },
    )
}

#[test]
fn the_simulated_widget_is_clicked_more_when_it_serves_related_stories() {
    let (good_views, good_clicks, g) = widget_ctr(|w, a| {
        let mut l = w.related[a].clone();
        l.extend(
            w.by_cluster[w.topic[a]]
                .iter()
                .copied()
                .filter(|&b| b != a)
                .take(4),
        );
        l
    });
    let (bad_views, bad_clicks, _) = widget_ctr(|w, a| {
        let other = (w.topic[a] + 1) % w.by_cluster.len();
        w.by_cluster[other].iter().copied().take(8).collect()
    });
    assert!(
        good_views > 200 && bad_views > 200,
        "{good_views} {bad_views} views"
    );
    let (good, bad) = (
        good_clicks as f64 / good_views as f64,
        bad_clicks as f64 / bad_views as f64,
    );
    assert!(good > 2.0 * bad, "CTR {good:.3} against {bad:.3}");
    // the lines are the real format: fetch reads every one of them
    let schemas = crate::settings::WidgetSchemas::default();
    let (mut widget, mut clicks, mut bad_rows) = (0u64, 0u64, 0u64);
    for lines in g.hours.values() {
        for l in lines {
            let split = crate::stages::fetch::snowplow::tsv::Line::first(
                l.as_bytes(),
                &crate::stages::fetch::snowplow::READ,
            );
            match crate::stages::fetch::snowplow::parse_with(&split, "site", Some(&schemas)) {
                Ok(Parsed::Widget(w)) => {
                    widget += 1;
                    clicks +=
                        u64::from(w.action.step == crate::stages::fetch::snowplow::widget::WidgetStep::Click);
                    assert_eq!(w.action.model_id, "7");
                }
                Ok(_) => {}
                Err(_) => bad_rows += 1,
            }
        }
    }
    assert_eq!((widget, clicks), (g.truth.widget_events, g.truth.widget_clicks));
    assert_eq!(bad_rows, g.truth.malformed.len() as u64);
}

/// Sessions are played side by side: the data is the same on one thread or many.
#[test]
fn the_same_seed_writes_the_same_data_on_one_thread_or_many() {
    let input = InputLayout::new("enriched/good").unwrap();
    let spec = small();
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| generate(&spec, &input).unwrap())
    };
    let (one, four) = (on(1), on(4));
    assert!(!one.hours.is_empty());
    assert_eq!(one.hours, four.hours);
    assert_eq!(one.truth.lines, four.truth.lines);
    assert_eq!(one.truth.valid_events, four.truth.valid_events);
}
