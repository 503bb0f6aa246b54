//! Alert delivery to a webhook, as a receiver sees it: a real HTTP server
//! in the test, routes and receivers created over gRPC, alerts moved by
//! registry events on a real nats-server, group timers moved by the risk
//! clock. Signed CloudEvents, retries with one idempotency key, a
//! deadline that fails a delivery, 40 alerts grouped into one
//! notification, and a group's timer kept across a restart.

mod common;

use common::delivery::*;
use common::hook::Hook;
use common::*;
use jilin_proto::risk::v1 as pb;
use pb::delivery::State as DeliveryState;

#[tokio::test]
async fn a_firing_alert_is_posted_signed_and_its_resolution_follows() {
    let mut system = TestRisk::spawn().await;
    let hook = Hook::start().await;
    let receiver = webhook(&mut system, "county_desk", &hook.url(), 60).await;
    assert!(matches!(
        receiver.kind,
        Some(pb::receiver::Kind::Webhook(ref webhook)) if webhook.signed && webhook.secret.is_empty()
    ));
    route(&mut system, "county_desk", &["project"], 0).await;

    system.registry(&[lagging("paint_shop", 15, 1)], true).await;
    let posts = hook.wait_for(1).await;
    let post = &posts[0];
    assert_eq!(post.header("content-type"), "application/json");
    assert_eq!(post.header("ce-specversion"), "1.0");
    assert_eq!(post.header("ce-type"), "jilin.risk.v1.Notification");
    assert_eq!(post.header("ce-source"), jilin_bus::RISK_STREAM.source);
    assert_eq!(
        post.header("x-jilin-signature"),
        expected_signature(&post.body)
    );
    let body = post.json();
    assert_eq!(body["status"], "firing");
    assert_eq!(body["firing"], 1);
    assert_eq!(body["groupLabels"]["project"], "paint_shop");
    assert_eq!(
        body["alerts"][0]["alert"],
        "alerts/schedule_lag:projects:paint_shop"
    );
    assert_eq!(body["alerts"][0]["severity"], "critical");

    let delivered = wait_deliveries(&mut system, DeliveryState::Delivered, 1).await;
    assert_eq!(
        delivered[0].name,
        format!("deliveries/{}", post.header("ce-id"))
    );
    assert_eq!(delivered[0].attempts.len(), 1);
    assert_eq!(delivered[0].attempts[0].http_status, 200);

    // Progress catches up: the same receiver hears the resolution, one
    // group_interval after the first notification.
    let start = system.running().clock().now();
    system.registry(&[lagging("paint_shop", 50, 2)], true).await;
    move_clock(&system, start, 299).await;
    assert_eq!(hook.received().len(), 1);
    move_clock(&system, start, 300).await;
    let posts = hook.wait_for(2).await;
    let resolved = posts[1].json();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(
        (resolved["firing"].as_u64(), resolved["resolved"].as_u64()),
        (Some(0), Some(1))
    );
    assert_ne!(posts[1].header("ce-id"), post.header("ce-id"));
}

