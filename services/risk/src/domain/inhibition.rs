//! Inhibitions, after Alertmanager: while an alert matching the source
//! matchers fires, alerts matching the target matchers are muted if they
//! carry the same values of the `equal` labels. An alert never inhibits
//! itself. Built in: a `suspended` project mutes its own schedule,
//! investment and reporting lags, consequences of the known cause.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jilin_domain::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};

use super::routing::{
    CompiledMatcher, MAX_ROUTE_LABELS, MatchOperator, RouteMatcher, check_label_names,
};

/// An inhibition as stored (or built in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inhibition {
    pub id: String,
    pub source: Vec<RouteMatcher>,
    pub target: Vec<RouteMatcher>,
    pub equal: Vec<String>,
    pub built_in: bool,
    pub created_by: String,
}

fn equal(label: &str, value: &str) -> RouteMatcher {
    RouteMatcher {
        label: label.to_owned(),
        operator: MatchOperator::Equal,
        value: value.to_owned(),
    }
}

/// The inhibitions every service has.
pub fn builtin_inhibitions() -> Vec<Inhibition> {
    vec![Inhibition {
        id: "suspended_project".to_owned(),
        source: vec![equal("rule", "suspended")],
        target: vec![RouteMatcher {
            label: "rule".to_owned(),
            operator: MatchOperator::Regex,
            value: "schedule_lag|investment_lag|stalled_reporting".to_owned(),
        }],
        equal: vec!["project".to_owned()],
        built_in: true,
        created_by: String::new(),
    }]
}

/// The rules whose alerts may be an inhibition's source, when each
/// inhibition's source matchers name one (`rule="…"`): the only firing
/// alerts an [`Inhibitor`] needs. `None` when one names no rule, so that
/// any firing alert may be a source.
pub fn source_rules(inhibitions: &[Inhibition]) -> Option<BTreeSet<&str>> {
    inhibitions
        .iter()
        .map(|inhibition| {
            inhibition
                .source
                .iter()
                .find(|m| m.label == "rule" && m.operator == MatchOperator::Equal)
                .map(|m| m.value.as_str())
        })
        .collect()
}

/// Checks a new inhibition: matchers that compile on both sides, label
/// names in `equal`.
pub fn validate(inhibition: &Inhibition) -> Result<(), Vec<FieldViolation>> {
    let mut violations = Violations::new();
    for (side, matchers) in [
        ("source_matchers", &inhibition.source),
        ("target_matchers", &inhibition.target),
    ] {
        violations.check(
            !matchers.is_empty() && matchers.len() <= MAX_ROUTE_LABELS,
            format!("inhibition.{side}"),
            format!("1 to {MAX_ROUTE_LABELS} matchers"),
        );
        for (index, matcher) in matchers.iter().enumerate() {
            if let Err(err) = matcher.check() {
                violations.add(format!("inhibition.{side}[{index}]"), err);
            }
        }
    }
    check_label_names(&mut violations, &inhibition.equal, "inhibition.equal");
    violations.into_result(())
}

struct Compiled {
    source: Vec<CompiledMatcher>,
    target: Vec<CompiledMatcher>,
    equal: Vec<String>,
}

fn all_match(matchers: &[CompiledMatcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

/// What mutes what at one moment: built from the inhibitions and the
/// routing labels of every firing alert.
pub struct Inhibitor {
    inhibitions: Vec<Compiled>,
    /// (inhibition, its `equal` values) → fingerprints of firing sources.
    sources: HashMap<(usize, Vec<String>), Vec<String>>,
}

impl Inhibitor {
    /// `firing`: (fingerprint, routing labels) of each firing alert. An
    /// inhibition whose matchers do not compile is left out.
    pub fn new<'a>(
        inhibitions: &[Inhibition],
        firing: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, String>)>,
    ) -> Self {
        let compile = |matchers: &[RouteMatcher]| -> Option<Vec<CompiledMatcher>> {
            matchers.iter().map(|m| m.compile().ok()).collect()
        };
        let inhibitions: Vec<Compiled> = inhibitions
            .iter()
            .filter_map(|inhibition| {
                Some(Compiled {
                    source: compile(&inhibition.source)?,
                    target: compile(&inhibition.target)?,
                    equal: inhibition.equal.clone(),
                })
            })
            .collect();
        let mut sources: HashMap<(usize, Vec<String>), Vec<String>> = HashMap::new();
        for (fingerprint, labels) in firing {
            for (index, inhibition) in inhibitions.iter().enumerate() {
                if all_match(&inhibition.source, labels) {
                    let values = equal_values(&inhibition.equal, labels);
                    sources
                        .entry((index, values))
                        .or_default()
                        .push(fingerprint.to_owned());
                }
            }
        }
        Self {
            inhibitions,
            sources,
        }
    }

    /// Whether the alert `fingerprint` with routing `labels` is muted.
    pub fn mutes(&self, fingerprint: &str, labels: &BTreeMap<String, String>) -> bool {
        self.inhibitions
            .iter()
            .enumerate()
            .any(|(index, inhibition)| {
                all_match(&inhibition.target, labels)
                    && self
                        .sources
                        .get(&(index, equal_values(&inhibition.equal, labels)))
                        .is_some_and(|sources| sources.iter().any(|source| source != fingerprint))
            })
    }
}

