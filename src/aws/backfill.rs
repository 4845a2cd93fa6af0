//! `aws backfill`: one execution per window, at most `parallel` at a time;
//! windows that succeeded before are skipped, a failed one is retried once,
//! and every window's outcome is listed at the end.

use std::collections::BTreeMap;

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::names::{self, attempt_of, execution_name, MAX_ATTEMPTS};
use super::pipeline::Execution;
use super::{Ops, RunFailed};

/// Where a window stands in a backfill.
enum Window {
    /// To start: this attempt; `retried` once a failure of this call was retried.
    Pending {
        attempt: u32,
        retried: bool,
    },
    Running {
        exec: Execution,
        attempt: u32,
        retried: bool,
    },
    Succeeded {
        name: String,
        skipped: bool,
    },
    Failed {
        name: String,
        error: RunFailed,
    },
}

impl Ops {
    #[allow(clippy::too_many_lines)]
    pub(super) async fn backfill(
        &self,
        site: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        every_hours: u32,
        parallel: usize,
        json: bool,
    ) -> anyhow::Result<()> {
        let ends = names::windows(from, to, every_hours);
        let prefix = format!("{site}-");
        let existing = self.pipeline.list(usize::MAX, |n| n.starts_with(&prefix)).await?;
        let mut windows: BTreeMap<DateTime<Utc>, Window> = BTreeMap::new();
        for &end in &ends {
            let mut last = 0;
            let mut state = None;
            for (name, arn, status) in &existing {
                let Some(attempt) = attempt_of(name, site, end) else {
                    continue;
                };
                last = last.max(attempt);
                if *status == ExecutionStatus::Succeeded {
                    state = Some(Window::Succeeded {
                        name: name.clone(),
                        skipped: true,
                    });
                } else if *status == ExecutionStatus::Running && state.is_none() {
                    if let Some(exec) = self.pipeline.describe(arn).await? {
                        state = Some(Window::Running {
                            exec,
                            attempt,
                            retried: false,
                        });
                    }
                }
            }
            windows.insert(
                end,
                state.unwrap_or(Window::Pending {
                    attempt: last + 1,
                    retried: false,
                }),
            );
        }
        loop {
            let running = windows
                .values()
                .filter(|w| matches!(w, Window::Running { .. }))
                .count();
            let mut free = parallel.saturating_sub(running);
            for (end, w) in &mut windows {
                if free == 0 {
                    break;
                }
                let Window::Pending { attempt, retried } = *w else {
                    continue;
                };
                if attempt > MAX_ATTEMPTS {
                    *w = Window::Failed {
                        name: execution_name(site, *end, MAX_ATTEMPTS),
                        error: RunFailed {
                            code: 1,
                            message: format!("tried {MAX_ATTEMPTS} times before; not started again"),
                        },
                    };
                    continue;
                }
                let (exec, started, attempt) = self.start_window(site, *end, attempt).await?;
                eprintln!(
                    "{}: execution {}",
                    if started { "started" } else { "following" },
                    exec.name
                );
                *w = if exec.status == ExecutionStatus::Succeeded {
                    Window::Succeeded {
                        name: exec.name,
                        skipped: true,
                    }
                } else {
                    free -= 1;
                    Window::Running {
                        exec,
                        attempt,
                        retried,
                    }
                };
            }
            let busy = windows
                .values()
                .any(|w| matches!(w, Window::Running { .. } | Window::Pending { .. }));
            if !busy {
                break;
            }
            tokio::time::sleep(self.poll).await;
            for w in windows.values_mut() {
                let Window::Running {
                    exec,
                    attempt,
                    retried,
                } = w
                else {
                    continue;
                };
                let Some(now) = self.pipeline.describe(&exec.arn).await? else {
                    return Err(anyhow::anyhow!("execution {} disappeared", exec.arn));
                };
                if now.running() {
                    continue;
                }
                let (attempt, retried) = (*attempt, *retried);
                *w = if now.status == ExecutionStatus::Succeeded {
                    Window::Succeeded {
                        name: now.name,
                        skipped: false,
                    }
                } else {
                    let error = Self::failure(&now, &self.outcome(&now).await?);
                    eprintln!("error: {}", error.message);
                    if retried {
                        Window::Failed {
                            name: now.name,
                            error,
                        }
                    } else {
                        Window::Pending {
                            attempt: attempt + 1,
                            retried: true,
                        }
                    }
                };
            }
        }
        let mut rows = Vec::new();
        let mut first_failure: Option<RunFailed> = None;
        let (mut ran, mut skipped, mut failed) = (0, 0, Vec::new());
        for (end, w) in windows {
            let (name, outcome, error) = match w {
                Window::Succeeded { name, skipped: true } => {
                    skipped += 1;
                    (name, "skipped: succeeded before", None)
                }
                Window::Succeeded { name, skipped: false } => {
                    ran += 1;
                    (name, "succeeded", None)
                }
                Window::Failed { name, error } => {
                    failed.push(name.clone());
                    (name, "FAILED", Some(error))
                }
                Window::Pending { .. } | Window::Running { .. } => continue,
            };
            rows.push(json!({
                "as_of": end.to_rfc3339(),
                "execution": name,
                "outcome": outcome,
                "error": error.as_ref().map(|e| e.message.clone()),
            }));
            if !json {
                match &error {
                    Some(e) => println!("{}  {name}  {outcome}: {}", end.to_rfc3339(), e.message),
                    None => println!("{}  {name}  {outcome}", end.to_rfc3339()),
                }
            }
            if first_failure.is_none() {
                first_failure = error;
            }
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&rows)?);
        } else {
            println!(
                "backfill of {site}: {} windows, {ran} succeeded now, {skipped} had succeeded before, {} failed{}",
                ends.len(),
                failed.len(),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(": {}", failed.join(", "))
                }
            );
        }
        match first_failure {
            Some(e) => Err(RunFailed {
                code: e.code,
                message: format!(
                    "backfill: {} of {} windows failed; the first: {}",
                    failed.len(),
                    ends.len(),
                    e.message
                ),
            }
            .into()),
            None => Ok(()),
        }
    }
}
