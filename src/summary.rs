//! The short summary a local run prints.

use std::fmt;

use article_rec_core::contract::database::DEFAULT_SOURCE;
use article_rec_core::contract::stage::{
    DefaultsOutput, FetchOutput, PreprocessOutput, RunRef, SaveOutput, TrainOutput,
};
use article_rec_core::run::runner::RunReport;
use article_rec_core::Context;
use serde_json::{json, Value};

pub struct Summary {
    run: RunRef,
    fetch: FetchOutput,
    preprocess: PreprocessOutput,
    defaults_run: DefaultsOutput,
    train: TrainOutput,
    save: SaveOutput,
    /// Seconds per stage (a stage's invocations summed: plan, hours, window).
    timings: Vec<(String, f64)>,
    /// Hours parsed one per invocation before the window was read.
    fanned_out: usize,
    database: String,
    store: String,
    /// Where the run report is: a file path for a local store, else its key.
    report: String,
    defaults: Vec<(String, f64)>,
    example: Option<(String, Vec<(String, f64)>)>,
}

fn part<T: serde::de::DeserializeOwned>(state: &Value, path: &[&str]) -> anyhow::Result<T> {
    let mut v = state;
    for p in path {
        v = &v[*p];
    }
    serde_json::from_value(v.clone()).map_err(|e| anyhow::anyhow!("the run's {} output: {e}", path.join(".")))
}

/// A local store's report as a path a browser opens; an S3 one as its URL.
pub fn report_location(store_url: &str, key: &str) -> String {
    if store_url.starts_with("s3://") {
        format!("{}/{key}", store_url.trim_end_matches('/'))
    } else {
        let dir = store_url.strip_prefix("file://").unwrap_or(store_url);
        std::path::Path::new(dir).join(key).display().to_string()
    }
}

fn per_stage(report: &RunReport) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for t in &report.timings {
        add_time(&mut out, t.stage.name(), t.elapsed.as_secs_f64());
    }
    out
}

/// Adds `secs` to the stage's total, the stages in the order first seen.
pub fn add_time(out: &mut Vec<(String, f64)>, stage: &str, secs: f64) {
    match out.iter_mut().find(|(n, _)| n == stage) {
        Some((_, total)) => *total += secs,
        None => out.push((stage.to_string(), secs)),
    }
}

impl Summary {
    /// A local run's summary: its state and timings, and the database's
    /// current default recommendations and those of the top default.
    pub async fn new(ctx: &Context, run: &RunRef, report: &RunReport) -> anyhow::Result<Summary> {
        let mut summary = Summary::of_state(
            run,
            &report.state,
            per_stage(report),
            article_rec_core::contract::redact::redact_url(&ctx.settings.database_url),
            &article_rec_core::contract::redact::redact_url(&ctx.settings.store_url),
        )?;
        summary.defaults = ctx.db()?.current_recs(&run.site, DEFAULT_SOURCE).await?;
        if let Some((top, _)) = summary.defaults.first() {
            let top = top.clone();
            let recs = ctx.db()?.current_recs(&run.site, &top).await?;
            summary.example = Some((top, recs));
        }
        Ok(summary)
    }

    /// The summary of a run's final state (the stages' outputs where the
    /// state machine puts them), without reading the database: what a
    /// deployed execution's history gives (`article-rec aws run --wait`).
    pub fn of_state(
        run: &RunRef,
        s: &Value,
        timings: Vec<(String, f64)>,
        database: String,
        store_url: &str,
    ) -> anyhow::Result<Summary> {
        Ok(Summary {
            run: run.clone(),
            fetch: part(s, &["fetch"])?,
            preprocess: part(s, &["preprocess"])?,
            defaults_run: part(s, &["model", "defaults"])?,
            train: part(s, &["model", "train"])?,
            save: part(s, &["save"])?,
            timings,
            fanned_out: match s["fetch_plan"]["distributed"].as_bool() {
                Some(true) => s["fetch_plan"]["hours"].as_array().map_or(0, Vec::len),
                _ => 0,
            },
            database,
            store: store_url.to_string(),
            report: report_location(store_url, s["save"]["report_key"].as_str().unwrap_or_default()),
            defaults: Vec::new(),
            example: None,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "run": self.run,
            "fetch": self.fetch,
            "preprocess": self.preprocess,
            "defaults": self.defaults_run,
            "train": self.train,
            "save": self.save,
            "seconds": self.timings.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "database": self.database,
            "store": self.store,
            "report": self.report,
        })
    }
}

