//! The system on a three-node NATS JetStream cluster, its streams kept with
//! three replicas. Reports keep coming while one node is killed (SIGKILL)
//! and started again: every acknowledged report's event is on the stream
//! exactly once, and the indicator service's employment totals equal a
//! recomputation from the acknowledged reports. Prints how long
//! publishing paused.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::*;
use jilin::up::System;
use jilin_bus::async_nats;
use jilin_domain::Period;
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use jilin_testkit::NatsCluster;
use jilin_testkit::registry::under_construction;

const PROJECTS: usize = 8;
const MONTHS: i32 = 18;
/// The node killed and restarted.
const VICTIM: usize = 0;

/// Every report event on JILIN_REGISTRY, by (project, period): how many.
async fn report_events(client: &async_nats::Client) -> BTreeMap<(String, String), usize> {
    let jetstream = async_nats::jetstream::new(client.clone());
    let mut stream = jetstream.get_stream("JILIN_REGISTRY").await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut seen = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let header = |name: &str| {
            message
                .headers
                .get(name)
                .map(|value| value.as_str().to_owned())
                .unwrap_or_else(|| panic!("event {sequence} has no {name}"))
        };
        let id = header("ce-id");
        assert!(ids.insert(id.clone()), "event {id} is on the stream twice");
        let change = jilin_proto::registry_change(&header("ce-type"), &message.payload).unwrap();
        if let Some(report) = change.report {
            *seen
                .entry((change.project.name, report.period))
                .or_default() += 1;
        }
    }
    seen
}

/// The node leading the stream, as one node answers.
async fn stream_leader(client: &async_nats::Client) -> Option<String> {
    let jetstream = async_nats::jetstream::new(client.clone());
    let mut stream = jetstream.get_stream("JILIN_REGISTRY").await.ok()?;
    stream.info().await.ok()?.cluster.as_ref()?.leader.clone()
}

/// The stream's leader; asked until a node names one.
async fn current_leader(client: &async_nats::Client) -> String {
    let started = Instant::now();
    loop {
        if let Some(leader) = stream_leader(client).await {
            return leader;
        }
        assert!(started.elapsed() < PATIENCE, "no stream leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How long until `client`'s node names a stream leader other than
/// `lost`; `None` if `lost` led again (restarted) before another did.
async fn reelection(client: async_nats::Client, lost: String) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        match stream_leader(&client).await {
            Some(leader) if leader != lost => return Some(started.elapsed()),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    None
}

/// The stream's last sequence, as one node answers.
async fn last_sequence(client: &async_nats::Client) -> Option<u64> {
    let jetstream = async_nats::jetstream::new(client.clone());
    let mut stream = jetstream.get_stream("JILIN_REGISTRY").await.ok()?;
    Some(stream.info().await.ok()?.state.last_sequence)
}

#[tokio::test]
async fn a_node_killed_under_load_loses_and_doubles_nothing() {
    let mut cluster = NatsCluster::start(3).await;
    let data = tempfile::tempdir().unwrap();
    let mut config = system_config(
        cluster.url(),
        data.path(),
        jilin_testkit::TEST_NOW.parse().unwrap(),
    );
    config.stream_replicas = 3;
    let system = System::start(&config).await.expect("the system starts");
    let [registry_url, indicators_url, _] = urls(&system);
    let mut admin = registry::registry_service_client::RegistryServiceClient::new(
        authed(&system, &registry_url, "admin").await,
    );
    let mut names = Vec::new();
    for index in 0..PROJECTS {
        let id = format!("cluster-{index}");
        names
            .push(under_construction(&mut admin, &id, jilin_testkit::registry::paint_shop()).await);
    }

    // A watcher on a node that stays up measures how long publishing paused.
    let observer = async_nats::connect(cluster.node_url(1)).await.unwrap();
    let first = Period::parse("2025-03").unwrap();
    let total = PROJECTS * MONTHS as usize;
    let mut acknowledged: BTreeMap<(String, String), i64> = BTreeMap::new();
    let (mut longest_pause, mut last_growth, mut seen_last) = (Duration::ZERO, Instant::now(), 0);
    let mut election = None;
    for count in 0..total {
        if count == total / 3 {
            let leader = current_leader(&observer).await;
            cluster.kill(VICTIM);
            // An election follows only when the node killed was leading.
            let led = leader == format!("node-{VICTIM}");
            election = Some((
                leader.clone(),
                led.then(|| tokio::spawn(reelection(observer.clone(), leader))),
            ));
        }
        if count == 2 * total / 3 {
            cluster.restart(VICTIM).await;
        }
        let name = &names[count % PROJECTS];
        let period = first
            .add_months((count / PROJECTS) as i32)
            .unwrap()
            .to_string();
        let employment = 100 + count as i64;
        let report = registry::ProgressReport {
            period: period.clone(),
            investment_completed_yuan: 1_000_000,
            output_value_yuan: 5_000_000,
            value_added_yuan: 1_000_000,
            energy_kgce: 1_000,
            employment,
            physical_progress_percent: 10,
            ..Default::default()
        };
        jilin_testkit::registry::submit(&mut admin, name, report).await;
        acknowledged.insert((name.clone(), period), employment);
        if let Some(sequence) = last_sequence(&observer).await
            && sequence > seen_last
        {
            longest_pause = longest_pause.max(last_growth.elapsed());
            (seen_last, last_growth) = (sequence, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Everything acknowledged is published, once.
    let deadline = Instant::now() + PATIENCE;
    while system.registry.pending_events() > 0 {
        assert!(Instant::now() < deadline, "the outbox never drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = report_events(&observer).await;
    for key in acknowledged.keys() {
        assert_eq!(events.get(key), Some(&1), "the event of {key:?}");
    }
    assert_eq!(
        events.len(),
        acknowledged.len(),
        "no event without a report"
    );

    // The restarted node caught up: it holds the whole stream too.
    let victim = async_nats::connect(cluster.node_url(VICTIM)).await.unwrap();
    let everything = last_sequence(&observer).await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    while last_sequence(&victim).await != Some(everything) {
        assert!(
            Instant::now() < deadline,
            "the restarted node never caught up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The indicators equal a recomputation from the acknowledged reports.
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for ((_, period), employment) in &acknowledged {
        *expected.entry(period.clone()).or_default() += employment;
    }
    let mut client = indicators::indicator_service_client::IndicatorServiceClient::new(
        authed(&system, &indicators_url, "analyst").await,
    );
    let last_month = first.add_months(MONTHS - 1).unwrap().to_string();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let series = client
            .query_indicator(indicators::QueryIndicatorRequest {
                name: "indicators/employment".into(),
                start_period: first.to_string(),
                end_period: last_month.clone(),
                granularity: indicators::Granularity::Month.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .series;
        let got: BTreeMap<String, i64> = series[0]
            .points
            .iter()
            .filter_map(|point| Some((point.period.clone(), point.value? as i64)))
            .collect();
        if got == expected {
            break;
        }
        assert!(Instant::now() < deadline, "{got:?} != {expected:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (leader, election) = election.expect("a node was killed");
    let election = match election {
        Some(task) => match task.await.unwrap() {
            Some(elapsed) => format!("a new leader after {elapsed:?}"),
            None => "it led again once restarted".to_owned(),
        },
        None => "no election needed".to_owned(),
    };
    eprintln!(
        "cluster: {} reports, node-{VICTIM} killed and restarted; the stream leader was {leader}: \
         {election}; longest pause in publishing seen \
         from node-1: {longest_pause:?}",
        acknowledged.len()
    );
    system.shutdown().await;
}
