//! Realistic synthetic Snowplow enriched events, seeded: many readers with a home
//! topic, Zipf-like article popularity within topics, page views followed by page
//! pings every 10 to 30 s, AMP readers (some on AMP viewer paths), bots, other
//! apps' and non-page events, duplicates and malformed lines. Written as the
//! Snowplow S3 loader writes: one folder per hour of gzipped TSV.
//!
//! [`Truth`] says what a correct fetch must find, so tests can check it.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use chrono::{DateTime, Duration, DurationRound, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::contract::error::{Error, Result};
use crate::contract::layout::{InputLayout, ObjectKey};
use crate::contract::site::CatalogEntry;
use crate::contract::storage::BlobStore;
use crate::fetch::snowplow::fields::{FIELDS, FIELD_COUNT};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub app_id: String,
    pub host: String,
    /// Events fall in `[end - days, end)`.
    pub end: DateTime<Utc>,
    pub days: u32,
    pub readers: usize,
    pub articles: usize,
    /// Topics; each reader prefers one, each article belongs to one.
    pub clusters: usize,
    /// Mean sessions per reader over the window.
    pub sessions_per_reader: f64,
    pub amp_fraction: f64,
    pub bots: usize,
    /// Lines of each malformed kind (field count, timestamp, JSON).
    pub malformed_per_kind: usize,
    pub duplicates: usize,
    pub seed: u64,
    /// Record every valid event in [`Truth::expected`] (tests; costs memory).
    pub record_expected: bool,
}

impl Spec {
    /// The data the local run uses by default: a month of a small news site.
    pub fn sample(app_id: &str, end: DateTime<Utc>, days: u32, seed: u64) -> Spec {
        Spec {
            app_id: app_id.into(),
            host: format!("{app_id}.example.com"),
            end,
            days,
            readers: 3000,
            articles: 400,
            clusters: 8,
            sessions_per_reader: 3.0,
            amp_fraction: 0.2,
            bots: 10,
            malformed_per_kind: 5,
            duplicates: 50,
            seed,
            record_expected: false,
        }
    }
}

/// A malformed line the generator wrote on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub key: ObjectKey,
    /// 1-based line number within the (decompressed) object.
    pub line: u64,
    pub kind: MalformedKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    FieldCount,
    Timestamp,
    Json,
    EventId,
}

impl MalformedKind {
    /// How fetch's bad-row reason for such a line begins.
    pub fn reason_prefix(self) -> &'static str {
        match self {
            MalformedKind::FieldCount => "wrong field count",
            MalformedKind::Timestamp => "unparseable timestamp",
            MalformedKind::Json => "invalid JSON in contexts",
            MalformedKind::EventId => "event_id is not a UUID",
        }
    }
}

/// A valid event as fetch must report it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ExpectedEvent {
    pub event_id: String,
    pub client_id: String,
    /// Epoch ms, UTC.
    pub time_ms: i64,
    /// Normalised page path.
    pub path: String,
}

/// What a correct fetch of everything generated must report.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// Every valid event, when the spec asks for them.
    pub expected: Vec<ExpectedEvent>,
    pub lines: u64,
    /// Distinct page events of real readers of the site: what fetch must keep.
    pub valid_events: u64,
    pub duplicates: u64,
    pub bot_events: u64,
    pub other_app_events: u64,
    pub non_page_events: u64,
    pub malformed: Vec<Malformed>,
}

/// Generated hour partitions, before they are written.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The tracker's app id (part of the objects' names).
    pub app_id: String,
    /// Lines per hour (start of hour, UTC), in file order.
    pub hours: BTreeMap<DateTime<Utc>, Vec<String>>,
    pub catalog: Vec<CatalogEntry>,
    pub truth: Truth,
}

/// Column positions the generator fills.
struct Cols {
    idx: Vec<usize>,
}

const FILLED: [&str; 27] = [
    "app_id",
    "platform",
    "etl_tstamp",
    "collector_tstamp",
    "dvce_created_tstamp",
    "event",
    "event_id",
    "name_tracker",
    "v_tracker",
    "v_collector",
    "v_etl",
    "user_ipaddress",
    "domain_userid",
    "domain_sessionidx",
    "network_userid",
    "page_url",
    "page_title",
    "page_urlscheme",
    "page_urlhost",
    "page_urlport",
    "page_urlpath",
    "contexts",
    "useragent",
    "derived_contexts",
    "domain_sessionid",
    "derived_tstamp",
    "event_fingerprint",
];

