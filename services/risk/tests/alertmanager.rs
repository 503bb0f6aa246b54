//! Alerts handed to a real Alertmanager (Debian's prometheus-alertmanager,
//! started here on a free port with a temp config): a firing alert appears
//! in its `/api/v2/alerts` with our labels, and its resolution reaches
//! Alertmanager's own webhook with the `endsAt` the risk service set.

mod common;

use std::time::{Duration, Instant};

use common::delivery::*;
use common::hook::Hook;
use common::*;
use jilin_proto::risk::v1 as pb;

/// An Alertmanager process, stopped on drop.
struct Alertmanager {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Alertmanager {
    /// Routes every alert to `webhook` at once, resolved ones included.
    async fn start(webhook: &str) -> Self {
        let binary = std::env::var("ALERTMANAGER_BIN")
            .unwrap_or_else(|_| "prometheus-alertmanager".to_owned());
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: hook\n  group_by: ['alertname']\n  group_wait: 0s\n  \
                 group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n    \
                 webhook_configs:\n      - url: '{webhook}'\n        send_resolved: true\n"
            ),
        )
        .unwrap();
        let port = jilin_testkit::free_port();
        let child = std::process::Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "{binary}: {err}. Install it with deploy/scripts/ensure-alertmanager.sh \
                     (make test does), or set ALERTMANAGER_BIN"
                )
            });
        let alertmanager = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            let ready = reqwest::get(format!("{}/-/ready", alertmanager.url)).await;
            if ready.is_ok_and(|answer| answer.status().is_success()) {
                return alertmanager;
            }
            assert!(Instant::now() < deadline, "Alertmanager never got ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its active alerts.
    async fn alerts(&self) -> Vec<serde_json::Value> {
        let body = reqwest::get(format!("{}/api/v2/alerts", self.url))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        serde_json::from_slice(&body).expect("a JSON list of alerts")
    }
}

#[tokio::test]
async fn alerts_reach_alertmanager_with_our_labels_and_end_when_resolved() {
    let relayed = Hook::start().await;
    let alertmanager = Alertmanager::start(&relayed.url()).await;
    let mut system = TestRisk::spawn_with(|config| {
        config.external_url = Some("https://console.example/risk".into());
    })
    .await;
    system
        .client
        .create_receiver(pb::CreateReceiverRequest {
            receiver_id: "provincial_am".into(),
            receiver: Some(pb::Receiver {
                kind: Some(pb::receiver::Kind::Alertmanager(
                    pb::receiver::Alertmanager {
                        url: alertmanager.url.clone(),
                    },
                )),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    route(&mut system, "provincial_am", &["project"], 0).await;
    let start = system.running().clock().now();

    system.registry(&[lagging("press", 15, 1)], true).await;
    wait_deliveries(&mut system, pb::delivery::State::Delivered, 1).await;
    let alerts = alertmanager.alerts().await;
    let alert = alerts
        .iter()
        .find(|alert| alert["labels"]["project"] == "press")
        .unwrap_or_else(|| panic!("not in Alertmanager: {alerts:?}"));
    let labels = &alert["labels"];
    assert_eq!(labels["alertname"], "schedule_lag");
    assert_eq!(labels["severity"], "critical");
    assert_eq!(labels["region"], "220100");
    assert_eq!(labels["subject"], "projects/press");
    assert_eq!(alert["status"]["state"], "active");
    assert_eq!(
        alert["generatorURL"],
        "https://console.example/risk/alerts/schedule_lag:projects:press"
    );
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("behind its time-elapsed schedule"),
        "{alert}"
    );
    let firing = relayed.wait_for(1).await;
    assert_eq!(firing[0].json()["status"], "firing");

    // Progress catches up; the group tells Alertmanager at its next look.
    system.registry(&[lagging("press", 50, 2)], true).await;
    let resolved_at = system
        .alert("schedule_lag", "projects/press")
        .await
        .unwrap()
        .end_time
        .expect("resolved");
    move_clock(&system, start, 300).await;
    wait_deliveries(&mut system, pb::delivery::State::Delivered, 2).await;
    let deadline = Instant::now() + PATIENCE;
    let resolved = loop {
        let posts = relayed.received();
        if let Some(post) = posts
            .iter()
            .find(|post| post.json()["status"] == "resolved")
        {
            break post.json();
        }
        assert!(Instant::now() < deadline, "Alertmanager never resolved it");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ends_at = resolved["alerts"][0]["endsAt"].as_str().unwrap();
    let ends_at =
        time::OffsetDateTime::parse(ends_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert_eq!(jilin_proto::timestamp(ends_at), resolved_at);
    assert!(
        alertmanager
            .alerts()
            .await
            .iter()
            .all(|alert| alert["labels"]["project"] != "press"),
        "no longer active"
    );
}
