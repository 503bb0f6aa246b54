//! Coalesced publication of indicator values. Ingest marks the months whose
//! cells changed; after a short pause (so a burst of reports becomes one
//! pass) the publisher recomputes every indicator for the months those
//! changes can reach, for the province, each region and each sector group,
//! and publishes each value that differs from the last one published: one
//! event per indicator × month × group, through the outbox, in the same
//! transaction that records it as published and clears the dirty marks.
//! Watchers receive the same changes after the commit.

use std::sync::Arc;
use std::time::Duration;

use jilin_domain::Period;
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_runtime::CancellationToken;
use jilin_runtime::Clock;
use jilin_store::{OutboxEntry, StoreError};
use prost::Message;
use time::OffsetDateTime;
use tokio::sync::{Notify, broadcast};
use tracing::Instrument;

use crate::convert::change_to_proto;
use crate::domain::definition::{Direction, IndicatorSet};
use crate::domain::query::{self, Bucket, Granularity, GroupBy};
use crate::ingest::SharedCube;
use crate::store::{Published, Tables, published_key};

/// A burst of events has settled when none came for this long.
const QUIET: Duration = Duration::from_millis(250);
/// The longest a change waits for its burst to settle.
const MAX_DELAY: Duration = Duration::from_secs(2);
/// Checks for leftovers (e.g. after a crash) at least this often.
const IDLE_POLL: Duration = Duration::from_secs(5);
/// Subject prefix of value events; the indicator id follows.
pub const SUBJECT_PREFIX: &str = "jilin.indicators.value";

/// A published change of one monthly value.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueChange {
    pub indicator: String,
    pub period: Period,
    pub group_by: GroupBy,
    pub group: String,
    pub value: Option<f64>,
    pub previous: Option<f64>,
    pub target: Option<f64>,
    pub attainment: Option<f64>,
    pub unit: String,
    pub direction: Direction,
    pub revision: i64,
    pub time: OffsetDateTime,
}

/// Publishes value changes to the outbox and to watchers.
#[derive(Clone)]
pub struct Publisher {
    tables: Tables,
    cube: SharedCube,
    changed: Arc<Notify>,
    watchers: broadcast::Sender<Arc<ValueChange>>,
    clock: Clock,
}

impl Publisher {
    pub fn new(
        tables: Tables,
        cube: SharedCube,
        changed: Arc<Notify>,
        watchers: broadcast::Sender<Arc<ValueChange>>,
        clock: Clock,
    ) -> Self {
        Self {
            tables,
            cube,
            changed,
            watchers,
            clock,
        }
    }

