//! article-rec: turns a news site's Snowplow clickstream into article
//! recommendations.
//!
//! Data flow (one run of one site; every key from [`layout`]):
//!
//! | stage | reads | writes |
//! | --- | --- | --- |
//! | [`stages::fetch`] | Snowplow hour partitions (TSV, gzipped or not) | `events.parquet`, `bad_rows.jsonl` |
//! | [`stages::preprocess`] | events, the site's catalogue | `articles.parquet`, `dwell.parquet` |
//! | [`stages::defaults`] | dwell, articles | `defaults.parquet` |
//! | [`stages::train`] | dwell | `article_factors.parquet` |
//! | [`stages::save`] | articles, factors, defaults | database rows: article, model, recommendation |
//!
//! Where things live: the stage contract in [`stage`]; file schemas in
//! [`parquet`]; adapters in [`storage`], [`db`], [`metrics`], built into a
//! [`context::Context`] from [`settings`]. Domain logic is pure: [`snowplow`]
//! (line parser, on [`tsv`] and [`json_check`]), [`events`] (fetch's core), [`site`] and [`articles`] (article
//! mapping), [`kcore`] (2-core filter), [`dwell`], [`popularity`] (defaults),
//! [`als`] (matrix factorisation), [`knn`] (nearest articles). [`runner`] runs the
//! state machine's definition locally; [`lambda`] runs a stage on AWS Lambda;
//! [`generate`] makes realistic synthetic input; [`report`] renders the run report.

pub mod als;
pub mod articles;
pub mod aws;
pub mod byte_blocks;
pub mod catalog;
pub mod context;
pub mod db;
pub mod dedup;
pub mod dwell;
pub mod error;
pub mod evaluation;
pub mod events;
#[cfg(test)]
mod fuzz;
pub mod generate;
pub mod json_check;
pub mod kcore;
pub mod knn;
pub mod lambda;
pub mod layout;
pub mod metrics;
pub mod parquet;
pub mod popularity;
pub mod redact;
pub mod report;
pub mod runner;
pub mod settings;
pub mod site;
pub mod snowplow;
pub mod snowplow_fields;
pub mod stage;
pub mod stages;
pub mod storage;
#[doc(hidden)]
pub mod testing;
pub mod tsv;

pub use context::Context;
pub use error::{Error, ErrorKind, Result};
pub use lambda_runtime::Error as LambdaError;
