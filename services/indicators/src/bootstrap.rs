//! Catching up from the registry itself when JILIN_REGISTRY no longer holds
//! every event (its oldest ones aged out or were purged): on a fresh or
//! rebuilt store, every project and report is read over gRPC and applied as
//! it stands now, then the stream is replayed on top. Events older than
//! what the registry returned are stale by revision and change nothing, so
//! nothing is counted twice. What is lost is only the status history
//! before the oldest event still in the stream (each project's current
//! status counts from its last change).

use jilin_bus::{REGISTRY_STREAM, async_nats, stream_lost_history};
use jilin_runtime::CancellationToken;
use jilin_runtime::peer::{PeerError, registry_portfolio};

use crate::domain::ledger::Fact;
use crate::ingest::{Ingest, report_facts, snapshot};
use crate::store::Tables;

/// Facts applied per store transaction.
const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Registry(PeerError),
    #[error("the registry sent an unusable project: {0}")]
    Unusable(String),
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
    #[error("stopped by shutdown")]
    Shutdown,
}

impl From<PeerError> for BootstrapError {
    fn from(err: PeerError) -> Self {
        match err {
            PeerError::Shutdown => BootstrapError::Shutdown,
            other => BootstrapError::Registry(other),
        }
    }
}

/// Whether a bootstrap is needed: nothing applied yet, and the stream's
/// first message is no longer its first event.
pub async fn needed(client: &async_nats::Client, tables: &Tables) -> Result<bool, String> {
    if !tables.applied.is_empty() {
        return Ok(false);
    }
    stream_lost_history(client, &REGISTRY_STREAM).await
}

/// Applies every project and report the registry holds now. Retries
/// while the registry is unavailable; returns the number of facts applied.
pub async fn from_registry(
    registry_url: &str,
    ingest: &Ingest,
    shutdown: &CancellationToken,
) -> Result<usize, BootstrapError> {
    let mut facts = Vec::new();
    for entry in registry_portfolio(registry_url, shutdown).await? {
        facts.extend(project_facts(&entry)?);
    }
    let applied = facts.len();
    for chunk in facts.chunks(BATCH) {
        ingest.apply_batch(chunk).await?;
    }
    tracing::info!(facts = applied, "bootstrapped from the registry");
    Ok(applied)
}

/// The project as it stands and each of its reports, as facts with
/// synthetic event ids.
fn project_facts(
    entry: &jilin_runtime::peer::PortfolioEntry,
) -> Result<Vec<(String, Fact)>, BootstrapError> {
    let snapshot = snapshot(&entry.project).map_err(BootstrapError::Unusable)?;
    let id = snapshot.id.clone();
    let mut facts = vec![(
        format!("bootstrap:{id}:r{}", snapshot.revision),
        Fact::Project(snapshot.clone()),
    )];
    for report in &entry.reports {
        let Some(period) = jilin_domain::Period::parse(&report.period) else {
            return Err(BootstrapError::Unusable(format!(
                "report period {}",
                report.period
            )));
        };
        facts.push((
            format!("bootstrap:{id}:{period}:v{}", report.revision),
            Fact::Report {
                project: snapshot.clone(),
                period,
                report: report_facts(report),
            },
        ));
    }
    Ok(facts)
}
