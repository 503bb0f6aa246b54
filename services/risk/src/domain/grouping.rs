//! Alert groups, after Alertmanager: the alerts one route sends to one
//! receiver with equal `group_by` labels. A group's first notification
//! waits `group_wait`; after that it changes at most every
//! `group_interval`, and repeats every `repeat_interval` while anything in
//! it fires. Silences and inhibitions are applied when a group is looked
//! at, so an alert muted when it fired is told once the muting ends.
//! Times are the risk clock's. Pure: stored as it is.

use std::collections::{BTreeMap, BTreeSet};

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
    #[serde(with = "jilin_domain::timestamp")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "jilin_domain::timestamp::option")]
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

    /// What routes and inhibitions match.
    pub fn routing_labels(&self) -> BTreeMap<String, String> {
        super::routing::labels_with(&self.labels, self.severity, &self.rule_id, &self.subject)
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
    /// When the group is next looked at: `group_wait` after it formed,
    /// then every `group_interval`.
    #[serde(with = "jilin_domain::timestamp")]
    pub next_tick: OffsetDateTime,
    /// What the receiver was last told, and when (Alertmanager's
    /// notification log).
    pub sent_firing: BTreeSet<String>,
    pub sent_resolved: BTreeSet<String>,
    #[serde(with = "jilin_domain::timestamp::option")]
    pub last_sent: Option<OffsetDateTime>,
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
            next_tick: after(now, timing.wait),
            sent_firing: BTreeSet::new(),
            sent_resolved: BTreeSet::new(),
            last_sent: None,
        }
    }

    /// Takes in an alert's new state.
    pub fn observe(&mut self, alert: GroupedAlert) {
        self.alerts.insert(alert.fingerprint.clone(), alert);
    }

    pub fn is_due(&self, now: OffsetDateTime) -> bool {
        self.next_tick <= now
    }

    /// Whether the group holds nothing any more: it is forgotten (a new
    /// alert forms it again, with a new `group_wait`).
    pub fn is_spent(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Looks at the group at `now`, if its tick is due: the alerts not
    /// `muted` (silenced, inhibited) are told to the receiver when that
    /// tells it something new (an alert firing it was not told of, a
    /// resolution of one it was), or again after `repeat_interval` while
    /// anything fires. Resolved alerts are then forgotten; muted firing
    /// ones stay, and are told once the muting ends.
    pub fn tick(
        &mut self,
        now: OffsetDateTime,
        muted: impl Fn(&GroupedAlert) -> bool,
    ) -> Option<Notification> {
        if !self.is_due(now) {
            return None;
        }
        self.next_tick = after(now, self.timing.interval);
        let visible: Vec<GroupedAlert> = self
            .alerts
            .values()
            .filter(|alert| !muted(alert))
            .cloned()
            .collect();
        let ids = |firing: bool| -> BTreeSet<String> {
            visible
                .iter()
                .filter(|alert| alert.is_firing() == firing)
                .map(|alert| alert.fingerprint.clone())
                .collect()
        };
        let (firing, resolved) = (ids(true), ids(false));
        self.alerts.retain(|_, alert| alert.is_firing());
        if !self.needs_update(&firing, &resolved, now) {
            return None;
        }
        self.sent_firing = firing;
        self.sent_resolved = resolved;
        self.last_sent = Some(now);
        Some(Notification {
            group_key: self.key.clone(),
            route_id: self.route_id.clone(),
            receiver_id: self.receiver_id.clone(),
            group_labels: self.labels.clone(),
            alerts: visible,
            repeat: self.timing.repeat,
        })
    }

    /// Alertmanager's rule: never told → only if something fires; a
    /// firing alert it was not told of → yes; nothing fires → only if it
    /// was told of firing ones; a new resolution → yes; else only after
    /// `repeat_interval`.
    fn needs_update(
        &self,
        firing: &BTreeSet<String>,
        resolved: &BTreeSet<String>,
        now: OffsetDateTime,
    ) -> bool {
        let Some(last) = self.last_sent else {
            return !firing.is_empty();
        };
        if !firing.is_subset(&self.sent_firing) {
            return true;
        }
        if firing.is_empty() {
            return !self.sent_firing.is_empty();
        }
        if !resolved.is_subset(&self.sent_resolved) {
            return true;
        }
        after(last, self.timing.repeat) <= now
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

    fn unmuted(_: &GroupedAlert) -> bool {
        false
    }

    #[test]
    fn alerts_within_group_wait_make_one_notification() {
        let mut group = group();
        for id in 0..40 {
            group.observe(alert(&format!("p{id}"), State::Firing));
        }
        assert_eq!(group.tick(seconds(29), unmuted), None);
        let sent = group.tick(seconds(30), unmuted).expect("due at group_wait");
        assert_eq!((sent.firing(), sent.resolved()), (40, 0));
        assert_eq!(group.tick(seconds(330), unmuted), None, "nothing changed");
    }

    #[test]
    fn a_change_waits_for_the_next_group_interval() {
        let mut group = group();
        group.observe(alert("p1", State::Firing));
        group.tick(seconds(30), unmuted).expect("first");
        group.observe(alert("p2", State::Firing));
        assert_eq!(group.next_tick, seconds(330));
        assert_eq!(group.tick(seconds(100), unmuted), None);
        let update = group.tick(seconds(330), unmuted).expect("the update");
        assert_eq!(update.alerts.len(), 2);
    }

    #[test]
    fn a_firing_group_repeats_and_a_resolved_one_is_told_once_then_spent() {
        let mut group = group();
        group.observe(alert("p1", State::Firing));
        group.tick(seconds(30), unmuted).expect("first");
        for tick in 1..12 {
            assert_eq!(group.tick(seconds(30 + tick * 300), unmuted), None);
        }
        let repeat = group.tick(seconds(30 + 12 * 300), unmuted).expect("repeat");
        assert_eq!(repeat.firing(), 1);
        group.observe(alert("p1", State::Resolved));
        let resolved = group
            .tick(seconds(30 + 13 * 300), unmuted)
            .expect("resolved");
        assert_eq!((resolved.firing(), resolved.resolved()), (0, 1));
        assert!(group.is_spent());
    }

    #[test]
    fn a_muted_alert_is_told_when_the_muting_ends_and_never_if_it_resolves_first() {
        let mut group = group();
        group.observe(alert("p1", State::Firing));
        group.observe(alert("p2", State::Firing));
        let muted_p1 = |alert: &GroupedAlert| alert.subject == "projects/p1";
        let first = group.tick(seconds(30), muted_p1).expect("p2 alone");
        assert_eq!(first.alerts.len(), 1);
        assert_eq!(group.tick(seconds(330), muted_p1), None, "still muted");
        let unmuted_now = group.tick(seconds(630), unmuted).expect("p1 told");
        assert_eq!(unmuted_now.firing(), 2);

        let mut group = self::group();
        group.observe(alert("p3", State::Firing));
        let all = |_: &GroupedAlert| true;
        assert_eq!(group.tick(seconds(30), all), None);
        group.observe(alert("p3", State::Resolved));
        assert_eq!(
            group.tick(seconds(330), unmuted),
            None,
            "never told of it firing"
        );
        assert!(group.is_spent());
    }
}
