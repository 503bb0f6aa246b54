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
        .tcp_nodelay(true)
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

/// Connects to `server` over plain TCP and reports whether the socket the
/// server accepted for that connection has `TCP_NODELAY` set. The server
/// must run in the test's own process: its socket is found among this
/// process's descriptors by its two addresses.
pub async fn accepted_socket_has_nodelay(server: std::net::SocketAddr) -> bool {
    let client = tokio::net::TcpStream::connect(server)
        .await
        .expect("connect");
    let local = client.local_addr().expect("local address");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let nodelay = accepted_socket(server, local).map(|socket| socket.tcp_nodelay);
        match nodelay {
            Some(true) => return true,
            // Not yet accepted, or accepted but not yet configured.
            _ if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await
            }
            Some(false) => return false,
            None => panic!("the server at {server} never accepted the connection from {local}"),
        }
    }
}

struct AcceptedSocket {
    tcp_nodelay: bool,
}

/// The socket of this process whose local address is `server` and whose
/// peer is `client`.
fn accepted_socket(
    server: std::net::SocketAddr,
    client: std::net::SocketAddr,
) -> Option<AcceptedSocket> {
    use std::os::fd::BorrowedFd;
    for entry in std::fs::read_dir("/proc/self/fd").ok()?.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let is_socket = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"));
        if !is_socket {
            continue;
        }
        // SAFETY: only read-only socket options are queried through this
        // borrow. A descriptor closed meanwhile makes them fail (EBADF); one
        // reused meanwhile is told apart by its addresses.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&borrowed);
        let addresses = (socket.local_addr().ok(), socket.peer_addr().ok());
        let (Some(local), Some(peer)) = addresses else {
            continue;
        };
        if local.as_socket() == Some(server) && peer.as_socket() == Some(client) {
            return Some(AcceptedSocket {
                tcp_nodelay: socket.tcp_nodelay().ok()?,
            });
        }
    }
    None
}