impl Cols {
    fn new() -> Cols {
        Cols {
            idx: FILLED
                .iter()
                .map(|n| FIELDS.iter().position(|f| f == n).unwrap_or(0))
                .collect(),
        }
    }
}

struct Reader {
    domain_userid: String,
    network_userid: String,
    amp_id: Option<String>,
    amp_viewer: bool,
    bot: Option<BotKind>,
    ip: String,
}

#[derive(Clone, Copy)]
enum BotKind {
    UserAgent,
    Iab,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    View,
    Ping,
    Struct,
}

struct Page<'a> {
    path: String,
    title: &'a str,
}

fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        hex(rng, 3),
        hex(rng, 12)
    )
}

fn b64(rng: &mut ChaCha8Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..n).map(|_| char::from(A[rng.random_range(0..64)])).collect()
}

fn tstamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// Cumulative Zipf weights `1/(k+1)^s`.
/// Readers' interest in a story halves every this many days after publication.
const FRESH_HALF_LIFE_DAYS: f64 = 7.0;
/// Draws before a reader settles for whatever story came up.
const FRESH_TRIES: usize = 12;

fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    (0..n)
        .map(|k| {
            acc += 1.0 / ((k + 1) as f64).powf(s);
            acc
        })
        .collect()
}

fn pick(rng: &mut ChaCha8Rng, cdf: &[f64]) -> usize {
    let total = cdf.last().copied().unwrap_or(0.0);
    let x = rng.random::<f64>() * total;
    cdf.partition_point(|&c| c <= x).min(cdf.len().saturating_sub(1))
}

struct Builder<'a> {
    spec: &'a Spec,
    cols: Cols,
    rng: ChaCha8Rng,
    /// (collector ms, line) per hour.
    hours: BTreeMap<DateTime<Utc>, Vec<(i64, String)>>,
    truth: Truth,
    /// Hours and indexes of valid page-event lines, for duplicates.
    valid_lines: Vec<(DateTime<Utc>, usize)>,
}

impl Builder<'_> {
    #[allow(clippy::too_many_arguments)]
    fn emit(&mut self, r: &Reader, sid: &str, sidx: u32, kind: Kind, t_ms: i64, page: &Page<'_>) {
        let spec = self.spec;
        let rng = &mut self.rng;
        let latency = rng.random_range(50..2000);
        let collector = t_ms + latency;
        // Only events that happened and arrived in the period: an event arriving
        // after the end would sit in a partition past the window.
        let start_ms = (spec.end - Duration::days(i64::from(spec.days))).timestamp_millis();
        if t_ms < start_ms || collector >= spec.end.timestamp_millis() {
            return;
        }
        let other_app = rng.random::<f64>() < 0.02;
        let mut v: Vec<String> = vec![String::new(); FIELD_COUNT];
        let set = |v: &mut Vec<String>, i: usize, s: String| v[self.cols.idx[i]] = s;
        set(
            &mut v,
            0,
            if other_app {
                "other-app".into()
            } else {
                spec.app_id.clone()
            },
        );
        set(&mut v, 1, "web".into());
        set(&mut v, 2, tstamp(collector + 60_000));
        set(&mut v, 3, tstamp(collector));
        set(&mut v, 4, tstamp(t_ms));
        set(
            &mut v,
            5,
            match kind {
                Kind::View => "page_view",
                Kind::Ping => "page_ping",
                Kind::Struct => "struct",
            }
            .into(),
        );
        set(&mut v, 6, uuid(rng));
        set(&mut v, 7, if r.amp_id.is_some() { "amp" } else { "sp" }.into());
        set(
            &mut v,
            8,
            if r.amp_id.is_some() {
                "amp-1.1.0"
            } else {
                "js-3.24.2"
            }
            .into(),
        );
        set(&mut v, 9, "ssc-3.2.1-kinesis".into());
        set(&mut v, 10, "snowplow-enrich-kinesis-4.1.0".into());
        set(&mut v, 11, r.ip.clone());
        set(&mut v, 12, r.domain_userid.clone());
        set(&mut v, 13, sidx.to_string());
        set(&mut v, 14, r.network_userid.clone());
        let scheme_host = format!("https://{}", spec.host);
        set(&mut v, 15, format!("{scheme_host}{}", page.path));
        set(&mut v, 16, page.title.to_string());
        set(&mut v, 17, "https".into());
        set(&mut v, 18, spec.host.clone());
        set(&mut v, 19, "443".into());
        set(&mut v, 20, page.path.clone());
        if let Some(amp) = &r.amp_id {
            set(
                &mut v,
                21,
                format!(
                    r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{{"schema":"iglu:dev.amp.snowplow/amp_id/jsonschema/1-0-0","data":{{"ampClientId":"{amp}"}}}}]}}"#
                ),
            );
        } else {
            set(
                &mut v,
                21,
                format!(
                    r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{{"id":"{}"}}}}]}}"#,
                    uuid(rng)
                ),
            );
        }
        let ua = match r.bot {
            Some(BotKind::UserAgent) => {
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            }
            _ => "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        };
        set(&mut v, 22, ua.into());
        let spider = matches!(r.bot, Some(BotKind::Iab));
        set(
            &mut v,
            23,
            format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{{"schema":"iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0","data":{{"spiderOrRobot":{spider},"category":"{}","reason":"PASSED_ALL","primaryImpact":"NONE"}}}}]}}"#,
                if spider { "SPIDER_OR_ROBOT" } else { "BROWSER" }
            ),
        );
        set(&mut v, 24, sid.to_string());
        set(&mut v, 25, tstamp(t_ms));
        set(&mut v, 26, hex(rng, 32));

        let page_event = kind != Kind::Struct;
        if other_app {
            self.truth.other_app_events += 1;
        } else if !page_event {
            self.truth.non_page_events += 1;
        } else if r.bot.is_some() {
            self.truth.bot_events += 1;
        } else {
            self.truth.valid_events += 1;
            if spec.record_expected {
                self.truth.expected.push(ExpectedEvent {
                    event_id: v[self.cols.idx[6]].clone(),
                    client_id: r.amp_id.clone().unwrap_or_else(|| r.domain_userid.clone()),
                    time_ms: t_ms,
                    path: crate::contract::paths::normalise_path(&page.path).into_owned(),
                });
            }
        }
        let Ok(hour) = DateTime::<Utc>::from_timestamp_millis(collector)
            .unwrap_or_default()
            .duration_trunc(Duration::hours(1))
        else {
            return;
        };
        let lines = self.hours.entry(hour).or_default();
        if page_event && !other_app && r.bot.is_none() {
            self.valid_lines.push((hour, lines.len()));
        }
        lines.push((collector, v.join("\t")));
    }
}

