//! The alert life cycle, after Alertmanager: one alert per fingerprint
//! (rule + subject), PENDING while a breach has not lasted `for_periods`,
//! FIRING after, RESOLVED once clear for longer than
//! `keep_firing_for_periods`; a later breach starts a new episode of the
//! same alert. Severity changes while firing are escalations or
//! de-escalations; an escalation clears an acknowledgement.

use std::collections::BTreeMap;

use jilin_domain::Period;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::rules::{Rule, Severity};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum State {
    Pending,
    Firing,
    Resolved,
}

/// What happened to an alert; the notifications subscribers receive are
/// `Firing`, `Escalated`, `Resolved` and `Acknowledged` (a `Pending` or a
/// de-escalation is recorded in the history only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Pending,
    Firing,
    Escalated,
    DeEscalated,
    Resolved,
    Acknowledged,
}

impl Change {
    /// The NATS subjects a change is published on, e.g.
    /// `jilin.risk.alert.firing.critical`; none for changes that are only
    /// recorded (pending, de-escalated). An escalation is announced on
    /// `escalated.<severity>` and, since the alert now fires at that
    /// severity, on `firing.<severity>` too: a consumer of
    /// `jilin.risk.alert.firing.critical` hears of every alert that turns
    /// red, however it got there.
    pub fn subjects(self, severity: Severity) -> Vec<String> {
        let severity = match severity {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        };
        let changes: &[&str] = match self {
            Change::Firing => &["firing"],
            Change::Resolved => &["resolved"],
            Change::Acknowledged => &["acknowledged"],
            Change::Escalated => &["escalated", "firing"],
            Change::Pending | Change::DeEscalated => &[],
        };
        changes
            .iter()
            .map(|change| format!("jilin.risk.alert.{change}.{severity}"))
            .collect()
    }
}

/// One recorded change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub change: Change,
    pub severity: Severity,
    #[serde(with = "jilin_domain::timestamp")]
    pub at: OffsetDateTime,
    /// For acknowledgements: who and why.
    pub note: String,
}

/// One reading of a rule for one subject.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// The measured value; `None` when the rule does not apply.
    pub value: Option<f64>,
    /// The reporting period it belongs to: `for` and `keep_firing_for`
    /// count periods, so a re-evaluation within the same period replaces
    /// the reading instead of adding one, and an older period is ignored.
    pub period: Period,
    pub at: OffsetDateTime,
}

/// An alert and everything that explains it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub rule_id: String,
    pub subject: String,
    pub state: State,
    pub severity: Severity,
    /// 1 for the first episode, +1 each time it fires again after resolving.
    pub episode: u32,
    /// Consecutive breaching readings in this episode.
    pub breaching: u32,
    /// Consecutive clear readings while firing.
    pub clear: u32,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub rule_revision: i64,
    pub acknowledged_by: Option<String>,
    #[serde(with = "jilin_domain::timestamp")]
    pub start: OffsetDateTime,
    #[serde(with = "jilin_domain::timestamp::option")]
    pub end: Option<OffsetDateTime>,
    /// The period of the latest reading.
    pub period: Option<Period>,
    /// The rule's labels and the subject's (region, sector, group, agency).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The rule's summary filled in with the last breaching reading.
    #[serde(default)]
    pub summary: String,
    pub history: Vec<Transition>,
}

impl Alert {
    /// `rule` + subject: one alert however often it is re-evaluated, e.g.
    /// `schedule_lag:projects:p1` (one segment, so `alerts/{fingerprint}`
    /// is a resource name).
    /// This alert's fingerprint.
    pub fn fingerprint_key(&self) -> String {
        Self::fingerprint(&self.rule_id, &self.subject)
    }

    pub fn fingerprint(rule_id: &str, subject: &str) -> String {
        let mut fingerprint = Self::fingerprint_prefix(rule_id);
        fingerprint.reserve(subject.len());
        fingerprint.extend(subject.chars().map(|c| if c == '/' { ':' } else { c }));
        fingerprint
    }

    /// What the fingerprint of every alert of `rule_id` starts with (the
    /// alerts table is keyed by fingerprint).
    pub fn fingerprint_prefix(rule_id: &str) -> String {
        format!("{rule_id}:")
    }

    /// The alert with the transitions before `cutoff` forgotten, the last
    /// one always kept (it says what the alert is now).
    pub fn without_history_before(&self, cutoff: OffsetDateTime) -> Alert {
        let last = self.history.len().saturating_sub(1);
        let history = self
            .history
            .iter()
            .enumerate()
            .filter(|(index, transition)| *index == last || transition.at >= cutoff)
            .map(|(_, transition)| transition.clone())
            .collect();
        Alert {
            history,
            ..self.clone()
        }
    }

