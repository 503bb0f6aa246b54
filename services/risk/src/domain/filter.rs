//! ListAlerts / WatchAlerts filters: `field = value` terms joined by `AND`,
//! e.g. `state = FIRING AND severity = CRITICAL AND region = "220100"`.
//! Fields: state, severity, rule, subject, and the labels region, sector,
//! group, agency, project, indicator.

use jilin_domain::quoted;

use super::alert::{Alert, State};
use super::rules::Severity;

/// Characters of a filter, at most.
pub const MAX_FILTER_LENGTH: usize = 2048;

const LABELS: [&str; 6] = [
    "region",
    "sector",
    "group",
    "agency",
    "project",
    "indicator",
];

/// One accepted term.
#[derive(Clone, Debug, PartialEq)]
enum Term {
    State(State),
    Severity(Severity),
    Rule(String),
    Subject(String),
    Label(String, String),
}

/// A parsed filter; the empty filter matches every alert.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertFilter {
    terms: Vec<Term>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

impl AlertFilter {
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let mut terms = Vec::new();
        let length = text.chars().count();
        if length > MAX_FILTER_LENGTH {
            return Err(FilterError(format!(
                "{length} characters long; at most {MAX_FILTER_LENGTH} are accepted"
            )));
        }
        if text.trim().is_empty() {
            return Ok(Self { terms });
        }
        for (index, term) in split_and(text).into_iter().enumerate() {
            let Some((field, value)) = term.split_once('=') else {
                return Err(FilterError(format!(
                    "term {} `{}` is not `field = value`",
                    index + 1,
                    quoted(term.trim())
                )));
            };
            terms.push(parse_term(field.trim(), unquote(value.trim()))?);
        }
        Ok(Self { terms })
    }

    pub fn matches(&self, alert: &Alert) -> bool {
        self.terms.iter().all(|term| match term {
            Term::State(state) => alert.state == *state,
            Term::Severity(severity) => alert.severity == *severity,
            Term::Rule(rule) => alert.rule_id == *rule,
            Term::Subject(subject) => alert.subject == *subject,
            Term::Label(name, value) => alert.labels.get(name) == Some(value),
        })
    }
}

/// Splits on the keyword `AND` (any case) outside quotes.
fn split_and(text: &str) -> Vec<String> {
    let mut terms = vec![String::new()];
    let mut quoted = false;
    let words = text.split_inclusive(char::is_whitespace);
    for word in words {
        quoted ^= word.matches('"').count() % 2 == 1;
        if !quoted && word.trim().eq_ignore_ascii_case("and") {
            terms.push(String::new());
        } else {
            match terms.last_mut() {
                Some(term) => term.push_str(word),
                None => terms.push(word.to_owned()),
            }
        }
    }
    terms
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

fn parse_term(field: &str, value: &str) -> Result<Term, FilterError> {
    let bad = |expected: &str| {
        FilterError(format!(
            "`{field} = {}`: {field} must be one of {expected}",
            quoted(value)
        ))
    };
    if value.is_empty() {
        return Err(FilterError(format!("`{}` has no value", quoted(field))));
    }
    Ok(match field {
        "state" => Term::State(match value {
            "PENDING" => State::Pending,
            "FIRING" => State::Firing,
            "RESOLVED" => State::Resolved,
            _ => return Err(bad("PENDING, FIRING, RESOLVED")),
        }),
        "severity" => Term::Severity(match value {
            "WARNING" => Severity::Warning,
            "CRITICAL" => Severity::Critical,
            _ => return Err(bad("WARNING, CRITICAL")),
        }),
        "rule" => Term::Rule(value.strip_prefix("rules/").unwrap_or(value).to_owned()),
        "subject" => Term::Subject(value.to_owned()),
        label if LABELS.contains(&label) => Term::Label(label.to_owned(), value.to_owned()),
        _ => {
            return Err(FilterError(format!(
                "unknown field `{}`: use state, severity, rule, subject, {}",
                quoted(field),
                LABELS.join(", ")
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use time::OffsetDateTime;

    #[test]
    fn long_filters_are_refused_and_errors_quote_little() {
        let long = format!("rule = {}", "x".repeat(MAX_FILTER_LENGTH));
        let err = AlertFilter::parse(&long).unwrap_err();
        assert!(err.0.contains("at most 2048"), "{err}");
        let term = format!("severity = {}", "Y".repeat(MAX_FILTER_LENGTH - 20));
        let err = AlertFilter::parse(&term).unwrap_err();
        assert!(err.0.len() < 400, "{} bytes", err.0.len());
        let deep = format!("{}x", "(".repeat(MAX_FILTER_LENGTH - 1));
        assert!(AlertFilter::parse(&deep).is_err());
    }

    fn alert() -> Alert {
        Alert {
            rule_id: "schedule_lag".into(),
            subject: "projects/p1".into(),
            state: State::Firing,
            severity: Severity::Critical,
            episode: 1,
            breaching: 1,
            clear: 0,
            value: Some(31.0),
            threshold: Some(30.0),
            rule_revision: 1,
            acknowledged_by: None,
            start: OffsetDateTime::UNIX_EPOCH,
            end: None,
            period: None,
            labels: BTreeMap::from([("region".to_owned(), "220100".to_owned())]),
            summary: String::new(),
            history: Vec::new(),
        }
    }

    #[test]
    fn terms_joined_by_and_all_apply() {
        let filter =
            AlertFilter::parse(r#"state = FIRING AND severity = CRITICAL and region = "220100""#)
                .unwrap();
        assert!(filter.matches(&alert()));
        let other = AlertFilter::parse("region=220200").unwrap();
        assert!(!other.matches(&alert()));
        assert!(
            AlertFilter::parse("rule = rules/schedule_lag AND subject = projects/p1")
                .unwrap()
                .matches(&alert())
        );
        assert!(AlertFilter::parse("  ").unwrap().matches(&alert()));
        let quoted_and = AlertFilter::parse(r#"agency = "a and b""#).unwrap();
        assert!(!quoted_and.matches(&alert()));
    }

    #[test]
    fn bad_filters_say_what_is_wrong() {
        let message = |text| AlertFilter::parse(text).unwrap_err().0;
        assert!(message("state = BURNING").contains("PENDING, FIRING, RESOLVED"));
        assert!(message("colour = red").contains("unknown field `colour`"));
        assert!(message("state FIRING").contains("is not `field = value`"));
        assert!(message("region = ").contains("has no value"));
    }
}
