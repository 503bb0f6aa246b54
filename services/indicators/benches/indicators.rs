//! Benchmarks of the indicator service's two hot paths.
//!
//! - `query/*`: QueryIndicator's evaluation (what the handler runs after
//!   decoding) of the built-in ratio `pillar_output_share` over 36 months,
//!   for a portfolio of 1k and of 100k projects with 36 monthly reports
//!   each. The cube is sized by months × sectors × regions, not by
//!   projects, so the two should cost about the same.
//! - `replay/*`: rebuild throughput in events per second: 1M events through
//!   the ledger and cube in memory, and 50k events through the service's
//!   store path (one transaction and one journal sync per batch, as the
//!   consumer applies them), in batches of 32 and of 256, project after
//!   project and month after month.
//! - `start/*`: the cube a start sums from a store of 100k projects with
//!   36 reports each, before the service serves; and the move of a format
//!   3 store of 10k projects to format 4.
//!
//! Run: `cargo bench -p jilin-indicators`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use jilin_bus::{Applier, Delivery};
use jilin_domain::{Period, REGIONS, SECTORS};
use jilin_indicators::domain::builtins::builtins;
use jilin_indicators::domain::definition::IndicatorSet;
use jilin_indicators::domain::entry::LedgerEntry;
use jilin_indicators::domain::ledger::{Fact, ProjectSnapshot, ReportFacts};
use jilin_indicators::domain::query::{self, Granularity, GroupBy, QuerySpec};
use jilin_indicators::domain::replay::InMemory;
use jilin_indicators::ingest::Ingest;
use jilin_indicators::migrate;
use jilin_indicators::store::{LAYOUT, Tables};
use jilin_store::{Layout, Store, Table};

const MONTHS: i32 = 36;

fn month(text: &str) -> Period {
    Period::parse(text).unwrap()
}

/// `projects` projects, each created then reporting for 36 months: the
/// registry's events in its order, `1 + 36` per project.
fn portfolio_events(projects: usize) -> Vec<Delivery<Fact>> {
    let first = month("2024-01");
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut events = Vec::with_capacity(projects * (MONTHS as usize + 1));
    for p in 0..projects {
        let snapshot = ProjectSnapshot {
            id: format!("p{p}"),
            revision: 1,
            sector: SECTORS[next() as usize % SECTORS.len()].code.into(),
            region: REGIONS[next() as usize % REGIONS.len()].code.into(),
            planned_investment: 1_000_000_000 + (next() % 1_000_000_000) as i64,
            planned_start: first,
            planned_end: first.add_months(MONTHS - 1).unwrap(),
            status: 2,
            month: first,
        };
        events.push(Delivery::unsequenced(
            format!("p{p}-r1"),
            Fact::Project(snapshot.clone()),
        ));
        for m in 0..MONTHS {
            let output = (next() % 100_000_000) as i64;
            let report = ReportFacts {
                revision: 1,
                measures: [
                    output / 3,
                    output,
                    output / 4,
                    output / 1000,
                    200,
                    output / 50,
                    output / 10,
                ],
            };
            events.push(Delivery::unsequenced(
                format!("p{p}-m{m}"),
                Fact::Report {
                    project: snapshot.clone(),
                    period: first.add_months(m).unwrap(),
                    report,
                },
            ));
        }
    }
    events
}

/// The same events with every project's creation first, then month after
/// month every project's report of that month.
fn month_by_month(events: &[Delivery<Fact>], projects: usize) -> Vec<Delivery<Fact>> {
    let per_project = MONTHS as usize + 1;
    (0..per_project)
        .flat_map(|step| (0..projects).map(move |p| events[p * per_project + step].clone()))
        .collect()
}

fn replayed(events: &[Delivery<Fact>]) -> InMemory {
    let mut memory = InMemory::default();
    for event in events {
        memory.apply(&event.id, &event.fact).unwrap();
    }
    memory
}

fn query(c: &mut Criterion) {
    let (indicators, _) = IndicatorSet::compile(builtins(time::OffsetDateTime::UNIX_EPOCH));
    let share = indicators.get("pillar_output_share").unwrap();
    let mut group = c.benchmark_group("query");
    for projects in [1_000, 100_000] {
        let cube = replayed(&portfolio_events(projects)).cube;
        for (name, group_by) in [("province", GroupBy::None), ("by_region", GroupBy::Region)] {
            let spec = QuerySpec {
                start: month("2024-01"),
                end: month("2026-12"),
                granularity: Granularity::Month,
                group_by,
                filter: Vec::new(),
            };
            group.bench_with_input(
                BenchmarkId::new(format!("pillar_output_share_{name}"), projects),
                &spec,
                |b, spec| b.iter(|| query::run(&cube, &indicators, share, spec)),
            );
        }
    }
    group.finish();
}

