//! Conversions between the contract's protobuf messages and the domain's
//! types. The only place that knows both.

use jilin_proto::risk::v1 as pb;
use jilin_proto::timestamp;

use crate::domain::alert::{Alert, Change, State, Transition};
use crate::domain::delivery::{Delivery, DeliveryState};
use crate::domain::inhibition::Inhibition;
use crate::domain::receiver::{Receiver, ReceiverKind};
use crate::domain::routing::{MatchOperator, Route, RouteMatcher};
use crate::domain::rules::{Band, Comparison, IndicatorMeasure, Rule, RuleKind, Severity};
use crate::domain::silence::{LabelMatcher, Silence};
use crate::store::ChangeRecord;

pub fn severity_to_proto(severity: Severity) -> pb::Severity {
    match severity {
        Severity::Warning => pb::Severity::Warning,
        Severity::Critical => pb::Severity::Critical,
    }
}

pub fn severity_from_proto(value: i32) -> Option<Severity> {
    match pb::Severity::try_from(value).ok()? {
        pb::Severity::Warning => Some(Severity::Warning),
        pb::Severity::Critical => Some(Severity::Critical),
        pb::Severity::Unspecified => None,
    }
}

fn comparison_to_proto(comparison: Comparison) -> pb::Comparison {
    match comparison {
        Comparison::AtLeast => pb::Comparison::AtLeast,
        Comparison::Above => pb::Comparison::Above,
        Comparison::AtMost => pb::Comparison::AtMost,
        Comparison::Below => pb::Comparison::Below,
    }
}

pub fn comparison_from_proto(value: i32) -> Option<Comparison> {
    match pb::Comparison::try_from(value).ok()? {
        pb::Comparison::AtLeast => Some(Comparison::AtLeast),
        pb::Comparison::Above => Some(Comparison::Above),
        pb::Comparison::AtMost => Some(Comparison::AtMost),
        pb::Comparison::Below => Some(Comparison::Below),
        pb::Comparison::Unspecified => None,
    }
}

pub fn measure_from_proto(value: i32) -> Option<IndicatorMeasure> {
    use pb::rule::indicator_measure::Measure;
    match Measure::try_from(value).ok()? {
        Measure::Value => Some(IndicatorMeasure::Value),
        Measure::AboveTarget => Some(IndicatorMeasure::AboveTarget),
        Measure::BelowTarget => Some(IndicatorMeasure::BelowTarget),
        Measure::Unspecified => None,
    }
}

fn measure_to_proto(measure: IndicatorMeasure) -> pb::rule::indicator_measure::Measure {
    use pb::rule::indicator_measure::Measure;
    match measure {
        IndicatorMeasure::Value => Measure::Value,
        IndicatorMeasure::AboveTarget => Measure::AboveTarget,
        IndicatorMeasure::BelowTarget => Measure::BelowTarget,
    }
}

fn kind_to_proto(kind: &RuleKind) -> pb::rule::Kind {
    use pb::rule::Kind;
    match kind {
        RuleKind::ScheduleLag => Kind::ScheduleLag,
        RuleKind::InvestmentLag => Kind::InvestmentLag,
        RuleKind::NotStarted => Kind::NotStarted,
        RuleKind::StalledReporting => Kind::StalledReporting,
        RuleKind::CostOverrun => Kind::CostOverrun,
        RuleKind::OverdueMilestone => Kind::OverdueMilestone,
        RuleKind::EnergyAboveBenchmark => Kind::EnergyAboveBenchmark,
        RuleKind::Suspended => Kind::Suspended,
        RuleKind::Indicator { .. } => Kind::Indicator,
    }
}

pub fn band_to_proto(band: &Band) -> pb::Band {
    pb::Band {
        severity: severity_to_proto(band.severity).into(),
        comparison: comparison_to_proto(band.comparison).into(),
        threshold: band.threshold,
    }
}

pub fn rule_to_proto(rule: &Rule) -> pb::Rule {
    let indicator = match &rule.kind {
        RuleKind::Indicator {
            indicator,
            group,
            measure,
        } => Some(pb::rule::IndicatorMeasure {
            indicator: format!("indicators/{indicator}"),
            group: group.clone(),
            measure: measure_to_proto(*measure).into(),
        }),
        _ => None,
    };
    pb::Rule {
        name: format!("rules/{}", rule.id),
        kind: kind_to_proto(&rule.kind).into(),
        indicator,
        bands: rule.bands.iter().map(band_to_proto).collect(),
        for_periods: rule.for_periods as i32,
        keep_firing_for_periods: rule.keep_firing_for_periods as i32,
        labels: rule.labels.clone().into_iter().collect(),
        summary: rule.summary.clone(),
        built_in: rule.built_in,
        etag: rule.etag(),
        revision: rule.revision,
        update_time: Some(timestamp(rule.update_time)),
        updated_by: rule.updated_by.clone(),
    }
}

