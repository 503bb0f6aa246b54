//! Routing, after Alertmanager: receivers (where notifications go),
//! routes (which alerts go to which receiver, grouped by which labels)
//! and the labels a route matches. Pure: the monitor calls it inside the
//! transaction that changes an alert.

use std::collections::BTreeMap;
use std::time::Duration;

use jilin_domain::{FieldViolation, Violations};
use serde::{Deserialize, Serialize};

use super::alert::Alert;
use super::rules::Severity;

/// Characters of a matcher's value, at most (a regular expression is
/// compiled from it).
pub const MAX_MATCHER_VALUE: usize = 1024;
/// Matchers and `group_by` labels of one route, at most.
pub const MAX_ROUTE_LABELS: usize = 32;
/// Compiled size of one matcher's regular expression, at most.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchOperator {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// `label = value`, `!=`, `=~` or `!~` over an alert's routing labels. A
/// missing label reads as the empty string, as in Alertmanager.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteMatcher {
    pub label: String,
    pub operator: MatchOperator,
    pub value: String,
}

/// A matcher ready to use: its regular expression compiled once.
#[derive(Clone, Debug)]
pub struct CompiledMatcher {
    label: String,
    operator: MatchOperator,
    value: String,
    regex: Option<regex::Regex>,
}

impl RouteMatcher {
    /// The whole value must match: `^(?:value)$`.
    fn regex(&self) -> Result<regex::Regex, String> {
        regex::RegexBuilder::new(&format!("^(?:{})$", self.value))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|err| format!("not a regular expression: {err}"))
    }

    /// A label name, a value within bounds, a regular expression that
    /// compiles; else why not.
    pub fn check(&self) -> Result<(), String> {
        if !is_label_name(&self.label) {
            return Err(format!(
                "`{}` is not a label name: letters, digits and `_`, at most 64",
                self.label
            ));
        }
        if self.value.len() > MAX_MATCHER_VALUE {
            return Err(format!("a value of at most {MAX_MATCHER_VALUE} bytes"));
        }
        self.compile().map(drop)
    }

    pub fn compile(&self) -> Result<CompiledMatcher, String> {
        let regex = match self.operator {
            MatchOperator::Regex | MatchOperator::NotRegex => Some(self.regex()?),
            MatchOperator::Equal | MatchOperator::NotEqual => None,
        };
        Ok(CompiledMatcher {
            label: self.label.clone(),
            operator: self.operator,
            value: self.value.clone(),
            regex,
        })
    }
}

impl CompiledMatcher {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.label).map_or("", String::as_str);
        let matched =
            |regex: &Option<regex::Regex>| regex.as_ref().is_some_and(|r| r.is_match(value));
        match self.operator {
            MatchOperator::Equal => value == self.value,
            MatchOperator::NotEqual => value != self.value,
            MatchOperator::Regex => matched(&self.regex),
            MatchOperator::NotRegex => !matched(&self.regex),
        }
    }
}

/// A group's timers, with Alertmanager's meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupTiming {
    /// Before a new group's first notification.
    pub wait: Duration,
    /// Between notifications of a group that changed.
    pub interval: Duration,
    /// Before an unchanged group is sent again while anything fires.
    pub repeat: Duration,
}

impl Default for GroupTiming {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(30),
            interval: Duration::from_secs(5 * 60),
            repeat: Duration::from_secs(4 * 3600),
        }
    }
}

/// A route as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub id: String,
    pub position: i32,
    pub matchers: Vec<RouteMatcher>,
    pub receiver: String,
    pub group_by: Vec<String>,
    pub timing: GroupTiming,
    pub continue_matching: bool,
    pub created_by: String,
}

/// A route with its matchers compiled: what the monitor routes with.
#[derive(Clone, Debug)]
pub struct CompiledRoute {
    pub route: Route,
    matchers: Vec<CompiledMatcher>,
}

impl Route {
    pub fn compile(&self) -> Result<CompiledRoute, String> {
        let matchers = self
            .matchers
            .iter()
            .map(RouteMatcher::compile)
            .collect::<Result<_, _>>()?;
        Ok(CompiledRoute {
            route: self.clone(),
            matchers,
        })
    }
}

