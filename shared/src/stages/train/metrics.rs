//! The train stage's figures, as metrics (CloudWatch on AWS, the log
//! locally): what the alarms and dashboards watch.

use tracing::info;

use crate::context::Context;
use crate::contract::metrics::Unit;
use crate::contract::stage::TrainOutput;

pub fn report(ctx: &Context, out: &TrainOutput) {
    info!(
        readers = out.readers,
        articles = out.articles,
        nnz = out.nonzeros,
        model = %out.model.as_ref().map(ToString::to_string).unwrap_or_default(),
        fit_secs = out.fit_secs,
        warm_start_articles = out.warm_start_articles,
        "train done"
    );
    ctx.metric("train", "nonzeros", out.nonzeros as f64, Unit::Count);
    ctx.metric("train", "fit_seconds", out.fit_secs, Unit::Seconds);
    ctx.metric(
        "train",
        "promoted",
        f64::from(u8::from(out.gate.promote)),
        Unit::Count,
    );
    if let Some(o) = &out.online {
        ctx.metric("train", "widget_events", o.widget_events as f64, Unit::Count);
        // per model type, not per model id: a new id every run would make a
        // new metric every two hours
        for (who, m) in [("article", &o.article), ("defaults", &o.defaults)] {
            if let Some(m) = m {
                ctx.metric(
                    "train",
                    &format!("online_{who}_impressions"),
                    m.counts.impressions as f64,
                    Unit::Count,
                );
                if let Some(ctr) = m.ctr {
                    ctx.metric("train", &format!("online_{who}_ctr"), ctr, Unit::None);
                }
                if m.dwell_after_click.read > 0 {
                    ctx.metric(
                        "train",
                        &format!("online_{who}_dwell_after_click"),
                        m.dwell_after_click.median_secs,
                        Unit::Seconds,
                    );
                }
            }
        }
        ctx.metric(
            "train",
            "online_flagged",
            f64::from(u8::from(out.gate.online_warning.is_some())),
            Unit::Count,
        );
    }
    if let Some(e) = &out.evaluation {
        let beats = e.winner.as_ref().is_some_and(|w| !w.is_popularity()) && out.gate.promote;
        ctx.metric(
            "train",
            "beats_popularity",
            f64::from(u8::from(beats)),
            Unit::Count,
        );
        for (who, m) in [("model", &e.model), ("popularity", &e.popularity)] {
            ctx.metric("train", &format!("{who}_hit_rate"), m.hit_rate, Unit::None);
            ctx.metric("train", &format!("{who}_mrr"), m.mrr, Unit::None);
            ctx.metric("train", &format!("{who}_auc"), m.auc, Unit::None);
            ctx.metric("train", &format!("{who}_coverage"), m.coverage, Unit::None);
        }
        for (who, slices) in [("model", &e.model_slices), ("popularity", &e.popularity_slices)] {
            if let Some(s) = slices {
                for (slice, m) in [("cold", &s.cold), ("warm", &s.warm)] {
                    ctx.metric(
                        "train",
                        &format!("{who}_{slice}_hit_rate"),
                        m.hit_rate,
                        Unit::None,
                    );
                    ctx.metric("train", &format!("{who}_{slice}_mrr"), m.mrr, Unit::None);
                }
                ctx.metric(
                    "train",
                    &format!("{who}_cold_questions"),
                    s.cold.questions as f64,
                    Unit::Count,
                );
            }
        }
    }
}
