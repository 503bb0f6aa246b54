//! Benchmarks of the risk service's two hot paths, through its real store.
//!
//! - `pass/*`: the periodic evaluation of every project rule for every
//!   project (what the timer runs), in steady state (nothing changes, so
//!   nothing is written), for 1k and 10k projects. Reported per project:
//!   the pass should scale linearly, so the two should be about equal.
//!   `pass/36_months_each/10000`: the same over 10k projects each holding
//!   36 months of reports, as after a bulk load.
//! - `report/*`: one report event judged and committed (one transaction
//!   and one flush), with 1k and 10k projects stored: its cost should not
//!   depend on the portfolio's size. `report/baseline_one_write` is one
//!   transaction writing one value (and its flush), in the same process.
//! - `replay/*`: catching up on the registry's stream, in events per
//!   second: 1,000 projects created, then each reporting month after month
//!   for 36 months (37,000 events, as a bulk load sends them), applied
//!   through the service's store path in the consumer's batches of 256, on
//!   a fresh store each time. In `month_by_month` every project is under
//!   construction and soon over its planned investment, so its alerts are
//!   looked up and rewritten; in `month_by_month_healthy` every project
//!   is operating within its plan, so most readings are clear and find
//!   no alert.
//!
//! - `dispatch/*`: one pass of the alert dispatcher over 10k projects
//!   whose firing alerts each form a group of their own (a route grouping
//!   by subject, every hour): `groups_not_due`, while nothing is due (what
//!   the dispatcher costs five times a second between notifications),
//!   against `no_groups`, the same pass with no route; `every_group_due`,
//!   with the clock an hour on before each pass, in groups per second.
//!
//! Run: `cargo bench -p jilin-risk`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jilin_bus::{Applier, Delivery};
use jilin_domain::Period;
use jilin_risk::delivery::dispatch::Dispatcher;
use jilin_risk::domain::measure::ProjectStatus;
use jilin_risk::domain::project::{ProjectSnapshot, ReportRecord};
use jilin_risk::domain::receiver::{Receiver, ReceiverKind};
use jilin_risk::domain::routing::{GroupTiming, Route};
use jilin_risk::ingest::RegistryFollower;
use jilin_risk::monitor::{Monitor, RegistryFact};
use jilin_risk::service::Risk;
use jilin_risk::store::{LAYOUT, Tables};
use jilin_runtime::{Clock, ClockSetting};
use jilin_store::Store;
use time::macros::{date, datetime};

const SIZES: [usize; 2] = [1_000, 10_000];
/// Half the planned investment a month: over plan from the third month.
const MONTHLY_INVESTMENT_OVER_PLAN: i64 = 500_000;
/// A month's investment that keeps 36 months within the plan.
const MONTHLY_INVESTMENT_WITHIN_PLAN: i64 = 10_000;

/// Which portfolio a replay feeds.
#[derive(Clone, Copy)]
enum Portfolio {
    /// Under construction, over plan: alerts on every project.
    Breaching,
    /// Operating within plan: no rule breached.
    Healthy,
}

fn snapshot(index: usize) -> ProjectSnapshot {
    snapshot_in(index, ProjectStatus::UnderConstruction)
}

fn snapshot_in(index: usize, status: ProjectStatus) -> ProjectSnapshot {
    ProjectSnapshot {
        id: format!("p{index:06}"),
        revision: 1,
        display_name: format!("Project {index}"),
        status,
        sector: "automobile".into(),
        group: "pillar".into(),
        region: "220100".into(),
        agency: "jilin-drc".into(),
        planned_investment: 1_000_000,
        planned_start: date!(2026 - 01 - 01),
        planned_end: date!(2026 - 12 - 31),
        milestones: Vec::new(),
    }
}

fn report(revision: i64, progress: i32) -> ReportRecord {
    ReportRecord {
        revision,
        investment: MONTHLY_INVESTMENT_OVER_PLAN,
        value_added: 1_000,
        energy_kgce: 100,
        physical_progress: progress,
    }
}

