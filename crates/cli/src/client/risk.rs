//! `jilin alerts …`, `jilin silences …`, `jilin rules …`.

use std::time::Duration;

use console::style;
use jilin_bus::async_nats;
use jilin_proto::Name;
use jilin_proto::events::v1 as events;
use jilin_proto::risk::v1 as pb;
use pb::risk_service_client::RiskServiceClient;
use prost::Message;
use tokio_stream::StreamExt;

use super::{ClientError, Connection, Outcome, mask, time};
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
        #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
        nats_url: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Silences {
    /// Mute notifications of alerts whose labels match every matcher.
    Create {
        /// `name=value` or `name!=value`, repeatable.
        #[arg(long = "matcher", required = true)]
        matchers: Vec<String>,
        /// How long from now, in hours.
        #[arg(long, default_value = "2")]
        hours: f64,
        #[arg(long)]
        comment: String,
    },
    List {
        #[arg(long)]
        include_expired: bool,
    },
    Delete {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Rules {
    List,
    Get {
        name: String,
    },
    /// Change thresholds, periods or the summary of a rule.
    Update {
        name: String,
        /// New WARNING threshold.
        #[arg(long)]
        warning: Option<f64>,
        /// New CRITICAL threshold.
        #[arg(long)]
        critical: Option<f64>,
        #[arg(long = "for")]
        for_periods: Option<i32>,
        #[arg(long)]
        keep_firing_for: Option<i32>,
        #[arg(long)]
        summary: Option<String>,
    },
}

fn named(collection: &str, name: &str) -> String {
    if name.starts_with(&format!("{collection}/")) {
        name.to_owned()
    } else {
        format!("{collection}/{name}")
    }
}

fn severity(value: i32) -> String {
    pb::Severity::try_from(value)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_default()
}

fn coloured(text: String, severity_value: i32) -> String {
    match pb::Severity::try_from(severity_value) {
        Ok(pb::Severity::Critical) => style(text).red().bold().to_string(),
        Ok(pb::Severity::Warning) => style(text).yellow().to_string(),
        _ => text,
    }
}

async fn client(
    connection: &Connection,
) -> Result<RiskServiceClient<tonic::transport::Channel>, ClientError> {
    Ok(RiskServiceClient::new(
        connection.channel(&connection.risk).await?,
    ))
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
                acknowledged_by: String::new(),
                comment,
            };
            let alert = client(connection)
                .await?
                .acknowledge_alert(connection.request(request))
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
        } => {
            if nats {
                return watch_nats(connection, &nats_url).await;
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

/// `jilin.risk.>` straight from NATS, decoded by `ce-type`.
async fn watch_nats(connection: &Connection, url: &str) -> Outcome {
    let client = async_nats::connect(url)
        .await
        .map_err(|err| ClientError::Connect {
            url: url.to_owned(),
            message: err.to_string(),
        })?;
    let mut messages =
        client
            .subscribe("jilin.risk.>")
            .await
            .map_err(|err| ClientError::Connect {
                url: url.to_owned(),
                message: err.to_string(),
            })?;
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

fn matcher(text: &str) -> Result<pb::silence::Matcher, ClientError> {
    let (name, value, negated) = if let Some((name, value)) = text.split_once("!=") {
        (name, value, true)
    } else if let Some((name, value)) = text.split_once('=') {
        (name, value, false)
    } else {
        return Err(ClientError::Usage(format!(
            "`{text}` is not `name=value` or `name!=value`"
        )));
    };
    Ok(pb::silence::Matcher {
        name: name.trim().to_owned(),
        value: value.trim().trim_matches('"').to_owned(),
        negated,
    })
}

pub async fn silences(connection: &Connection, command: Silences) -> Outcome {
    let mut client = client(connection).await?;
    match command {
        Silences::Create {
            matchers,
            hours,
            comment,
        } => {
            let now = time::OffsetDateTime::now_utc();
            let silence = pb::Silence {
                matchers: matchers
                    .iter()
                    .map(|m| matcher(m))
                    .collect::<Result<_, _>>()?,
                start_time: Some(jilin_proto::timestamp(now)),
                end_time: Some(jilin_proto::timestamp(
                    now + time::Duration::seconds_f64(hours * 3600.0),
                )),
                created_by: connection.actor.clone(),
                comment,
                ..Default::default()
            };
            let request = pb::CreateSilenceRequest {
                silence: Some(silence),
            };
            let silence = client
                .create_silence(connection.request(request))
                .await?
                .into_inner();
            if connection.json() {
                print_json(&silence);
            } else {
                println!("{} until {}", silence.name, time(silence.end_time.as_ref()));
            }
        }
        Silences::List { include_expired } => {
            let list = client
                .list_silences(pb::ListSilencesRequest { include_expired })
                .await?
                .into_inner();
            if connection.json() {
                print_json(&list);
                return Ok(());
            }
            let rows = list.silences.iter().map(|s| {
                let matchers: Vec<String> = s
                    .matchers
                    .iter()
                    .map(|m| {
                        format!(
                            "{}{}{}",
                            m.name,
                            if m.negated { "!=" } else { "=" },
                            m.value
                        )
                    })
                    .collect();
                vec![
                    s.name.clone(),
                    matchers.join(" "),
                    time(s.start_time.as_ref()),
                    time(s.end_time.as_ref()),
                    s.created_by.clone(),
                    s.comment.clone(),
                ]
            });
            println!(
                "{}",
                table(
                    &["SILENCE", "MATCHERS", "FROM", "UNTIL", "BY", "COMMENT"],
                    rows
                )
            );
        }
        Silences::Delete { name } => {
            client
                .delete_silence(pb::DeleteSilenceRequest {
                    name: named("silences", &name),
                })
                .await?;
            if !connection.json() {
                println!("deleted");
            }
        }
    }
    Ok(())
}

fn print_rule(connection: &Connection, rule: &pb::Rule) {
    if connection.json() {
        return print_json(rule);
    }
    let bands: Vec<String> = rule
        .bands
        .iter()
        .map(|b| {
            format!(
                "{} {} {}",
                severity(b.severity),
                b.comparison().as_str_name(),
                value(Some(b.threshold))
            )
        })
        .collect();
    println!(
        "{}",
        fields(&[
            ("name", rule.name.clone()),
            ("kind", rule.kind().as_str_name().to_owned()),
            ("bands", bands.join(", ")),
            (
                "for",
                format!(
                    "{} period(s), keep firing for {}",
                    rule.for_periods, rule.keep_firing_for_periods
                )
            ),
            ("summary", rule.summary.clone()),
            (
                "revision",
                format!("{} (etag {})", rule.revision, rule.etag)
            ),
        ])
    );
}

pub async fn rules(connection: &Connection, command: Rules) -> Outcome {
    let mut client = client(connection).await?;
    match command {
        Rules::List => {
            let list = client
                .list_rules(pb::ListRulesRequest {})
                .await?
                .into_inner();
            if connection.json() {
                print_json(&list);
                return Ok(());
            }
            let rows = list.rules.iter().map(|r| {
                let threshold = |s: pb::Severity| {
                    r.bands
                        .iter()
                        .find(|b| b.severity == s as i32)
                        .map(|b| value(Some(b.threshold)))
                        .unwrap_or_default()
                };
                vec![
                    r.name.trim_start_matches("rules/").to_owned(),
                    r.kind().as_str_name().to_owned(),
                    threshold(pb::Severity::Warning),
                    threshold(pb::Severity::Critical),
                    r.for_periods.to_string(),
                    r.revision.to_string(),
                ]
            });
            println!(
                "{}",
                table(&["RULE", "KIND", "YELLOW", "RED", "FOR", "REV"], rows)
            );
        }
        Rules::Get { name } => {
            let rule = client
                .get_rule(pb::GetRuleRequest {
                    name: named("rules", &name),
                })
                .await?
                .into_inner();
            print_rule(connection, &rule);
        }
        Rules::Update {
            name,
            warning,
            critical,
            for_periods,
            keep_firing_for,
            summary,
        } => {
            let mut rule = client
                .get_rule(pb::GetRuleRequest {
                    name: named("rules", &name),
                })
                .await?
                .into_inner();
            let mut paths = Vec::new();
            for (severity, threshold) in [
                (pb::Severity::Warning, warning),
                (pb::Severity::Critical, critical),
            ] {
                let Some(threshold) = threshold else { continue };
                let band = rule
                    .bands
                    .iter_mut()
                    .find(|b| b.severity == severity as i32)
                    .ok_or_else(|| {
                        ClientError::Usage(format!(
                            "{} has no {} band",
                            rule.name,
                            severity.as_str_name()
                        ))
                    })?;
                band.threshold = threshold;
                if !paths.contains(&"bands") {
                    paths.push("bands");
                }
            }
            if let Some(periods) = for_periods {
                rule.for_periods = periods;
                paths.push("for_periods");
            }
            if let Some(periods) = keep_firing_for {
                rule.keep_firing_for_periods = periods;
                paths.push("keep_firing_for_periods");
            }
            if let Some(text) = summary {
                rule.summary = text;
                paths.push("summary");
            }
            if paths.is_empty() {
                return Err(ClientError::Usage("nothing to update: give --warning, --critical, --for, --keep-firing-for or --summary".into()));
            }
            let request = pb::UpdateRuleRequest {
                rule: Some(rule),
                update_mask: mask(paths),
            };
            print_rule(
                connection,
                &client
                    .update_rule(connection.request(request))
                    .await?
                    .into_inner(),
            );
        }
    }
    Ok(())
}
