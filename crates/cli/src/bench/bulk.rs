//! The bulk scenario: a provincial portfolio loaded as agencies would load
//! it. Projects are created (and put under construction) by parallel
//! callers, then every month of their history is sent through
//! BatchReportProgress, a few batches in flight at once.

use std::path::Path;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use hdrhistogram::Histogram;
use jilin_proto::registry::v1 as registry;
use tokio::time::Instant;

use super::load;
use super::scenarios::{BenchProjects, Clients};

/// What loading the portfolio took.
pub struct BulkLoad {
    pub projects: u64,
    pub project_seconds: f64,
    pub reports: u64,
    pub report_seconds: f64,
    /// Latency of each BatchReportProgress call, in microseconds.
    pub batch_latency: Histogram<u64>,
    /// Bytes on disk of each service's store, if its data directory was given.
    pub disk: Vec<(String, u64)>,
}

/// Creates `projects.count` projects, then reports `months` months for
/// each in batches of `batch` with `in_flight` calls at once.
pub async fn load(
    clients: &Clients,
    projects: &BenchProjects,
    months: i32,
    batch: usize,
    in_flight: usize,
    data_dir: Option<&Path>,
) -> Result<BulkLoad, String> {
    let started = Instant::now();
    super::create_all(clients, projects).await?;
    let project_seconds = started.elapsed().as_secs_f64();

    let first = projects
        .this_month
        .add_months(1 - months.clamp(1, 36))
        .ok_or("no such month")?;
    let batches: Vec<(u64, registry::BatchReportProgressRequest)> = (0..months.clamp(1, 36))
        .flat_map(|offset| {
            let period = first.add_months(offset).expect("a month");
            let indexes: Vec<u64> = (0..projects.count).collect();
            indexes
                .chunks(batch.clamp(1, 1000))
                .map(|chunk| {
                    let requests = chunk
                        .iter()
                        .map(|&index| projects.report_request(index, period, offset * 2))
                        .collect();
                    let request = registry::BatchReportProgressRequest {
                        requests,
                        request_id: String::new(),
                    };
                    (chunk[0], request)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let reports: u64 = batches
        .iter()
        .map(|(_, request)| request.requests.len() as u64)
        .sum();
    let started = Instant::now();
    let latencies: Vec<Duration> = stream::iter(batches)
        .map(|(index, request)| {
            let client = clients.registry(index);
            async move {
                let sent = Instant::now();
                crate::client::through_backlog(|| {
                    let (mut client, request) = (client.clone(), request.clone());
                    async move { client.batch_report_progress(request).await }
                })
                .await?;
                Ok::<_, tonic::Status>(sent.elapsed())
            }
        })
        .buffer_unordered(in_flight.max(1))
        .try_collect()
        .await
        .map_err(|status| format!("reporting: {}", status.message()))?;
    let report_seconds = started.elapsed().as_secs_f64();
    let mut batch_latency = load::new_histogram();
    for latency in latencies {
        batch_latency.saturating_record(latency.as_micros().max(1) as u64);
    }
    Ok(BulkLoad {
        projects: projects.count,
        project_seconds,
        reports,
        report_seconds,
        batch_latency,
        disk: data_dir.map(disk_use).unwrap_or_default(),
    })
}

/// Bytes under each service's store directory in `data_dir`.
fn disk_use(data_dir: &Path) -> Vec<(String, u64)> {
    ["registry", "indicators", "risk"]
        .iter()
        .map(|service| (service.to_string(), bytes_under(&data_dir.join(service))))
        .collect()
}

fn bytes_under(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return std::fs::metadata(path).map_or(0, |meta| meta.len());
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => bytes_under(&entry.path()),
            _ => entry.metadata().map_or(0, |meta| meta.len()),
        })
        .sum()
}
