//! Connecting to NATS without making the service depend on it being up,
//! with the service's credentials, and saying out loud what the server
//! refuses.

use std::time::Duration;

use crate::NatsAccess;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot read the NATS credentials in {path}: {source}")]
    Credentials {
        path: String,
        source: std::io::Error,
    },
    #[error("the NATS password file {0} is given without --nats-user, or the user without it")]
    HalfUser(String),
    #[error(transparent)]
    Connect(#[from] async_nats::ConnectError),
}

/// The servers of `url`: one URL, or several separated by commas.
fn servers(url: &str) -> Vec<&str> {
    url.split(',')
        .map(str::trim)
        .filter(|server| !server.is_empty())
        .collect()
}

/// The options `access` asks for: credentials, TLS.
async fn options(access: &NatsAccess) -> Result<async_nats::ConnectOptions, ConnectError> {
    let unreadable = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| ConnectError::Credentials { path, source }
    };
    let mut options = async_nats::ConnectOptions::new();
    match (&access.creds_file, &access.user, &access.password_file) {
        (Some(creds), _, _) => {
            options = options
                .credentials_file(creds)
                .await
                .map_err(unreadable(creds))?;
        }
        (None, Some(user), Some(file)) => {
            let password = std::fs::read_to_string(file).map_err(unreadable(file))?;
            options = options.user_and_password(user.clone(), password.trim().to_owned());
        }
        (None, None, None) => {}
        (None, user, file) => {
            let named = file.as_ref().map_or_else(
                || user.clone().unwrap_or_default(),
                |f| f.display().to_string(),
            );
            return Err(ConnectError::HalfUser(named));
        }
    }
    if let Some(ca) = &access.ca {
        options = options.add_root_certificates(ca.clone()).require_tls(true);
    }
    Ok(options)
}

/// Connects to `url` (one server or several, comma-separated) as `name`
/// with `access`. When the server is not reachable yet the client keeps
/// trying in the background and this returns at once, so the caller can
/// serve writes (they wait in the outbox) until it is. What the server
/// refuses (a publish outside the user's permissions, bad credentials) is
/// logged as an error naming the server's reason.
pub async fn connect(
    url: &str,
    name: &str,
    access: &NatsAccess,
) -> Result<async_nats::Client, ConnectError> {
    let client = options(access)
        .await?
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(2))
        .event_callback(|event| async move {
            match event {
                async_nats::Event::Connected => tracing::info!("connected to NATS"),
                async_nats::Event::Disconnected => {
                    tracing::warn!("disconnected from NATS; events wait in the outbox")
                }
                async_nats::Event::ServerError(refusal) => {
                    tracing::error!(%refusal, "NATS refused this service: {refusal}")
                }
                other => tracing::debug!(event = %other, "NATS client event"),
            }
        })
        .connect(servers(url))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_is_named_by_its_servers_urls() {
        assert_eq!(
            servers("nats://a:4222, nats://b:4222,nats://c:4222"),
            ["nats://a:4222", "nats://b:4222", "nats://c:4222"]
        );
        assert_eq!(servers("nats://a:4222"), ["nats://a:4222"]);
    }
}
