//! Alert groups, after Alertmanager: the alerts one route sends to one
//! receiver with equal `group_by` labels. A group's first notification
//! waits `group_wait`; after that it changes at most every
//! `group_interval`, and repeats every `repeat_interval` while anything in
//! it fires. Times are the risk clock's. Pure: stored as it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::alert::{Alert, State};
use super::routing::GroupTiming;
use super::rules::Severity;

/// One alert as a group holds it: what a notification tells of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupedAlert {
    pub fingerprint: String,
    pub rule_id: String,
    pub subject: String,
    /// `Firing` or `Resolved`.
    pub state: State,
    pub severity: Severity,
    pub episode: u32,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub value: Option<f64>,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
}

impl GroupedAlert {
    pub fn of(alert: &Alert) -> Self {
        Self {
            fingerprint: Alert::fingerprint(&alert.rule_id, &alert.subject),
            rule_id: alert.rule_id.clone(),
            subject: alert.subject.clone(),
            state: alert.state,
            severity: alert.severity,
            episode: alert.episode,
            labels: alert.labels.clone(),
            summary: alert.summary.clone(),
            value: alert.value,
            starts_at: alert.start,
            ends_at: alert.end,
        }
    }

    pub fn is_firing(&self) -> bool {
        self.state == State::Firing
    }
}

/// A group as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    pub route_id: String,
    pub receiver_id: String,
    pub labels: BTreeMap<String, String>,
    /// The route's timers when the group formed.
    pub timing: GroupTiming,
    /// By fingerprint.
    pub alerts: BTreeMap<String, GroupedAlert>,
    #[serde(with = "time::serde::rfc3339")]
    pub formed_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_sent: Option<OffsetDateTime>,
    /// Whether anything changed since the last notification.
    pub changed: bool,
}

/// One notification of a group: what a delivery sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub group_key: String,
    pub route_id: String,
    pub receiver_id: String,
    pub group_labels: BTreeMap<String, String>,
    pub alerts: Vec<GroupedAlert>,
    /// The route's `repeat_interval`: how long a firing alert stays valid
    /// for a receiver (Alertmanager's `endsAt`) if it is not sent again.
    pub repeat: std::time::Duration,
}

impl Notification {
    pub fn firing(&self) -> usize {
        self.alerts.iter().filter(|a| a.is_firing()).count()
    }

    pub fn resolved(&self) -> usize {
        self.alerts.len() - self.firing()
    }
}

fn after(at: OffsetDateTime, wait: std::time::Duration) -> OffsetDateTime {
    at + time::Duration::try_from(wait).unwrap_or(time::Duration::MAX)
}