fn state_to_proto(state: State) -> pb::alert::State {
    match state {
        State::Pending => pb::alert::State::Pending,
        State::Firing => pb::alert::State::Firing,
        State::Resolved => pb::alert::State::Resolved,
    }
}

pub fn change_to_proto(change: Change) -> pb::alert_transition::Change {
    use pb::alert_transition::Change as C;
    match change {
        Change::Pending => C::Pending,
        Change::Firing => C::Firing,
        Change::Escalated => C::Escalated,
        Change::DeEscalated => C::DeEscalated,
        Change::Resolved => C::Resolved,
        Change::Acknowledged => C::Acknowledged,
    }
}

fn transition_to_proto(transition: &Transition) -> pb::AlertTransition {
    pb::AlertTransition {
        change: change_to_proto(transition.change).into(),
        severity: severity_to_proto(transition.severity).into(),
        time: Some(timestamp(transition.at)),
        note: transition.note.clone(),
    }
}

/// `alerts/{fingerprint}`.
pub fn alert_name(alert: &Alert) -> String {
    format!(
        "alerts/{}",
        Alert::fingerprint(&alert.rule_id, &alert.subject)
    )
}

pub fn alert_to_proto(alert: &Alert, silenced: bool) -> pb::Alert {
    pb::Alert {
        name: alert_name(alert),
        rule: format!("rules/{}", alert.rule_id),
        subject: alert.subject.clone(),
        state: state_to_proto(alert.state).into(),
        severity: severity_to_proto(alert.severity).into(),
        episode: alert.episode as i32,
        value: alert.value,
        threshold: alert.threshold,
        rule_revision: alert.rule_revision,
        labels: alert.labels.clone().into_iter().collect(),
        summary: alert.summary.clone(),
        start_time: Some(timestamp(alert.start)),
        end_time: alert.end.map(timestamp),
        acknowledged_by: alert.acknowledged_by.clone().unwrap_or_default(),
        silenced,
        history: alert.history.iter().map(transition_to_proto).collect(),
    }
}

pub fn change_record_to_proto(record: &ChangeRecord) -> pb::AlertChange {
    pb::AlertChange {
        sequence: record.sequence as i64,
        change: change_to_proto(record.change).into(),
        alert: Some(alert_to_proto(&record.alert, record.silenced)),
    }
}

pub fn silence_to_proto(silence: &Silence) -> pb::Silence {
    pb::Silence {
        name: format!("silences/{}", silence.id),
        matchers: silence
            .matchers
            .iter()
            .map(|m| pb::silence::Matcher {
                name: m.name.clone(),
                value: m.value.clone(),
                negated: m.negated,
            })
            .collect(),
        start_time: Some(timestamp(silence.starts_at)),
        end_time: Some(timestamp(silence.ends_at)),
        created_by: silence.created_by.clone(),
        comment: silence.comment.clone(),
    }
}

pub fn matcher_from_proto(matcher: &pb::silence::Matcher) -> LabelMatcher {
    LabelMatcher {
        name: matcher.name.clone(),
        value: matcher.value.clone(),
        negated: matcher.negated,
    }
}

fn duration_to_proto(duration: std::time::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(duration.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(duration.subsec_nanos()).unwrap_or(0),
    }
}

/// The secret never leaves the service: only whether there is one.
pub fn receiver_to_proto(receiver: &Receiver) -> pb::Receiver {
    let kind = match &receiver.kind {
        ReceiverKind::Webhook {
            url,
            secret,
            timeout,
        } => pb::receiver::Kind::Webhook(pb::receiver::Webhook {
            url: url.clone(),
            secret: String::new(),
            signed: secret.is_some(),
            timeout: Some(duration_to_proto(*timeout)),
        }),
        ReceiverKind::Alertmanager { url } => {
            pb::receiver::Kind::Alertmanager(pb::receiver::Alertmanager { url: url.clone() })
        }
    };
    pb::Receiver {
        name: format!("receivers/{}", receiver.id),
        kind: Some(kind),
        delivery_deadline: Some(duration_to_proto(receiver.deadline)),
        created_by: receiver.created_by.clone(),
    }
}

