//! An event as the Snowplow enricher writes it: one tab-separated line of
//! the enriched fields, for a reader of the site (or a bot, or another app),
//! counted in the [`Truth`] as fetch must count it; and the malformed copies
//! fetch must quarantine.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::devtools::generate::{
    ExpectedEvent, MalformedKind, Spec, Truth, WIDGET_ARTICLE_SCHEMA, WIDGET_FLOW_SCHEMA, WIDGET_MODEL_SCHEMA,
};
use crate::stages::fetch::snowplow::fields::{FIELDS, FIELD_COUNT};

/// Column positions the generator fills.
pub(super) struct Cols {
    /// For each of the line's fields, which filled value it is, if one.
    at: Vec<Option<usize>>,
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
    pub(super) fn new() -> Cols {
        let idx: Vec<usize> = FILLED
            .iter()
            .map(|n| FIELDS.iter().position(|f| f == n).unwrap_or(0))
            .collect();
        let mut at = vec![None; FIELD_COUNT];
        for (i, &p) in idx.iter().enumerate() {
            at[p] = Some(i);
        }
        Cols { at }
    }
}

pub(super) struct Reader {
    pub(super) domain_userid: String,
    pub(super) network_userid: String,
    pub(super) amp_id: Option<String>,
    pub(super) amp_viewer: bool,
    pub(super) bot: Option<BotKind>,
    pub(super) ip: String,
}

#[derive(Clone, Copy)]
pub(super) enum BotKind {
    UserAgent,
    Iab,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Kind {
    View,
    Ping,
    Struct,
    Widget,
}

/// A widget event's own parts: the self-describing event and the entities
/// added to the line's contexts.
pub(super) struct WidgetParts {
    unstruct: String,
    entities: Vec<String>,
}

impl WidgetParts {
    pub(super) fn new(
        step: &str,
        model_id: i64,
        model_type: &str,
        clicked: Option<(&str, usize)>,
    ) -> WidgetParts {
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

pub(super) struct Page<'a> {
    pub(super) path: String,
    pub(super) title: &'a str,
}

/// Lowercase hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// `n` random hex digits appended to `out` (one draw each, as ever).
fn hex_into(out: &mut String, rng: &mut ChaCha8Rng, n: usize) {
    for _ in 0..n {
        out.push(char::from(HEX[rng.random_range(0..16)]));
    }
}

fn uuid_into(out: &mut String, rng: &mut ChaCha8Rng) {
    hex_into(out, rng, 8);
    out.push('-');
    hex_into(out, rng, 4);
    out.push_str("-4");
    hex_into(out, rng, 3);
    out.push_str("-a");
    hex_into(out, rng, 3);
    out.push('-');
    hex_into(out, rng, 12);
}

pub(super) fn uuid(rng: &mut ChaCha8Rng) -> String {
    let mut s = String::with_capacity(36);
    uuid_into(&mut s, rng);
    s
}

pub(super) fn b64(rng: &mut ChaCha8Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..n).map(|_| char::from(A[rng.random_range(0..64)])).collect()
}

/// `YYYY-MM-DD HH:MM:SS.mmm`, UTC, as the enricher writes times.
fn tstamp_into(out: &mut String, ms: i64) {
    use std::fmt::Write as _;
    let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let (d, s) = (t.date_naive(), t.time());
    let _ = write!(
        out,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        d.year(),
        d.month(),
        d.day(),
        s.hour(),
        s.minute(),
        s.second(),
        ms.rem_euclid(1000)
    );
}

/// Lines of an hour still open to events.
#[derive(Default)]
pub(super) struct OpenHour {
    /// (collector ms, line)
    pub(super) lines: Vec<(i64, String)>,
    /// Indexes of valid page-event lines, for duplicates and malformed copies.
    pub(super) valid: Vec<usize>,
}

/// One line an emitter made: its hour partition (by collector time), the
/// collector time, the line, and whether it is a valid page event of a
/// reader of the site (what duplicates and malformed copies are made of).
pub(super) struct Emitted {
    pub(super) hour: DateTime<Utc>,
    pub(super) collector: i64,
    pub(super) line: String,
    pub(super) valid: bool,
}

/// Where the events go, an hour at a time.
pub(super) struct Sink {
    pub(super) open: BTreeMap<DateTime<Utc>, OpenHour>,
    pub(super) open_lines: usize,
    pub(super) peak_open_lines: usize,
    pub(super) truth: Truth,
}

impl Sink {
    /// A session's lines, in the order it made them, into their hours.
    pub(super) fn absorb(&mut self, lines: Vec<Emitted>, truth: Truth) {
        for e in lines {
            let open = self.open.entry(e.hour).or_default();
            if e.valid {
                open.valid.push(open.lines.len());
            }
            open.lines.push((e.collector, e.line));
            self.open_lines += 1;
        }
        self.peak_open_lines = self.peak_open_lines.max(self.open_lines);
        self.truth.add(truth);
    }
}

/// Makes one session's lines (a reader's visit), on its own: sessions are
/// played side by side and their lines gathered in session order.
pub(super) struct Emitter<'a> {
    spec: &'a Spec,
    cols: &'a Cols,
    pub(super) out: Vec<Emitted>,
    pub(super) truth: Truth,
    /// The filled fields' values of the line being made (their buffers reused).
    vals: Vec<String>,
}

