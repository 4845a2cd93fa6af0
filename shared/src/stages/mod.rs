//! The five stages, in the order the state machine runs them. Each reads
//! what the earlier ones wrote (through the run's checked store) and never
//! imports another stage: what they share is in `contract`, `recommend` and
//! `adapters`.

pub mod defaults;
pub mod fetch;
pub mod preprocess;
pub mod save;
pub mod train;
