//! `jilin silences …`, `jilin rules …`, and what the risk commands share.

use console::style;
use jilin_proto::risk::v1 as pb;
use pb::risk_service_client::RiskServiceClient;

use super::{ClientError, Connection, Outcome, mask, named, time};
use crate::output::{fields, print_json, table, value};

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
pub(super) fn severity(value: i32) -> String {
    pb::Severity::try_from(value)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_default()
}

pub(super) fn coloured(text: String, severity_value: i32) -> String {
    match pb::Severity::try_from(severity_value) {
        Ok(pb::Severity::Critical) => style(text).red().bold().to_string(),
        Ok(pb::Severity::Warning) => style(text).yellow().to_string(),
        _ => text,
    }
}

pub(crate) async fn client(
    connection: &Connection,
) -> Result<RiskServiceClient<super::AuthedChannel>, ClientError> {
    Ok(RiskServiceClient::new(
        connection.authed(&connection.risk).await?,
    ))
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
                comment,
                ..Default::default()
            };
            let request = pb::CreateSilenceRequest {
                silence: Some(silence),
            };
            let silence = client.create_silence(request).await?.into_inner();
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
            print_rule(connection, &client.update_rule(request).await?.into_inner());
        }
    }
    Ok(())
}