#[tokio::test]
async fn a_failing_receiver_gets_one_notification_until_it_accepts_it() {
    let mut system = TestRisk::spawn().await;
    let hook = Hook::start().await;
    hook.fail_next(2);
    webhook(&mut system, "flaky_desk", &hook.url(), 60).await;
    route(&mut system, "flaky_desk", &[], 0).await;

    system.registry(&[lagging("stalled", 10, 1)], true).await;
    let delivered = wait_deliveries(&mut system, DeliveryState::Delivered, 1).await;
    let posts = hook.received();
    assert_eq!(posts.len(), 3, "two refusals, then accepted");
    let id = posts[0].header("ce-id").to_owned();
    assert!(
        posts.iter().all(|post| post.header("ce-id") == id),
        "one idempotency key"
    );
    assert_eq!(delivered[0].name, format!("deliveries/{id}"));
    let statuses: Vec<i32> = delivered[0]
        .attempts
        .iter()
        .map(|a| a.http_status)
        .collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert!(delivered[0].attempts[0].error.starts_with("500"));
    assert!(delivered[0].attempts[2].error.is_empty());

    // Filtered by alert and by receiver, it is the same delivery.
    let by_alert = system
        .client
        .list_deliveries(pb::ListDeliveriesRequest {
            alert: "alerts/schedule_lag:projects:stalled".into(),
            receiver: "receivers/flaky_desk".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(by_alert, delivered);
}

#[tokio::test]
async fn a_receiver_down_past_its_deadline_leaves_the_delivery_failed() {
    let mut system = TestRisk::spawn().await;
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    webhook(&mut system, "gone_desk", &url, 1).await;
    route(&mut system, "gone_desk", &[], 0).await;

    system.registry(&[lagging("unheard", 10, 1)], true).await;
    let failed = wait_deliveries(&mut system, DeliveryState::Failed, 1).await;
    let attempts = &failed[0].attempts;
    assert!(
        attempts.len() >= 2,
        "retried before giving up: {attempts:?}"
    );
    assert!(
        attempts
            .iter()
            .all(|a| a.http_status == 0 && !a.error.is_empty())
    );
    assert!(failed[0].next_attempt_time.is_none());
    assert!(
        deliveries(&mut system, DeliveryState::Pending)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn forty_alerts_of_one_prefecture_are_one_notification_then_updates_and_repeats() {
    let mut system = TestRisk::spawn().await;
    let hook = Hook::start().await;
    webhook(&mut system, "prefecture_desk", &hook.url(), 60).await;
    route(&mut system, "prefecture_desk", &["region"], 60).await;
    let start = system.running().clock().now();

    let forty: Vec<_> = (0..40)
        .map(|i| lagging(&format!("site_{i:02}"), 10, 1))
        .collect();
    system.registry(&forty, true).await;
    // Within group_wait nothing is sent, however long the wall clock runs.
    move_clock(&system, start, 59).await;
    assert!(
        deliveries(&mut system, DeliveryState::Unspecified)
            .await
            .is_empty()
    );

    move_clock(&system, start, 60).await;
    let posts = hook.wait_for(1).await;
    let first = posts[0].json();
    assert_eq!(first["firing"], 40);
    assert_eq!(first["alerts"].as_array().unwrap().len(), 40);
    assert_eq!(first["groupLabels"]["region"], "220100");

    // One more alert: held until group_interval after the first.
    system.registry(&[lagging("site_40", 10, 1)], true).await;
    move_clock(&system, start, 200).await;
    assert_eq!(
        deliveries(&mut system, DeliveryState::Unspecified)
            .await
            .len(),
        1
    );
    move_clock(&system, start, 360).await;
    let posts = hook.wait_for(2).await;
    assert_eq!(posts[1].json()["firing"], 41);

    // Unchanged and still firing: looked at every group_interval, sent
    // again once repeat_interval has passed.
    for tick in 1..12 {
        move_clock(&system, start, 360 + tick * 300).await;
    }
    assert_eq!(
        deliveries(&mut system, DeliveryState::Unspecified)
            .await
            .len(),
        2
    );
    move_clock(&system, start, 360 + 3600).await;
    let posts = hook.wait_for(3).await;
    assert_eq!(posts[2].json()["firing"], 41);
    assert_eq!(hook.received().len(), 3);
}

#[tokio::test]
async fn a_group_formed_before_a_restart_is_told_when_due_after_it() {
    let mut system = TestRisk::spawn().await;
    let hook = Hook::start().await;
    webhook(&mut system, "night_desk", &hook.url(), 60).await;
    route(&mut system, "night_desk", &["project"], 60).await;
    let start = system.running().clock().now();
    system.registry(&[lagging("kiln", 10, 1)], true).await;

    // The group's due time is in memory only as loaded from the store.
    system.restart().await;
    move_clock(&system, start, 59).await;
    assert!(hook.received().is_empty());
    move_clock(&system, start, 60).await;
    let posts = hook.wait_for(1).await;
    assert_eq!(
        posts[0].json()["alerts"][0]["alert"],
        "alerts/schedule_lag:projects:kiln"
    );
}

#[tokio::test]
async fn a_new_route_takes_the_alerts_already_firing() {
    let mut system = TestRisk::spawn().await;
    system.registry(&[lagging("old_news", 10, 1)], true).await;
    let hook = Hook::start().await;
    webhook(&mut system, "late_desk", &hook.url(), 60).await;
    route(&mut system, "late_desk", &["project"], 0).await;
    let posts = hook.wait_for(1).await;
    let body = posts[0].json();
    assert_eq!(body["status"], "firing");
    assert_eq!(
        body["alerts"][0]["alert"],
        "alerts/schedule_lag:projects:old_news"
    );
}

fn violated_fields(status: &tonic::Status) -> Vec<String> {
    tonic_types::StatusExt::get_details_bad_request(status)
        .expect("field violations")
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

#[tokio::test]
async fn bad_receivers_and_routes_are_refused_and_change_nothing() {
    let mut system = TestRisk::spawn().await;
    let before = system.running().fingerprint();
    let refused = system
        .client
        .create_receiver(pb::CreateReceiverRequest {
            receiver_id: "Bad Id".into(),
            receiver: Some(pb::Receiver {
                kind: Some(pb::receiver::Kind::Webhook(pb::receiver::Webhook {
                    url: "ftp://desk.example".into(),
                    timeout: duration(-1),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&refused),
        ["receiver_id", "receiver.webhook.timeout"]
    );
    let refused = system
        .client
        .create_receiver(pb::CreateReceiverRequest {
            receiver_id: "desk".into(),
            receiver: Some(pb::Receiver {
                kind: Some(pb::receiver::Kind::Webhook(pb::receiver::Webhook {
                    url: "ftp://desk.example".into(),
                    ..Default::default()
                })),
                delivery_deadline: duration(0),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        ["receiver.webhook.url", "receiver.delivery_deadline"]
    );
    let refused = system
        .client
        .create_route(pb::CreateRouteRequest {
            route_id: "desk_route".into(),
            route: Some(pb::Route {
                matchers: vec![
                    pb::RouteMatcher {
                        label: "region".into(),
                        operator: pb::route_matcher::Operator::Regex.into(),
                        value: "(2201".into(),
                    },
                    pb::RouteMatcher {
                        label: "severity".into(),
                        value: "critical".into(),
                        ..Default::default()
                    },
                ],
                receiver: "desk".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        ["route.matchers[1].operator", "route.receiver"]
    );
    let refused = system
        .client
        .create_route(pb::CreateRouteRequest {
            route_id: "desk_route".into(),
            route: Some(pb::Route {
                matchers: vec![pb::RouteMatcher {
                    label: "region".into(),
                    operator: pb::route_matcher::Operator::Regex.into(),
                    value: "(2201".into(),
                }],
                receiver: "receivers/desk".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&refused), ["route.matchers[0].value"]);
    // A route to a receiver that does not exist.
    let refused = system
        .client
        .create_route(pb::CreateRouteRequest {
            route_id: "desk_route".into(),
            route: Some(pb::Route {
                receiver: "receivers/desk".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(system.running().fingerprint(), before);

    // A receiver a route names is kept until the route goes.
    let hook = Hook::start().await;
    webhook(&mut system, "desk", &hook.url(), 60).await;
    route(&mut system, "desk", &[], 0).await;
    let refused = system
        .client
        .delete_receiver(pb::DeleteReceiverRequest {
            name: "receivers/desk".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("routes/to_desk"), "{refused:?}");
    system
        .client
        .delete_route(pb::DeleteRouteRequest {
            name: "routes/to_desk".into(),
        })
        .await
        .unwrap();
    system
        .client
        .delete_receiver(pb::DeleteReceiverRequest {
            name: "receivers/desk".into(),
        })
        .await
        .unwrap();
    let listed = system
        .client
        .list_receivers(pb::ListReceiversRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(listed.receivers.is_empty());
}
