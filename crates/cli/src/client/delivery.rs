//! `jilin receivers …`, `jilin routes …`, `jilin inhibitions …` and
//! `jilin deliveries …`: where alert notifications go, which alerts go
//! where, what mutes what, and what became of each notification.

use jilin_proto::risk::v1 as pb;
use pb::route_matcher::Operator;

use super::risk::client;
use super::{ClientError, Connection, Outcome, named, time};
use crate::output::{print_json, table};

#[derive(Debug, clap::Subcommand)]
pub enum Receivers {
    /// A webhook (CloudEvents over HTTP, optionally signed) or an
    /// Alertmanager (`--alertmanager URL`).
    Create {
        id: String,
        /// The webhook's URL.
        #[arg(
            long,
            conflicts_with = "alertmanager",
            required_unless_present = "alertmanager"
        )]
        webhook: Option<String>,
        /// An Alertmanager's base URL (alerts go to `/api/v2/alerts`).
        #[arg(long)]
        alertmanager: Option<String>,
        /// Signs each webhook POST (`x-jilin-signature: sha256=…`); read
        /// from the environment so that it stays out of shell history.
        #[arg(long, env = "JILIN_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Per attempt, e.g. `10s`.
        #[arg(long, value_parser = seconds)]
        timeout: Option<i64>,
        /// Retried until then, e.g. `1h`.
        #[arg(long, value_parser = seconds)]
        deadline: Option<i64>,
    },
    Get {
        name: String,
    },
    List,
    Delete {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Routes {
    /// Tried in `--position` order; the first match takes the alert
    /// unless it has `--continue`.
    Create {
        id: String,
        #[arg(long)]
        receiver: String,
        /// `label=value`, `label!=value`, `label=~regex` or
        /// `label!~regex`, repeatable; none matches every alert.
        #[arg(long = "matcher")]
        matchers: Vec<String>,
        /// Repeatable.
        #[arg(long = "group-by")]
        group_by: Vec<String>,
        #[arg(long, default_value_t = 0)]
        position: i32,
        #[arg(long, value_parser = seconds)]
        group_wait: Option<i64>,
        #[arg(long, value_parser = seconds)]
        group_interval: Option<i64>,
        #[arg(long, value_parser = seconds)]
        repeat_interval: Option<i64>,
        #[arg(long = "continue")]
        continue_matching: bool,
    },
    List,
    Delete {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Inhibitions {
    /// While an alert matching every `--source` fires, alerts matching
    /// every `--target` with the same `--equal` labels are not delivered.
    Create {
        id: String,
        /// A matcher as for routes, repeatable.
        #[arg(long = "source", required = true)]
        source: Vec<String>,
        #[arg(long = "target", required = true)]
        target: Vec<String>,
        /// Repeatable.
        #[arg(long = "equal")]
        equal: Vec<String>,
    },
    List,
    Delete {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Deliveries {
    List {
        #[arg(long)]
        receiver: Option<String>,
        #[arg(long)]
        alert: Option<String>,
        /// PENDING, DELIVERED or FAILED.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        page_size: i32,
    },
}

/// `90`, `90s`, `5m`, `4h` or `7d` → seconds.
fn seconds(text: &str) -> Result<i64, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: a number of s, m, h or d")),
    };
    number
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("`{text}`: a number of s, m, h or d"))
}

fn duration(seconds: Option<i64>) -> Option<prost_types::Duration> {
    seconds.map(|seconds| prost_types::Duration { seconds, nanos: 0 })
}

fn show_duration(duration: Option<&prost_types::Duration>) -> String {
    duration.map_or_else(String::new, |d| format!("{}s", d.seconds))
}

fn route_matcher(text: &str) -> Result<pb::RouteMatcher, ClientError> {
    let operators = [
        ("=~", Operator::Regex),
        ("!~", Operator::NotRegex),
        ("!=", Operator::NotEqual),
        ("=", Operator::Equal),
    ];
    let (label, value, operator) = operators
        .iter()
        .find_map(|(symbol, operator)| {
            text.split_once(symbol)
                .map(|(label, value)| (label, value, *operator))
        })
        .ok_or_else(|| {
            ClientError::Usage(format!(
                "`{text}` is not `label=value`, `label!=value`, `label=~regex` or `label!~regex`"
            ))
        })?;
    Ok(pb::RouteMatcher {
        label: label.trim().to_owned(),
        operator: operator.into(),
        value: value.trim().trim_matches('"').to_owned(),
    })
}

fn matcher_text(matcher: &pb::RouteMatcher) -> String {
    let symbol = match matcher.operator() {
        Operator::Equal => "=",
        Operator::NotEqual => "!=",
        Operator::Regex => "=~",
        Operator::NotRegex => "!~",
        Operator::Unspecified => "?",
    };
    format!("{}{symbol}\"{}\"", matcher.label, matcher.value)
}

fn receiver_row(receiver: &pb::Receiver) -> Vec<String> {
    let (kind, url) = match &receiver.kind {
        Some(pb::receiver::Kind::Webhook(webhook)) => (
            if webhook.signed {
                "webhook (signed)"
            } else {
                "webhook"
            },
            webhook.url.clone(),
        ),
        Some(pb::receiver::Kind::Alertmanager(alertmanager)) => {
            ("alertmanager", alertmanager.url.clone())
        }
        None => ("", String::new()),
    };
    vec![
        receiver.name.clone(),
        kind.to_owned(),
        url,
        show_duration(receiver.delivery_deadline.as_ref()),
    ]
}

/// One receiver or many, as JSON or a table.
fn print_receivers<M: prost::Message + prost::Name>(
    connection: &Connection,
    message: &M,
    receivers: &[pb::Receiver],
) {
    if connection.json() {
        return print_json(message);
    }
    let rows = receivers.iter().map(receiver_row);
    println!("{}", table(&["RECEIVER", "KIND", "URL", "DEADLINE"], rows));
}

pub async fn receivers(connection: &Connection, command: Receivers) -> Outcome {
    let mut client = client(connection).await?;
    match command {
        Receivers::Create {
            id,
            webhook,
            alertmanager,
            secret,
            timeout,
            deadline,
        } => {
            let kind = match (webhook, alertmanager) {
                (Some(url), _) => pb::receiver::Kind::Webhook(pb::receiver::Webhook {
                    url,
                    secret: secret.unwrap_or_default(),
                    timeout: duration(timeout),
                    ..Default::default()
                }),
                (None, Some(url)) => {
                    pb::receiver::Kind::Alertmanager(pb::receiver::Alertmanager { url })
                }
                (None, None) => {
                    return Err(ClientError::Usage(
                        "give --webhook URL or --alertmanager URL".into(),
                    ));
                }
            };
            let request = pb::CreateReceiverRequest {
                receiver_id: id,
                receiver: Some(pb::Receiver {
                    kind: Some(kind),
                    delivery_deadline: duration(deadline),
                    ..Default::default()
                }),
            };
            let receiver = client.create_receiver(request).await?.into_inner();
            print_receivers(connection, &receiver, std::slice::from_ref(&receiver));
        }
        Receivers::Get { name } => {
            let receiver = client
                .get_receiver(pb::GetReceiverRequest {
                    name: named("receivers", &name),
                })
                .await?
                .into_inner();
            print_receivers(connection, &receiver, std::slice::from_ref(&receiver));
        }
        Receivers::List => {
            let list = client
                .list_receivers(pb::ListReceiversRequest {})
                .await?
                .into_inner();
            print_receivers(connection, &list, &list.receivers);
        }
        Receivers::Delete { name } => {
            client
                .delete_receiver(pb::DeleteReceiverRequest {
                    name: named("receivers", &name),
                })
                .await?;
            if !connection.json() {
                println!("deleted");
            }
        }
    }
    Ok(())
}

fn print_routes(routes: &[pb::Route]) {
    let rows = routes.iter().map(|route| {
        let matchers: Vec<String> = route.matchers.iter().map(matcher_text).collect();
        vec![
            route.position.to_string(),
            route.name.clone(),
            matchers.join(" "),
            route.receiver.clone(),
            route.group_by.join(","),
            format!(
                "{} / {} / {}",
                show_duration(route.group_wait.as_ref()),
                show_duration(route.group_interval.as_ref()),
                show_duration(route.repeat_interval.as_ref())
            ),
            if route.r#continue { "yes" } else { "" }.to_owned(),
        ]
    });
    println!(
        "{}",
        table(
            &[
                "POS",
                "ROUTE",
                "MATCHERS",
                "RECEIVER",
                "GROUP BY",
                "WAIT / INTERVAL / REPEAT",
                "CONTINUE"
            ],
            rows
        )
    );
}

pub async fn routes(connection: &Connection, command: Routes) -> Outcome {
    let mut client = client(connection).await?;
    match command {
        Routes::Create {
            id,
            receiver,
            matchers,
            group_by,
            position,
            group_wait,
            group_interval,
            repeat_interval,
            continue_matching,
        } => {
            let route = pb::Route {
                position,
                matchers: route_matchers(&matchers)?,
                receiver: named("receivers", &receiver),
                group_by,
                group_wait: duration(group_wait),
                group_interval: duration(group_interval),
                repeat_interval: duration(repeat_interval),
                r#continue: continue_matching,
                ..Default::default()
            };
            let request = pb::CreateRouteRequest {
                route_id: id,
                route: Some(route),
            };
            let route = client.create_route(request).await?.into_inner();
            if connection.json() {
                print_json(&route);
            } else {
                print_routes(&[route]);
            }
        }
        Routes::List => {
            let list = client
                .list_routes(pb::ListRoutesRequest {})
                .await?
                .into_inner();
            if connection.json() {
                print_json(&list);
            } else {
                print_routes(&list.routes);
            }
        }
        Routes::Delete { name } => {
            client
                .delete_route(pb::DeleteRouteRequest {
                    name: named("routes", &name),
                })
                .await?;
            if !connection.json() {
                println!("deleted");
            }
        }
    }
    Ok(())
}

fn route_matchers(texts: &[String]) -> Result<Vec<pb::RouteMatcher>, ClientError> {
    texts.iter().map(|text| route_matcher(text)).collect()
}

pub async fn inhibitions(connection: &Connection, command: Inhibitions) -> Outcome {
    let mut client = client(connection).await?;
    let list = match command {
        Inhibitions::Create {
            id,
            source,
            target,
            equal,
        } => {
            let request = pb::CreateInhibitionRequest {
                inhibition_id: id,
                inhibition: Some(pb::Inhibition {
                    source_matchers: route_matchers(&source)?,
                    target_matchers: route_matchers(&target)?,
                    equal,
                    ..Default::default()
                }),
            };
            let inhibition = client.create_inhibition(request).await?.into_inner();
            pb::ListInhibitionsResponse {
                inhibitions: vec![inhibition],
            }
        }
        Inhibitions::List => client
            .list_inhibitions(pb::ListInhibitionsRequest {})
            .await?
            .into_inner(),
        Inhibitions::Delete { name } => {
            client
                .delete_inhibition(pb::DeleteInhibitionRequest {
                    name: named("inhibitions", &name),
                })
                .await?;
            if !connection.json() {
                println!("deleted");
            }
            return Ok(());
        }
    };
    if connection.json() {
        print_json(&list);
        return Ok(());
    }
    let rows = list.inhibitions.iter().map(|inhibition| {
        let matchers = |given: &[pb::RouteMatcher]| -> String {
            given.iter().map(matcher_text).collect::<Vec<_>>().join(" ")
        };
        vec![
            inhibition.name.clone(),
            matchers(&inhibition.source_matchers),
            matchers(&inhibition.target_matchers),
            inhibition.equal.join(","),
            if inhibition.built_in { "yes" } else { "" }.to_owned(),
        ]
    });
    println!(
        "{}",
        table(
            &["INHIBITION", "SOURCE", "TARGET", "EQUAL", "BUILT IN"],
            rows
        )
    );
    Ok(())
}

pub async fn deliveries(connection: &Connection, command: Deliveries) -> Outcome {
    let mut client = client(connection).await?;
    let Deliveries::List {
        receiver,
        alert,
        state,
        page_size,
    } = command;
    let state = match state {
        None => pb::delivery::State::Unspecified,
        Some(text) => pb::delivery::State::from_str_name(&text.to_uppercase())
            .ok_or_else(|| ClientError::Usage(format!("`{text}`: PENDING, DELIVERED or FAILED")))?,
    };
    let request = pb::ListDeliveriesRequest {
        page_size,
        receiver: receiver.map(|r| named("receivers", &r)).unwrap_or_default(),
        alert: alert.map(|a| named("alerts", &a)).unwrap_or_default(),
        state: state.into(),
        ..Default::default()
    };
    let list = client.list_deliveries(request).await?.into_inner();
    if connection.json() {
        print_json(&list);
        return Ok(());
    }
    let rows = list.deliveries.iter().map(|delivery| {
        let last = delivery.attempts.last();
        vec![
            delivery.name.trim_start_matches("deliveries/").to_owned(),
            delivery.receiver.clone(),
            delivery.state().as_str_name().to_owned(),
            format!("{} firing, {} resolved", delivery.firing, delivery.resolved),
            delivery.attempts.len().to_string(),
            last.map(|a| a.error.clone()).unwrap_or_default(),
            time(delivery.create_time.as_ref()),
        ]
    });
    println!(
        "{}",
        table(
            &[
                "DELIVERY",
                "RECEIVER",
                "STATE",
                "ALERTS",
                "ATTEMPTS",
                "LAST ERROR",
                "CREATED"
            ],
            rows
        )
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_with_units() {
        assert_eq!(seconds("90"), Ok(90));
        assert_eq!(seconds("5m"), Ok(300));
        assert_eq!(seconds("4h"), Ok(14_400));
        assert_eq!(seconds("7d"), Ok(604_800));
        assert!(seconds("5 minutes").is_err());
        assert!(seconds("m").is_err());
    }

    #[test]
    fn matchers_read_every_operator() {
        let read = |text| {
            let matcher = route_matcher(text).expect("parses");
            let operator = matcher.operator();
            (matcher.label, operator, matcher.value)
        };
        assert_eq!(
            read("region=220100"),
            ("region".into(), Operator::Equal, "220100".into())
        );
        assert_eq!(
            read("severity!=warning"),
            ("severity".into(), Operator::NotEqual, "warning".into())
        );
        assert_eq!(
            read("region=~\"2201.*\""),
            ("region".into(), Operator::Regex, "2201.*".into())
        );
        assert_eq!(
            read("sector!~auto.*"),
            ("sector".into(), Operator::NotRegex, "auto.*".into())
        );
        assert!(route_matcher("region").is_err());
    }
}
