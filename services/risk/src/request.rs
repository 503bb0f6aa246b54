//! Parsing each risk request into what its use case takes. Every part is
//! checked on its own and every bad field is reported at once
//! ([`AllValid`]); nothing stands in for a bad field.

use std::collections::BTreeMap;

use jilin_domain::{AllValid, Checked, FieldViolation, invalid, violation_on};
use jilin_proto::from_timestamp;
use jilin_proto::risk::v1 as pb;
use jilin_runtime::{MaskField, MaskRules, optional, required, resolve_mask, resource_id};
use time::OffsetDateTime;

use crate::convert;
use crate::domain::filter::AlertFilter;
use crate::domain::rules::{Band, RuleField, RuleKind, RuleSettings};
use crate::domain::silence::Silence;
use crate::service::{NewRule, RuleUpdate};

const MAX_COMMENT: usize = 1000;

impl MaskField for RuleField {
    const ALL: &'static [Self] = &RuleField::ALL;

    fn path(self) -> &'static str {
        self.name()
    }
}

/// `{collection}/{id}` → id, or a violation on `field`.
pub fn id_in(collection: &str, name: &str, field: &str) -> Checked<String> {
    resource_id(name, collection, field, |id| {
        !id.is_empty() && !id.contains('/')
    })
}

/// Lower case letters, digits and `_`, 3..63 characters, starting with a letter.
fn rule_id(id: &str) -> Checked<String> {
    if jilin_domain::is_snake_case_id(id) {
        Ok(id.to_owned())
    } else {
        invalid(
            "rule_id",
            "3 to 63 lower case letters, digits or `_`, starting with a letter",
        )
    }
}

fn count(value: i32, field: &str) -> Checked<u32> {
    u32::try_from(value).map_err(|_| vec![FieldViolation::new(field, "must not be negative")])
}

fn filter(text: &str) -> Checked<AlertFilter> {
    AlertFilter::parse(text).map_err(violation_on("filter"))
}

/// The bands, periods, labels and summary of a rule message.
fn rule_settings(rule: &pb::Rule) -> Checked<RuleSettings> {
    let mut bands = Vec::new();
    let mut violations = Vec::new();
    for (index, band) in rule.bands.iter().enumerate() {
        let severity = convert::severity_from_proto(band.severity).map_or_else(
            || {
                invalid(
                    format!("rule.bands[{index}].severity"),
                    "WARNING or CRITICAL",
                )
            },
            Ok,
        );
        let comparison = convert::comparison_from_proto(band.comparison).map_or_else(
            || {
                invalid(
                    format!("rule.bands[{index}].comparison"),
                    "AT_LEAST, ABOVE, AT_MOST or BELOW",
                )
            },
            Ok,
        );
        match (severity, comparison).all_valid() {
            Ok((severity, comparison)) => bands.push(Band {
                severity,
                comparison,
                threshold: band.threshold,
            }),
            Err(more) => violations.extend(more),
        }
    }
    let bands = if violations.is_empty() {
        Ok(bands)
    } else {
        Err(violations)
    };
    let (bands, for_periods, keep_firing_for_periods) = (
        bands,
        count(rule.for_periods, "rule.for_periods"),
        count(rule.keep_firing_for_periods, "rule.keep_firing_for_periods"),
    )
        .all_valid()?;
    Ok(RuleSettings {
        bands,
        for_periods,
        keep_firing_for_periods,
        labels: rule.labels.clone().into_iter().collect::<BTreeMap<_, _>>(),
        summary: rule.summary.clone(),
    })
}

/// The kind of a rule a client creates: only INDICATOR rules.
fn indicator_kind(rule: &pb::Rule) -> Checked<RuleKind> {
    let kind = if rule.kind == pb::rule::Kind::Indicator as i32 {
        Ok(())
    } else {
        invalid(
            "rule.kind",
            "only INDICATOR rules can be created; project rules are built in",
        )
    };
    let measure = required(rule.indicator.as_ref(), "rule.indicator").and_then(|measure| {
        let watched = convert::measure_from_proto(measure.measure).map_or_else(
            || {
                invalid(
                    "rule.indicator.measure",
                    "VALUE, ABOVE_TARGET or BELOW_TARGET",
                )
            },
            Ok,
        );
        let indicator = id_in("indicators", &measure.indicator, "rule.indicator.indicator");
        let (indicator, watched) = (indicator, watched).all_valid()?;
        Ok(RuleKind::Indicator {
            indicator,
            group: measure.group.clone(),
            measure: watched,
        })
    });
    let ((), kind) = (kind, measure).all_valid()?;
    Ok(kind)
}