/// "1 hour", "2 hours".
/// The online evaluation in a few lines: each newest model's click-through
/// rate with its interval, and what the comparisons found.
fn online_lines(o: &article_rec_core::contract::online::OnlineHeadline) -> String {
    use article_rec_core::contract::online::{ModelHeadline, Verdict};
    let rate = |m: &ModelHeadline| {
        let ctr = m.ctr.map_or_else(|| "-".into(), |c| format!("{:.2}%", c * 100.0));
        let ci = m.interval.map_or_else(String::new, |i| {
            format!(" [{:.2}%, {:.2}%]", i.lo * 100.0, i.hi * 100.0)
        });
        let reading = if m.dwell_after_click.read > 0 {
            format!(
                ", {:.0}s read after a click (median)",
                m.dwell_after_click.median_secs
            )
        } else {
            String::new()
        };
        format!(
            "model {} CTR {ctr}{ci} of {} impressions{reading}",
            m.model_id, m.counts.impressions
        )
    };
    let verdict = |v: Verdict| match v {
        Verdict::Better => "clicked more",
        Verdict::Worse => "CLICKED LESS",
        Verdict::NoSignificantDifference => "no significant difference",
        Verdict::TooFewImpressions => "too few impressions to tell",
    };
    let u = o.unknown_models;
    let unknown = if u.events > 0 {
        format!(
            "            {} widget events named {} models the database does not know: left out\n",
            u.events, u.models
        )
    } else {
        String::new()
    };
    if o.widget_events == 0 {
        return format!(
            "  online:   no widget events in the online window (README: Online evaluation)\n{unknown}"
        );
    }
    if o.article.is_none() && o.defaults.is_none() {
        return format!(
            "  online:   {} widget events, none of a model\n{unknown}",
            o.widget_events
        );
    }
    let mut out = format!("  online:   {} widget events\n", o.widget_events);
    if let Some(m) = &o.article {
        out.push_str(&format!("            article {}\n", rate(m)));
    }
    if let Some(m) = &o.defaults {
        out.push_str(&format!("            defaults {}\n", rate(m)));
    }
    let mut found = Vec::new();
    if let Some(v) = o.against_earlier {
        found.push(format!("against earlier article models: {}", verdict(v)));
    }
    if let Some(v) = o.against_defaults {
        found.push(format!("against the defaults: {}", verdict(v)));
    }
    if !found.is_empty() {
        out.push_str(&format!("            {}\n", found.join("; ")));
    }
    out.push_str(&unknown);
    out
}

