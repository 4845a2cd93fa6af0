//! Realistic synthetic Snowplow enriched events, seeded: many readers with a home
//! topic who come in sessions, Zipf-like article popularity within topics, fresh
//! stories read most (interest halves every two days), and a "related stories"
//! box on every story (earlier coverage of its topic) that readers follow, so
//! the order of reads carries signal; page views followed by page pings every 10
//! to 30 s, AMP readers (some on AMP viewer paths), bots, other apps' and
//! non-page events, duplicates and malformed lines. Written as the Snowplow S3
//! loader writes: one folder per hour of gzipped TSV, generated an hour at a
//! time ([`stream`], [`write_stream`]) so memory does not grow with the window.
//!
//! [`Truth`] says what a correct fetch must find, so tests can check it.

use std::collections::{BTreeMap, HashMap};
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
    /// Stories published in the last hours that nobody has read yet, the
    /// freshest at the end, after every event: content alone must speak for them.
    pub fresh: Vec<String>,
    /// The simulated widget's events of real readers of the site (views and clicks).
    pub widget_events: u64,
    pub widget_clicks: u64,
}

/// What the site's widget serves: its database's current lists, as the API
/// reads them. With it, readers on an article are shown the first
/// [`WIDGET_SLOTS`] of its list (or the defaults, for an article without
/// one) and click with a chance that follows how related the story truly is.
#[derive(Debug, Clone, Default)]
pub struct Served {
    /// The current article model's id and each article's list, best first.
    pub article_model_id: Option<i64>,
    pub lists: HashMap<String, Vec<String>>,
    pub defaults_model_id: Option<i64>,
    pub defaults: Vec<String>,
    /// Readers (a fixed share, by reader) always shown the defaults: the
    /// control group an online comparison with the defaults needs.
    pub defaults_share: f64,
}

/// Recommendations the widget shows.
pub const WIDGET_SLOTS: usize = 4;
/// Share of article views whose reader scrolls down to the widget.
const SEE_WIDGET: f64 = 0.6;

/// The widget's schemas as the generator sends them.
pub const WIDGET_FLOW_SCHEMA: &str = "iglu:com.example.news/recommendation_flow/jsonschema/1-0-0";
pub const WIDGET_MODEL_SCHEMA: &str = "iglu:com.example.news/model/jsonschema/1-0-0";
pub const WIDGET_ARTICLE_SCHEMA: &str = "iglu:com.example.news/article_recommendation/jsonschema/1-0-0";

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

const FILLED: [&str; 28] = [
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
    "unstruct_event",
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
    Widget,
}

/// A widget event's own parts: the self-describing event and the entities
/// added to the line's contexts.
struct WidgetParts {
    unstruct: String,
    entities: Vec<String>,
}

impl WidgetParts {
    fn new(step: &str, model_id: i64, model_type: &str, clicked: Option<(&str, usize)>) -> WidgetParts {
        let mut entities = vec![format!(
            r#"{{"schema":"{WIDGET_MODEL_SCHEMA}","data":{{"id":{model_id},"type":"{model_type}"}}}}"#
        )];
        if let Some((article, position)) = clicked {
            entities.push(format!(
                r#"{{"schema":"{WIDGET_ARTICLE_SCHEMA}","data":{{"id":"{article}","position":{}}}}}"#,
                position + 1
            ));
        }
        WidgetParts {
            unstruct: format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{{"schema":"{WIDGET_FLOW_SCHEMA}","data":{{"step_name":"{step}"}}}}}}"#
            ),
            entities,
        }
    }
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

/// Readers' interest in a story halves every this many days after publication:
/// news is read fresh.
const FRESH_HALF_LIFE_DAYS: f64 = 2.0;
/// Draws before a reader settles for whatever story came up.
const FRESH_TRIES: usize = 12;
/// Links in a story's "related stories" box: the latest earlier coverage of its
/// topic, and one more story of the topic.
const RELATED_LINKS: usize = 4;
/// Chance that a reader's next page is one of the related links of the story
/// just read (when the linked story is out): the order of reads carries signal
/// that co-reading over the whole window does not.
const FOLLOW_LINK: f64 = 0.45;
/// Stories published before the window, at most this long before it.
const BACK_CATALOGUE_DAYS: i64 = 7;
/// Minutes before the end at which the stories nobody has read yet were
/// published (beyond the catalogue readers choose from); the last at the end
/// itself, after every event.
const FRESH_MINUTES: [i64; 4] = [150, 40, 5, 0];

