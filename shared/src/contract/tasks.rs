//! How a stage runs CPU-heavy work: off the async runtime's threads.

use crate::contract::error::{Error, Result};

/// Runs CPU-heavy work off the async runtime's threads.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Bug(format!("worker task failed: {e}")))
}
