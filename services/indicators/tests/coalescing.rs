//! Coalescing: a burst of reports yields one published change per
//! indicator × month × group, carrying the previous value and a revision
//! that counts the changes of that key; a pass with nothing dirty publishes
//! nothing. Runs the real ingest and publisher over a real fjall store.

mod common;

use std::collections::HashSet;

use common::portfolio::Portfolio;
use jilin_bus::Delivery;
use jilin_indicators::ingest::Ingest;
use jilin_indicators::publisher::Publisher;
use jilin_indicators::store::{LAYOUT, Tables};
use jilin_proto::events::v1 as events;
use jilin_store::Store;
use prost::Message;

async fn published(tables: &Tables) -> Vec<jilin_proto::indicators::v1::IndicatorValueChange> {
    let entries = tables.store.outbox_batch(usize::MAX).unwrap();
    if let Some((last, _)) = entries.last() {
        tables.store.outbox_remove_through(*last).await.unwrap();
    }
    entries
        .into_iter()
        .map(|(_, entry)| {
            assert_eq!(
                entry.subject,
                format!(
                    "jilin.indicators.value.{}",
                    entry.resource.trim_start_matches("indicators/")
                )
            );
            events::IndicatorValueChanged::decode(entry.payload.as_slice())
                .unwrap()
                .change
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_burst_publishes_each_changed_value_once() {
    let dir = tempfile::tempdir().unwrap();
    let tables = Tables::open(Store::open(dir.path(), &LAYOUT).unwrap()).unwrap();
    let cube = jilin_indicators::ingest::SharedCube::default();
    let changed = std::sync::Arc::new(tokio::sync::Notify::new());
    let ingest = Ingest::new(tables.clone(), cube.clone(), changed.clone())
        .applier()
        .unwrap();
    let (watchers, mut watching) = tokio::sync::broadcast::channel(100_000);
    let clock = jilin_runtime::Clock::new(jilin_testkit::TEST_NOW.parse().unwrap());
    let publisher = Publisher::new(tables.clone(), cube, changed, watchers, clock.clone());
    let service = jilin_indicators::service::Indicators::new(
        tables.clone(),
        Default::default(),
        tokio::sync::broadcast::channel(1).0,
        clock,
    );
    service.seed_builtins().await.unwrap();

    // The burst: a whole generated history, applied in several batches.
    let portfolio = Portfolio::generate(12, 10, 12);
    let history: Vec<_> = portfolio
        .events()
        .into_iter()
        .map(|e| Delivery::unsequenced(e.id, e.fact))
        .collect();
    for batch in history.chunks(7) {
        ingest.apply(batch).await.unwrap();
    }
    assert!(publisher.publish_pending().await.unwrap() > 0);
    let changes = published(&tables).await;
    let mut keys = HashSet::new();
    for change in &changes {
        let key = (
            change.name.clone(),
            change.period.clone(),
            change.group_by,
            change.group.clone(),
        );
        assert!(
            keys.insert(key.clone()),
            "{key:?} published twice in one pass"
        );
        assert_eq!(change.revision, 1);
        assert_eq!(change.previous_value, None);
    }
    assert!(keys.iter().any(|(name, period, _, group)| {
        name == "indicators/pillar_output_share" && period == "2024-06" && group.is_empty()
    }));
    let watched = std::iter::from_fn(|| watching.try_recv().ok()).count();
    assert_eq!(watched, changes.len(), "watchers see what is published");

    assert_eq!(
        publisher.publish_pending().await.unwrap(),
        0,
        "nothing dirty"
    );
    assert!(published(&tables).await.is_empty());

    // One more report: only what it changes, as the next revision.
    let Delivery { id, fact, .. } = history
        .iter()
        .rev()
        .find(|d| {
            matches!(
                d.fact,
                jilin_indicators::domain::ledger::Fact::Report { .. }
            )
        })
        .unwrap()
        .clone();
    let jilin_indicators::domain::ledger::Fact::Report {
        project,
        period,
        mut report,
    } = fact
    else {
        unreachable!()
    };
    report.revision += 10;
    report.measures[1] += 1_000_000;
    let revised = jilin_indicators::domain::ledger::Fact::Report {
        project,
        period,
        report,
    };
    ingest
        .apply(&[Delivery::unsequenced(format!("{id}-again"), revised)])
        .await
        .unwrap();
    publisher.publish_pending().await.unwrap();
    let again = published(&tables).await;
    assert!(!again.is_empty());
    assert!(again.len() < changes.len());
    let province = again
        .iter()
        .find(|c| {
            c.name == "indicators/pillar_output_share"
                && c.period == period.to_string()
                && c.group.is_empty()
        })
        .expect("the province's share changed");
    assert_eq!(province.revision, 2);
    assert!(province.previous_value.is_some());
}
