//! How the stages are run: as Lambda functions ([`lambda`]), or all in one
//! process by interpreting the state machines ([`runner`]); both through
//! [`dispatch`].

mod asl;
pub mod check;
pub mod definition;
pub mod dispatch;
pub mod lambda;
pub mod runner;
