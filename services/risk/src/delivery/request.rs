//! Parsing the receiver, route and delivery requests into what their use
//! cases take. Every bad field is reported at once; domain checks (URLs,
//! regular expressions, timers) follow in [`crate::domain::routing`].

use std::time::Duration;

use jilin_domain::{AllValid, Checked, FieldViolation, invalid};
use jilin_proto::risk::v1 as pb;
use jilin_runtime::required;

use super::admin::DeliveryFilter;
use crate::convert;
use crate::domain::inhibition::Inhibition;
use crate::domain::receiver::{DEFAULT_DEADLINE, DEFAULT_WEBHOOK_TIMEOUT, Receiver, ReceiverKind};
use crate::domain::routing::{GroupTiming, Route, RouteMatcher};
use crate::request::id_in;

/// Characters of a webhook secret, at most.
const MAX_SECRET: usize = 256;
/// Characters of a ListDeliveries page token, at most (ids are UUIDs).
const MAX_PAGE_TOKEN: usize = 64;

/// Lower case letters, digits and `_`, 3..63 characters.
fn new_id(id: &str, field: &str) -> Checked<String> {
    if jilin_domain::is_snake_case_id(id) {
        Ok(id.to_owned())
    } else {
        invalid(
            field,
            "3 to 63 lower case letters, digits or `_`, starting with a letter",
        )
    }
}

/// A duration field: `default` when unset; never negative.
fn duration(
    value: Option<&prost_types::Duration>,
    field: &str,
    default: Duration,
) -> Checked<Duration> {
    let Some(value) = value else {
        return Ok(default);
    };
    match (u64::try_from(value.seconds), u32::try_from(value.nanos)) {
        (Ok(seconds), Ok(nanos)) if nanos < 1_000_000_000 => Ok(Duration::new(seconds, nanos)),
        _ => invalid(field, "a duration of 0 or more"),
    }
}

fn receiver_kind(message: &pb::Receiver) -> Checked<ReceiverKind> {
    match &message.kind {
        Some(pb::receiver::Kind::Webhook(webhook)) => {
            let secret = if webhook.secret.chars().count() <= MAX_SECRET {
                Ok((!webhook.secret.is_empty()).then(|| webhook.secret.clone()))
            } else {
                invalid(
                    "receiver.webhook.secret",
                    format!("at most {MAX_SECRET} characters"),
                )
            };
            let timeout = duration(
                webhook.timeout.as_ref(),
                "receiver.webhook.timeout",
                DEFAULT_WEBHOOK_TIMEOUT,
            );
            let (secret, timeout) = (secret, timeout).all_valid()?;
            Ok(ReceiverKind::Webhook {
                url: webhook.url.clone(),
                secret,
                timeout,
            })
        }
        Some(pb::receiver::Kind::Alertmanager(alertmanager)) => Ok(ReceiverKind::Alertmanager {
            url: alertmanager.url.clone(),
        }),
        None => invalid("receiver.kind", "a webhook or an alertmanager"),
    }
}

/// A new receiver, created by `caller`.
pub fn create_receiver(request: &pb::CreateReceiverRequest, caller: &str) -> Checked<Receiver> {
    let id = new_id(&request.receiver_id, "receiver_id");
    let parts = required(request.receiver.as_ref(), "receiver").and_then(|message| {
        (
            receiver_kind(message),
            duration(
                message.delivery_deadline.as_ref(),
                "receiver.delivery_deadline",
                DEFAULT_DEADLINE,
            ),
        )
            .all_valid()
    });
    let (id, (kind, deadline)) = (id, parts).all_valid()?;
    Ok(Receiver {
        id,
        kind,
        deadline,
        created_by: caller.to_owned(),
    })
}

