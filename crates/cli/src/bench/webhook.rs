//! The report → alert scenario's third listener: a webhook receiver (an
//! axum server in the bench process) that the risk service delivers the
//! probes' alerts to, through a receiver and a route made for the run
//! (each probe its own group, no waiting) and deleted after it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use jilin_proto::risk::v1 as risk;
use tokio::time::Instant;

use crate::client::AuthedChannel;

type RiskClient = risk::risk_service_client::RiskServiceClient<AuthedChannel>;

/// One alert change as a notification tells it: subject, firing, episode.
pub type Told = (String, bool, i32);

/// What the receiver heard: when each change first arrived, and how many
/// POSTs came.
#[derive(Default)]
pub struct Heard {
    pub first: HashMap<Told, Instant>,
    pub posts: u64,
}

/// A running receiver and the receiver and route that point at it.
pub struct WebhookSink {
    pub heard: Arc<Mutex<Heard>>,
    server: tokio::task::JoinHandle<()>,
    receiver: String,
    route: String,
}

async fn receive(State(heard): State<Arc<Mutex<Heard>>>, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut heard = heard.lock().expect("heard");
    heard.posts += 1;
    for alert in json["alerts"].as_array().into_iter().flatten() {
        let told = (
            alert["subject"].as_str().unwrap_or_default().to_owned(),
            alert["state"] == "firing",
            alert["episode"].as_i64().unwrap_or_default() as i32,
        );
        heard.first.entry(told).or_insert(now);
    }
    StatusCode::OK
}

fn seconds(seconds: i64, nanos: i32) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos })
}

impl WebhookSink {
    /// Serves on 127.0.0.1 and routes the alerts of projects
    /// `bench-{run}-*` to it.
    pub async fn start(client: &mut RiskClient, run: &str) -> Result<Self, String> {
        let heard = Arc::new(Mutex::new(Heard::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(heard.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|err| format!("webhook receiver: {err}"))?;
        let addr = listener.local_addr().map_err(|err| err.to_string())?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let id = format!("bench_{}", run.replace('-', "_"));
        let refused = |status: tonic::Status| format!("{id}: {}", status.message());
        client
            .create_receiver(risk::CreateReceiverRequest {
                receiver_id: id.clone(),
                receiver: Some(risk::Receiver {
                    kind: Some(risk::receiver::Kind::Webhook(risk::receiver::Webhook {
                        url: format!("http://{addr}/hook"),
                        ..Default::default()
                    })),
                    ..Default::default()
                }),
            })
            .await
            .map_err(refused)?;
        client
            .create_route(risk::CreateRouteRequest {
                route_id: id.clone(),
                route: Some(risk::Route {
                    position: -1,
                    matchers: vec![risk::RouteMatcher {
                        label: "project".into(),
                        operator: risk::route_matcher::Operator::Regex.into(),
                        value: format!("bench-{run}-.*"),
                    }],
                    receiver: format!("receivers/{id}"),
                    group_by: vec!["project".into()],
                    group_wait: seconds(0, 0),
                    group_interval: seconds(0, 1_000_000),
                    ..Default::default()
                }),
            })
            .await
            .map_err(refused)?;
        Ok(Self {
            heard,
            server,
            receiver: format!("receivers/{id}"),
            route: format!("routes/{id}"),
        })
    }

    /// Deletes the route and the receiver, stops the server.
    pub async fn stop(self, client: &mut RiskClient) {
        let _ = client
            .delete_route(risk::DeleteRouteRequest { name: self.route })
            .await;
        let _ = client
            .delete_receiver(risk::DeleteReceiverRequest {
                name: self.receiver,
            })
            .await;
        self.server.abort();
    }
}
