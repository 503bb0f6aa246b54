//! `jilin indicators …`: the catalog, queries (series as rows per period,
//! breakdowns as columns), explanations and live values.

use std::collections::BTreeMap;

use jilin_proto::indicators::v1 as pb;
use pb::indicator_service_client::IndicatorServiceClient;
use tokio_stream::StreamExt;

use super::{ClientError, Connection, Outcome, named};
use crate::output::{fields, print_json, table, value};

#[derive(Debug, clap::Subcommand)]
pub enum Indicators {
    List,
    Get {
        /// `indicators/{id}` or the id.
        name: String,
    },
    /// Define an indicator over the reported measures.
    Create {
        id: String,
        #[arg(long)]
        display_name: String,
        /// e.g. `sum(rd_spend) / sum(value_added) * 100`.
        #[arg(long)]
        expression: String,
        #[arg(long, default_value = "")]
        unit: String,
        /// HIGHER_IS_BETTER or LOWER_IS_BETTER.
        #[arg(long, default_value = "HIGHER_IS_BETTER")]
        direction: String,
        /// INNOVATIVE, COORDINATED, GREEN, OPEN, SHARED or STRUCTURE.
        #[arg(long, default_value = "STRUCTURE")]
        concept: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Values over a period range, optionally broken down.
    Query {
        name: String,
        /// YYYY-MM (default: January of last year).
        #[arg(long)]
        start: Option<String>,
        /// YYYY-MM (default: last month).
        #[arg(long)]
        end: Option<String>,
        /// month, quarter or year.
        #[arg(long, default_value = "month")]
        granularity: String,
        /// none, region, sector or group.
        #[arg(long, default_value = "none")]
        group_by: String,
        /// Label matchers, e.g. `region="220100"`.
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// How one value was computed.
    Explain {
        name: String,
        /// `2026-03`, `2026-Q1` or `2026`.
        #[arg(long)]
        period: String,
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// Follow value changes live.
    Watch {
        names: Vec<String>,
    },
}

fn enum_value(
    text: &str,
    parse: impl Fn(&str) -> Option<i32>,
    what: &str,
    choices: &str,
) -> Result<i32, ClientError> {
    parse(&text.to_uppercase())
        .ok_or_else(|| ClientError::Usage(format!("`{text}` is not a {what}: {choices}")))
}

fn default_range() -> (String, String) {
    let last = jilin_domain::Period::of_date(time::OffsetDateTime::now_utc().date())
        .add_months(-1)
        .expect("in range");
    (format!("{}-01", last.year() - 1), last.to_string())
}

pub async fn run(connection: &Connection, command: Indicators) -> Outcome {
    let mut client = IndicatorServiceClient::new(connection.authed(&connection.indicators).await?);
    match command {
        Indicators::List => {
            let list = client
                .list_indicators(pb::ListIndicatorsRequest::default())
                .await?
                .into_inner();
            if connection.json() {
                print_json(&list);
                return Ok(());
            }
            let rows = list.indicators.iter().map(|i| {
                vec![
                    i.name.trim_start_matches("indicators/").to_owned(),
                    i.display_name.clone(),
                    i.unit.clone(),
                    pb::Concept::try_from(i.concept)
                        .map(|c| c.as_str_name().to_owned())
                        .unwrap_or_default(),
                    if i.built_in { "built-in" } else { "" }.into(),
                ]
            });
            println!("{}", table(&["ID", "NAME", "UNIT", "CONCEPT", ""], rows));
        }
        Indicators::Get { name } => {
            let indicator = client
                .get_indicator(pb::GetIndicatorRequest {
                    name: named("indicators", &name),
                })
                .await?
                .into_inner();
            print_indicator(connection, &indicator);
        }
        Indicators::Create {
            id,
            display_name,
            expression,
            unit,
            direction,
            concept,
            description,
        } => {
            let direction = enum_value(
                &direction,
                |t| pb::Direction::from_str_name(t).map(Into::into),
                "direction",
                "HIGHER_IS_BETTER, LOWER_IS_BETTER",
            )?;
            let concept = enum_value(
                &concept,
                |t| pb::Concept::from_str_name(t).map(Into::into),
                "concept",
                "INNOVATIVE, COORDINATED, GREEN, OPEN, SHARED, STRUCTURE",
            )?;
            let indicator = pb::Indicator {
                display_name,
                description,
                unit,
                direction,
                concept,
                expression,
                ..Default::default()
            };
            let request = pb::CreateIndicatorRequest {
                indicator_id: id,
                indicator: Some(indicator),
            };
            print_indicator(
                connection,
                &client.create_indicator(request).await?.into_inner(),
            );
        }
        Indicators::Query {
            name,
            start,
            end,
            granularity,
            group_by,
            filter,
        } => {
            let (default_start, default_end) = default_range();
            let granularity = enum_value(
                &granularity,
                |t| pb::Granularity::from_str_name(t).map(Into::into),
                "granularity",
                "month, quarter, year",
            )?;
            let group_by = enum_value(
                &group_by,
                |t| pb::GroupBy::from_str_name(t).map(Into::into),
                "breakdown",
                "none, region, sector, group",
            )?;
            let request = pb::QueryIndicatorRequest {
                name: named("indicators", &name),
                start_period: start.unwrap_or(default_start),
                end_period: end.unwrap_or(default_end),
                granularity,
                group_by,
                filter,
            };
            let response = client.query_indicator(request).await?.into_inner();
            if connection.json() {
                print_json(&response);
                return Ok(());
            }
            println!("{}", series_table(&response));
        }
        Indicators::Explain {
            name,
            period,
            filter,
        } => {
            let request = pb::ExplainIndicatorValueRequest {
                name: named("indicators", &name),
                period,
                filter,
            };
            let explanation = client.explain_indicator_value(request).await?.into_inner();
            if connection.json() {
                print_json(&explanation);
                return Ok(());
            }
            println!(
                "{}",
                fields(&[
                    ("period", explanation.period.clone()),
                    ("expression", explanation.parsed_expression.clone()),
                    ("value", value(explanation.value)),
                    ("target", value(explanation.target)),
                    ("attainment", value(explanation.attainment)),
                ])
            );
            let rows = explanation.terms.iter().map(|t| {
                vec![
                    t.expression.clone(),
                    format!("{}..{}", t.start_period, t.end_period),
                    t.filter.clone(),
                    value(t.value),
                ]
            });
            println!("\n{}", table(&["TERM", "MONTHS", "FILTER", "VALUE"], rows));
        }
        Indicators::Watch { names } => {
            let request = pb::WatchIndicatorsRequest {
                names: names.iter().map(|n| named("indicators", n)).collect(),
            };
            let mut changes = client.watch_indicators(request).await?.into_inner();
            while let Some(change) = changes.next().await {
                let change = change?;
                if connection.json() {
                    print_json(&change);
                } else {
                    let group = if change.group.is_empty() {
                        "province".into()
                    } else {
                        change.group.clone()
                    };
                    println!(
                        "{} {} {}: {} (was {}) {}",
                        change.name.trim_start_matches("indicators/"),
                        change.period,
                        group,
                        value(change.value),
                        value(change.previous_value),
                        change.unit
                    );
                }
            }
        }
    }
    Ok(())
}

fn print_indicator(connection: &Connection, indicator: &pb::Indicator) {
    if connection.json() {
        return print_json(indicator);
    }
    let targets: Vec<String> = indicator
        .targets
        .iter()
        .map(|t| format!("{}: {}", t.year, value(Some(t.value))))
        .collect();
    println!(
        "{}",
        fields(&[
            ("name", indicator.name.clone()),
            (
                "display name",
                format!("{} {}", indicator.display_name, indicator.display_name_zh)
            ),
            ("expression", indicator.expression.clone()),
            ("unit", indicator.unit.clone()),
            (
                "direction",
                pb::Direction::try_from(indicator.direction)
                    .map(|d| d.as_str_name().to_owned())
                    .unwrap_or_default()
            ),
            ("targets", targets.join(", ")),
            ("description", indicator.description.clone()),
        ])
    );
}

/// One row per period, one column per series.
pub fn series_table(response: &pb::QueryIndicatorResponse) -> String {
    let mut periods: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let columns = response.series.len();
    for (column, series) in response.series.iter().enumerate() {
        for point in &series.points {
            let row = periods
                .entry(point.period.clone())
                .or_insert_with(|| vec!["-".into(); columns]);
            row[column] = value(point.value);
        }
    }
    let mut header = vec!["PERIOD".to_owned()];
    header.extend(response.series.iter().map(|s| {
        if s.group.is_empty() {
            response
                .indicator
                .as_ref()
                .map(|i| i.unit.clone())
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "VALUE".into())
        } else if s.group_display_name.is_empty() {
            s.group.clone()
        } else {
            s.group_display_name.clone()
        }
    }));
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(
        &header,
        periods.into_iter().map(|(period, values)| {
            let mut row = vec![period];
            row.extend(values);
            row
        }),
    )
}
