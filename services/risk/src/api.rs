//! The gRPC edge: decodes and checks requests, calls the use cases in
//! [`crate::service`], and encodes responses. No business rule lives here.

use std::collections::BTreeMap;

use jilin_domain::Violations;
use jilin_proto::from_timestamp;
use jilin_proto::risk::v1 as pb;
use jilin_runtime::{CancellationToken, ResponseStream, channel_stream, resolve_mask};
use pb::risk_service_server::RiskService;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::convert;
use crate::domain::filter::AlertFilter;
use crate::domain::rules::{Band, Rule, RuleKind};
use crate::domain::silence::Silence;
use crate::error::RiskError;
use crate::service::{MUTABLE_FIELDS, Risk};

/// Request header naming the person or system making a change.
pub const ACTOR_HEADER: &str = "x-jilin-actor";
/// Changes read per store scan while a watcher catches up.
const WATCH_CHUNK: usize = 256;

pub struct RiskApi {
    risk: Risk,
    /// Ends open watch streams at shutdown.
    shutdown: CancellationToken,
}

impl RiskApi {
    pub fn new(risk: Risk, shutdown: CancellationToken) -> Self {
        Self { risk, shutdown }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn fail(violations: Violations) -> Result<(), RiskError> {
    violations
        .into_result(())
        .map_err(RiskError::InvalidArgument)
}

/// `{collection}/{id}` -> id, or a field violation on `field`.
fn resource_id<'a>(
    name: &'a str,
    collection: &str,
    field: &str,
    violations: &mut Violations,
) -> &'a str {
    match name
        .strip_prefix(collection)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(id) if !id.is_empty() && !id.contains('/') => id,
        _ => {
            violations.add(
                field,
                format!("`{name}` is not a name `{collection}/{{id}}`"),
            );
            ""
        }
    }
}

