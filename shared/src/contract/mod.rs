//! What every other part of the job agrees on, and depends on nothing of the
//! job's own: the stage contract (the JSON on the wire), object keys and the
//! names in them, Parquet schemas, errors, settings and their option structs,
//! the ports the adapters implement, and the context a stage runs with.

pub mod api;
pub mod checked_store;
pub mod database;
pub mod error;
pub mod evaluation;
pub mod integrity;
pub mod layout;
pub mod metrics;
pub mod names;
pub mod online;
pub mod partials;
pub mod paths;
pub mod redact;
pub mod site;
pub mod stage;
pub mod storage;
pub mod tasks;
