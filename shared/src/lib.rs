#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
//! article-rec: turns a news site's Snowplow clickstream into article
//! recommendations.
//!
//! The folders follow the pipeline and its layers; imports go one way only,
//! `contract` <- `adapters`, `recommend` <- stages <- `run` (tests/layout.rs
//! checks it), and no stage imports another:
//!
//! | folder | what it holds |
//! | --- | --- |
//! | [`contract`] | the wire types, object keys, Parquet schemas, errors, settings, the ports (store, database, site, metrics) and the [`Context`] |
//! | [`adapters`] | what implements the ports: local directory and S3, SQLite and PostgreSQL, WordPress and the static catalogue, log and CloudWatch metrics, SSM |
//! | [`fetch`] | Snowplow hour partitions -> `events.parquet`, `bad_rows.jsonl` (the line parser, the hour cache) |
//! | [`preprocess`] | events + the site's catalogue -> `articles.parquet`, `dwell.parquet` (dwell, the 2-core, metadata) |
//! | [`defaults`] | dwell + articles -> `defaults.parquet` |
//! | [`train`] | dwell + articles -> `article_factors.parquet`, `evaluation.json` (holdout evaluation, quality gate) |
//! | [`save`] | the run's files -> the database, and the run report |
//! | [`recommend`] | the recommenders the stages share: ALS, nearest neighbours, popularity |
//! | [`run`] | the Lambda entry, the state-machine runner, dispatch by stage name |
//! | `devtools` | (feature `devtools`) the data generator and the test servers: never in a function |

pub mod adapters;
pub mod context;
pub mod contract;
#[cfg(any(test, feature = "devtools"))]
pub mod devtools;
pub mod recommend;
pub mod run;
pub mod settings;
pub mod stages;

pub use context::Context;
pub use contract::error::{Error, ErrorKind, Result};
pub use lambda_runtime::Error as LambdaError;