/// A monitor over a fresh store holding `projects` projects, a third of
/// them behind schedule, with their alerts already judged.
fn portfolio(
    runtime: &tokio::runtime::Runtime,
    projects: usize,
) -> (tempfile::TempDir, Monitor, Applier<RegistryFollower>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &LAYOUT).unwrap();
    let tables = Tables::open(store).unwrap();
    let clock = Clock::new(ClockSetting::Fixed(datetime!(2026-07-01 0:00 UTC)));
    let monitor = Monitor::new(tables, clock).unwrap();
    let registry_events = RegistryFollower(monitor.clone()).applier().unwrap();
    let risk = Risk::new(monitor.clone(), Default::default());
    runtime.block_on(async {
        risk.seed_builtins().await.unwrap();
        let june = Period::parse("2026-06").unwrap();
        let facts: Vec<_> = (0..projects)
            .map(|index| {
                let progress = if index % 3 == 0 { 10 } else { 50 };
                Delivery::unsequenced(
                    format!("e{index}"),
                    RegistryFact::Report {
                        project: snapshot(index),
                        period: june,
                        report: report(1, progress),
                    },
                )
            })
            .collect();
        apply_in_batches(&registry_events, &facts).await;
    });
    (dir, monitor, registry_events)
}

/// Applies `events` as the consumer hands them over: batches of 256, each
/// one transaction and one sync.
async fn apply_in_batches(
    registry_events: &Applier<RegistryFollower>,
    events: &[Delivery<RegistryFact>],
) {
    for batch in events.chunks(256) {
        registry_events.apply(batch).await.unwrap();
    }
}

fn benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut pass = c.benchmark_group("pass");
    pass.sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for size in SIZES {
        let (_dir, monitor, _) = portfolio(&runtime, size);
        pass.throughput(Throughput::Elements(size as u64));
        pass.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.to_async(&runtime)
                .iter(|| async { assert_eq!(monitor.evaluate_all().await.unwrap(), 0) });
        });
    }
    // Every project with three years of monthly reports, as after a bulk
    // load: what a pass reads per project is what the store keeps of it.
    let (_history_dir, monitor, registry_events) = portfolio(&runtime, 0);
    let history = month_by_month(10_000, 36, Portfolio::Healthy);
    runtime.block_on(async {
        apply_in_batches(&registry_events, &history).await;
        monitor.evaluate_all().await.unwrap();
    });
    pass.throughput(Throughput::Elements(10_000));
    pass.bench_function(BenchmarkId::new("36_months_each", 10_000), |b| {
        b.to_async(&runtime)
            .iter(|| async { assert_eq!(monitor.evaluate_all().await.unwrap(), 0) });
    });
    pass.finish();

    let mut reports = c.benchmark_group("report");
    for size in SIZES {
        let (_dir, _, registry_events) = portfolio(&runtime, size);
        let june = Period::parse("2026-06").unwrap();
        let mut iteration = 0usize;
        reports.bench_with_input(BenchmarkId::from_parameter(size), &size, |b, _| {
            b.to_async(&runtime).iter(|| {
                // Round the first 100 projects, each report moving its
                // project between behind and on schedule: every report
                // fires or resolves an alert.
                let (index, round) = (iteration % 100, iteration / 100);
                iteration += 1;
                let behind = (index % 3 == 0) == (round % 2 == 1);
                let fact = RegistryFact::Report {
                    project: snapshot(index),
                    period: june,
                    report: report(round as i64 + 2, if behind { 10 } else { 50 }),
                };
                let registry_events = registry_events.clone();
                async move {
                    let written = registry_events
                        .apply(&[Delivery::unsequenced(format!("r{iteration}"), fact)])
                        .await
                        .unwrap();
                    assert!(!written.records.is_empty());
                }
            });
        });
    }
    // Baseline: one transaction writing one small value, and its flush.
    let (_dir, monitor, _) = portfolio(&runtime, 1);
    let tables = monitor.tables().clone();
    reports.bench_function("baseline_one_write", |b| {
        b.to_async(&runtime).iter(|| async {
            tables
                .store
                .write(|tx| tx.insert(&tables.meta, "bench", &1))
                .await
                .unwrap()
        });
    });
    reports.finish();
}

