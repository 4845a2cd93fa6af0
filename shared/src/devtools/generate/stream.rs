//! The readers' sessions, drawn up front and played in the order they
//! start, each from its own random stream; an hour is handed out once no
//! session still to come can reach it, with the duplicates and malformed
//! lines due to it. With a widget served, readers see and click it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, DurationRound, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::contract::error::Result;
use crate::contract::layout::InputLayout;
use crate::contract::site::CatalogEntry;
use crate::devtools::generate::lines::{
    b64, corrupt, uuid, BotKind, Cols, Emitted, Emitter, Kind, OpenHour, Page, Reader, Sink, WidgetParts,
};
use crate::devtools::generate::world::World;
use crate::devtools::generate::{part_key, Malformed, MalformedKind, Served, Spec, Truth, WIDGET_SLOTS};

/// Share of article views whose reader scrolls down to the widget.
const SEE_WIDGET: f64 = 0.6;

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
    pub(super) world: World,
    people: Vec<Person>,
    sessions: Vec<SessionPlan>,
    next_session: usize,
    cols: Cols,
    sink: Sink,
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
        cols: Cols::new(),
        sink: Sink {
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
    /// Sessions are played side by side (each has its own random stream, so
    /// its lines do not depend on what else is played) in batches: every
    /// session starting before the end of the earliest hour any can still
    /// reach, which is the hour handed out next. Their lines are gathered in
    /// session order, so the output is the same on one core or many.
    ///
    /// # Errors
    /// `InvalidInput` when an hour's object key cannot be built.
    pub fn next_hour(&mut self) -> Result<Option<HourLines>> {
        loop {
            let next = self.sessions.get(self.next_session).map(|s| s.start_ms);
            let first_open = self.sink.open.keys().next().copied();
            if let Some(hour) = first_open {
                let hour_end = (hour + Duration::hours(1)).timestamp_millis();
                if next.is_none_or(|start| start >= hour_end) {
                    return self.close(hour).map(Some);
                }
            }
            let Some(start) = next else {
                return Ok(None);
            };
            // the hour handed out next: the earliest open one, or the next session's
            let of_start = DateTime::<Utc>::from_timestamp_millis(start)
                .and_then(|t| t.duration_trunc(Duration::hours(1)).ok())
                .map_or(start, |t| t.timestamp_millis());
            let target = first_open.map_or(of_start, |h| h.timestamp_millis().min(of_start));
            let end = target + 3_600_000;
            let last = self.sessions[self.next_session..].partition_point(|s| s.start_ms < end);
            let batch = self.next_session..self.next_session + last.max(1);
            let played: Vec<(Vec<Emitted>, Truth)> = {
                use rayon::prelude::*;
                let this = &*self;
                batch.clone().into_par_iter().map(|k| this.play(k)).collect()
            };
            self.next_session = batch.end;
            for (lines, truth) in played {
                self.sink.absorb(lines, truth);
            }
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

    /// One session's lines and what they count for.
    fn play(&self, k: usize) -> (Vec<Emitted>, Truth) {
        let mut sink = Emitter::new(self.spec, &self.cols);
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
        (sink.out, sink.truth)
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
