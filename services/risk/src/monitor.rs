//! The heart of the service. Everything that can change an alert (a
//! registry event, an indicator value, the passing of time, a rule edit,
//! an acknowledgement) goes through here: the new facts, the alerts they
//! move, one numbered change record per alert transition and the
//! notifications of those changes (outbox → `JILIN_RISK`) are written in
//! ONE transaction, with the alert groups the change joins on its way to
//! receivers ([`crate::delivery::stage`]). WatchAlerts streams and the
//! delivery dispatcher are woken after the commit. What a transaction
//! does to the alerts is in [`crate::observe`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, RwLock};

use jilin_domain::Period;
use jilin_store::{StoreError, Tx};
use tokio::sync::{Notify, watch};

use crate::active_alerts::ActiveAlerts;
use crate::delivery::due::DueGroups;
use crate::domain::alert::{self, Alert, State};
use crate::domain::evaluate::{IndicatorValue, project_evaluations};
use crate::domain::project::{Benchmarks, ProjectRecord, ProjectSnapshot, ReportRecord};
use crate::domain::routing::{CompiledRoute, sort_routes};
use crate::domain::rules::{Rule, RuleKind};
use crate::domain::silence::{Silence, is_silenced};
use crate::domain::tally::{AlertTally, Move};
use crate::error::RiskError;
pub use crate::observe::{Context, Written};
use crate::observe::{judge_indicator, log_change, observe_all};
use crate::store::{StoredValue, Tables, report_key, value_key};
use jilin_runtime::ApiError;
use jilin_runtime::Clock;

/// Projects evaluated per transaction in a full pass.
const PASS_CHUNK: usize = 128;

/// What a registry event tells the risk service.
#[derive(Clone, Debug, PartialEq)]
pub enum RegistryFact {
    Project(ProjectSnapshot),
    Report {
        project: ProjectSnapshot,
        period: Period,
        report: ReportRecord,
    },
}

impl RegistryFact {
    pub fn project(&self) -> &ProjectSnapshot {
        match self {
            RegistryFact::Project(project) | RegistryFact::Report { project, .. } => project,
        }
    }
}

#[derive(Clone)]
pub struct Monitor {
    tables: Tables,
    rules: Arc<RwLock<Vec<Rule>>>,
    silences: Arc<RwLock<Vec<Silence>>>,
    /// In the order they are tried.
    routes: Arc<RwLock<Arc<Vec<CompiledRoute>>>>,
    benchmarks: Arc<RwLock<Benchmarks>>,
    clock: Clock,
    /// The last change sequence committed.
    sequence: Arc<watch::Sender<u64>>,
    /// Rung after each commit that changed an alert.
    dispatch: Arc<Notify>,
    /// Alerts by state and severity, as committed.
    tally: Arc<Mutex<AlertTally>>,
    /// The alerts that may be active.
    active_alerts: Arc<ActiveAlerts>,
    /// When each alert group is next due.
    due_groups: Arc<DueGroups>,
}

impl Monitor {
    /// Loads the rules and silences the evaluations read, counts the
    /// alerts held and learns when each alert group is due.
    pub fn new(tables: Tables, clock: Clock) -> Result<Self, StoreError> {
        let last = tables.last_sequence()?;
        let mut tally = AlertTally::default();
        let active_alerts = ActiveAlerts::default();
        tables.alerts.for_each(|key, alert| {
            tally.add(&alert);
            if alert.state != State::Resolved {
                active_alerts.note(key);
            }
        })?;
        let mut groups = Vec::new();
        tables
            .groups
            .for_each(|key, group| groups.push((group.next_tick, key.to_owned())))?;
        let monitor = Self {
            tables,
            rules: Arc::default(),
            silences: Arc::default(),
            routes: Arc::default(),
            benchmarks: Arc::default(),
            clock,
            sequence: Arc::new(watch::Sender::new(last)),
            dispatch: Arc::default(),
            tally: Arc::new(Mutex::new(tally)),
            active_alerts: Arc::new(active_alerts),
            due_groups: Arc::new(DueGroups::of(groups)),
        };
        monitor.reload_rules()?;
        monitor.reload_silences()?;
        monitor.reload_routes()?;
        Ok(monitor)
    }

    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Re-reads the rules after a write.
    pub fn reload_rules(&self) -> Result<(), StoreError> {
        let rules = self.tables.rules.scan_prefix("")?;
        *self.rules.write().expect("no panic holding the rules") =
            rules.into_iter().map(|(_, rule)| rule).collect();
        Ok(())
    }

