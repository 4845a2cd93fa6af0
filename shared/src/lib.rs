#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
//! article-rec: turns a news site's Snowplow clickstream into article
//! recommendations.
//!
//! The folders follow the pipeline and its layers; imports go one way only,
//! `contract` <- `recommend` <- `settings` <- `context` <- `adapters` <-
//! `stages` <- `run` (tests/layout.rs checks it), and no stage imports
//! another:
//!
//! | folder | what it holds |
//! | --- | --- |
//! | [`contract`] | the wire types, object keys, names, errors and the ports (store, database, site, metrics) |
//! | [`recommend`] | the recommenders as pure functions, and [`recommend::families`]: one file per model family |
//! | [`settings`] | the settings, parsed from the environment, and their option structs |
//! | [`context`] | the [`Context`] a stage runs with |
//! | [`adapters`] | what implements the ports: local directory and S3, SQLite and PostgreSQL, WordPress and the static catalogue, log and CloudWatch metrics, SSM, the Parquet files |
//! | [`stages`] | fetch, preprocess, defaults, train, save: one folder each, in pipeline order |
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
