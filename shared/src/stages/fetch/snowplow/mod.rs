//! Parsing one Snowplow enriched event line into the few fields the job needs.
//! Pure: no I/O, no allocation for lines that are skipped early.

pub mod byte_blocks;
pub mod fields;
pub mod json_check;
pub mod tsv;
pub mod widget;

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Deserialize;
use serde_json::value::RawValue;
use uuid::Uuid;
use wide::{u8x32, CmpEq};

use crate::contract::paths::normalise_path;
use crate::settings::WidgetSchemas;
use crate::stages::fetch::snowplow::byte_blocks::block_at;
use crate::stages::fetch::snowplow::fields as f;
use crate::stages::fetch::snowplow::tsv::{Line, Wanted};
use crate::stages::fetch::snowplow::widget::{widget_action, WidgetAction};

/// The page event kinds the job keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEvent {
    PageView,
    PagePing,
}

impl PageEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            PageEvent::PageView => "page_view",
            PageEvent::PagePing => "page_ping",
        }
    }
}

/// A kept event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    pub client_id: Cow<'a, str>,
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// Normalised page path (see [`normalise_path`]).
    pub path: Cow<'a, str>,
    pub event: PageEvent,
    /// Snowplow's event id, a UUID (enrich validates or generates it).
    pub event_id: Uuid,
    /// Empty when the pipeline did not compute one.
    pub fingerprint: &'a [u8],
}

/// A kept event of the recommendation widget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetEvent<'a> {
    pub client_id: Cow<'a, str>,
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    /// The normalised path of the page the widget is on.
    pub path: Cow<'a, str>,
    pub event_id: Uuid,
    pub action: WidgetAction,
}

/// A well-formed line the job does not use, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    NotPageEvent,
    OtherApp,
    Bot,
    NoReader,
}

/// Why a line could not be read: it goes to bad rows with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadRow {
    Utf8,
    FieldCount(usize),
    Timestamp {
        field: &'static str,
        value: String,
    },
    Json {
        field: &'static str,
        error: String,
    },
    MissingEventId,
    /// An `event_id` that is not a UUID (cut at 64 characters).
    EventId(String),
    /// A widget event that cannot be counted, and why.
    Widget(String),
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, fm: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadRow::Utf8 => write!(fm, "invalid UTF-8"),
            BadRow::FieldCount(n) => {
                write!(fm, "wrong field count: {n}, expected {}", f::FIELD_COUNT)
            }
            BadRow::Timestamp { field, value } => {
                write!(fm, "unparseable timestamp in {field}: {value:?}")
            }
            BadRow::Json { field, error } => write!(fm, "invalid JSON in {field}: {error}"),
            BadRow::MissingEventId => write!(fm, "missing event_id"),
            BadRow::EventId(value) => write!(fm, "event_id is not a UUID: {value:?}"),
            BadRow::Widget(why) => write!(fm, "{why}"),
        }
    }
}

/// What one line turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    Keep(Event<'a>),
    Widget(WidgetEvent<'a>),
    Skip(Skip),
}

/// The fields [`parse`] reads: split lines with it ([`Line::first`]).
pub static READ: Wanted<{ f::FIELD_COUNT }> = Wanted::new(&[
    f::APP_ID,
    f::COLLECTOR_TSTAMP,
    f::EVENT,
    f::EVENT_ID,
    f::DOMAIN_USERID,
    f::NETWORK_USERID,
    f::PAGE_URL,
    f::PAGE_URLPATH,
    f::CONTEXTS,
    f::USERAGENT,
    f::DERIVED_CONTEXTS,
    f::DERIVED_TSTAMP,
    f::EVENT_FINGERPRINT,
    f::UNSTRUCT_EVENT,
]);

/// A Snowplow enriched line, split with [`READ`].
pub type SnowplowLine<'a> = Line<'a, { f::FIELD_COUNT }>;

/// Parses one line (without its terminator: a `\n` in it ends it there).
///
/// `app_id` filters the site's tracker; `*` (settings' `EVERY_APP`) keeps every app.
/// Widget events are not looked for (see [`parse_with`]).
///
/// # Errors
/// A [`BadRow`] saying why the line cannot be read.
pub fn parse_line<'a, L: AsRef<[u8]> + ?Sized>(line: &'a L, app_id: &str) -> Result<Parsed<'a>, BadRow> {
    parse(&Line::first(line.as_ref(), &READ), app_id)
}

