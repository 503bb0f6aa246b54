//! `jilin bench`: load a running system over gRPC and NATS, as outside
//! clients would, and print what it took: a table for people, JSON for
//! scripts (`-o json`). Every call scenario's throughput is also shown as
//! a ratio to the health Check of the same run, the same server's bare
//! cost, which makes figures from noisy, shared machines comparable.
//!
//! `jilin bench health get list report query mixed` runs call scenarios
//! (closed loop with `--clients`, or open loop at `--rate`); `alert`
//! measures report → alert heard; `bulk` loads a portfolio through
//! BatchReportProgress. BENCHMARKS.md has the figures and how to
//! reproduce them.

mod alerts;
mod bulk;
mod load;
mod report;
mod scenarios;
mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt, stream};
use jilin_domain::Period;

use crate::client::{ClientError, Connection, Outcome};
use load::{Mode, Span};
use report::Results;
use scenarios::{BenchProjects, Clients, Scenario};

/// `jilin bench` flags.
#[derive(Debug, clap::Args)]
pub struct Bench {
    /// What to run, in order.
    #[arg(value_enum, default_values = ["health", "get", "list", "report", "query", "mixed"])]
    scenarios: Vec<Scenario>,
    /// Closed loop: callers, each calling again as soon as answered.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Open loop instead: calls started per second, whatever the answers do.
    #[arg(long)]
    rate: Option<f64>,
    /// HTTP/2 connections per service the calls share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds measured per scenario.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Projects the call scenarios use (created first).
    #[arg(long, default_value_t = 1000)]
    projects: u64,
    /// `alert`: report flips per second on probe projects.
    #[arg(long, default_value_t = 10.0)]
    probe_rate: f64,
    /// `alert`: background reports per second on other projects meanwhile.
    #[arg(long, default_value_t = 0.0)]
    background_rate: f64,
    /// `alert`: where to hear alerts; by default the NATS of a `jilin up`
    /// in this directory, else nats://127.0.0.1:4222.
    #[arg(long, env = "NATS_URL")]
    nats_url: Option<String>,
    /// `alert`: the NATS user and CA; by default the read-only `watcher` of
    /// a `jilin up` in this directory.
    #[command(flatten)]
    nats_args: jilin_runtime::NatsArgs,
    /// `bulk`: projects to create.
    #[arg(long, default_value_t = 1000)]
    bulk_projects: u64,
    /// `bulk`: months each reports, up to 36.
    #[arg(long, default_value_t = 36)]
    bulk_months: i32,
    /// `bulk`: reports per BatchReportProgress call.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// `bulk`: batches in flight at once.
    #[arg(long, default_value_t = 4)]
    in_flight: usize,
    /// `bulk`: the system's data directory, to report its stores' size.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Runs the chosen scenarios and prints their results.
pub async fn run(connection: &Connection, bench: Bench) -> Outcome {
    let failed = |message: String| ClientError::Usage(message);
    let clients = Clients::connect(connection, bench.connections).await?;
    let this_month = Period::of_date(time::OffsetDateTime::now_utc().date());
    let run = format!("{:06x}", rand::random::<u32>() & 0xff_ffff);
    let span = Span {
        warmup: Duration::from_secs_f64(bench.warmup),
        measure: Duration::from_secs_f64(bench.seconds),
    };
    let mode = match bench.rate {
        Some(rate) => Mode::Open { rate },
        None => Mode::Closed {
            clients: bench.clients,
        },
    };
    let projects = BenchProjects::new(run.clone(), bench.projects, this_month);
    let needs_projects = bench.scenarios.iter().any(|scenario| {
        matches!(
            scenario,
            Scenario::Get | Scenario::List | Scenario::Report | Scenario::Mixed
        )
    });
    if needs_projects {
        eprintln!("creating {} bench projects (run {run})…", projects.count);
        create_all(&clients, &projects).await.map_err(failed)?;
    }
    let mut results = Results::new(std::env::args().skip(1).collect::<Vec<_>>().join(" "));
    for &scenario in &bench.scenarios {
        eprintln!("running {}…", scenario.name());
        match scenario {
            Scenario::Alert => {
                let measured = alert(connection, &bench, &clients, &run, this_month, span).await?;
                results.alert(measured);
            }
            Scenario::Bulk => {
                let projects =
                    BenchProjects::new(format!("{run}-bulk"), bench.bulk_projects, this_month);
                let loaded = bulk::load(
                    &clients,
                    &projects,
                    bench.bulk_months,
                    bench.batch_size,
                    bench.in_flight,
                    bench.data_dir.as_deref(),
                )
                .await
                .map_err(failed)?;
                results.bulk(loaded);
            }
            calls => {
                let (clients, projects) = (clients.clone(), projects.clone());
                let recorded = load::drive(mode, span, move |index| {
                    let (clients, projects) = (clients.clone(), projects.clone());
                    async move { scenarios::call(calls, &clients, &projects, index).await }
                })
                .await;
                results.calls(calls.name(), mode, recorded);
            }
        }
    }
    results.print(connection.json());
    Ok(())
}

/// Creates `projects` with 32 callers.
pub(crate) async fn create_all(clients: &Clients, projects: &BenchProjects) -> Result<(), String> {
    stream::iter(0..projects.count)
        .map(|index| {
            let mut client = clients.registry(index);
            async move { projects.create(&mut client, index).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
        .map_err(|status| format!("creating the bench projects: {}", status.message()))
}

async fn alert(
    connection: &Connection,
    bench: &Bench,
    clients: &Clients,
    run: &str,
    this_month: Period,
    span: Span,
) -> Result<alerts::AlertLatency, ClientError> {
    let failed = |message: String| ClientError::Usage(message);
    let probes = BenchProjects::new(
        format!("{run}-probe"),
        alerts::probe_count(bench.probe_rate),
        this_month,
    );
    create_all(clients, &probes).await.map_err(failed)?;
    let background = if bench.background_rate > 0.0 {
        let others = BenchProjects::new(format!("{run}-bg"), bench.projects, this_month);
        create_all(clients, &others).await.map_err(failed)?;
        Some((bench.background_rate, others))
    } else {
        None
    };
    let (nats, _) =
        crate::client::alerts::nats_watcher(bench.nats_url.as_deref(), &bench.nats_args).await?;
    let risk_client = || async {
        Ok::<_, ClientError>(
            jilin_proto::risk::v1::risk_service_client::RiskServiceClient::new(
                connection.authed(&connection.risk).await?,
            ),
        )
    };
    let watcher = risk_client().await?;
    let mut admin = risk_client().await?;
    let sink = webhook::WebhookSink::start(&mut admin, &probes.run)
        .await
        .map_err(failed)?;
    let measured = alerts::measure(
        clients,
        probes,
        background,
        alerts::Listeners {
            nats,
            watcher,
            webhook: sink.heard.clone(),
        },
        bench.probe_rate,
        span,
    )
    .await;
    sink.stop(&mut admin).await;
    measured.map_err(failed)
}
