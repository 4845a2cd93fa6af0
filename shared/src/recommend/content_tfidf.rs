//! Content neighbours: TF-IDF over each article's title, excerpt and terms
//! (section and tags), and the exact cosine between articles' vectors.
//!
//! Words are Unicode word segments (UAX #29), lower-cased, stop words of the
//! site's language dropped, then stemmed (Snowball); a section or tag is one
//! term of its own besides its words, so "Climate change" as a tag matches the
//! tag exactly and its words loosely. Weights are sublinear tf `1 + ln tf`
//! times the smooth IDF `ln((1 + N) / (1 + df)) + 1` of the site's own corpus,
//! each vector L2-normalised (as scikit-learn's `TfidfVectorizer` does by
//! default, with `sublinear_tf`). Terms found in a single article are dropped:
//! they link it to nothing. In a catalogue of [`MAX_DF_MIN_ARTICLES`] or
//! more, so are the terms in more than [`MAX_DF_SHARE`] of the articles
//! (scikit-learn's `max_df`, gensim's `no_above`): words every story uses
//! ("said", "new", a site-wide section) tell little, and they are what an
//! exact cosine pays for, since every source touches all their postings.
//!
//! A row is computed on demand through the inverted index (term -> articles),
//! so a source costs the postings of its own terms, and a served list costs
//! the articles sharing a term plus one shared ranking of the rest: nothing
//! n x n is held or scanned.

use std::collections::{HashMap, HashSet};

/// Languages the content model has a stemmer and stop words for.
pub const CONTENT_LANGUAGES: [&str; 14] = [
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "hungarian",
    "italian",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "spanish",
    "swedish",
];

use rayon::prelude::*;
use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

use crate::contract::error::{Error, Result};
use crate::recommend::item_item::{ItemItem, Serving};
use crate::recommend::neighbours::{Neighbour, TopK};

/// The text of one article, as the site's catalogue gives it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArticleText<'a> {
    pub title: Option<&'a str>,
    pub excerpt: Option<&'a str>,
    pub section: Option<&'a str>,
    pub tags: &'a [String],
}

/// Turns text into terms for one language.
pub struct Analyzer {
    stemmer: Stemmer,
    stop: HashSet<String>,
}

/// Languages with both a Snowball stemmer and a stop-word list, by the name
/// the `CONTENT_LANGUAGE` setting takes.
const LANGUAGES: [(&str, Algorithm, stop_words::LANGUAGE); 14] = [
    ("danish", Algorithm::Danish, stop_words::LANGUAGE::Danish),
    ("dutch", Algorithm::Dutch, stop_words::LANGUAGE::Dutch),
    ("english", Algorithm::English, stop_words::LANGUAGE::English),
    ("finnish", Algorithm::Finnish, stop_words::LANGUAGE::Finnish),
    ("french", Algorithm::French, stop_words::LANGUAGE::French),
    ("german", Algorithm::German, stop_words::LANGUAGE::German),
    ("hungarian", Algorithm::Hungarian, stop_words::LANGUAGE::Hungarian),
    ("italian", Algorithm::Italian, stop_words::LANGUAGE::Italian),
    ("norwegian", Algorithm::Norwegian, stop_words::LANGUAGE::Norwegian),
    (
        "portuguese",
        Algorithm::Portuguese,
        stop_words::LANGUAGE::Portuguese,
    ),
    ("romanian", Algorithm::Romanian, stop_words::LANGUAGE::Romanian),
    ("russian", Algorithm::Russian, stop_words::LANGUAGE::Russian),
    ("spanish", Algorithm::Spanish, stop_words::LANGUAGE::Spanish),
    ("swedish", Algorithm::Swedish, stop_words::LANGUAGE::Swedish),
];

/// The names [`Analyzer::new`] accepts.
pub fn languages() -> impl Iterator<Item = &'static str> {
    LANGUAGES.iter().map(|(name, ..)| *name)
}

