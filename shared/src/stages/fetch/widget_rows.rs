//! The recommendation widget's events, held as owned rows until written.

use crate::adapters::parquet::WidgetEventColumns;
use crate::stages::fetch::snowplow::WidgetEvent;

/// Widget events as rows of their own (they are few: at most one or two a
/// page view), an hour's as parsed or the window's as kept.
#[derive(Debug, Default)]
pub struct WidgetRows {
    client_id: Vec<String>,
    time_ms: Vec<i64>,
    page_path: Vec<String>,
    step: Vec<&'static str>,
    model_id: Vec<String>,
    model_type: Vec<String>,
    external_id: Vec<Option<String>>,
    position: Vec<Option<u32>>,
    event_id: Vec<String>,
}

impl WidgetRows {
    pub fn push(&mut self, e: WidgetEvent<'_>) {
        self.client_id.push(e.client_id.into_owned());
        self.time_ms.push(e.time_ms);
        self.page_path.push(e.path.into_owned());
        self.step.push(e.action.step.as_str());
        self.model_id.push(e.action.model_id);
        self.model_type.push(e.action.model_type);
        self.external_id.push(e.action.article_id);
        self.position.push(e.action.position);
        self.event_id.push(e.event_id.to_string());
    }

    /// Row `i` of another table of widget events.
    pub fn push_row(&mut self, c: &WidgetEventColumns<'_>, i: usize) {
        self.client_id.push(c.client_id[i].to_string());
        self.time_ms.push(c.time_ms[i]);
        self.page_path.push(c.page_path[i].to_string());
        // the file's reader admits only these two
        self.step
            .push(if c.step[i] == "click" { "click" } else { "seen" });
        self.model_id.push(c.model_id[i].to_string());
        self.model_type.push(c.model_type[i].to_string());
        self.external_id.push(c.external_id[i].map(str::to_string));
        self.position.push(c.position[i]);
        self.event_id.push(c.event_id[i].to_string());
    }

    pub fn len(&self) -> usize {
        self.time_ms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time_ms.is_empty()
    }

    /// The rows by time, then event id, then arrival.
    pub fn columns(&self) -> WidgetEventColumns<'_> {
        let mut order: Vec<usize> = (0..self.time_ms.len()).collect();
        order.sort_by(|&a, &b| {
            (self.time_ms[a], &self.event_id[a], a).cmp(&(self.time_ms[b], &self.event_id[b], b))
        });
        WidgetEventColumns {
            client_id: order.iter().map(|&i| self.client_id[i].as_str()).collect(),
            time_ms: order.iter().map(|&i| self.time_ms[i]).collect(),
            page_path: order.iter().map(|&i| self.page_path[i].as_str()).collect(),
            step: order.iter().map(|&i| self.step[i]).collect(),
            model_id: order.iter().map(|&i| self.model_id[i].as_str()).collect(),
            model_type: order.iter().map(|&i| self.model_type[i].as_str()).collect(),
            external_id: order.iter().map(|&i| self.external_id[i].as_deref()).collect(),
            position: order.iter().map(|&i| self.position[i]).collect(),
            event_id: order.iter().map(|&i| self.event_id[i].as_str()).collect(),
        }
    }
}