/// Words of the stories: topic `c` draws from the words at positions
/// `c, c + clusters, ...`; every topic also draws from [`COMMON_WORDS`], and
/// a fifth of the words come from any topic, so text similarity follows the
/// topics, imperfectly.
const TOPIC_WORDS: [&str; 96] = [
    "council",
    "storm",
    "stadium",
    "recipe",
    "museum",
    "startup",
    "clinic",
    "school",
    "budget",
    "flood",
    "playoff",
    "restaurant",
    "gallery",
    "investor",
    "vaccine",
    "teacher",
    "mayor",
    "rain",
    "coach",
    "chef",
    "theater",
    "merger",
    "hospital",
    "student",
    "election",
    "wind",
    "quarterback",
    "bakery",
    "concert",
    "earnings",
    "nurse",
    "campus",
    "senator",
    "drought",
    "league",
    "menu",
    "novel",
    "shares",
    "doctor",
    "classroom",
    "vote",
    "heatwave",
    "season",
    "kitchen",
    "festival",
    "market",
    "patient",
    "tuition",
    "ordinance",
    "forecast",
    "referee",
    "brunch",
    "exhibit",
    "layoffs",
    "surgery",
    "principal",
    "zoning",
    "hurricane",
    "roster",
    "tasting",
    "album",
    "inflation",
    "therapy",
    "curriculum",
    "hearing",
    "snow",
    "draft",
    "wine",
    "painting",
    "founder",
    "pharmacy",
    "graduation",
    "police",
    "temperature",
    "trade",
    "dinner",
    "film",
    "bank",
    "outbreak",
    "exam",
    "transit",
    "climate",
    "injury",
    "cafe",
    "dance",
    "economy",
    "insurance",
    "library",
    "housing",
    "wildfire",
    "championship",
    "cocktail",
    "poetry",
    "tax",
    "research",
    "scholarship",
];
const COMMON_WORDS: [&str; 16] = [
    "city",
    "new",
    "residents",
    "week",
    "plan",
    "report",
    "local",
    "year",
    "people",
    "says",
    "district",
    "after",
    "first",
    "record",
    "change",
    "night",
];

fn section_name(topic: usize) -> String {
    format!("Section {topic}")
}

struct StoryText {
    title: String,
    excerpt: String,
    tags: Vec<String>,
}

fn story_text(rng: &mut ChaCha8Rng, topic: usize, clusters: usize) -> StoryText {
    let own: Vec<&str> = TOPIC_WORDS
        .iter()
        .skip(topic % TOPIC_WORDS.len())
        .step_by(clusters.max(1))
        .copied()
        .collect();
    let word = |rng: &mut ChaCha8Rng| -> &str {
        let x = rng.random::<f64>();
        if x < 0.2 || own.is_empty() {
            TOPIC_WORDS[rng.random_range(0..TOPIC_WORDS.len())]
        } else if x < 0.45 {
            COMMON_WORDS[rng.random_range(0..COMMON_WORDS.len())]
        } else {
            own[rng.random_range(0..own.len())]
        }
    };
    let sentence = |rng: &mut ChaCha8Rng, n: usize| -> String {
        let words: Vec<&str> = (0..n).map(|_| word(rng)).collect();
        capitalise(&words.join(" "))
    };
    StoryText {
        title: sentence(rng, 6),
        excerpt: format!("{}.", sentence(rng, 16)),
        tags: (0..rng.random_range(0..3))
            .map(|_| format!("Tag {topic}-{}", rng.random_range(0..6)))
            .collect(),
    }
}

/// Names (people, places, teams) each topic's stories mention: drawn
/// Zipf-like, so a few recur across a topic and most are rare, as in a real
/// newsroom's vocabulary.
const NAMES_PER_TOPIC: usize = 400;
/// Names a story mentions.
const NAMES_PER_STORY: usize = 3;
const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "da", "fe", "go", "hu", "ji", "pe", "qua", "zo",
];

