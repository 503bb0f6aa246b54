//! The use cases behind the API: rules (seeded, created, edited),
//! alerts (listed, read, acknowledged), silences and the change log.
//! Writes that change how alerts are judged wake the evaluation pass.

use std::sync::Arc;

use jilin_store::StoreError;
use tokio::sync::Notify;

use crate::domain::alert::Alert;
use crate::domain::filter::AlertFilter;
use crate::domain::rules::{self, Rule, RuleKind, builtin_rules};
use crate::domain::silence::{self, Silence};
use crate::error::RiskError;
use crate::monitor::Monitor;
use crate::store::{ChangeRecord, Tables};

/// Fields UpdateRule may change.
pub const MUTABLE_FIELDS: [&str; 5] = [
    "bands",
    "for_periods",
    "keep_firing_for_periods",
    "labels",
    "summary",
];

/// Largest ListAlerts page.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;

#[derive(Clone)]
pub struct Risk {
    monitor: Monitor,
    /// Wakes the evaluation pass after a rule or silence edit.
    reevaluate: Arc<Notify>,
}

/// One page of alerts, each with whether a silence mutes it now.
pub struct AlertPage {
    pub alerts: Vec<(Alert, bool)>,
    pub next_page_token: String,
}

impl Risk {
    pub fn new(monitor: Monitor, reevaluate: Arc<Notify>) -> Self {
        Self {
            monitor,
            reevaluate,
        }
    }