impl Analyzer {
    /// # Errors
    /// `InvalidInput` for a language without a stemmer and a stop-word list.
    pub fn new(language: &str) -> Result<Analyzer> {
        let wanted = language.trim().to_lowercase();
        let Some((_, algorithm, stop)) = LANGUAGES.iter().find(|(name, ..)| *name == wanted) else {
            return Err(Error::InvalidInput(format!(
                "CONTENT_LANGUAGE {language:?} is not one of {}",
                languages().collect::<Vec<_>>().join(", ")
            )));
        };
        Ok(Analyzer {
            stemmer: Stemmer::create(*algorithm),
            stop: stop_words::get(stop.clone())
                .iter()
                .map(|w| w.to_lowercase())
                .collect(),
        })
    }

    /// The stemmed words of `text` that are not stop words, in order.
    pub fn words(&self, text: &str, out: &mut Vec<String>) {
        for w in text.unicode_words() {
            let w = w.to_lowercase();
            if w.chars().count() < 2 || w.chars().all(char::is_numeric) || self.stop.contains(&w) {
                continue;
            }
            out.push(self.stemmer.stem(&w).into_owned());
        }
    }

    /// Every term of an article: the words of its title, excerpt, section and
    /// tags, and each section or tag whole.
    pub fn terms(&self, text: &ArticleText<'_>) -> Vec<String> {
        let mut out = Vec::new();
        for t in [text.title, text.excerpt].into_iter().flatten() {
            self.words(t, &mut out);
        }
        for term in text
            .section
            .into_iter()
            .chain(text.tags.iter().map(String::as_str))
        {
            let whole = term.trim().to_lowercase();
            if !whole.is_empty() {
                self.words(term, &mut out);
                out.push(format!("#{whole}"));
            }
        }
        out
    }
}

/// Covers the f32 rounding of [`Serving::score`] against its upper bound.
const BOUND_SLACK: f32 = 1.0 + 1e-4;

/// Terms in more than this share of the articles are dropped...
pub const MAX_DF_SHARE: f64 = 0.2;
/// ...in a catalogue of at least this many articles (in a smaller one the
/// share says little and every posting list is short).
pub const MAX_DF_MIN_ARTICLES: usize = 1_000;

/// TF-IDF vectors of a catalogue and their inverted index.
pub struct ContentTfidf {
    /// Per article: (term, weight), L2-normalised.
    rows: Vec<Vec<(u32, f32)>>,
    /// Per term: (article, weight).
    postings: Vec<Vec<(u32, f32)>>,
}

impl ContentTfidf {
    /// Vectors of articles given as term lists (from [`Analyzer::terms`]).
    pub fn fit(docs: &[Vec<String>]) -> ContentTfidf {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut df: Vec<u32> = Vec::new();
        let counted: Vec<Vec<(u32, u32)>> = docs
            .iter()
            .map(|doc| {
                let mut tf: HashMap<u32, u32> = HashMap::new();
                for t in doc {
                    let next = ids.len() as u32;
                    let id = *ids.entry(t.as_str()).or_insert(next);
                    if id as usize == df.len() {
                        df.push(0);
                    }
                    *tf.entry(id).or_default() += 1;
                }
                for &id in tf.keys() {
                    df[id as usize] += 1;
                }
                let mut tf: Vec<(u32, u32)> = tf.into_iter().collect();
                tf.sort_unstable();
                tf
            })
            .collect();
        let n = docs.len() as f32;
        let max_df = if docs.len() >= MAX_DF_MIN_ARTICLES {
            (MAX_DF_SHARE * docs.len() as f64) as u32
        } else {
            u32::MAX
        };
        let idf: Vec<f32> = df
            .iter()
            .map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0)
            .collect();
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); df.len()];
        let rows: Vec<Vec<(u32, f32)>> = counted
            .into_iter()
            .enumerate()
            .map(|(a, tf)| {
                let mut row: Vec<(u32, f32)> = tf
                    .into_iter()
                    .filter(|&(t, _)| (2..=max_df).contains(&df[t as usize]))
                    .map(|(t, c)| (t, (1.0 + (c as f32).ln()) * idf[t as usize]))
                    .collect();
                let norm = row.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
                for (t, w) in &mut row {
                    *w /= norm;
                    postings[*t as usize].push((a as u32, *w));
                }
                row
            })
            .collect();
        ContentTfidf { rows, postings }
    }

    /// The TF-IDF vector of an article: (term id, weight), by term id.
    pub fn vector(&self, a: usize) -> &[(u32, f32)] {
        &self.rows[a]
    }

    /// Cosine of `from` with every article into `out`; returns the articles
    /// touched (cosine > 0), `from` included.
    fn cosines(&self, from: usize, out: &mut [f32], touched: &mut Vec<u32>) {
        for &(t, w) in &self.rows[from] {
            for &(j, wj) in &self.postings[t as usize] {
                let v = &mut out[j as usize];
                if *v == 0.0 {
                    touched.push(j);
                }
                *v += w * wj;
            }
        }
    }
}