fn hours(n: u64) -> String {
    if n == 1 {
        "1 hour".into()
    } else {
        format!("{n} hours")
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.fetch.counts;
        let p = &self.preprocess.funnel;
        writeln!(
            f,
            "run {} of site {} (window ends {})",
            self.run.run_id, self.run.site, self.run.as_of
        )?;
        writeln!(
            f,
            "  events:   {} lines read, {} kept, {} duplicates, {} bad rows, {} bots ({} parsed, {} cached)",
            c.parsed.lines,
            c.kept,
            c.duplicates,
            c.parsed.bad,
            c.parsed.bots,
            hours(c.hours_parsed),
            c.hours_cached
        )?;
        if self.fanned_out > 0 {
            writeln!(
                f,
                "            {} hours were new: parsed one per invocation first, then read from the cache",
                self.fanned_out
            )?;
        }
        writeln!(
            f,
            "  filter:   {} readers x {} articles -> {} readers x {} articles ({} passes)",
            p.readers_before_filter, p.articles_before_filter, p.readers, p.articles, p.filter_passes
        )?;
        match &self.train.model {
            Some(m) if self.train.factors > 0 => writeln!(
                f,
                "  model:    {m}: {} iterations, final loss {:.5}, fitted in {:.1}s",
                self.train.iterations,
                self.train.loss.last().copied().unwrap_or(f64::NAN),
                self.train.fit_secs
            )?,
            Some(m) => writeln!(f, "  model:    {m}, fitted in {:.1}s", self.train.fit_secs)?,
            None => writeln!(f, "  model:    none refitted (the gate kept the current model)")?,
        }
        if self.train.warm_start_articles > 0 {
            writeln!(
                f,
                "            warm start from run {} ({} articles)",
                self.train.warm_start_from.as_deref().unwrap_or("?"),
                self.train.warm_start_articles
            )?;
        }
        if let Some(e) = &self.train.evaluation {
            let measured: Vec<String> = e
                .leaderboard
                .iter()
                .filter_map(|c| c.metrics.map(|m| format!("{} {:.3}", c.spec, m.mrr)))
                .take(5)
                .collect();
            let skipped = e.leaderboard.iter().filter(|c| c.metrics.is_none()).count();
            writeln!(
                f,
                "  leaders:  MRR@{} {}{}",
                e.k,
                measured.join(", "),
                if skipped > 0 {
                    format!(" ({skipped} not measured: time budget)")
                } else {
                    String::new()
                }
            )?;
            let (m, p) = (&e.model, &e.popularity);
            writeln!(
                f,
                "  holdout:  {} questions; hit rate@{k} {:.3} (popularity {:.3}), MRR {:.3} ({:.3}), AUC {:.3} ({:.3}), coverage {:.3} ({:.3})",
                m.questions, m.hit_rate, p.hit_rate, m.mrr, p.mrr, m.auc, p.auc, m.coverage, p.coverage,
                k = e.k
            )?;
            if let (Some(ms), Some(ps)) = (&e.model_slices, &e.popularity_slices) {
                writeln!(
                    f,
                    "  slices:   cold (under {} readers) {} questions, hit rate {:.3} (popularity {:.3}); warm {} questions, hit rate {:.3} ({:.3})",
                    e.cold_readers,
                    ms.cold.questions,
                    ms.cold.hit_rate,
                    ps.cold.hit_rate,
                    ms.warm.questions,
                    ms.warm.hit_rate,
                    ps.warm.hit_rate
                )?;
            }
        }
        if let Some(rule) = &self.defaults_run.rule {
            match self.defaults_run.leaderboard.iter().find(|s| s.rule == *rule) {
                Some(s) => writeln!(
                    f,
                    "  defaults: rule {rule}: new readers' first reads, hit rate {:.3}, MRR {:.3} ({} questions, best of {} rules)",
                    s.hit_rate,
                    s.mrr,
                    s.questions,
                    self.defaults_run.leaderboard.len()
                )?,
                None => writeln!(f, "  defaults: rule {rule} (not measured: no holdout)")?,
            }
            if let Some(why) = &self.defaults_run.fallback {
                writeln!(f, "            fell back: {why}")?;
            }
        }
        writeln!(
            f,
            "  gate:     {}: {}",
            if self.train.gate.promote {
                "promoted"
            } else {
                "KEPT THE CURRENT MODEL"
            },
            self.train.gate.reason
        )?;
        if let Some(o) = &self.train.online {
            write!(f, "{}", online_lines(o))?;
        }
        if let Some(w) = &self.train.gate.online_warning {
            writeln!(f, "  WARNING:  {w}")?;
        }
        match self.save.article_model_id {
            Some(id) => writeln!(
                f,
                "  saved:    {} article recs, {} default recs (model {id}{})",
                self.save.recs_written,
                self.save.default_recs_written,
                if self.save.newly_saved {
                    ""
                } else {
                    ", already saved"
                }
            )?,
            None => writeln!(
                f,
                "  saved:    {} default recs; the article model was not replaced",
                self.save.default_recs_written
            )?,
        }
        // the gate promoted, but the lists were too short to replace the current ones
        if let (Some(why), true) = (&self.save.article_model_rejected, self.train.gate.promote) {
            writeln!(f, "  KEPT:     the current article model: {why}")?;
        }
        if let Some(why) = &self.save.defaults_rejected {
            writeln!(
                f,
                "  KEPT:     the current default list (model {}): {why}",
                self.save.popularity_model_id
            )?;
        }
        let times: Vec<String> = self.timings.iter().map(|(s, t)| format!("{s} {t:.2}s")).collect();
        writeln!(f, "  time:     {}", times.join(", "))?;
        writeln!(
            f,
            "  outputs:  {} (Parquet files under runs/{}/{}/)",
            self.store, self.run.site, self.run.run_id
        )?;
        writeln!(f, "  report:   {}", self.report)?;
        writeln!(f, "  database: {}", self.database)?;
        if !self.defaults.is_empty() {
            let top: Vec<String> = self
                .defaults
                .iter()
                .take(5)
                .map(|(id, s)| format!("{id} ({s:.3})"))
                .collect();
            writeln!(f, "  default recommendations: {}", top.join(", "))?;
        }
        if let Some((src, recs)) = &self.example {
            let top: Vec<String> = recs
                .iter()
                .take(5)
                .map(|(id, s)| format!("{id} ({s:.3})"))
                .collect();
            writeln!(f, "  recommendations for article {src}: {}", top.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_hour_is_singular() {
        assert_eq!(super::hours(1), "1 hour");
        assert_eq!(super::hours(0), "0 hours");
        assert_eq!(super::hours(671), "671 hours");
    }
}