/// Lower case letters, digits and `_`, 3..63 characters, starting with a letter.
fn is_valid_id(id: &str) -> bool {
    (3..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn filter(text: &str, field: &str, violations: &mut Violations) -> AlertFilter {
    AlertFilter::parse(text).unwrap_or_else(|err| {
        violations.add(field, err.to_string());
        AlertFilter::default()
    })
}

fn count(value: i32, field: &str, violations: &mut Violations) -> u32 {
    u32::try_from(value).unwrap_or_else(|_| {
        violations.add(field, "must not be negative");
        0
    })
}

/// The bands, periods, labels and summary of a rule message.
fn rule_parts(id: &str, rule: &pb::Rule, kind: RuleKind, violations: &mut Violations) -> Rule {
    let mut bands = Vec::new();
    for (index, band) in rule.bands.iter().enumerate() {
        let severity = convert::severity_from_proto(band.severity);
        let comparison = convert::comparison_from_proto(band.comparison);
        violations.check(
            severity.is_some(),
            format!("rule.bands[{index}].severity"),
            "WARNING or CRITICAL",
        );
        violations.check(
            comparison.is_some(),
            format!("rule.bands[{index}].comparison"),
            "AT_LEAST, ABOVE, AT_MOST or BELOW",
        );
        if let (Some(severity), Some(comparison)) = (severity, comparison) {
            bands.push(Band {
                severity,
                comparison,
                threshold: band.threshold,
            });
        }
    }
    Rule {
        id: id.to_owned(),
        kind,
        bands,
        for_periods: count(rule.for_periods, "rule.for_periods", violations),
        keep_firing_for_periods: count(
            rule.keep_firing_for_periods,
            "rule.keep_firing_for_periods",
            violations,
        ),
        labels: rule.labels.clone().into_iter().collect::<BTreeMap<_, _>>(),
        summary: rule.summary.clone(),
        revision: 0,
        built_in: false,
        update_time: OffsetDateTime::UNIX_EPOCH,
    }
}

/// An INDICATOR rule's kind.
fn indicator_kind(rule: &pb::Rule, violations: &mut Violations) -> RuleKind {
    if rule.kind != pb::rule::Kind::Indicator as i32 {
        violations.add(
            "rule.kind",
            "only INDICATOR rules can be created; project rules are built in",
        );
    }
    let Some(measure) = &rule.indicator else {
        violations.add("rule.indicator", "required for INDICATOR rules");
        // Any kind: the violation fails the request before it is used.
        return RuleKind::Suspended;
    };
    let indicator = resource_id(
        &measure.indicator,
        "indicators",
        "rule.indicator.indicator",
        violations,
    );
    let kind = convert::measure_from_proto(measure.measure);
    violations.check(
        kind.is_some(),
        "rule.indicator.measure",
        "VALUE, ABOVE_TARGET or BELOW_TARGET",
    );
    RuleKind::Indicator {
        indicator: indicator.to_owned(),
        group: measure.group.clone(),
        measure: kind.unwrap_or(crate::domain::rules::IndicatorMeasure::Value),
    }
}

fn actor<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(ACTOR_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|actor| !actor.is_empty())
        .unwrap_or("anonymous")
        .to_owned()
}

fn time_field(
    timestamp: Option<&prost_types::Timestamp>,
    field: &str,
    violations: &mut Violations,
) -> Option<OffsetDateTime> {
    let time = timestamp.and_then(from_timestamp);
    if time.is_none() {
        violations.add(field, "required: a valid timestamp");
    }
    time
}

#[tonic::async_trait]
impl RiskService for RiskApi {
    async fn list_rules(&self, _: Request<pb::ListRulesRequest>) -> Reply<pb::ListRulesResponse> {
        let rules = self.risk.list_rules()?;
        Ok(Response::new(pb::ListRulesResponse {
            rules: rules.iter().map(convert::rule_to_proto).collect(),
        }))
    }

    async fn get_rule(&self, request: Request<pb::GetRuleRequest>) -> Reply<pb::Rule> {
        let mut violations = Violations::new();
        let id = resource_id(&request.get_ref().name, "rules", "name", &mut violations);
        fail(violations)?;
        Ok(Response::new(convert::rule_to_proto(
            &self.risk.get_rule(id)?,
        )))
    }

    async fn create_rule(&self, request: Request<pb::CreateRuleRequest>) -> Reply<pb::Rule> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        violations.check(
            is_valid_id(&request.rule_id),
            "rule_id",
            "3 to 63 lower case letters, digits or `_`, starting with a letter",
        );
        let Some(message) = &request.rule else {
            return Err(RiskError::invalid("rule", "required").into());
        };
        let kind = indicator_kind(message, &mut violations);
        let rule = rule_parts(&request.rule_id, message, kind, &mut violations);
        fail(violations)?;
        let rule = self.risk.create_rule(rule).await?;
        Ok(Response::new(convert::rule_to_proto(&rule)))
    }

    async fn update_rule(&self, request: Request<pb::UpdateRuleRequest>) -> Reply<pb::Rule> {
        let request = request.into_inner();
        let Some(message) = &request.rule else {
            return Err(RiskError::invalid("rule", "required").into());
        };
        let mut violations = Violations::new();
        let id = resource_id(&message.name, "rules", "rule.name", &mut violations);
        let fields = resolve_mask(
            request.update_mask.as_ref(),
            "rule",
            &MUTABLE_FIELDS,
            &mut violations,
        );
        // The kind is never patched (only MUTABLE_FIELDS are): any will do.
        let patch = rule_parts(id, message, RuleKind::Suspended, &mut violations);
        fail(violations)?;
        let etag = Some(message.etag.as_str()).filter(|etag| !etag.is_empty());
        let rule = self.risk.update_rule(id, &patch, &fields, etag).await?;
        Ok(Response::new(convert::rule_to_proto(&rule)))
    }

    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Reply<pb::ListAlertsResponse> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let filter = filter(&request.filter, "filter", &mut violations);
        let page_size = count(request.page_size, "page_size", &mut violations);
        fail(violations)?;
        let page = self
            .risk
            .list_alerts(&filter, page_size as usize, &request.page_token)?;
        Ok(Response::new(pb::ListAlertsResponse {
            alerts: page
                .alerts
                .iter()
                .map(|(alert, silenced)| convert::alert_to_proto(alert, *silenced))
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_alert(&self, request: Request<pb::GetAlertRequest>) -> Reply<pb::Alert> {
        let mut violations = Violations::new();
        let fingerprint = resource_id(&request.get_ref().name, "alerts", "name", &mut violations);
        fail(violations)?;
        let (alert, silenced) = self.risk.get_alert(fingerprint)?;
        Ok(Response::new(convert::alert_to_proto(&alert, silenced)))
    }

    async fn acknowledge_alert(
        &self,
        request: Request<pb::AcknowledgeAlertRequest>,
    ) -> Reply<pb::Alert> {
        let who = actor(&request);
        let request = request.into_inner();
        let mut violations = Violations::new();
        let fingerprint = resource_id(&request.name, "alerts", "name", &mut violations);
        violations.check(
            request.comment.chars().count() <= 1000,
            "comment",
            "at most 1000 characters",
        );
        fail(violations)?;
        let who = Some(request.acknowledged_by)
            .filter(|by| !by.trim().is_empty())
            .unwrap_or(who);
        let (alert, silenced) = self
            .risk
            .acknowledge(fingerprint, &who, &request.comment)
            .await?;
        Ok(Response::new(convert::alert_to_proto(&alert, silenced)))
    }

    async fn create_silence(
        &self,
        request: Request<pb::CreateSilenceRequest>,
    ) -> Reply<pb::Silence> {
        let who = actor(&request);
        let Some(message) = request.into_inner().silence else {
            return Err(RiskError::invalid("silence", "required").into());
        };
        let mut violations = Violations::new();
        let starts_at = time_field(
            message.start_time.as_ref(),
            "silence.start_time",
            &mut violations,
        );
        let ends_at = time_field(
            message.end_time.as_ref(),
            "silence.end_time",
            &mut violations,
        );
        fail(violations)?;
        let (Some(starts_at), Some(ends_at)) = (starts_at, ends_at) else {
            unreachable!("checked above");
        };
        let silence = Silence {
            id: String::new(),
            matchers: message
                .matchers
                .iter()
                .map(convert::matcher_from_proto)
                .collect(),
            starts_at,
            ends_at,
            created_by: Some(message.created_by)
                .filter(|by| !by.trim().is_empty())
                .unwrap_or(who),
            comment: message.comment,
        };
        let silence = self.risk.create_silence(silence).await?;
        Ok(Response::new(convert::silence_to_proto(&silence)))
    }

    async fn list_silences(
        &self,
        request: Request<pb::ListSilencesRequest>,
    ) -> Reply<pb::ListSilencesResponse> {
        let silences = self.risk.list_silences(request.get_ref().include_expired)?;
        Ok(Response::new(pb::ListSilencesResponse {
            silences: silences.iter().map(convert::silence_to_proto).collect(),
        }))
    }

    async fn delete_silence(
        &self,
        request: Request<pb::DeleteSilenceRequest>,
    ) -> Reply<pb::DeleteSilenceResponse> {
        let mut violations = Violations::new();
        let id = resource_id(&request.get_ref().name, "silences", "name", &mut violations);
        fail(violations)?;
        self.risk.delete_silence(id).await?;
        Ok(Response::new(pb::DeleteSilenceResponse {}))
    }

    type WatchAlertsStream = ResponseStream<pb::AlertChange>;

    async fn watch_alerts(
        &self,
        request: Request<pb::WatchAlertsRequest>,
    ) -> Reply<Self::WatchAlertsStream> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        let filter = filter(&request.filter, "filter", &mut violations);
        violations.check(
            request.after_sequence >= 0,
            "after_sequence",
            "must not be negative",
        );
        fail(violations)?;
        let last = self.risk.last_sequence()?;
        let after = match (request.from_start, request.after_sequence as u64) {
            (true, _) => 0,
            (false, 0) => last,
            (false, after) if after > last => {
                return Err(RiskError::invalid(
                    "after_sequence",
                    format!("{after} is beyond the last change, {last}"),
                )
                .into());
            }
            (false, after) => after,
        };
        let risk = self.risk.clone();
        let mut committed = risk.monitor().subscribe();
        let shutdown = self.shutdown.clone();
        let stream = channel_stream(move |sender| async move {
            let mut cursor = after;
            loop {
                committed.borrow_and_update();
                let records = match risk.changes_after(cursor, WATCH_CHUNK) {
                    Ok(records) => records,
                    Err(err) => {
                        let _ = sender.send(Err(err.into())).await;
                        return;
                    }
                };
                if records.is_empty() {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = sender.closed() => return,
                        changed = committed.changed() => if changed.is_err() { return },
                    }
                    continue;
                }
                for record in records {
                    cursor = record.sequence;
                    if filter.matches(&record.alert) {
                        let change = convert::change_record_to_proto(&record);
                        if sender.send(Ok(change)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(stream))
    }
}
