//! Helpers for delivery tests: receivers, routes and deliveries over
//! gRPC, lagging projects as registry events, the risk clock moved by
//! hand with the dispatcher run at once.

use std::time::Duration;

use hmac::{Hmac, Mac};
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as pb;
use pb::delivery::State as DeliveryState;
use registry::project::Status;
use sha2::Sha256;

use super::{PATIENCE, TestRisk, project, report, report_event};

pub const SECRET: &str = "county-desk-secret";

pub fn lagging(id: &str, progress: i32, revision: i64) -> jilin_testkit::bus::TestEvent {
    let site = project(id, Status::UnderConstruction);
    let mut report = report("2026-06", 500_000, progress);
    report.revision = revision;
    report_event(&site, &report)
}

pub fn duration(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

pub async fn webhook(system: &mut TestRisk, id: &str, url: &str, deadline: i64) -> pb::Receiver {
    system
        .client
        .create_receiver(pb::CreateReceiverRequest {
            receiver_id: id.into(),
            receiver: Some(pb::Receiver {
                kind: Some(pb::receiver::Kind::Webhook(pb::receiver::Webhook {
                    url: url.into(),
                    secret: SECRET.into(),
                    timeout: duration(2),
                    ..Default::default()
                })),
                delivery_deadline: duration(deadline),
                ..Default::default()
            }),
        })
        .await
        .expect("receiver created")
        .into_inner()
}

/// A route of critical alerts to `receiver`, grouped by `group_by`.
pub async fn route(system: &mut TestRisk, receiver: &str, group_by: &[&str], wait: i64) {
    system
        .client
        .create_route(pb::CreateRouteRequest {
            route_id: format!("to_{receiver}"),
            route: Some(pb::Route {
                matchers: vec![pb::RouteMatcher {
                    label: "severity".into(),
                    operator: pb::route_matcher::Operator::Equal.into(),
                    value: "critical".into(),
                }],
                receiver: format!("receivers/{receiver}"),
                group_by: group_by.iter().map(|label| (*label).to_owned()).collect(),
                group_wait: duration(wait),
                group_interval: duration(300),
                repeat_interval: duration(3600),
                ..Default::default()
            }),
        })
        .await
        .expect("route created");
}

pub async fn deliveries(system: &mut TestRisk, state: DeliveryState) -> Vec<pb::Delivery> {
    system
        .client
        .list_deliveries(pb::ListDeliveriesRequest {
            page_size: 500,
            state: state.into(),
            ..Default::default()
        })
        .await
        .expect("deliveries listed")
        .into_inner()
        .deliveries
}

/// Waits until `count` deliveries are in `state`.
pub async fn wait_deliveries(
    system: &mut TestRisk,
    state: DeliveryState,
    count: usize,
) -> Vec<pb::Delivery> {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let listed = deliveries(system, state).await;
        if listed.len() >= count {
            return listed;
        }
        assert!(std::time::Instant::now() < deadline, "{listed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Sets the risk clock `seconds` after `start` and queues what is due
/// then (without waiting for the dispatcher's own tick).
pub async fn move_clock(system: &TestRisk, start: time::OffsetDateTime, seconds: i64) {
    let at = start + time::Duration::seconds(seconds);
    system
        .running()
        .clock()
        .set(jilin_runtime::ClockSetting::Fixed(at));
    system.running().dispatch_now().await.expect("dispatched");
}