    fn record(&mut self, change: Change, at: OffsetDateTime, note: &str) -> Change {
        self.history.push(Transition {
            change,
            severity: self.severity,
            at,
            note: note.to_owned(),
        });
        change
    }
}

/// Applies one reading to the alert of `rule` for `subject` (none yet, or
/// the stored one). Returns the alert to store (`None`: nothing to write)
/// and the changes it went through.
pub fn observe(
    current: Option<&Alert>,
    rule: &Rule,
    subject: &str,
    reading: &Reading,
) -> (Option<Alert>, Vec<Change>) {
    let severity = reading.value.and_then(|value| rule.classify(value));
    let mut changes = Vec::new();
    // A clear reading writes nothing to a subject without an alert or with
    // a resolved one, which keeps the reading that resolved it (and its
    // labels), whatever the period: what lets the caller skip the lookup.
    if severity.is_none() && current.is_none_or(|alert| alert.state == State::Resolved) {
        return (None, changes);
    }
    let last_period = current.and_then(|alert| alert.period);
    if last_period.is_some_and(|last| reading.period < last) {
        return (current.cloned(), changes);
    }
    // Within the period already counted, a reading of the same kind
    // (breach or clear) replaces the last one instead of adding to it.
    let new_period = last_period != Some(reading.period);
    let Some(severity) = severity else {
        let Some(alert) = current else {
            return (None, changes);
        };
        let mut alert = alert.clone();
        alert.value = reading.value;
        alert.period = Some(reading.period);
        alert.breaching = 0;
        match alert.state {
            State::Pending => {
                // Never fired: it ends quietly.
                alert.state = State::Resolved;
                alert.end = Some(reading.at);
                alert.record(Change::Resolved, reading.at, "cleared before firing");
            }
            State::Firing => {
                if new_period || alert.clear == 0 {
                    alert.clear += 1;
                }
                if alert.clear > rule.keep_firing_for_periods {
                    alert.state = State::Resolved;
                    alert.end = Some(reading.at);
                    changes.push(alert.record(Change::Resolved, reading.at, ""));
                }
            }
            // Returned above.
            State::Resolved => {}
        }
        return (Some(alert), changes);
    };

    let mut alert = match current {
        Some(alert) if alert.state != State::Resolved => alert.clone(),
        previous => Alert {
            rule_id: rule.id.clone(),
            subject: subject.to_owned(),
            state: State::Pending,
            severity,
            episode: previous.map_or(1, |p| p.episode + 1),
            breaching: 0,
            clear: 0,
            value: None,
            threshold: None,
            rule_revision: rule.revision,
            acknowledged_by: None,
            start: reading.at,
            end: None,
            period: None,
            labels: previous.map(|p| p.labels.clone()).unwrap_or_default(),
            summary: String::new(),
            history: previous.map(|p| p.history.clone()).unwrap_or_default(),
        },
    };
    if new_period || alert.breaching == 0 {
        alert.breaching += 1;
    }
    alert.clear = 0;
    alert.value = reading.value;
    alert.period = Some(reading.period);
    alert.threshold = rule.threshold(severity);
    alert.rule_revision = rule.revision;
    match alert.state {
        State::Pending if alert.breaching >= rule.for_periods => {
            alert.severity = severity;
            alert.state = State::Firing;
            changes.push(alert.record(Change::Firing, reading.at, ""));
        }
        State::Pending => {
            if alert.breaching == 1 {
                alert.severity = severity;
                alert.record(Change::Pending, reading.at, "");
            }
            alert.severity = alert.severity.max(severity);
        }
        State::Firing if severity > alert.severity => {
            alert.severity = severity;
            alert.acknowledged_by = None;
            changes.push(alert.record(Change::Escalated, reading.at, ""));
        }
        State::Firing if severity < alert.severity => {
            alert.severity = severity;
            alert.record(Change::DeEscalated, reading.at, "");
        }
        State::Firing | State::Resolved => {}
    }
    (Some(alert), changes)
}

/// Why an acknowledgement was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("only a FIRING alert can be acknowledged")]
    NotFiring,
}

