//! The quality gate: whether the chosen model may replace the current one.
//! Relative: it must beat the popularity baseline on the same questions (hit
//! rate and MRR, by a margin), not lose to it on the cold or the warm
//! questions (beyond the tolerance), and not fall behind the current model; an
//! absolute AUC floor is optional.

use crate::contract::evaluation::{Evaluation, GateDecision, HoldoutMetrics};
use crate::settings::GateParams;

/// Decides whether the model evaluated in `new` may replace the current
/// model, whose own evaluation was `current` (`None`: no current model, or it
/// was not evaluated).
pub fn quality_gate(
    new: Option<&Evaluation>,
    current: Option<&HoldoutMetrics>,
    p: &GateParams,
) -> GateDecision {
    let decide = |promote: bool, reason: String| GateDecision {
        promote,
        reason,
        online_warning: None,
    };
    let Some(new) = new else {
        return decide(
            true,
            "not evaluated: the holdout or the training part is empty".into(),
        );
    };
    let m = &new.model;
    let name = new
        .winner
        .as_ref()
        .map_or_else(|| "the model".to_string(), ToString::to_string);
    if m.questions < p.min_questions {
        return decide(
            true,
            format!(
                "not judged: {} holdout questions, fewer than the {} needed",
                m.questions, p.min_questions
            ),
        );
    }
    let pop = &new.popularity;
    if new
        .winner
        .as_ref()
        .is_some_and(crate::contract::evaluation::ModelSpec::is_popularity)
    {
        return decide(
            false,
            format!(
                "no model beats popularity: the most-read list scores best (hit rate {:.3}, MRR {:.3}); readers get the defaults",
                pop.hit_rate, pop.mrr
            ),
        );
    }
    let lift = 1.0 + p.min_lift;
    if m.hit_rate < pop.hit_rate * lift || m.mrr < pop.mrr * lift || m.hit_rate <= 0.0 {
        return decide(
            false,
            format!(
                "no model beats popularity by {:.0}%: the best, {name}, has hit rate {:.3} (popularity {:.3}), MRR {:.3} ({:.3}); readers get the defaults",
                p.min_lift * 100.0,
                m.hit_rate,
                pop.hit_rate,
                m.mrr,
                pop.mrr
            ),
        );
    }
    if p.min_auc > 0.0 && m.auc < p.min_auc {
        return decide(
            false,
            format!("{name}: AUC {:.3} is below the floor {:.3}", m.auc, p.min_auc),
        );
    }
    let mut beats = format!(
        "{name} beats popularity: hit rate {:.3} vs {:.3}, MRR {:.3} vs {:.3}",
        m.hit_rate, pop.hit_rate, m.mrr, pop.mrr
    );
    if let (Some(ms), Some(ps)) = (&new.model_slices, &new.popularity_slices) {
        // a model that wins overall may still serve fresh (or well read)
        // stories worse than the most-read list: each judged slice must hold
        for (slice, sm, sp) in [("cold", &ms.cold, &ps.cold), ("warm", &ms.warm, &ps.warm)] {
            if sm.questions >= p.min_questions && sm.hit_rate < sp.hit_rate - p.hit_rate_tolerance {
                return decide(
                    false,
                    format!(
                        "{name} loses to popularity on the {slice} questions: hit rate {:.3} vs {:.3} ({} questions, tolerance {:.3}); readers get the defaults",
                        sm.hit_rate, sp.hit_rate, sm.questions, p.hit_rate_tolerance
                    ),
                );
            }
            if sm.questions > 0 {
                beats.push_str(&format!(", {slice} {:.3} vs {:.3}", sm.hit_rate, sp.hit_rate));
            }
        }
    }
    if let Some(cur) = current.filter(|c| c.questions >= p.min_questions) {
        if m.hit_rate < cur.hit_rate - p.hit_rate_tolerance {
            return decide(
                false,
                format!(
                    "{name}: hit rate {:.3} is more than {:.3} below the current model's {:.3}",
                    m.hit_rate, p.hit_rate_tolerance, cur.hit_rate
                ),
            );
        }
        return decide(
            true,
            format!(
                "{beats}; current model {:.3} (tolerance {:.3})",
                cur.hit_rate, p.hit_rate_tolerance
            ),
        );
    }
    decide(
        true,
        format!("{beats}; no evaluated current model to compare with"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::evaluation::{ModelSpec, Slices};

    fn metrics(hit_rate: f64, mrr: f64, auc: f64, questions: u64) -> HoldoutMetrics {
        HoldoutMetrics {
            questions,
            auc,
            hit_rate,
            mrr,
            ..HoldoutMetrics::default()
        }
    }

    fn eval(model: HoldoutMetrics, winner: ModelSpec) -> Evaluation {
        Evaluation {
            model,
            popularity: metrics(0.20, 0.05, 0.7, model.questions),
            winner: Some(winner),
            ..Evaluation::default()
        }
    }

    /// No AUC floor, a 5-point lift, a 5-point tolerance, 50 questions.
    fn params() -> GateParams {
        GateParams {
            min_auc: 0.0,
            min_lift: 0.05,
            hit_rate_tolerance: 0.05,
            min_questions: 50,
        }
    }

    #[test]
    fn gate_decisions() {
        let p = params();
        let ease = crate::recommend::families::ease::spec(500.0);
        let current = metrics(0.30, 0.1, 0.8, 100);
        // beats popularity, even with a low AUC (the floor is off)
        let g = quality_gate(Some(&eval(metrics(0.30, 0.10, 0.6, 100), ease.clone())), None, &p);
        assert!(g.promote, "{g:?}");
        assert_eq!(
            g.reason,
            "ease(lambda=500) beats popularity: hit rate 0.300 vs 0.200, MRR 0.100 vs 0.050; no evaluated current model to compare with"
        );
        // better than popularity on hit rate, not on MRR
        let g = quality_gate(Some(&eval(metrics(0.30, 0.05, 0.9, 100), ease.clone())), None, &p);
        assert!(!g.promote);
        assert!(
            g.reason.starts_with("no model beats popularity by 5%"),
            "{}",
            g.reason
        );
        // popularity itself won
        let g = quality_gate(
            Some(&eval(metrics(0.2, 0.05, 0.7, 100), ModelSpec::popularity())),
            None,
            &p,
        );
        assert!(
            !g.promote && g.reason.starts_with("no model beats popularity"),
            "{g:?}"
        );
        // the optional floor
        let floor = GateParams { min_auc: 0.75, ..p };
        let g = quality_gate(
            Some(&eval(metrics(0.30, 0.10, 0.6, 100), ease.clone())),
            None,
            &floor,
        );
        assert_eq!(g.reason, "ease(lambda=500): AUC 0.600 is below the floor 0.750");
        // worse than the current model beyond the tolerance
        let g = quality_gate(
            Some(&eval(metrics(0.24, 0.10, 0.8, 100), ease.clone())),
            Some(&current),
            &p,
        );
        assert!(!g.promote);
        assert!(g
            .reason
            .contains("hit rate 0.240 is more than 0.050 below the current model's 0.300"));
        assert!(
            quality_gate(
                Some(&eval(metrics(0.26, 0.10, 0.8, 100), ease.clone())),
                Some(&current),
                &p
            )
            .promote
        );
        // too few questions to judge; nothing evaluated
        let g = quality_gate(
            Some(&eval(metrics(0.0, 0.0, 0.1, 10), ease.clone())),
            Some(&current),
            &p,
        );
        assert!(g.promote && g.reason.starts_with("not judged"));
        assert!(quality_gate(None, Some(&current), &p).promote);
    }

    #[test]
    fn the_gate_looks_at_the_cold_and_the_warm_questions() {
        let p = params();
        let ease = crate::recommend::families::ease::spec(500.0);
        let with_slices = |cold: (f64, u64), pop_cold: f64| Evaluation {
            model_slices: Some(Slices {
                cold: metrics(cold.0, 0.1, 0.8, cold.1),
                warm: metrics(0.35, 0.12, 0.8, 200),
            }),
            popularity_slices: Some(Slices {
                cold: metrics(pop_cold, 0.05, 0.7, cold.1),
                warm: metrics(0.20, 0.05, 0.7, 200),
            }),
            ..eval(metrics(0.30, 0.10, 0.8, 260), ease.clone())
        };
        // wins overall and on both slices: promoted, both named
        let g = quality_gate(Some(&with_slices((0.25, 60), 0.10)), None, &p);
        assert!(g.promote, "{g:?}");
        assert!(
            g.reason.contains("cold 0.250 vs 0.100, warm 0.350 vs 0.200"),
            "{}",
            g.reason
        );
        // wins overall on the warm questions, loses the cold ones
        let g = quality_gate(Some(&with_slices((0.05, 60), 0.20)), None, &p);
        assert!(!g.promote);
        assert_eq!(
            g.reason,
            "ease(lambda=500) loses to popularity on the cold questions: hit rate 0.050 vs 0.200 (60 questions, tolerance 0.050); readers get the defaults"
        );
        // within the tolerance, or too few cold questions to judge: promoted
        assert!(quality_gate(Some(&with_slices((0.16, 60), 0.20)), None, &p).promote);
        assert!(quality_gate(Some(&with_slices((0.05, 49), 0.20)), None, &p).promote);
    }
}