/// Parses a line split with [`READ`]; see [`parse_line`].
///
/// # Errors
/// A [`BadRow`] saying why the line cannot be read.
pub fn parse<'a>(line: &SnowplowLine<'a>, app_id: &str) -> Result<Parsed<'a>, BadRow> {
    parse_with(line, app_id, None)
}

/// What kind of event a line is, by its `event` field.
enum Kind {
    Page(PageEvent),
    Widget(WidgetAction),
}

/// As [`parse`], and with `widget` also the recommendation widget's events
/// of those schemas ([`Parsed::Widget`]).
///
/// # Errors
/// A [`BadRow`] saying why the line cannot be read.
pub fn parse_with<'a>(
    line: &SnowplowLine<'a>,
    app_id: &str,
    widget: Option<&WidgetSchemas>,
) -> Result<Parsed<'a>, BadRow> {
    // a line of ASCII bytes only is UTF-8; the splitter saw whether it is
    if !line.ascii && std::str::from_utf8(line.bytes).is_err() {
        return Err(BadRow::Utf8);
    }
    let cols = line.fields().map_err(BadRow::FieldCount)?;
    if app_id != crate::settings::EVERY_APP && cols.get(f::APP_ID) != app_id.as_bytes() {
        return Ok(Parsed::Skip(Skip::OtherApp));
    }
    let kind = match (cols.get(f::EVENT), widget) {
        (b"page_view", _) => Kind::Page(PageEvent::PageView),
        (b"page_ping", _) => Kind::Page(PageEvent::PagePing),
        // other self-describing events are not read at all, as before
        (b"unstruct", Some(w)) if names_schema(cols.get(f::UNSTRUCT_EVENT), &w.event) => {
            match widget_action(cols.get(f::UNSTRUCT_EVENT), cols.get(f::CONTEXTS), w)? {
                Some(action) => Kind::Widget(action),
                None => return Ok(Parsed::Skip(Skip::NotPageEvent)),
            }
        }
        _ => return Ok(Parsed::Skip(Skip::NotPageEvent)),
    };
    let event_id = event_id(cols.get(f::EVENT_ID))?;
    let time_ms = event_time(cols.get(f::DERIVED_TSTAMP), cols.get(f::COLLECTOR_TSTAMP))?;
    let contexts = cols.get(f::CONTEXTS);
    if !contexts.is_empty() {
        check_json("contexts", contexts)?;
    }
    if is_bot(cols.get(f::USERAGENT), cols.get(f::DERIVED_CONTEXTS))? {
        return Ok(Parsed::Skip(Skip::Bot));
    }
    // the AMP id is looked for only when there is no first-party cookie id
    let client_id = if !cols.get(f::DOMAIN_USERID).is_empty() {
        Cow::Borrowed(text(cols.get(f::DOMAIN_USERID))?)
    } else if let Some(amp) = amp_client_id(contexts)? {
        amp
    } else if !cols.get(f::NETWORK_USERID).is_empty() {
        Cow::Borrowed(text(cols.get(f::NETWORK_USERID))?)
    } else {
        return Ok(Parsed::Skip(Skip::NoReader));
    };
    let raw_path = if cols.get(f::PAGE_URLPATH).is_empty() {
        path_of_url(text(cols.get(f::PAGE_URL))?)
    } else {
        text(cols.get(f::PAGE_URLPATH))?
    };
    let path = normalise_path(raw_path);
    Ok(match kind {
        Kind::Widget(action) => Parsed::Widget(WidgetEvent {
            client_id,
            time_ms,
            path,
            event_id,
            action,
        }),
        Kind::Page(event) => Parsed::Keep(Event {
            client_id,
            time_ms,
            path,
            event,
            event_id,
            fingerprint: cols.get(f::EVENT_FINGERPRINT),
        }),
    })
}

