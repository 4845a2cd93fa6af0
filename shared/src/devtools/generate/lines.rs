//! An event as the Snowplow enricher writes it: one tab-separated line of
//! the enriched fields, for a reader of the site (or a bot, or another app),
//! counted in the [`Truth`] as fetch must count it; and the malformed copies
//! fetch must quarantine.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::devtools::generate::{
    ExpectedEvent, MalformedKind, Spec, Truth, WIDGET_ARTICLE_SCHEMA, WIDGET_FLOW_SCHEMA, WIDGET_MODEL_SCHEMA,
};
use crate::fetch::snowplow::fields::{FIELDS, FIELD_COUNT};

/// Column positions the generator fills.
pub(super) struct Cols {
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
    pub(super) fn new() -> Cols {
        Cols {
            idx: FILLED
                .iter()
                .map(|n| FIELDS.iter().position(|f| f == n).unwrap_or(0))
                .collect(),
        }
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

fn hex(rng: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

pub(super) fn uuid(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}-{}-4{}-a{}-{}",
        hex(rng, 8),
        hex(rng, 4),
        hex(rng, 3),
        hex(rng, 3),
        hex(rng, 12)
    )
}

pub(super) fn b64(rng: &mut ChaCha8Rng, n: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..n).map(|_| char::from(A[rng.random_range(0..64)])).collect()
}

fn tstamp(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S%.3f")
        .to_string()
}

/// Lines of an hour still open to events.
#[derive(Default)]
pub(super) struct OpenHour {
    /// (collector ms, line)
    pub(super) lines: Vec<(i64, String)>,
    /// Indexes of valid page-event lines, for duplicates and malformed copies.
    pub(super) valid: Vec<usize>,
}

/// Where the events go, an hour at a time.
pub(super) struct Sink<'a> {
    pub(super) spec: &'a Spec,
    pub(super) cols: Cols,
    pub(super) open: BTreeMap<DateTime<Utc>, OpenHour>,
    pub(super) open_lines: usize,
    pub(super) peak_open_lines: usize,
    pub(super) truth: Truth,
}

impl Sink<'_> {
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
