//! `POST /upgrade`: a zero-downtime binary upgrade of the running process.
//!
//! The runtime knows nothing of processes: the binary injects an
//! [`UpgradeHook`] that starts the new binary, hands it the sockets and the
//! config, and answers once it serves (or why it does not). Without a hook
//! the endpoint answers 501.

use super::ApiError;
use http::StatusCode;
use std::future::Future;
use std::pin::Pin;

/// What the hook's future resolves to: a JSON reply, or why it failed.
pub type UpgradeResult = Result<Vec<u8>, String>;

/// Performs a binary upgrade for `POST /upgrade` (injected by the binary).
pub trait UpgradeHook: Send + Sync {
    /// Upgrades with the request's JSON body (empty when none was sent).
    fn upgrade(&self, body: Vec<u8>) -> Pin<Box<dyn Future<Output = UpgradeResult> + Send>>;
}

/// Runs the hook for a request body; 500 with the reason on failure.
pub(super) async fn run(
    hook: Option<&dyn UpgradeHook>,
    body: Vec<u8>,
) -> Result<Vec<u8>, ApiError> {
    let Some(hook) = hook else {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "this process cannot upgrade itself (only `bellhop run` can)",
        ));
    };
    tracing::warn!("binary upgrade requested through the admin API");
    hook.upgrade(body).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("upgrade failed: {e}"),
        )
    })
}