fn operator_to_proto(operator: MatchOperator) -> pb::route_matcher::Operator {
    use pb::route_matcher::Operator;
    match operator {
        MatchOperator::Equal => Operator::Equal,
        MatchOperator::NotEqual => Operator::NotEqual,
        MatchOperator::Regex => Operator::Regex,
        MatchOperator::NotRegex => Operator::NotRegex,
    }
}

pub fn operator_from_proto(value: i32) -> Option<MatchOperator> {
    use pb::route_matcher::Operator;
    match Operator::try_from(value).ok()? {
        Operator::Equal => Some(MatchOperator::Equal),
        Operator::NotEqual => Some(MatchOperator::NotEqual),
        Operator::Regex => Some(MatchOperator::Regex),
        Operator::NotRegex => Some(MatchOperator::NotRegex),
        Operator::Unspecified => None,
    }
}

pub fn route_to_proto(route: &Route) -> pb::Route {
    pb::Route {
        name: format!("routes/{}", route.id),
        position: route.position,
        matchers: route.matchers.iter().map(matcher_to_proto).collect(),
        receiver: format!("receivers/{}", route.receiver),
        group_by: route.group_by.clone(),
        group_wait: Some(duration_to_proto(route.timing.wait)),
        group_interval: Some(duration_to_proto(route.timing.interval)),
        repeat_interval: Some(duration_to_proto(route.timing.repeat)),
        r#continue: route.continue_matching,
        created_by: route.created_by.clone(),
    }
}

fn matcher_to_proto(matcher: &RouteMatcher) -> pb::RouteMatcher {
    pb::RouteMatcher {
        label: matcher.label.clone(),
        operator: operator_to_proto(matcher.operator) as i32,
        value: matcher.value.clone(),
    }
}

pub fn inhibition_to_proto(inhibition: &Inhibition) -> pb::Inhibition {
    pb::Inhibition {
        name: format!("inhibitions/{}", inhibition.id),
        source_matchers: inhibition.source.iter().map(matcher_to_proto).collect(),
        target_matchers: inhibition.target.iter().map(matcher_to_proto).collect(),
        equal: inhibition.equal.clone(),
        built_in: inhibition.built_in,
        created_by: inhibition.created_by.clone(),
    }
}

pub fn delivery_state_to_proto(state: DeliveryState) -> pb::delivery::State {
    match state {
        DeliveryState::Pending => pb::delivery::State::Pending,
        DeliveryState::Delivered => pb::delivery::State::Delivered,
        DeliveryState::Failed => pb::delivery::State::Failed,
    }
}

pub fn delivery_state_from_proto(value: i32) -> Option<Option<DeliveryState>> {
    match pb::delivery::State::try_from(value).ok()? {
        pb::delivery::State::Unspecified => Some(None),
        pb::delivery::State::Pending => Some(Some(DeliveryState::Pending)),
        pb::delivery::State::Delivered => Some(Some(DeliveryState::Delivered)),
        pb::delivery::State::Failed => Some(Some(DeliveryState::Failed)),
    }
}

pub fn delivery_to_proto(delivery: &Delivery) -> pb::Delivery {
    let notification = &delivery.notification;
    pb::Delivery {
        name: format!("deliveries/{}", delivery.id),
        receiver: format!("receivers/{}", notification.receiver_id),
        route: format!("routes/{}", notification.route_id),
        group_labels: notification.group_labels.clone().into_iter().collect(),
        alerts: notification
            .alerts
            .iter()
            .map(|alert| pb::delivery::AlertEntry {
                alert: format!("alerts/{}", alert.fingerprint),
                state: state_to_proto(alert.state) as i32,
                severity: severity_to_proto(alert.severity) as i32,
            })
            .collect(),
        firing: i32::try_from(notification.firing()).unwrap_or(i32::MAX),
        resolved: i32::try_from(notification.resolved()).unwrap_or(i32::MAX),
        state: delivery_state_to_proto(delivery.state) as i32,
        attempts: delivery
            .attempts
            .iter()
            .map(|attempt| pb::delivery::Attempt {
                time: Some(timestamp(attempt.at)),
                http_status: i32::from(attempt.http_status),
                error: attempt.error.clone().unwrap_or_default(),
            })
            .collect(),
        create_time: Some(timestamp(delivery.created_at)),
        next_attempt_time: delivery
            .is_pending()
            .then(|| timestamp(delivery.next_attempt_at)),
    }
}