/// Generates everything the spec asks for. Same spec, same output.
/// Keys of malformed lines in [`Truth`] are the objects [`write`] will create.
///
/// # Errors
/// `InvalidInput` when the app id cannot be part of an object name.
pub fn generate(spec: &Spec, input: &InputLayout) -> Result<Generated> {
    // checked before anything else: the app id names every object written
    part_key(input, spec.end, &spec.app_id)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let clusters = spec.clusters.max(1);
    let start = spec.end - Duration::days(i64::from(spec.days));
    let span_ms = (spec.end - start).num_milliseconds().max(1);

    let catalog: Vec<CatalogEntry> = (0..spec.articles)
        .map(|i| {
            let id = 100_000 + i;
            let age_ms = rng.random_range(3_600_000..span_ms + 30 * 86_400_000);
            CatalogEntry {
                external_id: id.to_string(),
                path: format!("/article/{id}/story-{i}-topic-{}", i % clusters),
                title: Some(format!("Story {i} on topic {}", i % clusters)),
                published_at: DateTime::from_timestamp_millis(spec.end.timestamp_millis() - age_ms),
                exclude_reason: None,
            }
        })
        .collect();
    let by_cluster: Vec<Vec<usize>> = (0..clusters)
        .map(|c| (0..spec.articles).filter(|i| i % clusters == c).collect())
        .collect();
    let cluster_cdf: Vec<Vec<f64>> = by_cluster.iter().map(|a| zipf_cdf(a.len(), 1.1)).collect();
    let global_cdf = zipf_cdf(spec.articles, 1.1);
    let fronts = ["/", "/section/news/", "/section/food/", "/newsletters/"];

    let mut b = Builder {
        spec,
        cols: Cols::new(),
        rng: ChaCha8Rng::seed_from_u64(spec.seed ^ 0x5eed),
        hours: BTreeMap::new(),
        truth: Truth::default(),
        valid_lines: Vec::new(),
    };

    for r in 0..spec.readers + spec.bots {
        let bot = (r >= spec.readers).then_some(if r % 2 == 0 {
            BotKind::UserAgent
        } else {
            BotKind::Iab
        });
        let amp = bot.is_none() && rng.random::<f64>() < spec.amp_fraction;
        let reader = Reader {
            domain_userid: if amp { String::new() } else { uuid(&mut rng) },
            network_userid: uuid(&mut rng),
            amp_id: amp.then(|| format!("amp-{}", b64(&mut rng, 22))),
            amp_viewer: amp && rng.random::<f64>() < 0.5,
            bot,
            ip: format!("10.{}.{}.{}", r % 250, (r / 250) % 250, rng.random_range(1..255)),
        };
        let home = rng.random_range(0..clusters);
        let sessions = if bot.is_some() {
            3
        } else {
            // geometric with the requested mean
            let p = 1.0 / spec.sessions_per_reader.max(1.0);
            let mut n = 1;
            while rng.random::<f64>() > p && n < 50 {
                n += 1;
            }
            n
        };
        for s in 0..sessions {
            let sid = uuid(&mut rng);
            let mut t = start.timestamp_millis() + rng.random_range(0..span_ms);
            let pages = if bot.is_some() {
                rng.random_range(20..50)
            } else {
                rng.random_range(1..=5)
            };
            for _ in 0..pages {
                let (path, title) = if rng.random::<f64>() < 0.1 {
                    (fronts[rng.random_range(0..fronts.len())].to_string(), "Front")
                } else {
                    let mut a = 0;
                    // news is read fresh: a story is not read before it is
                    // published, and interest halves every FRESH_HALF_LIFE_DAYS
                    for _ in 0..FRESH_TRIES {
                        a = if bot.is_some() || rng.random::<f64>() >= 0.8 {
                            pick(&mut rng, &global_cdf)
                        } else {
                            by_cluster[home][pick(&mut rng, &cluster_cdf[home])]
                        };
                        let published = catalog[a].published_at.map_or(i64::MIN, |p| p.timestamp_millis());
                        let age_days = (t - published) as f64 / 86_400_000.0;
                        if age_days >= 0.0
                            && rng.random::<f64>() < 0.5f64.powf(age_days / FRESH_HALF_LIFE_DAYS)
                        {
                            break;
                        }
                    }
                    let e = &catalog[a];
                    let path = if reader.amp_viewer {
                        format!("/v/s/{}{}/", spec.host, e.path)
                    } else {
                        format!("{}/", e.path)
                    };
                    (path, e.title.as_deref().unwrap_or(""))
                };
                let page = Page { path, title };
                b.emit(&reader, &sid, s + 1, Kind::View, t, &page);
                let dwell_ms = if bot.is_some() {
                    0
                } else {
                    rng.random_range(5_000..300_000)
                };
                let mut at = 0;
                loop {
                    at += rng.random_range(10_000..=30_000);
                    if at > dwell_ms {
                        break;
                    }
                    b.emit(&reader, &sid, s + 1, Kind::Ping, t + at, &page);
                }
                if bot.is_none() && rng.random::<f64>() < 0.05 {
                    // came back to the tab after a long break: the gap is not reading
                    at += rng.random_range(660_000..1_200_000);
                    b.emit(&reader, &sid, s + 1, Kind::Ping, t + at, &page);
                }
                if rng.random::<f64>() < 0.03 {
                    b.emit(&reader, &sid, s + 1, Kind::Struct, t + at / 2, &page);
                }
                t += at + rng.random_range(2_000..60_000);
            }
        }
    }

    finish(b, catalog, input)
}

