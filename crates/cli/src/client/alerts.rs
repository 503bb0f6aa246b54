//! `jilin alerts …`: list, read, acknowledge, and follow the risk stream
//! (gRPC WatchAlerts resumed after a reconnect, or NATS directly).

use std::time::Duration;

use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::risk::v1 as pb;
use prost::Message;
use tokio_stream::StreamExt;

use super::risk::{client, coloured, severity};
use super::{ClientError, Connection, Outcome, named, time};
use crate::output::{fields, print_json, table, value};

#[derive(Debug, clap::Subcommand)]
pub enum Alerts {
    List {
        /// e.g. `state = FIRING AND severity = CRITICAL AND region = "220100"`.
        #[arg(long, default_value = "")]
        filter: String,
        #[arg(long, default_value = "50")]
        page_size: i32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    Get {
        /// `alerts/{fingerprint}` or the fingerprint.
        name: String,
    },
    /// Acknowledge a firing alert (kept in its history).
    Ack {
        name: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Follow alert changes live; resumes after a reconnect.
    Watch {
        #[arg(long, default_value = "")]
        filter: String,
        /// Start after this change sequence (0: new changes only).
        #[arg(long, default_value = "0")]
        after: i64,
        /// Replay every change kept, then follow.
        #[arg(long)]
        from_start: bool,
        /// Subscribe to `jilin.risk.>` on NATS instead of the gRPC stream.
        #[arg(long)]
        nats: bool,
        /// By default the NATS of a `jilin up` in this directory, else
        /// nats://127.0.0.1:4222.
        #[arg(long, env = "NATS_URL")]
        nats_url: Option<String>,
        /// The NATS user and CA; by default the read-only `watcher` of a
        /// `jilin up` in this directory, if there is one.
        #[command(flatten)]
        nats_args: jilin_runtime::NatsArgs,
    },
}
fn print_alert(connection: &Connection, alert: &pb::Alert) {
    if connection.json() {
        return print_json(alert);
    }
    let labels: Vec<String> = alert
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    println!(
        "{}",
        fields(&[
            ("name", alert.name.clone()),
            (
                "state",
                format!(
                    "{} {}",
                    alert.state().as_str_name(),
                    coloured(severity(alert.severity), alert.severity)
                )
            ),
            ("summary", alert.summary.clone()),
            (
                "value",
                format!(
                    "{} (threshold {})",
                    value(alert.value),
                    value(alert.threshold)
                )
            ),
            (
                "rule",
                format!("{} revision {}", alert.rule, alert.rule_revision)
            ),
            ("episode", alert.episode.to_string()),
            ("labels", labels.join(" ")),
            ("since", time(alert.start_time.as_ref())),
            ("ended", time(alert.end_time.as_ref())),
            ("acknowledged", alert.acknowledged_by.clone()),
            ("silenced", alert.silenced.to_string()),
        ])
    );
    let rows = alert.history.iter().map(|t| {
        vec![
            time(t.time.as_ref()),
            t.change().as_str_name().to_owned(),
            severity(t.severity),
            t.note.clone(),
        ]
    });
    println!("\n{}", table(&["TIME", "CHANGE", "SEVERITY", "NOTE"], rows));
}

fn change_line(change: &pb::AlertChange) -> String {
    let alert = change.alert.clone().unwrap_or_default();
    coloured(
        format!(
            "#{} {} {} {} {}",
            change.sequence,
            change.change().as_str_name(),
            severity(alert.severity),
            alert.name,
            alert.summary
        ),
        alert.severity,
    )
}

pub async fn alerts(connection: &Connection, command: Alerts) -> Outcome {
    match command {
        Alerts::List {
            filter,
            page_size,
            page_token,
        } => {
            let request = pb::ListAlertsRequest {
                page_size,
                page_token,
                filter,
            };
            let page = client(connection)
                .await?
                .list_alerts(request)
                .await?
                .into_inner();
            if connection.json() {
                print_json(&page);
                return Ok(());
            }
            let rows = page.alerts.iter().map(|a| {
                vec![
                    a.name.trim_start_matches("alerts/").to_owned(),
                    a.state().as_str_name().to_owned(),
                    coloured(severity(a.severity), a.severity),
                    value(a.value),
                    a.labels.get("region").cloned().unwrap_or_default(),
                    if a.acknowledged_by.is_empty() {
                        ""
                    } else {
                        "ack"
                    }
                    .to_owned(),
                    a.summary.clone(),
                ]
            });
            println!(
                "{}",
                table(
                    &[
                        "ALERT", "STATE", "SEVERITY", "VALUE", "REGION", "", "SUMMARY"
                    ],
                    rows
                )
            );
            if !page.next_page_token.is_empty() {
                println!("next page: --page-token {}", page.next_page_token);
            }
        }
        Alerts::Get { name } => {
            let request = pb::GetAlertRequest {
                name: named("alerts", &name),
            };
            print_alert(
                connection,
                &client(connection)
                    .await?
                    .get_alert(request)
                    .await?
                    .into_inner(),
            );
        }
        Alerts::Ack { name, comment } => {
            let request = pb::AcknowledgeAlertRequest {
                name: named("alerts", &name),
                comment,
                ..Default::default()
            };
            let alert = client(connection)
                .await?
                .acknowledge_alert(request)
                .await?
                .into_inner();
            print_alert(connection, &alert);
        }
        Alerts::Watch {
            filter,
            after,
            from_start,
            nats,
            nats_url,
            nats_args,
        } => {
            if nats {
                return watch_nats(connection, nats_url.as_deref(), &nats_args).await;
            }
            watch_grpc(connection, filter, after, from_start).await?;
        }
    }
    Ok(())
}

/// WatchAlerts, reconnecting after the last sequence seen.
async fn watch_grpc(
    connection: &Connection,
    filter: String,
    mut after: i64,
    mut from_start: bool,
) -> Outcome {
    loop {
        let stream = async {
            let request = pb::WatchAlertsRequest {
                after_sequence: after,
                filter: filter.clone(),
                from_start,
            };
            client(connection)
                .await?
                .watch_alerts(request)
                .await
                .map_err(ClientError::from)
        }
        .await;
        let mut stream = match stream {
            Ok(stream) => stream.into_inner(),
            Err(ClientError::Status(status)) if status.code() == tonic::Code::InvalidArgument => {
                return Err(status.into());
            }
            Err(err) => {
                eprintln!("{err}; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while let Some(change) = stream.next().await {
            match change {
                Ok(change) => {
                    after = change.sequence;
                    from_start = false;
                    if connection.json() {
                        print_json(&change);
                    } else {
                        println!("{}", change_line(&change));
                    }
                }
                Err(status) => {
                    eprintln!(
                        "{}; reconnecting after #{after}",
                        crate::output::describe_error(&status)
                    );
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A NATS client of the server at `url` (by default the one a `jilin up`
/// in this directory uses), as `args` says or as that `jilin up`'s
/// read-only `watcher`; with the URL it connected to.
pub async fn nats_watcher(
    url: Option<&str>,
    args: &jilin_runtime::NatsArgs,
) -> Result<(jilin_bus::async_nats::Client, String), ClientError> {
    let url = crate::nats::watcher_url(url, &super::data_dir());
    let given = args.access();
    let access = if given.user.is_some() || given.creds_file.is_some() {
        given
    } else {
        crate::nats::dev_access(&super::data_dir(), jilin_bus::WATCHER).unwrap_or(given)
    };
    let unreachable = |message: String| ClientError::Connect {
        url: url.to_owned(),
        message,
    };
    let client = jilin_bus::connect(&url, "jilin-cli", &access)
        .await
        .map_err(|err| unreachable(err.to_string()))?;
    // The client keeps trying a server that is not there: without this, a
    // watcher pointed at the wrong address would wait in silence.
    match tokio::time::timeout(NATS_ANSWER_WITHIN, client.flush()).await {
        Ok(Ok(())) => Ok((client, url)),
        Ok(Err(err)) => Err(unreachable(err.to_string())),
        Err(_) => Err(unreachable(format!(
            "no NATS server answered within {} s (`jilin up` prints the URL of the one it runs; pass it with --nats-url)",
            NATS_ANSWER_WITHIN.as_secs()
        ))),
    }
}

/// How long a NATS watcher waits for its server before giving up.
const NATS_ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// `jilin.risk.>` straight from NATS, decoded by `ce-type`.
async fn watch_nats(
    connection: &Connection,
    url: Option<&str>,
    args: &jilin_runtime::NatsArgs,
) -> Outcome {
    let (client, url) = nats_watcher(url, args).await?;
    let mut messages =
        client
            .subscribe("jilin.risk.>")
            .await
            .map_err(|err| ClientError::Connect {
                url: url.clone(),
                message: err.to_string(),
            })?;
    eprintln!("watching jilin.risk.> on {url}");
    while let Some(message) = messages.next().await {
        let event_type = message
            .headers
            .as_ref()
            .and_then(|h| h.get("ce-type"))
            .map(|v| v.as_str().to_owned());
        if event_type.as_deref() != Some(events::AlertChanged::full_name().as_str()) {
            continue;
        }
        let Ok(event) = events::AlertChanged::decode(message.payload) else {
            eprintln!("an undecodable event on {}", message.subject);
            continue;
        };
        let Some(change) = event.change else { continue };
        if connection.json() {
            print_json(&change);
        } else {
            println!("{} {}", message.subject, change_line(&change));
        }
    }
    Ok(())
}