pub fn create_rule(request: &pb::CreateRuleRequest) -> Checked<NewRule> {
    let parts = required(request.rule.as_ref(), "rule")
        .and_then(|rule| (indicator_kind(rule), rule_settings(rule)).all_valid());
    let (id, (kind, settings)) = (rule_id(&request.rule_id), parts).all_valid()?;
    Ok(NewRule { id, kind, settings })
}

pub fn update_rule(request: &pb::UpdateRuleRequest) -> Checked<RuleUpdate> {
    let rule = required(request.rule.as_ref(), "rule")?;
    let rules = MaskRules {
        resource: "rule",
        output_only: &[],
        when_empty: None,
    };
    let (id, fields, settings) = (
        id_in("rules", &rule.name, "rule.name"),
        resolve_mask(request.update_mask.as_ref(), rules),
        rule_settings(rule),
    )
        .all_valid()?;
    Ok(RuleUpdate {
        id,
        settings,
        fields,
        etag: optional(&rule.etag),
    })
}

/// Characters of a ListAlerts page token, at most: tokens are alert
/// fingerprints, far shorter.
const MAX_PAGE_TOKEN: usize = 1024;

/// The filter and page size of a ListAlerts request.
pub fn list_alerts(request: &pb::ListAlertsRequest) -> Checked<(AlertFilter, usize)> {
    let token = if request.page_token.len() <= MAX_PAGE_TOKEN {
        Ok(())
    } else {
        invalid("page_token", "not a page token returned by this service")
    };
    let (filter, size, ()) = (
        filter(&request.filter),
        count(request.page_size, "page_size"),
        token,
    )
        .all_valid()?;
    Ok((filter, size as usize))
}

/// The alert's fingerprint and the comment; the caller acknowledges it.
pub fn acknowledge(request: &pb::AcknowledgeAlertRequest) -> Checked<(String, String)> {
    let comment = if request.comment.chars().count() <= MAX_COMMENT {
        Ok(request.comment.clone())
    } else {
        invalid("comment", format!("at most {MAX_COMMENT} characters"))
    };
    (id_in("alerts", &request.name, "name"), comment).all_valid()
}

fn time_field(timestamp: Option<&prost_types::Timestamp>, field: &str) -> Checked<OffsetDateTime> {
    timestamp
        .and_then(from_timestamp)
        .map_or_else(|| invalid(field, "required: a valid timestamp"), Ok)
}

/// A new silence, with its new id, created by `caller`.
pub fn create_silence(request: &pb::CreateSilenceRequest, caller: String) -> Checked<Silence> {
    let message = required(request.silence.as_ref(), "silence")?;
    let (starts_at, ends_at) = (
        time_field(message.start_time.as_ref(), "silence.start_time"),
        time_field(message.end_time.as_ref(), "silence.end_time"),
    )
        .all_valid()?;
    Ok(Silence {
        id: uuid::Uuid::now_v7().to_string(),
        matchers: message
            .matchers
            .iter()
            .map(convert::matcher_from_proto)
            .collect(),
        starts_at,
        ends_at,
        created_by: caller,
        comment: message.comment.clone(),
    })
}

/// The filter of a WatchAlerts request and the change it resumes after
/// (`None`: from now on, unless `from_start`).
pub fn watch_alerts(request: &pb::WatchAlertsRequest) -> Checked<(AlertFilter, u64)> {
    let after = u64::try_from(request.after_sequence).map_err(|_| {
        vec![FieldViolation::new(
            "after_sequence",
            "must not be negative",
        )]
    });
    (filter(&request.filter), after).all_valid()
}
