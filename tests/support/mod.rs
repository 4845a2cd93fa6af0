//! Helpers the integration tests share. Each test binary uses a part.
#![allow(dead_code)]

pub mod lambda;
pub mod moto_iam;
pub mod template;