fn finish(mut b: Builder<'_>, catalog: Vec<CatalogEntry>, input: &InputLayout) -> Result<Generated> {
    let spec = b.spec;
    // Duplicates: Snowplow delivers at least once, so the same line can arrive twice.
    let mut dup_positions: BTreeMap<DateTime<Utc>, Vec<usize>> = BTreeMap::new();
    if !b.valid_lines.is_empty() {
        for _ in 0..spec.duplicates {
            let (h, i) = b.valid_lines[b.rng.random_range(0..b.valid_lines.len())];
            dup_positions.entry(h).or_default().push(i);
            b.truth.duplicates += 1;
        }
    }
    // Malformed lines are corrupted copies of valid page events, so each one
    // reaches the check it is meant to fail.
    let mut malformed: BTreeMap<DateTime<Utc>, Vec<(MalformedKind, String)>> = BTreeMap::new();
    if !b.valid_lines.is_empty() {
        for kind in [
            MalformedKind::FieldCount,
            MalformedKind::Timestamp,
            MalformedKind::Json,
            MalformedKind::EventId,
        ] {
            for _ in 0..spec.malformed_per_kind {
                let (h, i) = b.valid_lines[b.rng.random_range(0..b.valid_lines.len())];
                let bad = corrupt(&b.hours[&h][i].1, kind);
                malformed.entry(h).or_default().push((kind, bad));
            }
        }
    }
    let mut hours = BTreeMap::new();
    for (hour, mut lines) in std::mem::take(&mut b.hours) {
        for &i in dup_positions.get(&hour).into_iter().flatten() {
            let copy = lines[i].clone();
            lines.push(copy);
        }
        lines.sort_by_key(|(t, _)| *t);
        let mut out: Vec<(String, Option<MalformedKind>)> =
            lines.into_iter().map(|(_, l)| (l, None)).collect();
        for (kind, bad) in malformed.remove(&hour).into_iter().flatten() {
            let at = b.rng.random_range(0..=out.len());
            out.insert(at, (bad, Some(kind)));
        }
        let mut plain = Vec::with_capacity(out.len());
        for (n, (line, kind)) in out.into_iter().enumerate() {
            if let Some(kind) = kind {
                b.truth.malformed.push(Malformed {
                    key: part_key(input, hour, &spec.app_id)?,
                    line: n as u64 + 1,
                    kind,
                });
            }
            plain.push(line);
        }
        b.truth.lines += plain.len() as u64;
        hours.insert(hour, plain);
    }
    Ok(Generated {
        app_id: spec.app_id.clone(),
        hours,
        catalog,
        truth: b.truth,
    })
}

