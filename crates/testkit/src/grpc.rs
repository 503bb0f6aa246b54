//! Asking a running service what every Jilin server must answer: its
//! health, and the services it lists through reflection.

use futures::StreamExt;
use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

/// A channel to `addr` (e.g. `127.0.0.1:50051`).
pub async fn channel(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("a valid address")
        .connect()
        .await
        .expect("connect")
}

/// `grpc.health.v1.Health/Check` for `service`.
pub async fn health(channel: Channel, service: &str) -> ServingStatus {
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.into(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status()
}

/// Sends reflection requests, one response each.
pub async fn reflect(channel: Channel, requests: Vec<MessageRequest>) -> Vec<MessageResponse> {
    let requests: Vec<_> = requests
        .into_iter()
        .map(|request| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(request),
        })
        .collect();
    let count = requests.len();
    let responses = ServerReflectionClient::new(channel)
        .server_reflection_info(futures::stream::iter(requests))
        .await
        .expect("reflection")
        .into_inner();
    responses
        .take(count)
        .map(
            |response: Result<ServerReflectionResponse, tonic::Status>| {
                response
                    .expect("a reflection response")
                    .message_response
                    .expect("a message")
            },
        )
        .collect()
        .await
}

/// The service names listed by reflection.
pub async fn reflected_services(channel: Channel) -> Vec<String> {
    match reflect(channel, vec![MessageRequest::ListServices(String::new())])
        .await
        .pop()
    {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("expected a service list, got {other:?}"),
    }
}