fn replay(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    let million = portfolio_events(27_028);
    group.throughput(Throughput::Elements(million.len() as u64));
    group.bench_function(BenchmarkId::new("ledger_in_memory", million.len()), |b| {
        b.iter(|| replayed(&million))
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let by_project = portfolio_events(1_352);
    let by_month = month_by_month(&by_project, 1_352);
    group.throughput(Throughput::Elements(by_project.len() as u64));
    // The consumer's batch against a smaller one, in the registry's order
    // when projects load their history one after another, and when every
    // project reports month by month (each event of a batch then touches
    // another project).
    for (order, events) in [("by_project", &by_project), ("by_month", &by_month)] {
        for batch_size in [32, 256] {
            let name = format!("store_{order}_batches_of_{batch_size}");
            group.bench_function(BenchmarkId::new(name, events.len()), |b| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let dir = tempfile::tempdir().unwrap();
                        let (_, ingest) = fresh_store(dir.path());
                        let started = Instant::now();
                        apply_in_batches(&runtime, &ingest, events, batch_size);
                        total += started.elapsed();
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

/// What a start computes before it serves: the cube summed from a store
/// of 100,000 projects with 36 reports each (3.7M events, written once
/// through the store path before timing).
fn start(c: &mut Criterion) {
    let mut group = c.benchmark_group("start");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Filled only when this bench is chosen (criterion calls the closure
    // once per sample; the store is filled at the first).
    let filled = std::sync::OnceLock::new();
    group.bench_function("load_cube_100k_projects_36_months", |b| {
        let (_dir, tables) = filled.get_or_init(|| filled_store(&runtime, 100_000));
        b.iter(|| tables.load_cube().unwrap())
    });

    // The first start on a format 3 store: its ledger entries moved to
    // projects and reports (10,000 projects, 360,000 reports).
    let entries = replayed(&portfolio_events(10_000)).projects;
    group.throughput(Throughput::Elements(entries.len() as u64));
    group.bench_function("migrate_format_3_10k_projects_36_months", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let dir = tempfile::tempdir().unwrap();
                runtime.block_on(write_format_3(dir.path(), &entries));
                let tables = Tables::open(Store::open(dir.path(), &LAYOUT).unwrap()).unwrap();
                let started = Instant::now();
                runtime.block_on(migrate::to_format_4(&tables)).unwrap();
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// A store holding `projects` projects' events, written through the
/// store path, in a temporary directory that lives as long as it.
fn filled_store(runtime: &tokio::runtime::Runtime, projects: usize) -> (tempfile::TempDir, Tables) {
    let dir = tempfile::tempdir().unwrap();
    let (tables, ingest) = fresh_store(dir.path());
    apply_in_batches(runtime, &ingest, &portfolio_events(projects), 1000);
    (dir, tables)
}

/// A new store in `dir`, and the consumer's path into it.
fn fresh_store(dir: &std::path::Path) -> (Tables, Applier<Ingest>) {
    let tables = Tables::open(Store::open(dir, &LAYOUT).unwrap()).unwrap();
    let ingest = Ingest::new(tables.clone(), Default::default(), Default::default())
        .applier()
        .unwrap();
    (tables, ingest)
}

/// Applies `events` as the consumer does, `batch` at a time, each batch
/// one transaction and one sync.
fn apply_in_batches(
    runtime: &tokio::runtime::Runtime,
    ingest: &Applier<Ingest>,
    events: &[Delivery<Fact>],
    batch: usize,
) {
    runtime.block_on(async {
        for chunk in events.chunks(batch) {
            ingest.apply(chunk).await.unwrap();
        }
    });
}

/// A format 3 store in `dir` holding `entries`.
async fn write_format_3(dir: &std::path::Path, entries: &HashMap<String, LedgerEntry>) {
    let store = Store::open(
        dir,
        &Layout {
            version: 3,
            ..LAYOUT
        },
    )
    .unwrap();
    let ledger: Table<LedgerEntry> = store.table(migrate::LEDGER).unwrap();
    let entries: Vec<_> = entries.iter().collect();
    for chunk in entries.chunks(1000) {
        store
            .write(|tx| {
                chunk
                    .iter()
                    .try_for_each(|(id, entry)| tx.insert(&ledger, id, entry))
            })
            .await
            .unwrap();
    }
}

criterion_group!(benches, query, replay, start);
criterion_main!(benches);