/// The `rank`th name of `topic`: a made-up word, the same every time.
fn name(topic: usize, rank: usize) -> String {
    let mut n = topic * NAMES_PER_TOPIC + rank;
    let mut word = String::new();
    for _ in 0..4 {
        word.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    capitalise(&word)
}

/// The sentence naming a story's people and places, from its own stream so
/// that the readers' draws do not depend on it.
fn names_sentence(seed: u64, id: usize, topic: usize, cdf: &[f64]) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4a3e_0000_0000 ^ id as u64);
    let names: Vec<String> = (0..NAMES_PER_STORY)
        .map(|_| name(topic, pick(&mut rng, cdf)))
        .collect();
    format!(" With {}.", names.join(", "))
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}

/// Cumulative Zipf weights `1/(k+1)^s`.
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

/// The site's stories and how readers choose among them.
struct World {
    catalog: Vec<CatalogEntry>,
    /// Each story's topic.
    topic: Vec<usize>,
    published_ms: Vec<i64>,
    by_cluster: Vec<Vec<usize>>,
    cluster_cdf: Vec<Vec<f64>>,
    global_cdf: Vec<f64>,
    related: Vec<Vec<usize>>,
    link_cdf: Vec<f64>,
}

impl World {
    fn new(spec: &Spec, rng: &mut ChaCha8Rng) -> World {
        let clusters = spec.clusters.max(1);
        let span_ms = i64::from(spec.days) * 86_400_000;
        let name_cdf = zipf_cdf(NAMES_PER_TOPIC, 1.0);
        let catalog: Vec<CatalogEntry> = (0..spec.articles)
            .map(|i| {
                let id = 100_000 + i;
                let topic = i % clusters;
                let age_ms = rng.random_range(3_600_000..span_ms + BACK_CATALOGUE_DAYS * 86_400_000);
                let text = story_text(rng, topic, clusters);
                CatalogEntry {
                    external_id: id.to_string(),
                    path: format!("/article/{id}/story-{i}-topic-{topic}"),
                    title: Some(text.title),
                    published_at: DateTime::from_timestamp_millis(spec.end.timestamp_millis() - age_ms),
                    exclude_reason: None,
                    excerpt: Some(text.excerpt + &names_sentence(spec.seed, id, topic, &name_cdf)),
                    section: Some(section_name(topic)),
                    tags: text.tags,
                }
            })
            .collect();
        // their own stream: the readers' draws do not move when they are added
        let mut fresh_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xf2e5);
        let mut catalog = catalog;
        for (j, minutes) in FRESH_MINUTES.iter().enumerate() {
            let i = spec.articles + j;
            let id = 100_000 + i;
            let topic = j % clusters;
            let text = story_text(&mut fresh_rng, topic, clusters);
            catalog.push(CatalogEntry {
                external_id: id.to_string(),
                path: format!("/article/{id}/story-{i}-topic-{topic}"),
                title: Some(text.title),
                published_at: Some(spec.end - Duration::minutes(*minutes)),
                exclude_reason: None,
                excerpt: Some(text.excerpt + &names_sentence(spec.seed, id, topic, &name_cdf)),
                section: Some(section_name(topic)),
                tags: text.tags,
            });
        }
        let published_ms: Vec<i64> = catalog
            .iter()
            .map(|e| e.published_at.map_or(i64::MIN, |p| p.timestamp_millis()))
            .collect();
        let by_cluster: Vec<Vec<usize>> = (0..clusters)
            .map(|c| (0..spec.articles).filter(|i| i % clusters == c).collect())
            .collect();
        let mut related = vec![Vec::new(); catalog.len()];
        for topic in &by_cluster {
            let mut by_time = topic.clone();
            by_time.sort_by_key(|&a| (published_ms[a], a));
            for (j, &a) in by_time.iter().enumerate() {
                let earlier = by_time[..j].iter().rev().take(RELATED_LINKS - 1).copied();
                let mut links: Vec<usize> = earlier.collect();
                let more = topic[rng.random_range(0..topic.len())];
                if more != a && !links.contains(&more) {
                    links.push(more);
                }
                related[a] = links;
            }
        }
        let topic = (0..catalog.len())
            .map(|i| {
                if i < spec.articles {
                    i % clusters
                } else {
                    (i - spec.articles) % clusters
                }
            })
            .collect();
        World {
            topic,
            cluster_cdf: by_cluster.iter().map(|a| zipf_cdf(a.len(), 1.1)).collect(),
            global_cdf: zipf_cdf(spec.articles, 1.1),
            by_cluster,
            catalog,
            published_ms,
            related,
            link_cdf: zipf_cdf(RELATED_LINKS, 1.0),
        }
    }

    /// The chance a reader of `home`'s topic, on story `a`, clicks story `b`
    /// in the widget: what the generator planted decides it (the related
    /// stories box, the reader's topic, the story's topic), so a model that
    /// finds the planted structure earns more clicks than the most-read list.
    fn click_chance(&self, a: usize, b: usize, home: usize, position: usize, t_ms: i64) -> f64 {
        if self.published_ms[b] > t_ms {
            return 0.0;
        }
        let related = if self.related[a].contains(&b) {
            0.10
        } else if self.topic[b] == home {
            0.05
        } else if self.topic[b] == self.topic[a] {
            0.03
        } else {
            0.004
        };
        related / ((position + 1) as f64).sqrt()
    }

    /// The story a reader opens at `t_ms`, after `last` (if any).
    fn next_story(
        &self,
        rng: &mut ChaCha8Rng,
        home: usize,
        bot: bool,
        last: Option<usize>,
        t_ms: i64,
    ) -> usize {
        if let Some(prev) = last.filter(|_| !bot) {
            let links = &self.related[prev];
            if !links.is_empty() && rng.random::<f64>() < FOLLOW_LINK {
                let b = links[pick(rng, &self.link_cdf[..links.len()])];
                if self.published_ms[b] <= t_ms {
                    return b;
                }
            }
        }
        // a story is not read before it is published, and interest halves
        // every FRESH_HALF_LIFE_DAYS
        let mut settled = None;
        let mut a = 0;
        for _ in 0..FRESH_TRIES {
            a = if bot || rng.random::<f64>() >= 0.8 {
                pick(rng, &self.global_cdf)
            } else {
                self.by_cluster[home][pick(rng, &self.cluster_cdf[home])]
            };
            let age_days = (t_ms - self.published_ms[a]) as f64 / 86_400_000.0;
            if age_days >= 0.0 {
                settled = Some(a);
                if rng.random::<f64>() < 0.5f64.powf(age_days / FRESH_HALF_LIFE_DAYS) {
                    break;
                }
            }
        }
        // every draw was a story not out yet: the most read one of the topic
        // that is out (the back catalogue is out before the window starts)
        settled
            .or_else(|| {
                let out = |&b: &usize| self.published_ms[b] <= t_ms;
                self.by_cluster[home]
                    .iter()
                    .copied()
                    .find(out)
                    // the catalogue readers choose from: never the stories nobody reads
                    .or_else(|| (0..self.by_cluster.iter().map(Vec::len).sum::<usize>()).find(out))
            })
            .unwrap_or(a)
    }
}

