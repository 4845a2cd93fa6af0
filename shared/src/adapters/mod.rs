//! The implementations of the contract's ports, and [`open`], which builds a
//! context from settings.

pub mod db;
pub mod metrics;
pub mod open;
pub mod parquet;
pub mod sdk;
pub mod secrets;
pub mod site;
pub mod storage;