impl<'a> Emitter<'a> {
    pub(super) fn new(spec: &'a Spec, cols: &'a Cols) -> Emitter<'a> {
        Emitter {
            spec,
            cols,
            out: Vec::new(),
            truth: Truth::default(),
            vals: vec![String::new(); FILLED.len()],
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit(
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
    pub(super) fn emit_with(
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
        use std::fmt::Write as _;
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
        let v = &mut self.vals;
        for f in v.iter_mut() {
            f.clear();
        }
        v[0].push_str(if other_app { "other-app" } else { &spec.app_id });
        v[1].push_str("web");
        tstamp_into(&mut v[2], collector + 60_000);
        tstamp_into(&mut v[3], collector);
        tstamp_into(&mut v[4], t_ms);
        v[5].push_str(match kind {
            Kind::View => "page_view",
            Kind::Ping => "page_ping",
            Kind::Struct => "struct",
            Kind::Widget => "unstruct",
        });
        uuid_into(&mut v[6], rng);
        v[7].push_str(if r.amp_id.is_some() { "amp" } else { "sp" });
        v[8].push_str(if r.amp_id.is_some() {
            "amp-1.1.0"
        } else {
            "js-3.24.2"
        });
        v[9].push_str("ssc-3.2.1-kinesis");
        v[10].push_str("snowplow-enrich-kinesis-4.1.0");
        v[11].push_str(&r.ip);
        v[12].push_str(&r.domain_userid);
        let _ = write!(v[13], "{sidx}");
        v[14].push_str(&r.network_userid);
        let _ = write!(v[15], "https://{}{}", spec.host, page.path);
        v[16].push_str(page.title);
        v[17].push_str("https");
        v[18].push_str(&spec.host);
        v[19].push_str("443");
        v[20].push_str(&page.path);
        v[21].push_str(
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":["#,
        );
        match &r.amp_id {
            Some(amp) => {
                let _ = write!(
                    v[21],
                    r#"{{"schema":"iglu:dev.amp.snowplow/amp_id/jsonschema/1-0-0","data":{{"ampClientId":"{amp}"}}}}"#
                );
            }
            None => {
                v[21].push_str(
                    r#"{"schema":"iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0","data":{"id":""#,
                );
                uuid_into(&mut v[21], rng);
                v[21].push_str(r#""}}"#);
            }
        }
        if let Some(w) = widget {
            for e in &w.entities {
                v[21].push(',');
                v[21].push_str(e);
            }
            v[27].push_str(&w.unstruct);
        }
        v[21].push_str("]}");
        v[22].push_str(match r.bot {
            Some(BotKind::UserAgent) => {
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
            }
            _ => "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        });
        let spider = matches!(r.bot, Some(BotKind::Iab));
        let _ = write!(
            v[23],
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{{"schema":"iglu:com.iab.snowplow/spiders_and_robots/jsonschema/1-0-0","data":{{"spiderOrRobot":{spider},"category":"{}","reason":"PASSED_ALL","primaryImpact":"NONE"}}}}]}}"#,
            if spider { "SPIDER_OR_ROBOT" } else { "BROWSER" }
        );
        v[24].push_str(sid);
        tstamp_into(&mut v[25], t_ms);
        hex_into(&mut v[26], rng, 32);

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
                    event_id: v[6].clone(),
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
        let len: usize = v.iter().map(String::len).sum::<usize>() + FIELD_COUNT;
        let mut line = String::with_capacity(len);
        for (p, at) in self.cols.at.iter().enumerate() {
            if p > 0 {
                line.push('\t');
            }
            if let Some(i) = at {
                line.push_str(&v[*i]);
            }
        }
        self.out.push(Emitted {
            hour,
            collector,
            line,
            valid: page_event && !other_app && r.bot.is_none(),
        });
    }
}

pub(super) fn corrupt(line: &str, kind: MalformedKind) -> String {
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
