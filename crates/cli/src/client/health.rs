//! `jilin health URL`: asks a service for its gRPC health, as a container
//! health check or a probe does (no token needed). Exits 0 when SERVING.

use tonic::transport::Channel;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::{ClientError, Connection, Outcome};

/// `jilin health` flags.
#[derive(Debug, clap::Args)]
pub struct Health {
    /// The service's address, e.g. `https://127.0.0.1:50051` (`http://`
    /// for plaintext).
    pub url: String,
    /// The gRPC service to ask about; empty for the whole server.
    #[arg(long, default_value = "")]
    pub service: String,
}

/// The health `channel`'s server reports for `service`.
pub async fn status(channel: Channel, service: &str) -> Result<ServingStatus, tonic::Status> {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let reply = HealthClient::new(channel).check(request).await?;
    Ok(reply.into_inner().status())
}

pub async fn run(connection: &Connection, health: Health) -> Outcome {
    let channel = connection.channel(&health.url).await?;
    let serving = status(channel, &health.service).await?;
    println!("{}", serving.as_str_name());
    if serving == ServingStatus::Serving {
        Ok(())
    } else {
        Err(ClientError::Usage(format!("{} is not serving", health.url)))
    }
}
