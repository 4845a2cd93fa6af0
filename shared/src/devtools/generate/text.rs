//! What the stories say: titles, excerpts and tags from each topic's words,
//! and the people and places each topic's stories name, so that text
//! similarity follows the topics, imperfectly, as in a real newsroom.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::devtools::generate::zipf::pick;

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

pub(super) fn section_name(topic: usize) -> String {
    format!("Section {topic}")
}

pub(super) struct StoryText {
    pub(super) title: String,
    pub(super) excerpt: String,
    pub(super) tags: Vec<String>,
}

pub(super) fn story_text(rng: &mut ChaCha8Rng, topic: usize, clusters: usize) -> StoryText {
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
pub(super) const NAMES_PER_TOPIC: usize = 400;
/// Names a story mentions.
const NAMES_PER_STORY: usize = 3;
const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "da", "fe", "go", "hu", "ji", "pe", "qua", "zo",
];

/// The `rank`th name of `topic`: a made-up word, the same every time.
pub(super) fn name(topic: usize, rank: usize) -> String {
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
pub(super) fn names_sentence(seed: u64, id: usize, topic: usize, cdf: &[f64]) -> String {
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
