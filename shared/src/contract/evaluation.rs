//! What an offline evaluation reports, on the wire between train and save
//! and in `evaluation.json`.

use serde::{Deserialize, Serialize};

/// Figures of one recommender on the holdout questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HoldoutMetrics {
    /// Questions asked (after sampling).
    pub questions: u64,
    /// Share of questions whose next article is in the top `k`.
    pub hit_rate: f64,
    /// Mean of `1 / rank` of the next article, 0 when it is not in the top `k`.
    pub mrr: f64,
    /// Mean over questions whose next article the model knows of the share of
    /// other candidates scored below it (ties count half).
    pub auc: f64,
    /// Share of recommendable articles that appear in at least one top-`k` list.
    pub coverage: f64,
}

/// The evaluation of one run, written beside its outputs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Epoch ms of the cut: holdout reads start here.
    pub holdout_start_ms: i64,
    pub train_readings: u64,
    pub holdout_readings: u64,
    /// Questions the holdout gave, before sampling.
    pub questions_found: u64,
    /// Recommendation list length the metrics are measured at.
    pub k: u32,
    /// The chosen model's figures.
    pub model: HoldoutMetrics,
    /// The popularity baseline's (the defaults' rule on the training part).
    pub popularity: HoldoutMetrics,
    /// Training loss per iteration of the chosen model's evaluation fit (ALS).
    pub loss: Vec<f64>,
    /// Every candidate measured, best first, and those not reached.
    #[serde(default)]
    pub leaderboard: Vec<Candidate>,
    /// The best candidate by MRR (ties: hit rate), refitted on the whole window.
    #[serde(default)]
    pub winner: Option<ModelSpec>,
    /// A question is cold when its source or its answer had fewer than this
    /// many readers before the cut (or was published after it).
    #[serde(default)]
    pub cold_readers: u32,
    /// The chosen model's figures on the cold and warm questions.
    #[serde(default)]
    pub model_slices: Option<Slices>,
    /// The popularity baseline's.
    #[serde(default)]
    pub popularity_slices: Option<Slices>,
}

/// Figures on the holdout's two slices: questions about fresh or barely read
/// articles (cold), and the rest (warm). Together they are all the questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Slices {
    pub cold: HoldoutMetrics,
    pub warm: HoldoutMetrics,
}

/// A model family with its settings, as `evaluation.json` and the model
/// table store it: `{"family":"ease","lambda":500.0}`. The families
/// themselves (their names, grids and parameter types) are in
/// `recommend::families`; the contract only carries what they wrote, in the
/// order they wrote it.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    family: String,
    params: Vec<(String, serde_json::Value)>,
}

/// The family of the baseline every model must beat: the default
/// recommendations' rule, the same list for every article.
pub const POPULARITY: &str = "popularity";

impl ModelSpec {
    /// A family without parameters.
    pub fn named(family: &str) -> ModelSpec {
        ModelSpec {
            family: family.to_string(),
            params: Vec::new(),
        }
    }

    /// A family with the fields of `params` (a struct), in its field order.
    pub fn with<P: Serialize>(family: &str, params: &P) -> ModelSpec {
        let params = serde_json::to_string(params)
            .ok()
            .and_then(|json| serde_json::from_str::<Params>(&json).ok())
            .map(|p| p.0)
            .unwrap_or_default();
        ModelSpec {
            family: family.to_string(),
            params,
        }
    }

    /// The popularity baseline.
    pub fn popularity() -> ModelSpec {
        ModelSpec::named(POPULARITY)
    }

    pub fn family(&self) -> &str {
        &self.family
    }

    pub fn is_popularity(&self) -> bool {
        self.family == POPULARITY
    }

