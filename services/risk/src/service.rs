//! The use cases behind the API: rules (seeded, created, edited),
//! alerts (listed, read, acknowledged), silences and the change log.
//! Writes that change how alerts are judged wake the evaluation pass.

use std::sync::Arc;

use jilin_store::StoreError;
use tokio::sync::Notify;

use crate::domain::alert::Alert;
use crate::domain::filter::AlertFilter;
use crate::domain::rules::{self, Rule, RuleField, RuleKind, RuleSettings, builtin_rules};
use crate::domain::silence::{self, Silence};
use crate::error::RiskError;
use crate::monitor::Monitor;
use crate::store::{ChangeRecord, Tables};
use jilin_runtime::ApiError;

/// A CreateRule request, parsed.
pub struct NewRule {
    pub id: String,
    pub kind: RuleKind,
    pub settings: RuleSettings,
}

/// An UpdateRule request, parsed.
pub struct RuleUpdate {
    pub id: String,
    pub settings: RuleSettings,
    pub fields: Vec<RuleField>,
    pub etag: Option<String>,
}

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

    pub(crate) fn tables(&self) -> &Tables {
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
            .ok_or_else(|| RiskError::Api(ApiError::NotFound(format!("rules/{id}"))))
    }

    /// Adds an indicator rule (already checked field by field).
    pub async fn create_rule(&self, new: NewRule, actor: &str) -> Result<Rule, RiskError> {
        if !matches!(new.kind, RuleKind::Indicator { .. }) {
            return Err(RiskError::invalid(
                "rule.kind",
                "only INDICATOR rules can be created; project rules are built in",
            ));
        }
        let now = self.monitor.clock().now();
        let rule = Rule::new(new.id, new.kind, new.settings, now, actor);
        rules::validate(&rule).map_err(RiskError::from)?;
        let tables = self.tables();
        tables
            .store
            .write(|tx| {
                if tx.get(&tables.rules, &rule.id)?.is_some() {
                    return Err(RiskError::Api(ApiError::AlreadyExists(format!(
                        "rules/{}",
                        rule.id
                    ))));
                }
                tx.insert(&tables.rules, &rule.id, &rule)?;
                Ok(())
            })
            .await?;
        self.rules_changed()?;
        Ok(rule)
    }

    /// Applies the named fields of an update to its rule.
    pub async fn update_rule(&self, update: RuleUpdate, actor: &str) -> Result<Rule, RiskError> {
        let tables = self.tables();
        let now = self.monitor.clock().now();
        let (id, etag) = (update.id.as_str(), update.etag.as_deref());
        let name = format!("rules/{id}");
        let updated = tables
            .store
            .write(|tx| {
                let Some(mut rule) = tx.get(&tables.rules, id)? else {
                    return Err(RiskError::Api(ApiError::NotFound(name.clone())));
                };
                if let Some(given) = etag.filter(|given| *given != rule.etag()) {
                    return Err(RiskError::Api(ApiError::StaleEtag {
                        name: name.clone(),
                        given: given.to_owned(),
                        current: rule.etag(),
                    }));
                }
                for field in &update.fields {
                    field.copy(&update.settings, &mut rule);
                }
                rules::validate(&rule).map_err(RiskError::from)?;
                rule.revision += 1;
                rule.update_time = now;
                rule.updated_by = actor.to_owned();
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
        let alert =
            self.tables().alerts.get(fingerprint)?.ok_or_else(|| {
                RiskError::Api(ApiError::NotFound(format!("alerts/{fingerprint}")))
            })?;
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
    pub async fn create_silence(&self, silence: Silence) -> Result<Silence, RiskError> {
        silence::validate(&silence, self.monitor.clock().now()).map_err(RiskError::from)?;
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
                None => Err(RiskError::Api(ApiError::NotFound(format!("silences/{id}")))),
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