/// Whether a self-describing event's text names the schema at all: a search,
/// so that other events are not deserialised.
fn names_schema(unstruct_event: &[u8], wanted: &str) -> bool {
    let name = wanted.rsplit('/').next().unwrap_or(wanted);
    !name.is_empty() && memchr::memmem::find(unstruct_event, name.as_bytes()).is_some()
}

/// A field of a line already checked to be UTF-8 (fields end at ASCII tabs,
/// so this cannot fail, but nothing here relies on that).
fn text(field: &[u8]) -> Result<&str, BadRow> {
    std::str::from_utf8(field).map_err(|_| BadRow::Utf8)
}

fn event_id(s: &[u8]) -> Result<Uuid, BadRow> {
    if s.is_empty() {
        return Err(BadRow::MissingEventId);
    }
    Uuid::try_parse_ascii(s).map_err(|_| BadRow::EventId(shown(s, 64)))
}

/// `derived_tstamp` when present (it corrects device clock skew), else `collector_tstamp`.
fn event_time(derived: &[u8], collector: &[u8]) -> Result<i64, BadRow> {
    if !derived.is_empty() {
        return parse_tstamp(derived).ok_or_else(|| BadRow::Timestamp {
            field: "derived_tstamp",
            value: shown(derived, 64),
        });
    }
    parse_tstamp(collector).ok_or_else(|| BadRow::Timestamp {
        field: "collector_tstamp",
        value: shown(collector, 64),
    })
}

