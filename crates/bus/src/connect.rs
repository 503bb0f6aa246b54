//! Connecting to NATS without making the service depend on it being up.

use std::time::Duration;

/// Connects to `url`. When the server is not reachable yet the client keeps
/// trying in the background and this returns at once, so the caller can
/// serve writes (they wait in the outbox) until it is.
pub async fn connect(
    url: &str,
    name: &str,
) -> Result<async_nats::Client, async_nats::ConnectError> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("connected to NATS"),
                async_nats::Event::Disconnected => {
                    tracing::warn!("disconnected from NATS; events wait in the outbox")
                }
                other => tracing::debug!(event = %other, "NATS client event"),
            }
        })
        .connect(url)
        .await?;
    // The first attempt runs in the background: give it a moment before
    // telling the operator NATS is away.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    while client.connection_state() != async_nats::connection::State::Connected
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if client.connection_state() != async_nats::connection::State::Connected {
        tracing::warn!(%url, "NATS is not reachable yet; serving anyway, events wait in the outbox");
    }
    Ok(client)
}