struct Person {
    reader: Reader,
    home: usize,
}

/// One visit of one reader, drawn before any event so that sessions can be
/// played in time order.
#[derive(Clone, Copy)]
struct SessionPlan {
    start_ms: i64,
    person: u32,
    /// 1-based index of the session among the reader's.
    index: u32,
    /// The session's own random stream: its events do not depend on the order
    /// sessions are played in.
    stream: u64,
}

/// Lines of an hour still open to events.
#[derive(Default)]
struct OpenHour {
    /// (collector ms, line)
    lines: Vec<(i64, String)>,
    /// Indexes of valid page-event lines, for duplicates and malformed copies.
    valid: Vec<usize>,
}

/// Where the events go, an hour at a time.
struct Sink<'a> {
    spec: &'a Spec,
    cols: Cols,
    open: BTreeMap<DateTime<Utc>, OpenHour>,
    open_lines: usize,
    peak_open_lines: usize,
    truth: Truth,
}

impl Sink<'_> {
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        rng: &mut ChaCha8Rng,
        r: &Reader,
        sid: &str,
        sidx: u32,
        kind: Kind,
        t_ms: i64,
        page: &Page<'_>,
    ) {
        self.emit_with(rng, r, sid, sidx, kind, t_ms, page, None);
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_with(
        &mut self,
        rng: &mut ChaCha8Rng,
        r: &Reader,
        sid: &str,
        sidx: u32,
        kind: Kind,
        t_ms: i64,
        page: &Page<'_>,
        widget: Option<&WidgetParts>,
    ) {
        let spec = self.spec;
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
                Kind::Widget => "unstruct",
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
        let own = match &r.amp_id {
            Some(amp) => format!(
                r#"{{"schema":"iglu:dev.amp.snowplow/amp_id/jsonschema/1-0-0","data":{{"ampClientId":"{amp}"}}}}"#
            ),
            None => format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{{"id":"{}"}}}}"#,
                uuid(rng)
            ),
        };
        let mut entities = vec![own];
        if let Some(w) = widget {
            entities.extend(w.entities.iter().cloned());
            set(&mut v, 27, w.unstruct.clone());
        }
        set(
            &mut v,
            21,
            format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{}]}}"#,
                entities.join(",")
            ),
        );
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

        let page_event = kind != Kind::Struct && kind != Kind::Widget;
        if other_app {
            self.truth.other_app_events += 1;
        } else if kind == Kind::Widget {
            self.truth.widget_events += 1;
            if widget.is_some_and(|w| w.entities.len() > 1) {
                self.truth.widget_clicks += 1;
            }
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
        let open = self.open.entry(hour).or_default();
        if page_event && !other_app && r.bot.is_none() {
            open.valid.push(open.lines.len());
        }
        open.lines.push((collector, v.join("\t")));
        self.open_lines += 1;
        self.peak_open_lines = self.peak_open_lines.max(self.open_lines);
    }
}