impl Group {
    pub fn new(
        key: String,
        route_id: String,
        receiver_id: String,
        labels: BTreeMap<String, String>,
        timing: GroupTiming,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            key,
            route_id,
            receiver_id,
            labels,
            timing,
            alerts: BTreeMap::new(),
            formed_at: now,
            last_sent: None,
            changed: false,
        }
    }

    /// Takes in an alert's new state; a repeat of what is held changes
    /// nothing.
    pub fn observe(&mut self, alert: GroupedAlert) {
        if self.alerts.get(&alert.fingerprint) != Some(&alert) {
            self.alerts.insert(alert.fingerprint.clone(), alert);
            self.changed = true;
        }
    }

    /// When the next notification is due, if one will be: `group_wait`
    /// after forming, `group_interval` after the last one if something
    /// changed, `repeat_interval` after it if something still fires.
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        match self.last_sent {
            None => Some(after(self.formed_at, self.timing.wait)),
            Some(last) if self.changed => Some(after(last, self.timing.interval)),
            Some(last) if self.alerts.values().any(GroupedAlert::is_firing) => {
                Some(after(last, self.timing.repeat))
            }
            Some(_) => None,
        }
    }

    /// Whether nothing is left to tell: every resolved alert was sent and
    /// nothing fires. Such a group is forgotten.
    pub fn is_spent(&self) -> bool {
        self.next_due().is_none()
    }

    /// The notification due at `now`, if one is; the group then forgets
    /// the resolved alerts it told of.
    pub fn flush(&mut self, now: OffsetDateTime) -> Option<Notification> {
        if self.next_due().is_none_or(|due| due > now) {
            return None;
        }
        let notification = Notification {
            group_key: self.key.clone(),
            route_id: self.route_id.clone(),
            receiver_id: self.receiver_id.clone(),
            group_labels: self.labels.clone(),
            alerts: self.alerts.values().cloned().collect(),
            repeat: self.timing.repeat,
        };
        self.alerts.retain(|_, alert| alert.is_firing());
        self.last_sent = Some(now);
        self.changed = false;
        Some(notification)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use time::macros::datetime;

    const FORMED: OffsetDateTime = datetime!(2026-06-15 10:00 UTC);

    fn timing() -> GroupTiming {
        GroupTiming {
            wait: Duration::from_secs(30),
            interval: Duration::from_secs(300),
            repeat: Duration::from_secs(3600),
        }
    }

    fn alert(id: &str, state: State) -> GroupedAlert {
        GroupedAlert {
            fingerprint: format!("schedule_lag:projects:{id}"),
            rule_id: "schedule_lag".to_owned(),
            subject: format!("projects/{id}"),
            state,
            severity: Severity::Critical,
            episode: 1,
            labels: BTreeMap::new(),
            summary: String::new(),
            value: Some(40.0),
            starts_at: FORMED,
            ends_at: None,
        }
    }

    fn group() -> Group {
        Group::new(
            "desk|".to_owned(),
            "desk".to_owned(),
            "desk".to_owned(),
            BTreeMap::new(),
            timing(),
            FORMED,
        )
    }

    fn seconds(s: i64) -> OffsetDateTime {
        FORMED + time::Duration::seconds(s)
    }

    #[test]
    fn alerts_within_group_wait_make_one_notification() {
        let mut group = group();
        for id in 0..40 {
            group.observe(alert(&format!("p{id}"), State::Firing));
        }
        assert_eq!(group.flush(seconds(29)), None);
        let sent = group.flush(seconds(30)).expect("due at group_wait");
        assert_eq!((sent.firing(), sent.resolved()), (40, 0));
        assert_eq!(group.flush(seconds(31)), None, "nothing changed");
    }

    #[test]
    fn a_change_waits_group_interval_and_is_sent_once() {
        let mut group = group();
        group.observe(alert("p1", State::Firing));
        group.flush(seconds(30)).expect("first");
        group.observe(alert("p2", State::Firing));
        assert_eq!(group.next_due(), Some(seconds(330)));
        assert_eq!(group.flush(seconds(100)), None);
        let update = group.flush(seconds(330)).expect("the update");
        assert_eq!(update.alerts.len(), 2);
    }

    #[test]
    fn a_firing_group_repeats_and_a_resolved_one_is_told_once_then_spent() {
        let mut group = group();
        group.observe(alert("p1", State::Firing));
        group.flush(seconds(30)).expect("first");
        assert_eq!(group.next_due(), Some(seconds(3630)));
        let repeat = group.flush(seconds(3630)).expect("repeat");
        assert_eq!(repeat.firing(), 1);
        group.observe(alert("p1", State::Resolved));
        let resolved = group.flush(seconds(3930)).expect("resolved");
        assert_eq!((resolved.firing(), resolved.resolved()), (0, 1));
        assert!(group.alerts.is_empty());
        assert!(group.is_spent());
    }

    #[test]
    fn a_repeated_state_is_no_change() {
        let mut group = group();
        group.observe(alert("p1", State::Firing));
        group.flush(seconds(30)).expect("first");
        group.observe(alert("p1", State::Firing));
        assert!(!group.changed);
        assert_eq!(group.next_due(), Some(seconds(3630)));
    }
}