    /// The parameters as the family's own type.
    ///
    /// # Errors
    /// `InvalidInput` when they do not fit it (a file from another version).
    pub fn params<P: serde::de::DeserializeOwned>(&self) -> crate::contract::error::Result<P> {
        let map: serde_json::Map<String, serde_json::Value> = self.params.iter().cloned().collect();
        serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
            crate::contract::error::Error::InvalidInput(format!("the parameters of {self}: {e}"))
        })
    }

    /// A parameter that is itself a spec (a blend's base).
    pub fn nested(&self, key: &str) -> Option<ModelSpec> {
        let (_, v) = self.params.iter().find(|(k, _)| k == key)?;
        serde_json::from_value(v.clone()).ok()
    }
}

/// Equal when the family and every parameter are, in any order (a file
/// written by an earlier version may list them differently).
impl PartialEq for ModelSpec {
    fn eq(&self, other: &Self) -> bool {
        fn sorted(p: &[(String, serde_json::Value)]) -> Vec<&(String, serde_json::Value)> {
            let mut v: Vec<_> = p.iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
        self.family == other.family && sorted(&self.params) == sorted(&other.params)
    }
}

/// A JSON object's entries in the order written.
struct Params(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Params;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    out.push(entry);
                }
                Ok(Params(out))
            }
        }
        d.deserialize_map(Entries)
    }
}

impl Serialize for ModelSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1 + self.params.len()))?;
        map.serialize_entry("family", &self.family)?;
        for (k, v) in &self.params {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Params(mut entries) = Params::deserialize(d)?;
        let at = entries
            .iter()
            .position(|(k, _)| k == "family")
            .ok_or_else(|| serde::de::Error::missing_field("family"))?;
        let (_, family) = entries.remove(at);
        let family = family
            .as_str()
            .ok_or_else(|| serde::de::Error::custom("family is not a string"))?
            .to_string();
        Ok(ModelSpec {
            family,
            params: entries,
        })
    }
}

/// `family(base,flag,key=value,...)`: a nested spec first, then the flags
/// that are on, then the values (`_hours` ones as `key=6h`).
impl std::fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (_, v) in &self.params {
            if let Ok(spec) = serde_json::from_value::<ModelSpec>(v.clone()) {
                parts.push(spec.to_string());
            }
        }
        for (k, v) in &self.params {
            if v.as_bool() == Some(true) {
                parts.push(k.clone());
            }
        }
        for (k, v) in &self.params {
            let value = match v {
                serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                    (Some(u), _, _) => u.to_string(),
                    (_, Some(i), _) => i.to_string(),
                    (_, _, Some(x)) => x.to_string(),
                    _ => n.to_string(),
                },
                serde_json::Value::String(s) => s.clone(),
                _ => continue,
            };
            match k.strip_suffix("_hours") {
                Some(stem) => parts.push(format!("{stem}={value}h")),
                None => parts.push(format!("{k}={value}")),
            }
        }
        if parts.is_empty() {
            f.write_str(&self.family)
        } else {
            write!(f, "{}({})", self.family, parts.join(","))
        }
    }
}

/// One line of the leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub spec: ModelSpec,
    /// `None` when it was not measured (see `skipped`).
    pub metrics: Option<HoldoutMetrics>,
    /// Seconds to fit and answer the holdout.
    pub secs: f64,
    /// Why it was not measured (the time budget, a failed fit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The same figures on the cold and the warm questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slices: Option<Slices>,
}

/// The gate's decision, with the reason a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateDecision {
    pub promote: bool,
    pub reason: String,
    /// The online check's finding, when the serving article model's
    /// click-through rate fell significantly below its predecessor's: it does
    /// not stop promotion, it says a rollback is worth a look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_warning: Option<String>,
}

/// A rule for the default list.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum DefaultsRule {
    /// Dwell per reader over the most recent interactions, publish-decayed.
    Original,
    /// Readers per article whose first read is within the last `hours` (all: `None`).
    MostRead { hours: Option<f64> },
    /// Reads weighted by `0.5 ^ (hours ago / half_life_hours)`.
    Trending { half_life_hours: f64 },
}