    fn tables(&self) -> &Tables {
        self.monitor.tables()
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// Stores every built-in rule not stored yet (edits are kept).
    pub async fn seed_builtins(&self) -> Result<(), StoreError> {
        let tables = self.tables();
        let now = self.monitor.clock().now();
        tables
            .store
            .write(|tx| {
                for mut rule in builtin_rules() {
                    if tx.get(&tables.rules, &rule.id)?.is_none() {
                        rule.update_time = now;
                        tx.insert(&tables.rules, &rule.id.clone(), &rule)?;
                    }
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        self.monitor.reload_rules()
    }

    pub fn list_rules(&self) -> Result<Vec<Rule>, RiskError> {
        let rules = self.tables().rules.scan_prefix("")?;
        Ok(rules.into_iter().map(|(_, rule)| rule).collect())
    }

    pub fn get_rule(&self, id: &str) -> Result<Rule, RiskError> {
        self.tables()
            .rules
            .get(id)?
            .ok_or_else(|| RiskError::NotFound(format!("rules/{id}")))
    }

    /// Adds an indicator rule (already checked field by field).
    pub async fn create_rule(&self, mut rule: Rule) -> Result<Rule, RiskError> {
        if !matches!(rule.kind, RuleKind::Indicator { .. }) {
            return Err(RiskError::invalid(
                "rule.kind",
                "only INDICATOR rules can be created; project rules are built in",
            ));
        }
        rules::validate(&rule).map_err(RiskError::InvalidArgument)?;
        rule.revision = 1;
        rule.built_in = false;
        rule.update_time = self.monitor.clock().now();
        let tables = self.tables();
        tables
            .store
            .write(|tx| {
                if tx.get(&tables.rules, &rule.id)?.is_some() {
                    return Err(RiskError::AlreadyExists(format!("rules/{}", rule.id)));
                }
                tx.insert(&tables.rules, &rule.id, &rule)?;
                Ok(())
            })
            .await?;
        self.rules_changed()?;
        Ok(rule)
    }

    /// Applies the masked fields of `patch` to rule `id`.
    pub async fn update_rule(
        &self,
        id: &str,
        patch: &Rule,
        fields: &[String],
        etag: Option<&str>,
    ) -> Result<Rule, RiskError> {
        let tables = self.tables();
        let now = self.monitor.clock().now();
        let name = format!("rules/{id}");
        let updated = tables
            .store
            .write(|tx| {
                let Some(mut rule) = tx.get(&tables.rules, id)? else {
                    return Err(RiskError::NotFound(name.clone()));
                };
                if let Some(given) = etag.filter(|given| *given != rule.etag()) {
                    return Err(RiskError::StaleEtag {
                        name: name.clone(),
                        given: given.to_owned(),
                        current: rule.etag(),
                    });
                }
                for field in fields {
                    match field.as_str() {
                        "bands" => rule.bands = patch.bands.clone(),
                        "for_periods" => rule.for_periods = patch.for_periods,
                        "keep_firing_for_periods" => {
                            rule.keep_firing_for_periods = patch.keep_firing_for_periods
                        }
                        "labels" => rule.labels = patch.labels.clone(),
                        "summary" => rule.summary = patch.summary.clone(),
                        other => unreachable!("the API passes only mutable fields, not {other}"),
                    }
                }
                rules::validate(&rule).map_err(RiskError::InvalidArgument)?;
                rule.revision += 1;
                rule.update_time = now;
                tx.insert(&tables.rules, id, &rule)?;
                Ok(rule)
            })
            .await?;
        self.rules_changed()?;
        Ok(updated)
    }

    fn rules_changed(&self) -> Result<(), RiskError> {
        self.monitor.reload_rules()?;
        self.reevaluate.notify_one();
        Ok(())
    }

    /// Alerts matching `filter`, ordered by fingerprint, after `page_token`.
    pub fn list_alerts(
        &self,
        filter: &AlertFilter,
        page_size: usize,
        page_token: &str,
    ) -> Result<AlertPage, RiskError> {
        let size = match page_size {
            0 => DEFAULT_PAGE,
            size => size.min(MAX_PAGE),
        };
        let mut alerts: Vec<(Alert, bool)> = Vec::new();
        let mut next_page_token = String::new();
        let mut last = String::new();
        for (fingerprint, alert) in
            self.tables()
                .alerts
                .scan_prefix_after("", page_token, usize::MAX)?
        {
            if !filter.matches(&alert) {
                continue;
            }
            if alerts.len() == size {
                next_page_token = last;
                break;
            }
            let silenced = self.monitor.is_silenced(&alert);
            alerts.push((alert, silenced));
            last = fingerprint;
        }
        Ok(AlertPage {
            alerts,
            next_page_token,
        })
    }

    pub fn get_alert(&self, fingerprint: &str) -> Result<(Alert, bool), RiskError> {
        let alert = self
            .tables()
            .alerts
            .get(fingerprint)?
            .ok_or_else(|| RiskError::NotFound(format!("alerts/{fingerprint}")))?;
        let silenced = self.monitor.is_silenced(&alert);
        Ok((alert, silenced))
    }

    pub async fn acknowledge(
        &self,
        fingerprint: &str,
        who: &str,
        comment: &str,
    ) -> Result<(Alert, bool), RiskError> {
        let alert = self.monitor.acknowledge(fingerprint, who, comment).await?;
        let silenced = self.monitor.is_silenced(&alert);
        Ok((alert, silenced))
    }

    /// Stores a new silence under a fresh id.
    pub async fn create_silence(&self, mut silence: Silence) -> Result<Silence, RiskError> {
        silence::validate(&silence, self.monitor.clock().now())
            .map_err(RiskError::InvalidArgument)?;
        silence.id = uuid::Uuid::now_v7().to_string();
        let tables = self.tables();
        tables
            .store
            .write(|tx| tx.insert(&tables.silences, &silence.id, &silence))
            .await?;
        self.monitor.reload_silences()?;
        Ok(silence)
    }

    pub fn list_silences(&self, include_expired: bool) -> Result<Vec<Silence>, RiskError> {
        let now = self.monitor.clock().now();
        let silences = self.tables().silences.scan_prefix("")?;
        Ok(silences
            .into_iter()
            .map(|(_, silence)| silence)
            .filter(|silence| include_expired || silence.ends_at > now)
            .collect())
    }

    pub async fn delete_silence(&self, id: &str) -> Result<(), RiskError> {
        let tables = self.tables();
        tables
            .store
            .write(|tx| match tx.get(&tables.silences, id)? {
                Some(_) => Ok(tx.remove(&tables.silences, id)?),
                None => Err(RiskError::NotFound(format!("silences/{id}"))),
            })
            .await?;
        self.monitor.reload_silences()?;
        Ok(())
    }

    /// Changes after `after`, at most `limit`.
    pub fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<ChangeRecord>, RiskError> {
        Ok(self.tables().changes_after(after, limit)?)
    }

    pub fn last_sequence(&self) -> Result<u64, RiskError> {
        Ok(self.tables().last_sequence()?)
    }
}