/// One hour partition's lines, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourLines {
    /// Start of the hour, UTC.
    pub hour: DateTime<Utc>,
    pub lines: Vec<String>,
}

/// The generated data an hour at a time, in time order: sessions are played
/// in the order they start, and an hour is handed out as soon as no session
/// still to come can reach it, so memory holds the hours a session spans, not
/// the window.
pub struct Stream<'a> {
    spec: &'a Spec,
    input: InputLayout,
    world: World,
    people: Vec<Person>,
    sessions: Vec<SessionPlan>,
    next_session: usize,
    sink: Sink<'a>,
    /// Duplicates and malformed copies each hour receives; an hour without a
    /// valid line passes its share on to the next.
    extras_due: BTreeMap<DateTime<Utc>, (usize, Vec<MalformedKind>)>,
    carried: (usize, Vec<MalformedKind>),
    extras_rng: ChaCha8Rng,
    /// What the widget serves to sessions played from now on, if it is on.
    served: Option<Served>,
    /// Story index by external id (the widget's lists name stories so).
    by_external_id: HashMap<String, usize>,
}

/// Starts generating what the spec asks for. Same spec, same output.
///
/// # Errors
/// `InvalidInput` when the app id cannot be part of an object name.
pub fn stream<'a>(spec: &'a Spec, input: &InputLayout) -> Result<Stream<'a>> {
    // checked before anything else: the app id names every object written
    part_key(input, spec.end, &spec.app_id)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let clusters = spec.clusters.max(1);
    let start = spec.end - Duration::days(i64::from(spec.days));
    let span_ms = (spec.end - start).num_milliseconds().max(1);
    let world = World::new(spec, &mut rng);

    let mut people = Vec::with_capacity(spec.readers + spec.bots);
    let mut sessions = Vec::new();
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
        let count = if bot.is_some() {
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
        for index in 1..=count {
            sessions.push(SessionPlan {
                start_ms: start.timestamp_millis() + rng.random_range(0..span_ms),
                person: r as u32,
                index,
                stream: sessions.len() as u64,
            });
        }
        people.push(Person { reader, home });
    }
    sessions.sort_by_key(|s| (s.start_ms, s.stream));

    let mut extras_rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0xd0b1e);
    let hours = (span_ms / 3_600_000).max(1);
    let first_hour = start.duration_trunc(Duration::hours(1)).unwrap_or(start);
    let mut extras_due: BTreeMap<DateTime<Utc>, (usize, Vec<MalformedKind>)> = BTreeMap::new();
    let due_hour = |rng: &mut ChaCha8Rng| first_hour + Duration::hours(rng.random_range(0..hours));
    for _ in 0..spec.duplicates {
        extras_due.entry(due_hour(&mut extras_rng)).or_default().0 += 1;
    }
    for kind in [
        MalformedKind::FieldCount,
        MalformedKind::Timestamp,
        MalformedKind::Json,
        MalformedKind::EventId,
    ] {
        for _ in 0..spec.malformed_per_kind {
            extras_due
                .entry(due_hour(&mut extras_rng))
                .or_default()
                .1
                .push(kind);
        }
    }
    let by_external_id = world
        .catalog
        .iter()
        .enumerate()
        .map(|(i, e)| (e.external_id.clone(), i))
        .collect();
    let fresh = world.catalog[spec.articles..]
        .iter()
        .map(|e| e.external_id.clone())
        .collect();
    Ok(Stream {
        spec,
        input: input.clone(),
        world,
        people,
        sessions,
        next_session: 0,
        sink: Sink {
            spec,
            cols: Cols::new(),
            open: BTreeMap::new(),
            open_lines: 0,
            peak_open_lines: 0,
            truth: Truth {
                fresh,
                ..Truth::default()
            },
        },
        by_external_id,
        extras_due,
        carried: (0, Vec::new()),
        extras_rng,
        served: None,
    })
}