fn equal_values(labels_named: &[String], labels: &BTreeMap<String, String>) -> Vec<String> {
    labels_named
        .iter()
        .map(|name| labels.get(name).cloned().unwrap_or_default())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(rule: &str, project: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("rule".to_owned(), rule.to_owned()),
            ("project".to_owned(), project.to_owned()),
        ])
    }

    #[test]
    fn a_suspended_project_mutes_its_own_lags_only() {
        let suspended = labels("suspended", "p1");
        let inhibitor = Inhibitor::new(
            &builtin_inhibitions(),
            [("suspended:projects:p1", &suspended)],
        );
        assert!(inhibitor.mutes("schedule_lag:projects:p1", &labels("schedule_lag", "p1")));
        assert!(inhibitor.mutes(
            "stalled_reporting:projects:p1",
            &labels("stalled_reporting", "p1")
        ));
        assert!(!inhibitor.mutes("schedule_lag:projects:p2", &labels("schedule_lag", "p2")));
        assert!(!inhibitor.mutes("cost_overrun:projects:p1", &labels("cost_overrun", "p1")));
        assert!(!inhibitor.mutes("suspended:projects:p1", &suspended));
    }

    #[test]
    fn nothing_is_muted_without_a_firing_source() {
        let inhibitor = Inhibitor::new(&builtin_inhibitions(), []);
        assert!(!inhibitor.mutes("schedule_lag:projects:p1", &labels("schedule_lag", "p1")));
    }

    #[test]
    fn an_alert_matching_both_sides_does_not_mute_itself() {
        let broad = Inhibition {
            id: "critical_mutes_warning".to_owned(),
            source: vec![equal("region", "220100")],
            target: vec![equal("region", "220100")],
            equal: vec![],
            built_in: false,
            created_by: String::new(),
        };
        let only = BTreeMap::from([("region".to_owned(), "220100".to_owned())]);
        let inhibitor = Inhibitor::new(std::slice::from_ref(&broad), [("a", &only)]);
        assert!(!inhibitor.mutes("a", &only));
        assert!(inhibitor.mutes("b", &only));
    }

    #[test]
    fn the_sources_are_read_by_rule_only_while_every_inhibition_names_one() {
        let mut inhibitions = builtin_inhibitions();
        inhibitions.push(Inhibition {
            id: "overrun_mutes_lag".to_owned(),
            source: vec![equal("severity", "critical"), equal("rule", "cost_overrun")],
            target: vec![equal("rule", "schedule_lag")],
            equal: vec!["project".to_owned()],
            built_in: false,
            created_by: String::new(),
        });
        assert_eq!(
            source_rules(&inhibitions),
            Some(BTreeSet::from(["cost_overrun", "suspended"]))
        );
        inhibitions.push(Inhibition {
            id: "any_rule_by_regex".to_owned(),
            source: vec![RouteMatcher {
                label: "rule".to_owned(),
                operator: MatchOperator::Regex,
                value: "cost_.*".to_owned(),
            }],
            target: vec![equal("severity", "warning")],
            equal: vec![],
            built_in: false,
            created_by: String::new(),
        });
        assert_eq!(source_rules(&inhibitions), None);
    }

    #[test]
    fn bad_inhibitions_name_each_bad_field() {
        let bad = Inhibition {
            id: "bad".to_owned(),
            source: vec![],
            target: vec![RouteMatcher {
                label: "rule".to_owned(),
                operator: MatchOperator::Regex,
                value: "(".to_owned(),
            }],
            equal: vec!["not a label".to_owned()],
            built_in: false,
            created_by: String::new(),
        };
        let fields: Vec<String> = validate(&bad)
            .expect_err("refused")
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "inhibition.source_matchers",
                "inhibition.target_matchers[0]",
                "inhibition.equal[0]"
            ]
        );
    }
}
