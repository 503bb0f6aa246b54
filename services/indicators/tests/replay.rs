//! The service fed a generated registry history over a real nats-server, in
//! shuffled order with duplicates: every built-in indicator equals the
//! naive recomputation, a rebuild from the stream gives identical state, a
//! restart mid-stream applies nothing twice and loses nothing (also after a
//! `kill -9` of the real binary), and an event committed but never
//! acknowledged is not applied again.

mod common;

use common::portfolio::{Naive, Portfolio, shuffle_with_duplicates};
use common::{TestSystem, config, start_indicators};
use jilin_bus::Delivery;
use jilin_domain::Period;
use jilin_indicators::domain::builtins::builtins;
use jilin_indicators::domain::definition::IndicatorSet;
use jilin_indicators::domain::query::{self, Granularity, GroupBy, QuerySpec};
use jilin_indicators::ingest::{Ingest, SharedCube};
use jilin_indicators::store::{LAYOUT, REBUILD_PENDING, Tables};
use jilin_proto::indicators::v1 as pb;
use jilin_store::Store;
use jilin_testkit::bus::acked;

const GRANULARITIES: [(pb::Granularity, Granularity); 3] = [
    (pb::Granularity::Month, Granularity::Month),
    (pb::Granularity::Quarter, Granularity::Quarter),
    (pb::Granularity::Year, Granularity::Year),
];

const GROUP_BYS: [(pb::GroupBy, GroupBy); 4] = [
    (pb::GroupBy::None, GroupBy::None),
    (pb::GroupBy::Region, GroupBy::Region),
    (pb::GroupBy::Sector, GroupBy::Sector),
    (pb::GroupBy::Group, GroupBy::Group),
];

/// Every built-in at every granularity and breakdown, over gRPC, equals
/// the naive recomputation.
async fn assert_matches_naive(system: &mut TestSystem, portfolio: &Portfolio) {
    let (indicators, _) = IndicatorSet::compile(builtins(time::OffsetDateTime::UNIX_EPOCH));
    for indicator in indicators.iter() {
        let id = &indicator.definition.id;
        for (pb_granularity, granularity) in GRANULARITIES {
            for (pb_group_by, group_by) in GROUP_BYS {
                let response = system
                    .query(id, "2024-01", "2025-12", pb_granularity, pb_group_by, "")
                    .await
                    .expect("query");
                let spec = QuerySpec {
                    start: Period::parse("2024-01").unwrap(),
                    end: Period::parse("2025-12").unwrap(),
                    granularity,
                    group_by,
                    filter: Vec::new(),
                };
                let naive = query::run(&Naive::new(portfolio), &indicators, indicator, &spec);
                assert_eq!(response.series.len(), naive.len(), "{id} {group_by:?}");
                for (series, expected) in response.series.iter().zip(&naive) {
                    assert_eq!(series.group, expected.group.key);
                    let got: Vec<_> = series
                        .points
                        .iter()
                        .map(|p| (p.period.clone(), p.value, p.target, p.attainment))
                        .collect();
                    let want: Vec<_> = expected
                        .points
                        .iter()
                        .map(|p| (p.period.clone(), p.value, p.target, p.attainment))
                        .collect();
                    assert_eq!(got, want, "{id} by {group_by:?} per {granularity:?}");
                }
            }
        }
    }
}

#[tokio::test]
async fn shuffled_duplicated_history_matches_naive_and_rebuilds_identically() {
    let mut system = TestSystem::spawn().await;
    let portfolio = Portfolio::generate(2026, 16, 24);
    let events = shuffle_with_duplicates(&portfolio.events(), 99);
    system.publish(&events, false).await;
    system.wait_consumed("jilin-indicators").await;
    assert_matches_naive(&mut system, &portfolio).await;
    let state = system.running().state_fingerprint();

    // A second instance with its own store and consumer replays the stream.
    let replica = start_indicators(&system.config("replica")).await;
    system.wait_consumed("replica").await;
    assert_eq!(
        replica.state_fingerprint(),
        state,
        "replica equals original"
    );
    replica.shutdown().await.unwrap();

    // The first instance, asked to rebuild, ends where it was.
    let mut rebuild = system.config("jilin-indicators");
    rebuild.rebuild = true;
    system.restart_with(rebuild).await;
    system.wait_consumed("jilin-indicators").await;
    assert_eq!(
        system.running().state_fingerprint(),
        state,
        "rebuilt equals original"
    );
    assert_matches_naive(&mut system, &portfolio).await;

    // A rebuild cut short (the mark on disk, half the reports removed) is
    // finished by the next start, asked or not.
    let running = system.indicators.take().unwrap();
    let config = system.config("jilin-indicators");
    running.shutdown().await.unwrap();
    cut_a_rebuild_short(&config.data_dir).await;
    system.restart_with(config).await;
    system.wait_consumed("jilin-indicators").await;
    assert_eq!(
        system.running().state_fingerprint(),
        state,
        "a rebuild finished after a crash equals original"
    );
}

