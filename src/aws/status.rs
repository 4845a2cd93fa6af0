//! `aws status`: recent executions, each read from its history as a run
//! (counts, the chosen model, the gate, the online headline), with a
//! presigned link to its report.

use std::time::Duration;

use article_rec_core::adapters::storage::s3::S3Store;
use article_rec_core::contract::evaluation::ModelSpec;
use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{status_name, Ops};

impl Ops {
    async fn report_link(&self, key: &str) -> Option<String> {
        if !self.settings.store_url.starts_with("s3://") {
            return Some(crate::summary::report_location(&self.settings.store_url, key));
        }
        let store = S3Store::connect(&self.settings.store_url, &self.settings.s3)
            .await
            .ok()?;
        store
            .presigned_get(key, Duration::from_secs(24 * 3600))
            .await
            .ok()
    }

    pub(super) async fn status(&self, site: Option<&str>, last: usize, json: bool) -> anyhow::Result<()> {
        let prefix = site.map(|s| format!("{s}-"));
        let listed = self
            .pipeline
            .list(last.saturating_mul(4).max(20), |n| {
                prefix.as_ref().is_none_or(|p| n.starts_with(p.as_str()))
            })
            .await?;
        let mut rows = Vec::new();
        for (_, arn, _) in listed {
            if rows.len() >= last {
                break;
            }
            let Some(exec) = self.pipeline.describe(&arn).await? else {
                continue;
            };
            if site.is_some_and(|s| exec.input["site"].as_str() != Some(s)) {
                continue;
            }
            let outcome = self.outcome(&exec).await?;
            let s = &outcome.state;
            let report = match s["save"]["report_key"].as_str() {
                Some(key) => self.report_link(key).await,
                None => None,
            };
            let seconds = exec
                .stop
                .map(|stop| (stop - exec.start).num_milliseconds() as f64 / 1000.0);
            let failure = (!exec.running() && exec.status != ExecutionStatus::Succeeded)
                .then(|| Self::failure(&exec, &outcome).message);
            rows.push(json!({
                "execution": exec.name,
                "site": exec.input["site"],
                "status": status_name(&exec.status),
                "started": exec.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "seconds": seconds,
                "lines_read": s["fetch"]["counts"]["parsed"]["lines"],
                "events_kept": s["fetch"]["counts"]["kept"],
                "readers": s["preprocess"]["funnel"]["readers"],
                "articles": s["preprocess"]["funnel"]["articles"],
                "model": serde_json::from_value::<ModelSpec>(s["model"]["train"]["model"].clone())
                    .ok()
                    .map(|m| m.to_string()),
                "promoted": s["model"]["train"]["gate"]["promote"],
                "gate": s["model"]["train"]["gate"]["reason"],
                "online": s["model"]["train"]["online"],
                "online_warning": s["model"]["train"]["gate"]["online_warning"],
                "report": report,
                "failure": failure,
            }));
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
            return Ok(());
        }
        if rows.is_empty() {
            println!(
                "no executions{}",
                site.map(|s| format!(" of site {s}")).unwrap_or_default()
            );
        }
        for r in &rows {
            print!("{}", status_block(r));
        }
        Ok(())
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn duration(secs: Option<f64>) -> String {
    match secs {
        None => "running".into(),
        Some(s) if s < 60.0 => format!("{s:.0}s"),
        Some(s) => format!("{}m {:02}s", (s / 60.0).floor(), (s % 60.0).floor()),
    }
}

/// One execution of `aws status`, as lines.
fn status_block(r: &Value) -> String {
    use article_rec_core::contract::online::{ModelHeadline, OnlineHeadline};
    let started = r["started"]
        .as_str()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .map_or_else(
            || "-".to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        );
    let mut out = format!(
        "{}  {}  started {started}, {}\n",
        text(&r["execution"]),
        text(&r["status"]),
        duration(r["seconds"].as_f64())
    );
    if !r["lines_read"].is_null() {
        out.push_str(&format!(
            "  events:  {} lines read, {} kept; {} readers x {} articles\n",
            text(&r["lines_read"]),
            text(&r["events_kept"]),
            text(&r["readers"]),
            text(&r["articles"])
        ));
    }
    if !r["gate"].is_null() {
        let decision = if r["promoted"] == json!(true) {
            "promoted"
        } else {
            "KEPT THE CURRENT MODEL"
        };
        out.push_str(&format!(
            "  model:   {}; gate {decision}: {}\n",
            text(&r["model"]),
            text(&r["gate"])
        ));
    }
    if let Ok(o) = serde_json::from_value::<OnlineHeadline>(r["online"].clone()) {
        let ctr = |m: &Option<ModelHeadline>| {
            m.as_ref().map_or_else(
                || "-".to_string(),
                |m| {
                    let rate = m.ctr.map_or_else(|| "-".into(), |c| format!("{:.2}%", c * 100.0));
                    format!("{rate} of {} (model {})", m.counts.impressions, m.model_id)
                },
            )
        };
        out.push_str(&format!(
            "  online:  {} widget events; article CTR {}, defaults {}\n",
            o.widget_events,
            ctr(&o.article),
            ctr(&o.defaults)
        ));
    }
    if let Some(w) = r["online_warning"].as_str() {
        out.push_str(&format!("  WARNING: {w}\n"));
    }
    if let Some(f) = r["failure"].as_str() {
        out.push_str(&format!("  failed:  {f}\n"));
    }
    if let Some(link) = r["report"].as_str() {
        out.push_str(&format!("  report:  {link}\n"));
    }
    out
}