/// A field's first `max` characters, for a bad row's reason.
fn shown(field: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(field);
    match s.char_indices().nth(max) {
        Some((i, _)) => s[..i].to_string(),
        None => s.into_owned(),
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS[.fff...]` (UTC) into epoch milliseconds. Digits
/// past the millisecond are truncated.
pub fn parse_tstamp(s: impl AsRef<[u8]>) -> Option<i64> {
    let b = s.as_ref();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b' ' && b[10] != b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let mut ms = 0i64;
    let rest = &b[19..];
    let rest = rest.strip_suffix(b"Z").unwrap_or(rest);
    if !rest.is_empty() {
        if rest[0] != b'.' || rest.len() < 2 {
            return None;
        }
        for (i, &c) in rest[1..].iter().enumerate() {
            if !c.is_ascii_digit() {
                return None;
            }
            if i < 3 {
                ms = ms * 10 + i64::from(c - b'0');
            }
        }
        for _ in rest.len() - 1..3 {
            ms *= 10;
        }
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(h * 3600 + mi * 60 + sec);
    Some(secs * 1000 + ms)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if y.is_multiple_of(4) && (!y.is_multiple_of(100) || y.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (H. Hinnant's `days_from_civil`), without chrono's general checks: this
/// runs once a line.
fn days_from_civil(y: u32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * i64::from((m + 9) % 12) + 2) / 5 + i64::from(d) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A contexts field: `{"schema": ..., "data": [entity, ...]}`.
#[derive(Deserialize)]
pub(super) struct Contexts<'a> {
    #[serde(borrow)]
    pub(super) data: Vec<Entity<'a>>,
}

/// A self-describing entity: its schema's URI and its data, not yet read.
#[derive(Deserialize)]
pub(super) struct Entity<'a> {
    #[serde(borrow)]
    pub(super) schema: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) data: &'a RawValue,
}

#[derive(Deserialize)]
struct AmpId<'a> {
    #[serde(rename = "ampClientId", borrow)]
    amp_client_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct SpidersAndRobots {
    #[serde(rename = "spiderOrRobot")]
    spider_or_robot: Option<bool>,
}

const AMP_ID_SCHEMA: &str = "iglu:dev.amp.snowplow/amp_id/";
const SPIDERS_SCHEMA: &str = "iglu:com.iab.snowplow/spiders_and_robots/";

/// Searchers for the schemas' names (and a robot's verdict), to look for
/// before deserialising anything; built once, as building one costs more than
/// a search.
static AMP_ID_NAME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("amp_id"));
static SPIDERS_NAME: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("spiders_and_robots"));
static TRUE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("true"));

/// The AMP client id from the `contexts` field (already checked to be JSON),
/// if the AMP entity is there.
///
/// Only a `contexts` that names the AMP schema is deserialised (a syntax check
/// is several times faster, and fetch's throughput depends on it); the
/// entity's shape is checked only there.
fn amp_client_id(contexts: &[u8]) -> Result<Option<Cow<'_, str>>, BadRow> {
    if AMP_ID_NAME.find(contexts).is_none() {
        return Ok(None);
    }
    for amp in entities::<AmpId<'_>>("contexts", contexts, AMP_ID_SCHEMA)? {
        if let Some(id) = amp.amp_client_id.filter(|id| !id.is_empty()) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// The data of the entities of a contexts field (`{"schema": ..., "data":
/// [{"schema": ..., "data": ...}, ...]}`) whose schema starts with `schema`.
fn entities<'a, T: Deserialize<'a>>(
    field: &'static str,
    text: &'a [u8],
    schema: &str,
) -> Result<Vec<T>, BadRow> {
    let bad = |e: serde_json::Error| BadRow::Json {
        field,
        error: e.to_string(),
    };
    let parsed: Contexts<'a> = serde_json::from_slice(text).map_err(bad)?;
    parsed
        .data
        .into_iter()
        .filter(|entity| entity.schema.starts_with(schema))
        .map(|entity| serde_json::from_str(entity.data.get()).map_err(bad))
        .collect()
}

fn check_json(field: &'static str, text: &[u8]) -> Result<(), BadRow> {
    crate::stages::fetch::snowplow::json_check::check(text).map_err(|e| BadRow::Json {
        field,
        error: e.to_string(),
    })
}

/// A robot by the IAB enrichment's verdict, or by a self-declared user agent.
///
/// `derived_contexts` is written by the enrichment itself, not by trackers;
/// it is deserialised (and so checked) only when it may hold a robot verdict:
/// it has a `true` somewhere and names the IAB schema (which the enrichment
/// writes on every line, so the rarer `true` is looked for first).
fn is_bot(useragent: &[u8], derived_contexts: &[u8]) -> Result<bool, BadRow> {
    let dc = derived_contexts;
    if TRUE.find(dc).is_some() && SPIDERS_NAME.find(dc).is_some() {
        let verdicts: Vec<SpidersAndRobots> = entities("derived_contexts", dc, SPIDERS_SCHEMA)?;
        if verdicts.iter().any(|v| v.spider_or_robot == Some(true)) {
            return Ok(true);
        }
    }
    Ok(self_declared_robot(useragent))
}

/// A user agent containing `bot`, `spider` or `crawl` in any case.
fn self_declared_robot(ua: &[u8]) -> bool {
    let word_at = |i: usize| {
        let at = |w: &[u8]| ua.get(i..i + w.len()).is_some_and(|s| s.eq_ignore_ascii_case(w));
        at(b"bot") || at(b"spider") || at(b"crawl")
    };
    // 32 positions at a time: where the next three letters are `bot`, `spi` or
    // `cra` (any case); most user agents have none, and the rest is checked
    // there. The last block is padded with zeros, which match no letter.
    let lower = |i: usize| u8x32::new(block_at(ua, i)) | u8x32::splat(0x20);
    let starts = |l0: u8x32, l1: u8x32, l2: u8x32, w: &[u8; 3]| {
        l0.cmp_eq(u8x32::splat(w[0])) & l1.cmp_eq(u8x32::splat(w[1])) & l2.cmp_eq(u8x32::splat(w[2]))
    };
    let mut i = 0;
    while i + 2 < ua.len() {
        let (l0, l1, l2) = (lower(i), lower(i + 1), lower(i + 2));
        let hits = starts(l0, l1, l2, b"bot") | starts(l0, l1, l2, b"spi") | starts(l0, l1, l2, b"cra");
        let mut mask = hits.move_mask();
        while mask != 0 {
            if word_at(i + mask.trailing_zeros() as usize) {
                return true;
            }
            mask &= mask - 1;
        }
        i += 32;
    }
    false
}

/// The path part of a full URL (no host, query or fragment).
fn path_of_url(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path_start = after_scheme.find('/').unwrap_or(after_scheme.len());
    let path = &after_scheme[path_start..];
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

#[cfg(test)]
pub(crate) mod tests;