impl std::fmt::Display for DefaultsRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DefaultsRule::Original => f.write_str("original"),
            DefaultsRule::MostRead { hours: None } => f.write_str("most_read(window)"),
            DefaultsRule::MostRead { hours: Some(h) } => write!(f, "most_read({h}h)"),
            DefaultsRule::Trending { half_life_hours } => write!(f, "trending(half_life={half_life_hours}h)"),
        }
    }
}

/// A rule's figures on the unknown readers' first reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleScore {
    pub rule: DefaultsRule,
    pub questions: u64,
    pub hit_rate: f64,
    pub mrr: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ease() -> ModelSpec {
        ModelSpec::with("ease", &serde_json::json!({ "lambda": 500.0 }))
    }

    #[derive(Serialize)]
    struct Blend {
        base: ModelSpec,
        k: f32,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        embedding: bool,
    }

    /// The spec is stored (evaluation.json, the model table): a hybrid
    /// written before embeddings existed still reads as the TF-IDF blend,
    /// and that blend is written the same as before.
    #[test]
    fn a_hybrid_spec_reads_and_writes_as_before_and_names_its_text_part() {
        let old = r#"{"family":"hybrid","base":{"family":"ease","lambda":500.0},"k":10.0}"#;
        let spec: ModelSpec = serde_json::from_str(old).unwrap();
        let tfidf = ModelSpec::with(
            "hybrid",
            &Blend {
                base: ease(),
                k: 10.0,
                embedding: false,
            },
        );
        assert_eq!(spec, tfidf);
        assert_eq!(serde_json::to_string(&tfidf).unwrap(), old);
        assert_eq!(tfidf.to_string(), "hybrid(ease(lambda=500),k=10)");
        let vectors = ModelSpec::with(
            "hybrid",
            &Blend {
                base: ease(),
                k: 10.0,
                embedding: true,
            },
        );
        let json = serde_json::to_string(&vectors).unwrap();
        assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), vectors);
        assert_eq!(vectors.to_string(), "hybrid(ease(lambda=500),embedding,k=10)");
        assert_eq!(
            serde_json::to_string(&ModelSpec::named("embedding")).unwrap(),
            r#"{"family":"embedding"}"#
        );
    }

    /// Parameters in another order are the same spec; a file without a
    /// family is refused; an `f32` parameter is written as it reads.
    #[test]
    fn specs_compare_by_value_and_need_a_family() {
        let a: ModelSpec = serde_json::from_str(r#"{"family":"x","a":1,"b":0.01}"#).unwrap();
        let b: ModelSpec = serde_json::from_str(r#"{"b":0.01,"family":"x","a":1}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "x(a=1,b=0.01)");
        assert!(serde_json::from_str::<ModelSpec>(r#"{"a":1}"#).is_err());
        assert!(serde_json::from_str::<ModelSpec>(r#"{"family":7}"#).is_err());
        assert!(serde_json::from_str::<ModelSpec>(r#"{"family":"x","a":"#).is_err());
        // parameters that do not fit the family's type are an error naming the spec
        #[derive(Debug, Deserialize)]
        struct Lambda {
            #[allow(dead_code)]
            lambda: f32,
        }
        let wrong: ModelSpec = serde_json::from_str(r#"{"family":"ease","lambda":"big"}"#).unwrap();
        let e = wrong.params::<Lambda>().unwrap_err().to_string();
        assert!(e.contains("ease(lambda=big)"), "{e}");
        assert!(ModelSpec::named("ease").params::<Lambda>().is_err());
        #[derive(Serialize)]
        struct Reg {
            regularization: f32,
        }
        let f32s = ModelSpec::with("als", &Reg { regularization: 0.01 });
        assert_eq!(
            serde_json::to_string(&f32s).unwrap(),
            r#"{"family":"als","regularization":0.01}"#
        );
        assert_eq!(f32s.to_string(), "als(regularization=0.01)");
    }
}