    /// Re-reads the silences after a write.
    pub fn reload_silences(&self) -> Result<(), StoreError> {
        let silences = self.tables.silences.scan_prefix("")?;
        *self
            .silences
            .write()
            .expect("no panic holding the silences") =
            silences.into_iter().map(|(_, silence)| silence).collect();
        Ok(())
    }

    /// Re-reads the routes after a write. Each was checked when created,
    /// so its matchers compile; one that does not is left out and logged.
    pub fn reload_routes(&self) -> Result<(), StoreError> {
        let mut routes: Vec<CompiledRoute> = Vec::new();
        for (id, route) in self.tables.routes.scan_prefix("")? {
            match route.compile() {
                Ok(route) => routes.push(route),
                Err(err) => tracing::error!(route = %id, error = %err, "route left out"),
            }
        }
        sort_routes(&mut routes);
        *self.routes.write().expect("no panic holding the routes") = Arc::new(routes);
        Ok(())
    }

    /// The routes, in the order they are tried.
    pub fn routes(&self) -> Arc<Vec<CompiledRoute>> {
        self.routes
            .read()
            .expect("no panic holding the routes")
            .clone()
    }

    /// Rung after each commit that changed an alert: the delivery
    /// dispatcher waits on it.
    /// When each alert group is next due: what the dispatcher looks at.
    pub fn due_groups(&self) -> Arc<DueGroups> {
        self.due_groups.clone()
    }

    pub fn dispatch_bell(&self) -> Arc<Notify> {
        self.dispatch.clone()
    }

    /// The silences as last loaded.
    pub fn silences(&self) -> Vec<Silence> {
        self.silences
            .read()
            .expect("no panic holding the silences")
            .clone()
    }

    /// Whether an active silence mutes an alert now.
    pub fn is_silenced(&self, alert: &Alert) -> bool {
        let silences = self.silences.read().expect("no panic holding the silences");
        is_silenced(&silences, &alert.labels, self.clock.now())
    }

    pub fn set_benchmarks(&self, year: i32, sectors: std::collections::HashMap<String, f64>) {
        self.benchmarks
            .write()
            .expect("no panic holding the benchmarks")
            .set_year(year, sectors);
    }