impl CompiledRoute {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }

    /// The group an alert with `labels` joins on this route: its key
    /// (`{route}|{label}={value},…`) and its labels.
    pub fn group_of(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> (String, BTreeMap<String, String>) {
        let group_labels: BTreeMap<String, String> = self
            .route
            .group_by
            .iter()
            .map(|label| {
                (
                    label.clone(),
                    labels.get(label).cloned().unwrap_or_default(),
                )
            })
            .collect();
        let values: Vec<String> = group_labels
            .iter()
            .map(|(label, value)| format!("{label}={value}"))
            .collect();
        (
            format!("{}|{}", self.route.id, values.join(",")),
            group_labels,
        )
    }
}

/// Routes in the order they are tried: position, then id.
pub fn sort_routes(routes: &mut [CompiledRoute]) {
    routes.sort_by(|a, b| (a.route.position, &a.route.id).cmp(&(b.route.position, &b.route.id)));
}

/// The routes that take an alert with `labels`: the first that matches,
/// and after it every further match while the matched ones say `continue`.
pub fn matching_routes<'a>(
    routes: &'a [CompiledRoute],
    labels: &BTreeMap<String, String>,
) -> Vec<&'a CompiledRoute> {
    let mut taken = Vec::new();
    for route in routes.iter().filter(|route| route.matches(labels)) {
        taken.push(route);
        if !route.route.continue_matching {
            break;
        }
    }
    taken
}

/// What routes and inhibitions match: the alert's labels plus
/// `severity`, `rule` and `subject`.
pub fn routing_labels(alert: &Alert) -> BTreeMap<String, String> {
    labels_with(
        &alert.labels,
        alert.severity,
        &alert.rule_id,
        &alert.subject,
    )
}

/// `labels` plus `severity`, `rule` and `subject`.
pub fn labels_with(
    labels: &BTreeMap<String, String>,
    severity: Severity,
    rule_id: &str,
    subject: &str,
) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    let severity = match severity {
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    };
    labels.insert("severity".to_owned(), severity.to_owned());
    labels.insert("rule".to_owned(), rule_id.to_owned());
    labels.insert("subject".to_owned(), subject.to_owned());
    labels
}

pub fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// At most [`MAX_ROUTE_LABELS`] label names in `field` (`group_by`,
/// `equal`), each a label name.
pub fn check_label_names(violations: &mut Violations, labels: &[String], field: &str) {
    violations.check(
        labels.len() <= MAX_ROUTE_LABELS,
        field,
        format!("at most {MAX_ROUTE_LABELS}"),
    );
    for (index, label) in labels.iter().enumerate() {
        violations.check(
            is_label_name(label),
            format!("{field}[{index}]"),
            "a label name: letters, digits and `_`, at most 64",
        );
    }
}

