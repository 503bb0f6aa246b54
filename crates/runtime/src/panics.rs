//! Where a panic stops: at one call (see `guard`), or at one service.
//!
//! A service's background tasks (outbox relay, consumers, publisher,
//! evaluator) run through [`spawn_task`]. If one panics, the panic is
//! logged at ERROR with the task's name and the service shuts down
//! gracefully: health goes NOT_SERVING and a standalone binary exits, so
//! its supervisor restarts it, rather than serving on with a task silently
//! gone. Under `jilin up` the other services go on.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What a panic said, if it said it as text.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Spawns the background task `name` of the service that `shutdown` stops;
/// a panic in it stops that service.
pub fn spawn_task<F>(name: &'static str, shutdown: &CancellationToken, task: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        if let Err(panic) = AssertUnwindSafe(task).catch_unwind().await {
            tracing::error!(
                task = name,
                panic = panic_message(panic.as_ref()),
                "a background task panicked; the service stops"
            );
            shutdown.cancel();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_stops_its_service_only() {
        let (service, other) = (CancellationToken::new(), CancellationToken::new());
        spawn_task("doomed", &service, async { panic!("a bug in a task") })
            .await
            .expect("the panic is caught");
        assert!(service.is_cancelled());
        assert!(!other.is_cancelled());
    }

    #[tokio::test]
    async fn a_task_that_ends_leaves_its_service_running() {
        let service = CancellationToken::new();
        spawn_task("done", &service, async {}).await.unwrap();
        assert!(!service.is_cancelled());
    }
}