/// Matchers with known operators; `field` names the list.
fn matchers(given: &[pb::RouteMatcher], field: &str) -> Checked<Vec<RouteMatcher>> {
    let mut matchers = Vec::new();
    let mut violations: Vec<FieldViolation> = Vec::new();
    for (index, matcher) in given.iter().enumerate() {
        match convert::operator_from_proto(matcher.operator) {
            Some(operator) => matchers.push(RouteMatcher {
                label: matcher.label.clone(),
                operator,
                value: matcher.value.clone(),
            }),
            None => violations.push(FieldViolation::new(
                format!("{field}[{index}].operator"),
                "EQUAL, NOT_EQUAL, REGEX or NOT_REGEX",
            )),
        }
    }
    if violations.is_empty() {
        Ok(matchers)
    } else {
        Err(violations)
    }
}

fn timing(message: &pb::Route) -> Checked<GroupTiming> {
    let defaults = GroupTiming::default();
    let (wait, interval, repeat) = (
        duration(
            message.group_wait.as_ref(),
            "route.group_wait",
            defaults.wait,
        ),
        duration(
            message.group_interval.as_ref(),
            "route.group_interval",
            defaults.interval,
        ),
        duration(
            message.repeat_interval.as_ref(),
            "route.repeat_interval",
            defaults.repeat,
        ),
    )
        .all_valid()?;
    Ok(GroupTiming {
        wait,
        interval,
        repeat,
    })
}

/// A new route, created by `caller`.
pub fn create_route(request: &pb::CreateRouteRequest, caller: &str) -> Checked<Route> {
    let id = new_id(&request.route_id, "route_id");
    let parts = required(request.route.as_ref(), "route").and_then(|message| {
        (
            matchers(&message.matchers, "route.matchers"),
            id_in("receivers", &message.receiver, "route.receiver"),
            timing(message),
        )
            .all_valid()
            .map(|parts| (message, parts))
    });
    let (id, (message, (matchers, receiver, timing))) = (id, parts).all_valid()?;
    Ok(Route {
        id,
        position: message.position,
        matchers,
        receiver,
        group_by: message.group_by.clone(),
        timing,
        continue_matching: message.r#continue,
        created_by: caller.to_owned(),
    })
}

/// A new inhibition, created by `caller`.
pub fn create_inhibition(
    request: &pb::CreateInhibitionRequest,
    caller: &str,
) -> Checked<Inhibition> {
    let id = new_id(&request.inhibition_id, "inhibition_id");
    let parts = required(request.inhibition.as_ref(), "inhibition").and_then(|message| {
        (
            matchers(&message.source_matchers, "inhibition.source_matchers"),
            matchers(&message.target_matchers, "inhibition.target_matchers"),
        )
            .all_valid()
            .map(|parts| (message, parts))
    });
    let (id, (message, (source, target))) = (id, parts).all_valid()?;
    Ok(Inhibition {
        id,
        source,
        target,
        equal: message.equal.clone(),
        built_in: false,
        created_by: caller.to_owned(),
    })
}

/// The filter, page size and token of a ListDeliveries request.
pub fn list_deliveries(
    request: &pb::ListDeliveriesRequest,
) -> Checked<(DeliveryFilter, usize, String)> {
    let named = |name: &str, collection: &str, field: &str| -> Checked<Option<String>> {
        if name.is_empty() {
            Ok(None)
        } else {
            id_in(collection, name, field).map(Some)
        }
    };
    let state = convert::delivery_state_from_proto(request.state)
        .map_or_else(|| invalid("state", "PENDING, DELIVERED or FAILED"), Ok);
    let size = usize::try_from(request.page_size)
        .map_err(|_| vec![FieldViolation::new("page_size", "must not be negative")]);
    let token = if request.page_token.len() <= MAX_PAGE_TOKEN {
        Ok(request.page_token.clone())
    } else {
        invalid("page_token", "not a page token returned by this service")
    };
    let (receiver, alert, state, size, token) = (
        named(&request.receiver, "receivers", "receiver"),
        named(&request.alert, "alerts", "alert"),
        state,
        size,
        token,
    )
        .all_valid()?;
    Ok((
        DeliveryFilter {
            receiver,
            alert,
            state,
        },
        size,
        token,
    ))
}