/// `projects` projects created, then month after month each one's
/// report, progress creeping up so that some fall behind and catch up.
fn month_by_month(
    projects: usize,
    months: i32,
    portfolio: Portfolio,
) -> Vec<Delivery<RegistryFact>> {
    let (status, investment) = match portfolio {
        Portfolio::Breaching => (
            ProjectStatus::UnderConstruction,
            MONTHLY_INVESTMENT_OVER_PLAN,
        ),
        Portfolio::Healthy => (ProjectStatus::Operating, MONTHLY_INVESTMENT_WITHIN_PLAN),
    };
    let first = Period::parse("2024-01").unwrap();
    let mut events: Vec<_> = (0..projects)
        .map(|index| {
            Delivery::unsequenced(
                format!("c{index}"),
                RegistryFact::Project(snapshot_in(index, status)),
            )
        })
        .collect();
    for month in 0..months {
        for index in 0..projects {
            let progress = (month * 100 / months + (index % 7) as i32 * 3).min(100);
            events.push(Delivery::unsequenced(
                format!("r{index}-{month}"),
                RegistryFact::Report {
                    project: snapshot_in(index, status),
                    period: first.add_months(month).unwrap(),
                    report: ReportRecord {
                        investment,
                        ..report(i64::from(month) + 1, progress)
                    },
                },
            ));
        }
    }
    events
}

fn replay(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("replay");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    for (name, kind) in [
        ("month_by_month", Portfolio::Breaching),
        ("month_by_month_healthy", Portfolio::Healthy),
    ] {
        let events = month_by_month(1_000, 36, kind);
        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function(BenchmarkId::new(name, events.len()), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let (_dir, _, registry_events) = portfolio(&runtime, 0);
                    let started = Instant::now();
                    runtime.block_on(apply_in_batches(&registry_events, &events));
                    total += started.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

/// A webhook receiver and a route sending it every alert, one group per
/// subject, each waiting an hour before its first notification.
async fn route_every_subject(risk: &Risk) {
    let hour = Duration::from_secs(3600);
    risk.create_receiver(Receiver {
        id: "bench".into(),
        kind: ReceiverKind::Webhook {
            url: "http://127.0.0.1:9/".into(),
            secret: None,
            timeout: Duration::from_secs(1),
        },
        deadline: hour,
        created_by: "bench".into(),
    })
    .await
    .unwrap();
    risk.create_route(Route {
        id: "every-subject".into(),
        position: 0,
        matchers: Vec::new(),
        receiver: "bench".into(),
        group_by: vec!["subject".into()],
        timing: GroupTiming {
            wait: hour,
            interval: hour,
            repeat: 4 * hour,
        },
        continue_matching: false,
        created_by: "bench".into(),
    })
    .await
    .unwrap();
}

fn dispatch(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("dispatch");
    group.sample_size(10);
    for routed in [false, true] {
        let (_dir, monitor, _) = portfolio(&runtime, 10_000);
        if routed {
            let risk = Risk::new(monitor.clone(), Default::default());
            runtime.block_on(route_every_subject(&risk));
        }
        let groups = monitor.tables().groups.keys().unwrap().len();
        assert_eq!(routed, groups > 0);
        let clock = monitor.clock().clone();
        let dispatcher = Dispatcher {
            wall: clock.clone(),
            monitor,
            sender: Arc::default(),
        };
        let name = if routed {
            "groups_not_due"
        } else {
            "no_groups"
        };
        group.bench_function(BenchmarkId::new(name, groups), |b| {
            b.to_async(&runtime)
                .iter(|| async { assert_eq!(dispatcher.dispatch_due().await.unwrap(), 0) });
        });
        if !routed {
            continue;
        }
        // The clock an hour (the groups' interval) on before each pass:
        // every group is due, looked at and written again.
        let start = clock.now();
        let mut hours = 0;
        group.throughput(Throughput::Elements(groups as u64));
        group.bench_function(BenchmarkId::new("every_group_due", groups), |b| {
            b.to_async(&runtime).iter_custom(|passes| {
                let (dispatcher, clock) = (dispatcher.clone(), clock.clone());
                let first = hours + 1;
                hours += passes as i64;
                async move {
                    let mut spent = Duration::ZERO;
                    for hour in first..first + passes as i64 {
                        clock.set(ClockSetting::Fixed(start + time::Duration::hours(hour)));
                        let started = Instant::now();
                        dispatcher.dispatch_due().await.unwrap();
                        spent += started.elapsed();
                    }
                    spent
                }
            });
        });
    }
    group.finish();
}

criterion_group!(risk, benches, replay, dispatch);
criterion_main!(risk);
