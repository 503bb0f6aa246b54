//! Silences: label matchers over a time window. A silenced alert is still
//! tracked (its state and history change as usual) but its changes are not
//! published as notifications while the silence is active.

use std::collections::BTreeMap;

use jilin_domain::FieldViolation;
use jilin_domain::Violations;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `name="value"` or `name!="value"` over an alert's labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelMatcher {
    pub name: String,
    pub value: String,
    pub negated: bool,
}

impl LabelMatcher {
    /// A missing label matches `name!="x"` but not `name="x"`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let equal = labels.get(&self.name).is_some_and(|v| *v == self.value);
        equal != self.negated
    }
}

/// A silence as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    pub matchers: Vec<LabelMatcher>,
    #[serde(with = "jilin_domain::timestamp")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "jilin_domain::timestamp")]
    pub ends_at: OffsetDateTime,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    pub fn is_active(&self, at: OffsetDateTime) -> bool {
        self.starts_at <= at && at < self.ends_at
    }

    /// Whether this silence mutes an alert with `labels` at `at`.
    pub fn mutes(&self, labels: &BTreeMap<String, String>, at: OffsetDateTime) -> bool {
        self.is_active(at) && self.matchers.iter().all(|m| m.matches(labels))
    }
}

/// Whether any silence mutes an alert with `labels` at `at`.
pub fn is_silenced(
    silences: &[Silence],
    labels: &BTreeMap<String, String>,
    at: OffsetDateTime,
) -> bool {
    silences.iter().any(|s| s.mutes(labels, at))
}

/// Checks a new silence: at least one matcher, each with a label name;
/// an end after its start and in the future; a creator and a comment.
pub fn validate(silence: &Silence, now: OffsetDateTime) -> Result<(), Vec<FieldViolation>> {
    let mut violations = Violations::new();
    violations.check(
        !silence.matchers.is_empty(),
        "silence.matchers",
        "at least one matcher: a silence never mutes everything",
    );
    for (index, matcher) in silence.matchers.iter().enumerate() {
        violations.check(
            !matcher.name.is_empty(),
            format!("silence.matchers[{index}].name"),
            "required",
        );
    }
    violations.check(
        silence.ends_at > silence.starts_at,
        "silence.ends_at",
        "must be after starts_at",
    );
    violations.check(
        silence.ends_at > now,
        "silence.ends_at",
        "must be in the future",
    );
    violations.check(
        !silence.created_by.trim().is_empty(),
        "silence.created_by",
        "required",
    );
    violations.check(
        !silence.comment.trim().is_empty(),
        "silence.comment",
        "required: say why",
    );
    violations.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::hours(hour)
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn silence(matchers: Vec<LabelMatcher>) -> Silence {
        Silence {
            id: "s1".into(),
            matchers,
            starts_at: at(10),
            ends_at: at(20),
            created_by: "li.wei".into(),
            comment: "known outage at the plant".into(),
        }
    }

    fn eq(name: &str, value: &str) -> LabelMatcher {
        LabelMatcher {
            name: name.into(),
            value: value.into(),
            negated: false,
        }
    }

    #[test]
    fn mutes_matching_alerts_inside_its_window_only() {
        let s = silence(vec![
            eq("region", "220100"),
            eq("rule", "stalled_reporting"),
        ]);
        let hit = labels(&[("region", "220100"), ("rule", "stalled_reporting")]);
        let other = labels(&[("region", "220200"), ("rule", "stalled_reporting")]);
        assert!(s.mutes(&hit, at(10)));
        assert!(s.mutes(&hit, at(19)));
        assert!(!s.mutes(&hit, at(20)), "the end is exclusive");
        assert!(!s.mutes(&hit, at(9)));
        assert!(!s.mutes(&other, at(12)));
        assert!(is_silenced(&[s], &hit, at(12)));
    }

    #[test]
    fn negated_matchers_accept_missing_labels() {
        let not_pillar = LabelMatcher {
            name: "group".into(),
            value: "pillar".into(),
            negated: true,
        };
        assert!(not_pillar.matches(&labels(&[])));
        assert!(!not_pillar.matches(&labels(&[("group", "pillar")])));
        assert!(!eq("group", "pillar").matches(&labels(&[])));
    }

    #[test]
    fn validation_names_every_bad_field() {
        let mut bad = silence(vec![eq("", "x")]);
        bad.ends_at = at(5);
        bad.comment = " ".into();
        let fields: Vec<_> = validate(&bad, at(8))
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "silence.matchers[0].name",
                "silence.ends_at",
                "silence.ends_at",
                "silence.comment"
            ]
        );
        assert!(validate(&silence(vec![]), at(8)).is_err());
        assert!(validate(&silence(vec![eq("region", "220100")]), at(8)).is_ok());
    }
}