/// Checks a new route: label names, values, regular expressions that
/// compile, and timers Alertmanager would accept.
pub fn validate_route(route: &Route) -> Result<(), Vec<FieldViolation>> {
    let mut violations = Violations::new();
    violations.check(
        route.matchers.len() <= MAX_ROUTE_LABELS,
        "route.matchers",
        format!("at most {MAX_ROUTE_LABELS}"),
    );
    for (index, matcher) in route.matchers.iter().enumerate() {
        violations.check(
            is_label_name(&matcher.label),
            format!("route.matchers[{index}].label"),
            "a label name: letters, digits and `_`, at most 64",
        );
        if matcher.value.len() > MAX_MATCHER_VALUE {
            violations.add(
                format!("route.matchers[{index}].value"),
                format!("at most {MAX_MATCHER_VALUE} bytes"),
            );
        } else if let Err(err) = matcher.compile() {
            violations.add(format!("route.matchers[{index}].value"), err);
        }
    }
    check_label_names(&mut violations, &route.group_by, "route.group_by");
    let timing = &route.timing;
    violations.check(
        !timing.interval.is_zero(),
        "route.group_interval",
        "more than 0 s",
    );
    violations.check(
        !timing.repeat.is_zero(),
        "route.repeat_interval",
        "more than 0 s",
    );
    violations.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn matcher(label: &str, operator: MatchOperator, value: &str) -> RouteMatcher {
        RouteMatcher {
            label: label.to_owned(),
            operator,
            value: value.to_owned(),
        }
    }

    fn route(
        id: &str,
        position: i32,
        matchers: Vec<RouteMatcher>,
        continue_matching: bool,
    ) -> CompiledRoute {
        Route {
            id: id.to_owned(),
            position,
            matchers,
            receiver: "desk".to_owned(),
            group_by: vec!["region".to_owned()],
            timing: GroupTiming::default(),
            continue_matching,
            created_by: String::new(),
        }
        .compile()
        .expect("valid")
    }

    #[test]
    fn each_operator_compares_the_whole_value_and_a_missing_label_is_empty() {
        let alert = labels(&[("region", "220100"), ("severity", "critical")]);
        let cases = [
            (matcher("region", MatchOperator::Equal, "220100"), true),
            (matcher("region", MatchOperator::Equal, "2201"), false),
            (matcher("region", MatchOperator::NotEqual, "220200"), true),
            (matcher("region", MatchOperator::Regex, "2201.*"), true),
            (matcher("region", MatchOperator::Regex, "2201"), false),
            (matcher("region", MatchOperator::NotRegex, "2202.*"), true),
            (
                matcher("severity", MatchOperator::Regex, "warning|critical"),
                true,
            ),
            (matcher("agency", MatchOperator::Equal, ""), true),
            (matcher("agency", MatchOperator::NotEqual, "x"), true),
            (matcher("agency", MatchOperator::Regex, ".+"), false),
        ];
        for (matcher, expected) in cases {
            let compiled = matcher.compile().expect("compiles");
            assert_eq!(compiled.matches(&alert), expected, "{matcher:?}");
        }
    }

    #[test]
    fn a_regular_expression_that_would_compile_huge_is_refused() {
        let huge = matcher("region", MatchOperator::Regex, "(a{1000}){1000}");
        let err = huge.check().expect_err("refused");
        assert!(err.contains("size limit"), "{err}");
    }

    #[test]
    fn the_first_match_wins_unless_it_continues() {
        let critical = matcher("severity", MatchOperator::Equal, "critical");
        let mut routes = vec![
            route("c_last", 3, vec![], false),
            route("a_critical", 1, vec![critical.clone()], true),
            route(
                "b_region",
                2,
                vec![matcher("region", MatchOperator::Equal, "220100")],
                false,
            ),
        ];
        sort_routes(&mut routes);
        let ids = |labels: &BTreeMap<String, String>| -> Vec<String> {
            matching_routes(&routes, labels)
                .iter()
                .map(|route| route.route.id.clone())
                .collect()
        };
        assert_eq!(
            ids(&labels(&[("severity", "critical"), ("region", "220100")])),
            ["a_critical", "b_region"]
        );
        assert_eq!(
            ids(&labels(&[("severity", "critical")])),
            ["a_critical", "c_last"]
        );
        assert_eq!(ids(&labels(&[("severity", "warning")])), ["c_last"]);
    }

    #[test]
    fn groups_are_keyed_by_route_and_group_by_values() {
        let route = route("desk", 1, vec![], false);
        let (key, group) = route.group_of(&labels(&[("region", "220100"), ("project", "p1")]));
        assert_eq!(key, "desk|region=220100");
        assert_eq!(group, labels(&[("region", "220100")]));
        let (other, _) = route.group_of(&labels(&[("project", "p2")]));
        assert_eq!(other, "desk|region=");
    }

    #[test]
    fn bad_routes_name_every_bad_field() {
        let bad = Route {
            id: "r".to_owned(),
            position: 0,
            matchers: vec![
                matcher("", MatchOperator::Equal, "x"),
                matcher("region", MatchOperator::Regex, "(unclosed"),
                matcher(
                    "region",
                    MatchOperator::Regex,
                    &"a".repeat(MAX_MATCHER_VALUE + 1),
                ),
            ],
            receiver: "desk".to_owned(),
            group_by: vec!["not a label".to_owned()],
            timing: GroupTiming {
                wait: Duration::ZERO,
                interval: Duration::ZERO,
                repeat: Duration::from_secs(1),
            },
            continue_matching: false,
            created_by: String::new(),
        };
        let fields: Vec<String> = validate_route(&bad)
            .expect_err("refused")
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "route.matchers[0].label",
                "route.matchers[1].value",
                "route.matchers[2].value",
                "route.group_by[0]",
                "route.group_interval",
            ]
        );
    }
}
