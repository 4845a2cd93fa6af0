//! The site: its catalogue (with stories published before the window, in it,
//! and in its last hours, unread), each story's topic and related-stories
//! box, and how a reader picks the next story and a widget's recommendation.

use chrono::{DateTime, Duration};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::contract::site::CatalogEntry;
use crate::devtools::generate::text::{names_sentence, section_name, story_text, NAMES_PER_TOPIC};
use crate::devtools::generate::zipf::{pick, zipf_cdf};
use crate::devtools::generate::Spec;

/// Readers' interest in a story halves every this many days after publication:
/// news is read fresh.
const FRESH_HALF_LIFE_DAYS: f64 = 2.0;
/// Draws before a reader settles for whatever story came up.
const FRESH_TRIES: usize = 12;
/// Links in a story's "related stories" box: the latest earlier coverage of its
/// topic, and one more story of the topic.
pub(super) const RELATED_LINKS: usize = 4;
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

/// The site's stories and how readers choose among them.
pub(super) struct World {
    pub(super) catalog: Vec<CatalogEntry>,
    /// Each story's topic.
    pub(super) topic: Vec<usize>,
    pub(super) published_ms: Vec<i64>,
    pub(super) by_cluster: Vec<Vec<usize>>,
    cluster_cdf: Vec<Vec<f64>>,
    global_cdf: Vec<f64>,
    pub(super) related: Vec<Vec<usize>>,
    link_cdf: Vec<f64>,
}

impl World {
    pub(super) fn new(spec: &Spec, rng: &mut ChaCha8Rng) -> World {
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
    pub(super) fn click_chance(&self, a: usize, b: usize, home: usize, position: usize, t_ms: i64) -> f64 {
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
    pub(super) fn next_story(
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
