//! Whether the store still takes writes. fjall stops accepting writes for
//! good ("poisoned") once a sync of its journal has failed (a full disk, a
//! failing device): from then on every write fails until the process
//! restarts. [`Writable`] turns each failed write into the error its
//! caller hears, and remembers the first one that stopped the store, so
//! that the service can stop reporting itself healthy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;

use crate::StoreError;
use crate::error::write_failure;

/// Shared by the writers and the group-commit thread of one store.
#[derive(Clone)]
pub(crate) struct Writable {
    dir: PathBuf,
    /// Why the store stopped writing; `None` while it writes.
    stopped: Arc<watch::Sender<Option<String>>>,
    /// 1 once stopped.
    gauge: Gauge,
}

impl Writable {
    pub(crate) fn new(dir: &Path, gauge: Gauge) -> Self {
        Self {
            dir: dir.to_owned(),
            stopped: Arc::new(watch::Sender::new(None)),
            gauge,
        }
    }

    /// `err`, a failure of fjall while writing, as the caller should hear
    /// it. A failure that stopped the store is remembered (once).
    pub(crate) fn failure(&self, err: fjall::Error) -> StoreError {
        let stops = matches!(err, fjall::Error::Poisoned);
        let error = write_failure(err, &self.dir);
        if stops {
            self.stopped.send_if_modified(|reason| {
                if reason.is_some() {
                    return false;
                }
                tracing::error!(
                    dir = %self.dir.display(),
                    error = %error,
                    "the store stopped taking writes; it writes again after a restart"
                );
                self.gauge.set(1);
                *reason = Some(error.to_string());
                true
            });
        }
        error
    }

    /// Follows why the store stopped writing. The receiver does not keep
    /// the store open.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<String>> {
        self.stopped.subscribe()
    }
}

/// Resolves with the reason once the store behind `stopped` has stopped
/// taking writes, or with `None` once that store is closed.
pub(crate) async fn until_stopped(mut stopped: watch::Receiver<Option<String>>) -> Option<String> {
    let reason = stopped.wait_for(Option::is_some).await.ok()?;
    reason.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_failure_that_stops_the_store_is_told_once_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let gauge = Gauge::default();
        let writable = Writable::new(dir.path(), gauge.clone());
        let watching = tokio::spawn(until_stopped(writable.subscribe()));

        // A failure that leaves the store writing (the disk has room).
        let denied = fjall::Error::Io(std::io::ErrorKind::PermissionDenied.into());
        assert!(matches!(writable.failure(denied), StoreError::Engine(_)));
        assert_eq!(*writable.subscribe().borrow(), None);
        assert_eq!(gauge.get(), 0);

        // fjall poisoned: stopped, with the error the caller heard.
        let first = writable.failure(fjall::Error::Poisoned).to_string();
        let _ = writable.failure(fjall::Error::Poisoned);
        assert_eq!(watching.await.unwrap(), Some(first));
        assert_eq!(gauge.get(), 1);

        // A closed store is not a stopped one.
        let closed = Writable::new(dir.path(), Gauge::default());
        let receiver = closed.subscribe();
        drop(closed);
        assert_eq!(until_stopped(receiver).await, None);
    }
}