impl Stream<'_> {
    /// The site's catalogue (complete before the first hour).
    pub fn catalog(&self) -> &[CatalogEntry] {
        &self.world.catalog
    }

    /// The most lines held in memory at once so far.
    pub fn peak_open_lines(&self) -> usize {
        self.sink.peak_open_lines
    }

    /// The next hour with lines, or `None` when all are out.
    ///
    /// # Errors
    /// `InvalidInput` when an hour's object key cannot be built.
    pub fn next_hour(&mut self) -> Result<Option<HourLines>> {
        loop {
            if let Some(&hour) = self.sink.open.keys().next() {
                let hour_end = (hour + Duration::hours(1)).timestamp_millis();
                let reachable = self
                    .sessions
                    .get(self.next_session)
                    .is_some_and(|s| s.start_ms < hour_end);
                if !reachable {
                    return self.close(hour).map(Some);
                }
            }
            if self.next_session >= self.sessions.len() {
                return Ok(None);
            }
            self.play(self.next_session);
            self.next_session += 1;
        }
    }

    /// From now on, readers are shown what `served` holds (sessions already
    /// played keep what they saw).
    pub fn serve(&mut self, served: Served) {
        self.served = Some(served);
    }

    /// What the widget shows on story `a`: the model's id and type and the
    /// stories, or `None` when it serves nothing there.
    fn widget_list(&self, a: usize, person: u32) -> Option<(i64, &'static str, Vec<usize>)> {
        let served = self.served.as_ref()?;
        let ext = &self.world.catalog[a].external_id;
        // a reader's group is fixed: Knuth's multiplicative hash of their number
        let control =
            f64::from(person.wrapping_mul(2_654_435_761) % 10_000) < served.defaults_share * 10_000.0;
        let (id, kind, list) = match (served.article_model_id, served.lists.get(ext)) {
            (Some(id), Some(list)) if !list.is_empty() && !control => (id, "article", list),
            _ => (served.defaults_model_id?, "popularity", &served.defaults),
        };
        let shown: Vec<usize> = list
            .iter()
            .filter_map(|e| self.by_external_id.get(e).copied())
            .filter(|&b| b != a)
            .take(WIDGET_SLOTS)
            .collect();
        (!shown.is_empty()).then_some((id, kind, shown))
    }

    /// What a correct fetch of everything handed out must report.
    pub fn truth(self) -> Truth {
        self.sink.truth
    }

    fn play(&mut self, k: usize) {
        let plan = self.sessions[k];
        let person = &self.people[plan.person as usize];
        let reader = &person.reader;
        let bot = reader.bot.is_some();
        let mut rng = ChaCha8Rng::seed_from_u64(self.spec.seed ^ 0x5e55);
        rng.set_stream(plan.stream);
        let sid = uuid(&mut rng);
        let fronts = ["/", "/section/news/", "/section/food/", "/newsletters/"];
        let pages = if bot {
            rng.random_range(20..50)
        } else {
            rng.random_range(1..=6)
        };
        let mut t = plan.start_ms;
        let mut last = None;
        // the widget's draws have their own stream: with the widget off, every
        // other draw is what it was before there was a widget
        let mut wrng = ChaCha8Rng::seed_from_u64(self.spec.seed ^ 0x3d9e7);
        wrng.set_stream(plan.stream);
        let mut clicked: Option<usize> = None;
        for _ in 0..pages {
            let mut story = None;
            let (path, title) = if clicked.is_none() && rng.random::<f64>() < 0.1 {
                (fronts[rng.random_range(0..fronts.len())].to_string(), "Front")
            } else {
                let a = match clicked.take() {
                    Some(b) => b,
                    None => self.world.next_story(&mut rng, person.home, bot, last, t),
                };
                last = Some(a);
                story = Some(a);
                let e = &self.world.catalog[a];
                let path = if reader.amp_viewer {
                    format!("/v/s/{}{}/", self.spec.host, e.path)
                } else {
                    format!("{}/", e.path)
                };
                (path, e.title.as_deref().unwrap_or(""))
            };
            let page = Page { path, title };
            let sink = &mut self.sink;
            sink.emit(&mut rng, reader, &sid, plan.index, Kind::View, t, &page);
            let dwell_ms = if bot { 0 } else { rng.random_range(5_000..300_000) };
            let mut at = 0;
            loop {
                at += rng.random_range(10_000..=30_000);
                if at > dwell_ms {
                    break;
                }
                sink.emit(&mut rng, reader, &sid, plan.index, Kind::Ping, t + at, &page);
            }
            if !bot && rng.random::<f64>() < 0.05 {
                // came back to the tab after a long break: the gap is not reading
                at += rng.random_range(660_000..1_200_000);
                sink.emit(&mut rng, reader, &sid, plan.index, Kind::Ping, t + at, &page);
            }
            if rng.random::<f64>() < 0.03 {
                sink.emit(
                    &mut rng,
                    reader,
                    &sid,
                    plan.index,
                    Kind::Struct,
                    t + at / 2,
                    &page,
                );
            }
            let widget = story.filter(|_| !bot && self.served.is_some()).and_then(|a| {
                if wrng.random::<f64>() >= SEE_WIDGET {
                    return None;
                }
                self.widget_list(a, plan.person).map(|w| (a, w))
            });
            if let Some((a, (model_id, model_type, shown))) = widget {
                // seen while reading, clicked (if at all) when done reading
                let seen_at = t + wrng.random_range(1_000..(at.max(2_000)));
                let seen = WidgetParts::new("widget_seen", model_id, model_type, None);
                let sink = &mut self.sink;
                sink.emit_with(
                    &mut wrng,
                    reader,
                    &sid,
                    plan.index,
                    Kind::Widget,
                    seen_at,
                    &page,
                    Some(&seen),
                );
                let choice = shown.iter().enumerate().find(|&(p, &b)| {
                    wrng.random::<f64>() < self.world.click_chance(a, b, person.home, p, t + at)
                });
                if let Some((p, &b)) = choice {
                    let ext = self.world.catalog[b].external_id.clone();
                    let click = WidgetParts::new("widget_click", model_id, model_type, Some((&ext, p)));
                    let sink = &mut self.sink;
                    sink.emit_with(
                        &mut wrng,
                        reader,
                        &sid,
                        plan.index,
                        Kind::Widget,
                        t + at + 500,
                        &page,
                        Some(&click),
                    );
                    clicked = Some(b);
                }
            }
            t += at + rng.random_range(2_000..60_000);
        }
    }

    /// Hands out an hour no session still to come can reach: its lines in
    /// collector order, with Snowplow's at-least-once duplicates and the
    /// malformed lines due to it.
    fn close(&mut self, hour: DateTime<Utc>) -> Result<HourLines> {
        let OpenHour { mut lines, valid } = self.sink.open.remove(&hour).unwrap_or_default();
        self.sink.open_lines -= lines.len();
        let rest = self.extras_due.split_off(&(hour + Duration::hours(1)));
        for (_, (dups, bad)) in std::mem::replace(&mut self.extras_due, rest) {
            self.carried.0 += dups;
            self.carried.1.extend(bad);
        }
        let mut malformed = Vec::new();
        if !valid.is_empty() {
            let rng = &mut self.extras_rng;
            for _ in 0..std::mem::take(&mut self.carried.0) {
                let copy = lines[valid[rng.random_range(0..valid.len())]].clone();
                lines.push(copy);
                self.sink.truth.duplicates += 1;
            }
            // Malformed lines are corrupted copies of valid page events, so each
            // one reaches the check it is meant to fail.
            for kind in std::mem::take(&mut self.carried.1) {
                let i = valid[rng.random_range(0..valid.len())];
                malformed.push((kind, corrupt(&lines[i].1, kind)));
            }
        }
        lines.sort_by_key(|(t, _)| *t);
        let mut out: Vec<(String, Option<MalformedKind>)> =
            lines.into_iter().map(|(_, l)| (l, None)).collect();
        for (kind, bad) in malformed {
            let at = self.extras_rng.random_range(0..=out.len());
            out.insert(at, (bad, Some(kind)));
        }
        let mut plain = Vec::with_capacity(out.len());
        for (n, (line, kind)) in out.into_iter().enumerate() {
            if let Some(kind) = kind {
                self.sink.truth.malformed.push(Malformed {
                    key: part_key(&self.input, hour, &self.spec.app_id)?,
                    line: n as u64 + 1,
                    kind,
                });
            }
            plain.push(line);
        }
        self.sink.truth.lines += plain.len() as u64;
        Ok(HourLines { hour, lines: plain })
    }
}