/// Records who acknowledged a firing alert and why.
pub fn acknowledge(
    alert: &Alert,
    who: &str,
    comment: &str,
    at: OffsetDateTime,
) -> Result<Alert, AckError> {
    if alert.state != State::Firing {
        return Err(AckError::NotFiring);
    }
    let mut alert = alert.clone();
    alert.acknowledged_by = Some(who.to_owned());
    alert.record(Change::Acknowledged, at, &format!("{who}: {comment}"));
    Ok(alert)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::builtin_rules;

    fn rule(id: &str) -> Rule {
        builtin_rules().into_iter().find(|r| r.id == id).unwrap()
    }

    fn at(day: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(day)
    }

    #[test]
    fn a_fingerprint_is_the_rule_and_the_subject_with_colons() {
        assert_eq!(
            Alert::fingerprint("schedule_lag", "projects/p-1/x"),
            "schedule_lag:projects:p-1:x"
        );
    }

    /// One period per reading in `feed`.
    fn month(index: i32) -> Period {
        Period::parse("2026-01").unwrap().add_months(index).unwrap()
    }

    /// Feeds readings, returning the alert after each and every change.
    fn feed(rule: &Rule, values: &[Option<f64>]) -> (Option<Alert>, Vec<Change>) {
        let mut alert = None;
        let mut all = Vec::new();
        for (day, value) in values.iter().enumerate() {
            let reading = Reading {
                value: *value,
                period: month(day as i32),
                at: at(day as i64),
            };
            let (next, changes) = observe(alert.as_ref(), rule, "projects/p1", &reading);
            alert = next.or(alert);
            all.extend(changes);
        }
        (alert, all)
    }

    #[test]
    fn fires_escalates_de_escalates_and_resolves() {
        let (alert, changes) = feed(
            &rule("schedule_lag"),
            &[Some(5.0), Some(12.0), Some(35.0), Some(15.0), Some(2.0)],
        );
        assert_eq!(
            changes,
            [Change::Firing, Change::Escalated, Change::Resolved]
        );
        let alert = alert.unwrap();
        assert_eq!(alert.state, State::Resolved);
        let history: Vec<_> = alert
            .history
            .iter()
            .map(|t| (t.change, t.severity))
            .collect();
        assert_eq!(
            history,
            [
                (Change::Firing, Severity::Warning),
                (Change::Escalated, Severity::Critical),
                (Change::DeEscalated, Severity::Warning),
                (Change::Resolved, Severity::Warning),
            ]
        );
        assert_eq!(alert.end, Some(at(4)));
    }

    #[test]
    fn a_resolved_alert_keeps_the_reading_that_resolved_it_until_the_next_breach() {
        let lag = rule("schedule_lag");
        let (resolved, _) = feed(&lag, &[Some(12.0), Some(2.0)]);
        let (later, changes) = feed(&lag, &[Some(12.0), Some(2.0), Some(1.0), None]);
        assert_eq!(changes, [Change::Firing, Change::Resolved]);
        assert_eq!(later, resolved, "clear readings after the resolution");
        assert_eq!(later.unwrap().value, Some(2.0));
        let (again, changes) = feed(&lag, &[Some(12.0), Some(2.0), Some(1.0), Some(12.0)]);
        assert_eq!(changes, [Change::Firing, Change::Resolved, Change::Firing]);
        let again = again.unwrap();
        assert_eq!((again.episode, again.value), (2, Some(12.0)));
    }

    #[test]
    fn for_periods_holds_an_alert_pending() {
        let decline = rule("sustained_output_decline");
        let (alert, changes) = feed(&decline, &[Some(-1.0)]);
        assert_eq!(alert.unwrap().state, State::Pending);
        assert!(changes.is_empty(), "pending is not notified");
        let (alert, changes) = feed(&decline, &[Some(-1.0), Some(2.0), Some(-1.0)]);
        assert_eq!(
            alert.as_ref().unwrap().state,
            State::Pending,
            "not consecutive"
        );
        assert!(changes.is_empty());
        let (alert, changes) = feed(&decline, &[Some(-1.0), Some(-0.5)]);
        assert_eq!(changes, [Change::Firing]);
        assert_eq!(alert.unwrap().severity, Severity::Critical);
    }

    #[test]
    fn old_history_is_forgotten_but_the_last_transition_kept() {
        let (alert, _) = feed(&rule("cost_overrun"), &[Some(12.0), None, Some(15.0)]);
        let alert = alert.unwrap();
        let times: Vec<_> = alert.history.iter().map(|t| t.at).collect();
        assert_eq!(times, [at(0), at(1), at(2)]);
        let trimmed = alert.without_history_before(at(1));
        assert_eq!(trimmed.history, alert.history[1..]);
        let trimmed = alert.without_history_before(at(9));
        assert_eq!(trimmed.history, alert.history[2..], "the last one stays");
        assert_eq!(alert.without_history_before(at(0)), alert);
    }

    #[test]
    fn a_new_breach_after_resolution_is_a_new_episode() {
        let (alert, changes) = feed(&rule("cost_overrun"), &[Some(12.0), None, Some(15.0)]);
        assert_eq!(changes, [Change::Firing, Change::Resolved, Change::Firing]);
        let alert = alert.unwrap();
        assert_eq!(alert.episode, 2);
        assert_eq!(alert.start, at(2));
        assert_eq!(alert.end, None);
        assert_eq!(alert.history.len(), 3, "history spans episodes");
    }

    #[test]
    fn keep_firing_for_waits_out_a_brief_clear() {
        let mut lag = rule("schedule_lag");
        lag.keep_firing_for_periods = 1;
        let (alert, changes) = feed(&lag, &[Some(12.0), Some(0.0), Some(12.0)]);
        assert_eq!(changes, [Change::Firing]);
        assert_eq!(alert.unwrap().state, State::Firing);
        let (_, changes) = feed(&lag, &[Some(12.0), Some(0.0), Some(0.0)]);
        assert_eq!(changes, [Change::Firing, Change::Resolved]);
    }

    #[test]
    fn readings_within_one_period_replace_each_other() {
        let decline = rule("sustained_output_decline");
        let read = |alert: Option<&Alert>, value: f64, period: i32| {
            let reading = Reading {
                value: Some(value),
                period: month(period),
                at: at(period.into()),
            };
            observe(alert, &decline, "indicators/output_growth", &reading)
        };
        let (alert, _) = read(None, -1.0, 0);
        let (alert, changes) = read(alert.as_ref(), -2.0, 0);
        assert!(changes.is_empty(), "a re-evaluation is not a second period");
        assert_eq!(alert.as_ref().unwrap().breaching, 1);
        let (alert, changes) = read(alert.as_ref(), -2.0, 1);
        assert_eq!(changes, [Change::Firing]);
        let (same, changes) = read(alert.as_ref(), 3.0, 0);
        assert!(changes.is_empty(), "an older period is ignored");
        assert_eq!(same, alert);
        // A clear reading then a breach within one period: the breach counts.
        let (alert, changes) = read(alert.as_ref(), 1.0, 2);
        assert_eq!(changes, [Change::Resolved]);
        let (alert, changes) = read(alert.as_ref(), -1.0, 2);
        assert!(changes.is_empty(), "pending again, for one period");
        assert_eq!(alert.unwrap().episode, 2);
    }

    #[test]
    fn changes_map_to_subjects_subscribers_can_filter_on() {
        assert_eq!(
            Change::Firing.subjects(Severity::Critical),
            ["jilin.risk.alert.firing.critical"]
        );
        assert_eq!(
            Change::Acknowledged.subjects(Severity::Warning),
            ["jilin.risk.alert.acknowledged.warning"]
        );
        assert_eq!(
            Change::Escalated.subjects(Severity::Critical),
            [
                "jilin.risk.alert.escalated.critical",
                "jilin.risk.alert.firing.critical"
            ]
        );
        assert!(Change::Pending.subjects(Severity::Warning).is_empty());
        assert!(Change::DeEscalated.subjects(Severity::Warning).is_empty());
    }

    #[test]
    fn repeated_readings_change_nothing_more() {
        let (alert, changes) = feed(&rule("cost_overrun"), &[Some(12.0), Some(12.0), Some(13.0)]);
        assert_eq!(changes, [Change::Firing]);
        assert_eq!(alert.unwrap().history.len(), 1);
    }

    #[test]
    fn acknowledgement_holds_until_an_escalation() {
        let lag = rule("schedule_lag");
        let (alert, _) = feed(&lag, &[Some(12.0)]);
        let acked = acknowledge(
            alert.as_ref().unwrap(),
            "wang.fang",
            "site visit booked",
            at(1),
        )
        .unwrap();
        assert_eq!(acked.acknowledged_by.as_deref(), Some("wang.fang"));
        assert_eq!(
            acked.history.last().unwrap().note,
            "wang.fang: site visit booked"
        );
        let reading = Reading {
            value: Some(40.0),
            period: month(2),
            at: at(2),
        };
        let (escalated, changes) = observe(Some(&acked), &lag, "projects/p1", &reading);
        assert_eq!(changes, [Change::Escalated]);
        assert_eq!(escalated.unwrap().acknowledged_by, None);
        let (pending, _) = feed(&rule("sustained_output_decline"), &[Some(-1.0)]);
        assert_eq!(
            acknowledge(&pending.unwrap(), "x", "", at(1)),
            Err(AckError::NotFiring)
        );
    }
}