/// Leaves the store in `dir` as a crash half way through clearing it for
/// a rebuild would: marked, with half its reports gone.
async fn cut_a_rebuild_short(dir: &std::path::Path) {
    let tables = Tables::open(Store::open(dir, &LAYOUT).unwrap()).unwrap();
    let reports = tables.reports.keys().unwrap();
    assert!(reports.len() > 10, "{} reports", reports.len());
    tables
        .store
        .write(|tx| {
            tx.insert(&tables.meta, REBUILD_PENDING, &true)?;
            for key in &reports[..reports.len() / 2] {
                tx.remove(&tables.reports, key)?;
            }
            Ok::<_, jilin_store::StoreError>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn restart_mid_stream_applies_each_event_exactly_once() {
    let mut system = TestSystem::spawn().await;
    let portfolio = Portfolio::generate(77, 30, 24);
    let events = portfolio.events();
    system.publish(&events, true).await;
    // Stop as soon as part of the stream is applied, then go on.
    while system.running().applied_events() < events.len() / 4 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let config = system.config("jilin-indicators");
    system.restart_with(config).await;
    system.wait_consumed("jilin-indicators").await;
    assert_eq!(system.running().applied_events(), events.len());

    let reference = start_indicators(&system.config("reference")).await;
    system.wait_consumed("reference").await;
    assert_eq!(
        system.running().state_fingerprint(),
        reference.state_fingerprint()
    );
    reference.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_event_committed_but_never_acked_is_not_applied_again() {
    let system = TestSystem::spawn().await;
    let portfolio = Portfolio::generate(5, 6, 12);
    let events = portfolio.events();
    let config = config(&system.nats, system.data.path(), "crashy");

    // The first half is applied and committed by a process that dies
    // before acking anything: nothing reached the broker's consumer.
    {
        let store = Store::open(&config.data_dir, &LAYOUT).unwrap();
        let tables = Tables::open(store).unwrap();
        let cube = SharedCube::default();
        let ingest = Ingest::new(tables.clone(), cube, Default::default())
            .applier()
            .unwrap();
        for event in &events[..events.len() / 2] {
            let delivery = Delivery::unsequenced(event.id.clone(), event.fact.clone());
            ingest.apply(&[delivery]).await.unwrap();
        }
        tables.store.flush().unwrap();
    }
    system.publish(&events, true).await;
    let crashy = start_indicators(&config).await;
    system.wait_consumed("crashy").await;
    let reference = start_indicators(&system.config("reference")).await;
    system.wait_consumed("reference").await;
    assert_eq!(crashy.applied_events(), events.len());
    assert_eq!(crashy.state_fingerprint(), reference.state_fingerprint());
    crashy.shutdown().await.unwrap();
    reference.shutdown().await.unwrap();
}

#[tokio::test]
async fn kill_9_mid_stream_loses_nothing_and_applies_nothing_twice() {
    let system = TestSystem::spawn().await;
    let portfolio = Portfolio::generate(31, 30, 24);
    let events = portfolio.events();
    system.publish(&events, true).await;

    let config = system.config("killed");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jilin-indicators"))
        .args(["--listen", "127.0.0.1:0", "--consumer-name", "killed"])
        .arg("--insecure-no-auth")
        .arg("--insecure-plaintext")
        .args(["--registry-url", jilin_testkit::NOWHERE])
        .arg("--data-dir")
        .arg(&config.data_dir)
        .args(["--nats-url", &system.nats.url()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start jilin-indicators");
    let deadline = std::time::Instant::now() + common::PATIENCE;
    let nats = system.nats_client().await;
    while acked(&nats, "JILIN_REGISTRY", "killed").await < events.len() as u64 / 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "the binary never made progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let restarted = start_indicators(&config).await;
    system.wait_consumed("killed").await;
    let reference = start_indicators(&system.config("reference")).await;
    system.wait_consumed("reference").await;
    assert_eq!(restarted.applied_events(), events.len());
    assert_eq!(restarted.state_fingerprint(), reference.state_fingerprint());
    restarted.shutdown().await.unwrap();
    reference.shutdown().await.unwrap();
}