/// Generates everything the spec asks for, in memory (small specs: tests).
/// Same spec, same output. Keys of malformed lines in [`Truth`] are the
/// objects [`write`] will create.
///
/// # Errors
/// `InvalidInput` when the app id cannot be part of an object name.
pub fn generate(spec: &Spec, input: &InputLayout) -> Result<Generated> {
    let mut s = stream(spec, input)?;
    let mut hours = BTreeMap::new();
    while let Some(h) = s.next_hour()? {
        hours.insert(h.hour, h.lines);
    }
    let catalog = s.catalog().to_vec();
    Ok(Generated {
        app_id: spec.app_id.clone(),
        hours,
        catalog,
        truth: s.truth(),
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
        raw.put(&key, gzip(lines)?).await?;
        keys.push(key);
    }
    Ok(keys)
}

/// Generates and writes as it goes: the catalogue to `data`, each hour to
/// `raw` as soon as it is complete, so memory holds about an hour of lines
/// whatever the window.
///
/// # Errors
/// `InvalidInput` for an app id that cannot name an object; storage errors.
pub async fn write_stream(
    spec: &Spec,
    raw: &dyn BlobStore,
    data: &dyn BlobStore,
    input: &InputLayout,
    site: &str,
) -> Result<Truth> {
    let mut s = stream(spec, input)?;
    write_catalog(s.catalog(), data, site).await?;
    while let Some(h) = s.next_hour()? {
        write_hour(&h, raw, input, &spec.app_id).await?;
    }
    Ok(s.truth())
}

/// Writes the site's catalogue to the data store.
///
/// # Errors
/// `InvalidInput` for a site that cannot name a key; storage errors.
pub async fn write_catalog(catalog: &[CatalogEntry], data: &dyn BlobStore, site: &str) -> Result<()> {
    let key = crate::contract::layout::catalog(site)?;
    data.put(
        &key,
        Bytes::from(crate::adapters::site::catalog_file::to_jsonl(catalog)?),
    )
    .await
}

/// Writes one hour partition (gzipped) as the Snowplow loader would.
///
/// # Errors
/// `InvalidInput` for an app id that cannot name an object; storage errors.
pub async fn write_hour(
    h: &HourLines,
    raw: &dyn BlobStore,
    input: &InputLayout,
    app_id: &str,
) -> Result<ObjectKey> {
    let key = part_key(input, h.hour, app_id)?;
    raw.put(&key, gzip(&h.lines)?).await?;
    Ok(key)
}

fn gzip(lines: &[String]) -> Result<Bytes> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    for l in lines {
        gz.write_all(l.as_bytes())
            .and_then(|()| gz.write_all(b"\n"))
            .map_err(|e| Error::Bug(format!("gzip: {e}")))?;
    }
    let body = gz.finish().map_err(|e| Error::Bug(format!("gzip: {e}")))?;
    Ok(Bytes::from(body))
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
        let chance =
            related.iter().map(Vec::len).sum::<usize>() as f64 / (related.len() * related.len()) as f64;
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
        let schemas = crate::contract::settings::WidgetSchemas::default();
        let (mut widget, mut clicks, mut bad_rows) = (0u64, 0u64, 0u64);
        for lines in g.hours.values() {
            for l in lines {
                let split =
                    crate::fetch::snowplow::tsv::Line::first(l.as_bytes(), &crate::fetch::snowplow::READ);
                match crate::fetch::snowplow::parse_with(&split, "site", Some(&schemas)) {
                    Ok(Parsed::Widget(w)) => {
                        widget += 1;
                        clicks +=
                            u64::from(w.action.step == crate::fetch::snowplow::widget::WidgetStep::Click);
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
}