    /// Publishes pending changes until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
            // Let the burst settle: wait for a quiet moment, but publish
            // at least every MAX_DELAY while events keep coming.
            let burst = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = self.changed.notified() => {
                        if burst.elapsed() >= MAX_DELAY {
                            break;
                        }
                    }
                    _ = tokio::time::sleep(QUIET) => break,
                }
            }
            if let Err(err) = self.traced_pass().await {
                tracing::error!(error = %err, "publishing indicator values failed; will retry");
            }
        }
    }

    /// [`Publisher::publish_pending`] in a span continuing the trace of the
    /// newest change that made a month dirty.
    async fn traced_pass(&self) -> Result<usize, StoreError> {
        let span = tracing::info_span!("publish");
        if let Some((_, mark)) = self
            .tables
            .dirty_months()?
            .iter()
            .max_by(|a, b| a.1.cmp(&b.1))
        {
            jilin_runtime::trace::continue_trace(&span, crate::store::trace_of_mark(mark));
        }
        self.publish_pending().instrument(span).await
    }

    /// One pass: recompute what the dirty months can reach, publish what
    /// changed. Returns the number of changes published.
    pub async fn publish_pending(&self) -> Result<usize, StoreError> {
        let dirty = self.tables.dirty_months()?;
        let Some(first) = dirty.iter().map(|(period, _)| *period).min() else {
            return Ok(0);
        };
        let latest = dirty
            .iter()
            .map(|(period, _)| *period)
            .max()
            .unwrap_or(first);
        let (indicators, broken) = IndicatorSet::compile(
            self.tables
                .definitions
                .scan_prefix("")?
                .into_iter()
                .map(|(_, d)| d),
        );
        for problem in broken {
            tracing::error!(%problem, "stored indicator does not parse; skipped");
        }
        let now = self.clock.now();
        // Evaluate a copy, so ingest is never blocked behind a whole pass.
        let cube = self
            .cube
            .read()
            .expect("no panic while holding the cube")
            .clone();
        let today = Period::of_date(now.date());
        let last = reach(latest, cube.span().map(|(_, last)| last), today);
        let started = std::time::Instant::now();
        let changes = self.compute(&cube, &indicators, first, last, now)?;
        tracing::debug!(
            %first, %last, changes = changes.len(), elapsed = ?started.elapsed(),
            "indicator values recomputed"
        );
        let entries: Vec<OutboxEntry> = changes.iter().map(outbox_entry).collect();
        let tables = &self.tables;
        tables
            .store
            .write(|tx| -> Result<(), StoreError> {
                for (change, entry) in changes.iter().zip(&entries) {
                    let key = published_key(
                        &change.indicator,
                        change.period,
                        group_by_name(change.group_by),
                        &change.group,
                    );
                    let published = Published {
                        value: change.value,
                        revision: change.revision,
                    };
                    tx.insert(&tables.published, &key, &published)?;
                    tx.stage_event(entry)?;
                }
                for (period, nonce) in &dirty {
                    let key = period.to_string();
                    if tx.get(&tables.dirty, &key)?.as_ref() == Some(nonce) {
                        tx.remove(&tables.dirty, &key)?;
                    }
                }
                Ok(())
            })
            .await?;
        let published = changes.len();
        for change in changes {
            // No watcher is not an error.
            let _ = self.watchers.send(Arc::new(change));
        }
        Ok(published)
    }

    fn compute(
        &self,
        cells: &dyn crate::domain::cube::CellSource,
        indicators: &IndicatorSet,
        first: Period,
        last: Period,
        now: OffsetDateTime,
    ) -> Result<Vec<ValueChange>, StoreError> {
        // Every group and indicator of a month reads the same totals.
        let cells = &crate::domain::cube::Memo::new(cells);
        let mut changes = Vec::new();
        let slices: Vec<(GroupBy, query::Group)> = [GroupBy::None, GroupBy::Region, GroupBy::Group]
            .into_iter()
            .flat_map(|by| query::groups(by, &[]).into_iter().map(move |g| (by, g)))
            .collect();
        let mut month = first;
        while month <= last {
            let bucket = Bucket::containing(month, Granularity::Month);
            for indicator in indicators.iter() {
                let id = &indicator.definition.id;
                for (group_by, group) in &slices {
                    let key = published_key(id, month, group_by_name(*group_by), &group.key);
                    let held = self.tables.published.get(&key)?;
                    let point = query::point(
                        cells,
                        indicators,
                        indicator,
                        &bucket,
                        group.matcher.iter().cloned().collect(),
                    );
                    let previous = held.as_ref().and_then(|p| p.value);
                    if same(point.value, previous) {
                        continue;
                    }
                    changes.push(ValueChange {
                        indicator: id.clone(),
                        period: month,
                        group_by: *group_by,
                        group: group.key.clone(),
                        value: point.value,
                        previous,
                        target: point.target,
                        attainment: point.attainment,
                        unit: indicator.definition.unit.clone(),
                        direction: indicator.definition.direction,
                        revision: held.map_or(1, |p| p.revision + 1),
                        time: now,
                    });
                }
            }
            let Some(next) = month.next() else { break };
            month = next;
        }
        Ok(changes)
    }
}

/// The last month a change in `latest` can reach: year-to-date values run
/// to December, year-on-year ones a year further, and project counts carry
/// forward to the last month with data, but not past December of next
/// year from `today` (reports are never in the future; plans are spread
/// far ahead, and their far months are recomputed when they come near).
fn reach(latest: Period, data_ends: Option<Period>, today: Period) -> Period {
    let horizon = |month: Period| Period::new(month.year() + 1, 12).unwrap_or(month);
    let reach = data_ends.map_or(horizon(latest), |end| end.max(horizon(latest)));
    reach.min(horizon(today).max(horizon(latest)))
}

/// Equal values, or both absent; bit-exact, since values are exact.
fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.to_bits() == b.to_bits(),
        (None, None) => true,
        _ => false,
    }
}

fn group_by_name(group_by: GroupBy) -> &'static str {
    match group_by {
        GroupBy::None => "none",
        GroupBy::Region => "region",
        GroupBy::Sector => "sector",
        GroupBy::Group => "group",
    }
}

fn outbox_entry(change: &ValueChange) -> OutboxEntry {
    let payload = events::IndicatorValueChanged {
        change: Some(change_to_proto(change)),
    };
    OutboxEntry {
        id: uuid::Uuid::now_v7().to_string(),
        subject: format!("{SUBJECT_PREFIX}.{}", change.indicator),
        event_type: events::IndicatorValueChanged::full_name(),
        resource: format!("indicators/{}", change.indicator),
        time: jilin_bus::event_time(change.time),
        payload: payload.encode_to_vec(),
        // The trace of the latest change that made it dirty (the pass's span).
        traceparent: jilin_runtime::trace::current_traceparent(""),
        principal: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_reach_through_next_year_or_to_the_data() {
        let month = |text| Period::parse(text).unwrap();
        let today = month("2026-11");
        assert_eq!(reach(month("2026-03"), None, today), month("2027-12"));
        assert_eq!(
            reach(month("2025-03"), Some(month("2027-05")), today),
            month("2027-05")
        );
        assert_eq!(
            reach(month("2026-03"), Some(month("2035-01")), today),
            month("2027-12")
        );
    }

    #[test]
    fn absent_and_present_values_differ() {
        assert!(same(None, None));
        assert!(!same(Some(0.0), None));
        assert!(same(Some(1.5), Some(1.5)));
    }
}