/// One object per hour and app, so several sites' data can share the
/// partitions, as one Snowplow pipeline writes every app's events together.
fn part_key(input: &InputLayout, hour: DateTime<Utc>, app_id: &str) -> Result<ObjectKey> {
    input.part(&input.hour(hour), &format!("{app_id}-{PART_NAME}"))
}

fn corrupt(line: &str, kind: MalformedKind) -> String {
    let mut cols: Vec<&str> = line.split('\t').collect();
    match kind {
        MalformedKind::FieldCount => cols[..FIELD_COUNT / 2].join("\t"),
        MalformedKind::Timestamp => {
            let i = FIELDS.iter().position(|f| *f == "derived_tstamp").unwrap_or(0);
            cols[i] = "2026-02-30 25:61:00.000";
            cols.join("\t")
        }
        MalformedKind::Json => {
            let i = FIELDS.iter().position(|f| *f == "contexts").unwrap_or(0);
            cols[i] =
                r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"#;
            cols.join("\t")
        }
        MalformedKind::EventId => {
            let i = FIELDS.iter().position(|f| *f == "event_id").unwrap_or(0);
            cols[i] = "event-0001";
            cols.join("\t")
        }
    }
}

/// The object name the generator uses in every hour folder.
pub const PART_NAME: &str = "enriched-part-00000.gz";

/// Writes the hour partitions (gzipped) and the catalogue to the store.
///
/// # Errors
/// Storage errors from the store.
pub async fn write(
    gen: &Generated,
    store: &dyn BlobStore,
    input: &InputLayout,
    site: &str,
) -> Result<Vec<ObjectKey>> {
    write_to(gen, store, store, input, site).await
}

/// As [`write`], with the hour partitions in the Snowplow store `raw` and the
/// catalogue in the data store `data`, as deployed.
///
/// # Errors
/// Storage errors.
pub async fn write_to(
    gen: &Generated,
    raw: &dyn BlobStore,
    data: &dyn BlobStore,
    input: &InputLayout,
    site: &str,
) -> Result<Vec<ObjectKey>> {
    let keys = write_hours(gen, raw, input).await?;
    let catalog_key = crate::contract::layout::catalog(site)?;
    data.put(
        &catalog_key,
        Bytes::from(crate::adapters::site::catalog_file::to_jsonl(&gen.catalog)?),
    )
    .await?;
    Ok(keys)
}

/// Only the hour partitions (gzipped), as a site without a catalogue has them.
///
/// # Errors
/// Storage errors.
pub async fn write_hours(
    gen: &Generated,
    raw: &dyn BlobStore,
    input: &InputLayout,
) -> Result<Vec<ObjectKey>> {
    let mut keys = Vec::new();
    for (hour, lines) in &gen.hours {
        let key = part_key(input, *hour, &gen.app_id)?;
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        for l in lines {
            gz.write_all(l.as_bytes())
                .and_then(|()| gz.write_all(b"\n"))
                .map_err(|e| Error::Bug(format!("gzip: {e}")))?;
        }
        let body = gz.finish().map_err(|e| Error::Bug(format!("gzip: {e}")))?;
        raw.put(&key, Bytes::from(body)).await?;
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::snowplow::{parse_line, Parsed};

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
                    Ok(Parsed::Skip(_)) => {}
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
}
