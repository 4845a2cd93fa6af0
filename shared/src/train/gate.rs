//! The quality gate: whether a new model may replace the current one.

use crate::contract::evaluation::{Evaluation, GateDecision, HoldoutMetrics};
use crate::contract::settings::GateParams;

/// Decides whether a model evaluated as `new` may replace the current model,
/// whose own evaluation was `current` (`None`: no current model, or it was
/// not evaluated).
pub fn quality_gate(
    new: Option<&Evaluation>,
    current: Option<&HoldoutMetrics>,
    p: &GateParams,
) -> GateDecision {
    let decide = |promote: bool, reason: String| GateDecision { promote, reason };
    let Some(new) = new else {
        return decide(
            true,
            "not evaluated: the holdout or the training part is empty".into(),
        );
    };
    let m = &new.model;
    if m.questions < p.min_questions {
        return decide(
            true,
            format!(
                "not judged: {} holdout questions, fewer than the {} needed",
                m.questions, p.min_questions
            ),
        );
    }
    if m.auc < p.min_auc {
        return decide(
            false,
            format!("AUC {:.3} is below the floor {:.3}", m.auc, p.min_auc),
        );
    }
    if let Some(cur) = current.filter(|c| c.questions >= p.min_questions) {
        if m.hit_rate < cur.hit_rate - p.hit_rate_tolerance {
            return decide(
                false,
                format!(
                    "hit rate {:.3} is more than {:.3} below the current model's {:.3}",
                    m.hit_rate, p.hit_rate_tolerance, cur.hit_rate
                ),
            );
        }
        return decide(
            true,
            format!(
                "AUC {:.3} >= {:.3}; hit rate {:.3} vs current {:.3} (tolerance {:.3})",
                m.auc, p.min_auc, m.hit_rate, cur.hit_rate, p.hit_rate_tolerance
            ),
        );
    }
    decide(
        true,
        format!(
            "AUC {:.3} >= {:.3}; no evaluated current model to compare with",
            m.auc, p.min_auc
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(auc: f64, hit_rate: f64, questions: u64) -> Evaluation {
        Evaluation {
            model: HoldoutMetrics {
                questions,
                auc,
                hit_rate,
                ..HoldoutMetrics::default()
            },
            ..Evaluation::default()
        }
    }

    #[test]
    fn gate_decisions() {
        let p = GateParams {
            min_auc: 0.75,
            hit_rate_tolerance: 0.05,
            min_questions: 50,
        };
        let current = HoldoutMetrics {
            questions: 100,
            hit_rate: 0.30,
            ..HoldoutMetrics::default()
        };
        let g = quality_gate(Some(&eval(0.70, 0.5, 100)), None, &p);
        assert!(!g.promote);
        assert_eq!(g.reason, "AUC 0.700 is below the floor 0.750");
        let g = quality_gate(Some(&eval(0.80, 0.24, 100)), Some(&current), &p);
        assert!(!g.promote);
        assert!(g
            .reason
            .contains("hit rate 0.240 is more than 0.050 below the current model's 0.300"));
        assert!(quality_gate(Some(&eval(0.80, 0.26, 100)), Some(&current), &p).promote);
        assert!(quality_gate(Some(&eval(0.80, 0.0, 100)), None, &p).promote);
        let g = quality_gate(Some(&eval(0.10, 0.0, 10)), Some(&current), &p);
        assert!(g.promote && g.reason.starts_with("not judged"));
        assert!(quality_gate(None, Some(&current), &p).promote);
    }
}