    /// Follows the last committed change sequence.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.sequence.subscribe()
    }

    /// The rules, silences, benchmarks and time the next transaction
    /// judges with.
    pub fn context(&self) -> Context {
        Context {
            rules: self
                .rules
                .read()
                .expect("no panic holding the rules")
                .clone(),
            silences: self
                .silences
                .read()
                .expect("no panic holding the silences")
                .clone(),
            routes: self
                .routes
                .read()
                .expect("no panic holding the routes")
                .clone(),
            benchmarks: self
                .benchmarks
                .read()
                .expect("no panic holding the benchmarks")
                .clone(),
            now: self.clock.now(),
            active_alerts: self.active_alerts.clone(),
            due_groups: self.due_groups.clone(),
        }
    }

    /// Alerts by state and severity, as committed.
    pub fn tally(&self) -> AlertTally {
        self.tally
            .lock()
            .expect("no panic holding the tally")
            .clone()
    }

    /// Counts what a commit wrote and wakes the watchers.
    pub fn committed(&self, written: &Written) {
        self.tally
            .lock()
            .expect("no panic holding the tally")
            .apply(&written.moves);
        self.active_alerts.forget_resolved(&written.resolved);
        if let Some(last) = written.records.iter().map(|r| r.sequence).max() {
            self.dispatch.notify_one();
            self.sequence.send_if_modified(|current| {
                let newer = last > *current;
                *current = (*current).max(last);
                newer
            });
        }
    }

    /// Inside `tx`: applies registry facts in order (an older revision
    /// changes nothing) and re-evaluates every project they changed.
    pub fn apply_registry(
        &self,
        tx: &Tx<'_>,
        context: &Context,
        facts: &[&RegistryFact],
    ) -> Result<Written, StoreError> {
        let tables = &self.tables;
        let mut changed: BTreeMap<String, ProjectRecord> = BTreeMap::new();
        for fact in facts {
            let snapshot = fact.project();
            let held = match changed.get(&snapshot.id) {
                Some(record) => Some(record.clone()),
                None => tx.get(&tables.projects, &snapshot.id)?,
            };
            let (mut record, mut is_new) =
                match (ProjectRecord::with_snapshot(held.as_ref(), snapshot), held) {
                    (Some(record), _) => (record, true),
                    (None, Some(held)) => (held, false),
                    // Only a held project is ever kept instead of replaced.
                    (None, None) => continue,
                };
            if let RegistryFact::Report { period, report, .. } = fact {
                // The transaction reads its own writes: a month reported
                // twice in one batch sees its first report here.
                let key = report_key(&snapshot.id, *period);
                let held_report = tx.get(&tables.reports, &key)?;
                if record.apply_report(*period, held_report.as_ref(), report) {
                    tx.insert(&tables.reports, &key, report)?;
                    is_new = true;
                }
            }
            if is_new {
                changed.insert(snapshot.id.clone(), record);
            }
        }
        let mut written = Written::default();
        for (id, record) in &changed {
            tx.insert(&tables.projects, id, record)?;
            let evaluations =
                project_evaluations(&context.rules, record, context.now, &context.benchmarks);
            observe_all(tables, tx, context, evaluations, &mut written)?;
        }
        Ok(written)
    }

    /// Inside `tx`: stores indicator values and evaluates the indicator
    /// rules watching them.
    pub fn apply_indicator_values(
        &self,
        tx: &Tx<'_>,
        context: &Context,
        values: &[&IndicatorValue],
    ) -> Result<Written, StoreError> {
        let tables = &self.tables;
        let mut touched = BTreeSet::new();
        for value in values {
            let stored = StoredValue {
                indicator: value.indicator.clone(),
                group: value.group.clone(),
                period: value.period,
                value: value.value,
                target: value.target,
            };
            let key = value_key(&value.indicator, &value.group, value.period);
            tx.insert(&tables.indicator_values, &key, &stored)?;
            touched.insert((value.indicator.clone(), value.group.clone()));
        }
        let mut written = Written::default();
        for (indicator, group) in &touched {
            judge_indicator(tables, tx, context, indicator, group, &mut written)?;
        }
        Ok(written)
    }

    /// Re-evaluates every rule for every subject at the clock's now (the
    /// timer, a rule edit). Returns the number of alert changes.
    pub async fn evaluate_all(&self) -> Result<usize, StoreError> {
        let context = self.context();
        let tables = &self.tables;
        let mut changes = 0;
        for ids in tables.projects.keys()?.chunks(PASS_CHUNK) {
            let written = tables
                .store
                .write(|tx| {
                    let mut written = Written::default();
                    for id in ids {
                        let Some(project) = tx.get(&tables.projects, id)? else {
                            continue;
                        };
                        let evaluations = project_evaluations(
                            &context.rules,
                            &project,
                            context.now,
                            &context.benchmarks,
                        );
                        observe_all(tables, tx, &context, evaluations, &mut written)?;
                    }
                    Ok::<_, StoreError>(written)
                })
                .await?;
            changes += written.records.len();
            self.committed(&written);
        }
        let watched: BTreeSet<(String, String)> = context
            .rules
            .iter()
            .filter_map(|rule| match &rule.kind {
                RuleKind::Indicator {
                    indicator, group, ..
                } => Some((indicator.clone(), group.clone())),
                _ => None,
            })
            .collect();
        let written = tables
            .store
            .write(|tx| {
                let mut written = Written::default();
                for (indicator, group) in &watched {
                    judge_indicator(tables, tx, &context, indicator, group, &mut written)?;
                }
                Ok::<_, StoreError>(written)
            })
            .await?;
        changes += written.records.len();
        self.committed(&written);
        Ok(changes)
    }

    /// Records an acknowledgement of a firing alert.
    pub async fn acknowledge(
        &self,
        fingerprint: &str,
        who: &str,
        comment: &str,
    ) -> Result<Alert, RiskError> {
        let context = self.context();
        let tables = &self.tables;
        let (alert, written) = tables
            .store
            .write(|tx| {
                let Some(current) = tx.get(&tables.alerts, fingerprint)? else {
                    return Err(RiskError::Api(ApiError::NotFound(format!(
                        "alerts/{fingerprint}"
                    ))));
                };
                let alert =
                    alert::acknowledge(&current, who, comment, context.now).map_err(|err| {
                        RiskError::precondition(&format!("alerts/{fingerprint}"), err.to_string())
                    })?;
                tx.insert(&tables.alerts, fingerprint, &alert)?;
                let record =
                    log_change(tables, tx, &context, &alert, alert.history.len() - 1, true)?;
                let written = Written {
                    records: vec![record],
                    moves: vec![Move::of(Some(&current), &alert)],
                    resolved: Vec::new(),
                };
                Ok((alert, written))
            })
            .await?;
        self.committed(&written);
        Ok(alert)
    }
}