impl ItemItem for ContentTfidf {
    fn articles(&self) -> usize {
        self.rows.len()
    }

    fn affinities(&self, from: usize, out: &mut [f32]) {
        out.fill(0.0);
        let mut touched = Vec::new();
        self.cosines(from, out, &mut touched);
        for v in out.iter_mut() {
            *v = v.clamp(0.0, 1.0);
        }
    }

    /// Exactly the default's lists, faster: the articles sharing no term with
    /// the source all score by the prior alone, so one ranking of them serves
    /// every source, merged with the few it does share terms with.
    fn neighbours(&self, sources: &[usize], serving: &Serving<'_>) -> Vec<Vec<Neighbour>> {
        let n = self.articles();
        let mut by_prior: Vec<Neighbour> = (0..n)
            .filter(|&j| !serving.excluded[j])
            .map(|j| Neighbour {
                index: j,
                score: serving.score(j, 0.0),
            })
            .collect();
        by_prior.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        // score(j, c) = ((1 - w) c + w prior_j) decay_j <= c max_decay + max_j score(j, 0)
        let max_decay = serving.decay.iter().copied().fold(0f32, f32::max);
        let max_rest = (0..n).map(|j| serving.score(j, 0.0)).fold(0f32, f32::max);
        sources
            .par_iter()
            .map_init(
                || (vec![0f32; n], Vec::new()),
                |(buf, touched), &from| {
                    self.cosines(from, buf, touched);
                    let mut best = TopK::new(serving.k);
                    let mut floor = best.floor();
                    for &j in touched.iter() {
                        let j = j as usize;
                        let cosine = buf[j].clamp(0.0, 1.0);
                        // most candidates share a word or two: once the list is
                        // full, the bound turns them away without their facts
                        if (cosine * max_decay + max_rest) * BOUND_SLACK < floor {
                            continue;
                        }
                        let score = serving.score(j, cosine);
                        if j != from && !serving.excluded[j] && score > floor {
                            best.push(Neighbour { index: j, score });
                            floor = best.floor();
                        }
                    }
                    let mut untouched = 0;
                    for c in &by_prior {
                        if untouched == serving.k || c.score < best.floor() {
                            break;
                        }
                        if c.index != from && buf[c.index] == 0.0 {
                            untouched += 1;
                            if c.score > best.floor() {
                                best.push(*c);
                            }
                        }
                    }
                    for &j in touched.iter() {
                        buf[j as usize] = 0.0;
                    }
                    touched.clear();
                    best.into_sorted()
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn english() -> Analyzer {
        Analyzer::new("English").unwrap()
    }

    #[test]
    fn words_are_segmented_lower_cased_stemmed_and_stop_words_dropped() {
        let mut out = Vec::new();
        english().words("The Mayor's floods: Flooding hits 3 towns, again!", &mut out);
        assert_eq!(out, ["mayor", "flood", "flood", "hit", "town"]);
        let tags = ["Climate change".to_string()];
        let terms = english().terms(&ArticleText {
            title: Some("Rain"),
            section: Some("News"),
            tags: &tags,
            ..ArticleText::default()
        });
        assert_eq!(
            terms,
            ["rain", "news", "#news", "climat", "chang", "#climate change"]
        );
        let err = Analyzer::new("klingon").err().unwrap();
        assert!(err.to_string().contains("english"), "{err}");
        // every language the settings accept has a stemmer and stop words
        let accepted = CONTENT_LANGUAGES;
        assert_eq!(languages().collect::<Vec<_>>(), accepted);
        for l in accepted {
            assert!(Analyzer::new(l).is_ok_and(|a| !a.stop.is_empty()), "{l}");
        }
    }

    fn doc(words: &str) -> Vec<String> {
        words.split(' ').map(String::from).collect()
    }

    #[test]
    fn weights_and_cosines_of_a_hand_made_corpus() {
        // term "c" is in one article only and is dropped
        let docs = [doc("a a b"), doc("a b"), doc("b c"), doc("d")];
        let m = ContentTfidf::fit(&docs);
        let idf = |df: f32| (5.0f32 / (1.0 + df)).ln() + 1.0;
        let (wa, wb) = ((1.0 + 2f32.ln()) * idf(2.0), idf(3.0));
        let norm = (wa * wa + wb * wb).sqrt();
        let v0 = m.vector(0);
        assert_eq!(v0.len(), 2);
        assert!((v0[0].1 - wa / norm).abs() < 1e-6, "{v0:?}");
        assert!((v0[1].1 - wb / norm).abs() < 1e-6, "{v0:?}");
        assert!(m.vector(3).is_empty(), "a term of one article links nothing");
        let mut out = vec![0.0; 4];
        m.affinities(0, &mut out);
        let n1 = (idf(2.0).powi(2) + wb * wb).sqrt();
        let want01 = (wa / norm) * (idf(2.0) / n1) + (wb / norm) * (wb / n1);
        assert!((out[1] - want01).abs() < 1e-6, "{out:?}");
        // article 2 keeps only "b": its vector is the unit vector of b
        assert!((out[2] - wb / norm).abs() < 1e-6, "{out:?}");
        assert_eq!(out[3], 0.0);
    }

    #[test]
    fn in_a_large_catalogue_the_terms_of_more_than_a_fifth_of_the_articles_are_dropped() {
        // "said" in 30% of the articles, "storm" in exactly 20%, "vote" in 10%
        let n = MAX_DF_MIN_ARTICLES;
        let docs: Vec<Vec<String>> = (0..n)
            .map(|i| {
                let mut d = vec![format!("own{}", i / 2)];
                if i % 10 < 3 {
                    d.push("said".into());
                }
                if i % 5 == 0 {
                    d.push("storm".into());
                }
                if i % 10 == 1 {
                    d.push("vote".into());
                }
                d
            })
            .collect();
        let m = ContentTfidf::fit(&docs);
        // article 0: own0, said, storm -> said dropped
        assert_eq!(m.vector(0).len(), 2, "{:?}", m.vector(0));
        // article 1: own0, said, vote -> said dropped
        assert_eq!(m.vector(1).len(), 2, "{:?}", m.vector(1));
        let mut out = vec![0.0; n];
        m.affinities(1, &mut out);
        assert!(out[11] > 0.0, "vote links 1 and 11");
        assert_eq!(out[2], 0.0, "said no longer links 1 and 2");
        // one article fewer: the same share is kept in full
        let small = ContentTfidf::fit(&docs[..n - 1]);
        assert_eq!(small.vector(0).len(), 3);
    }

    #[test]
    fn served_lists_equal_the_dense_default() {
        struct Dense<'a>(&'a ContentTfidf);
        impl ItemItem for Dense<'_> {
            fn articles(&self) -> usize {
                self.0.articles()
            }
            fn affinities(&self, from: usize, out: &mut [f32]) {
                self.0.affinities(from, out);
            }
        }
        let words = [
            "storm", "rain", "vote", "mayor", "budget", "match", "goal", "wind",
        ];
        let docs: Vec<Vec<String>> = (0..60)
            .map(|i: usize| {
                (0..4)
                    .map(|k| words[(i * 7 + k * k * 3 + i / 5) % words.len()].to_string())
                    .collect()
            })
            .collect();
        let m = ContentTfidf::fit(&docs);
        let prior: Vec<f32> = (0..60).map(|i| ((i * 37) % 11) as f32 / 10.0).collect();
        let decay: Vec<f32> = (0..60).map(|i| 1.0 / (1.0 + (i % 7) as f32)).collect();
        let excluded: Vec<bool> = (0..60).map(|i| i % 13 == 4).collect();
        let serving = Serving {
            decay: &decay,
            excluded: &excluded,
            prior: &prior,
            k: 10,
        };
        let sources: Vec<usize> = (0..60).collect();
        assert_eq!(
            m.neighbours(&sources, &serving),
            Dense(&m).neighbours(&sources, &serving)
        );
    }
}
