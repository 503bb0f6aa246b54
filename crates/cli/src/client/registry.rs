//! `jilin projects …`, `jilin reports …`, `jilin catalog …`.

use jilin_proto::registry::v1 as pb;
use pb::registry_service_client::RegistryServiceClient;

use super::{Connection, Outcome, mask, named, time};
use crate::output::{amount, fields, print_json, table};

#[derive(Debug, clap::Subcommand)]
pub enum Projects {
    /// Register a project.
    Create {
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        display_name: String,
        /// A sector code (`jilin catalog sectors`).
        #[arg(long)]
        sector: String,
        /// GB/T 2260 region code (`jilin catalog regions`).
        #[arg(long)]
        region: String,
        #[arg(long)]
        agency: String,
        /// Planned investment in yuan.
        #[arg(long)]
        planned_investment: i64,
        /// YYYY-MM-DD.
        #[arg(long)]
        start: String,
        /// YYYY-MM-DD.
        #[arg(long)]
        end: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    Get {
        /// `projects/{id}` or the id.
        name: String,
    },
    List {
        /// e.g. `status = UNDER_CONSTRUCTION AND region_code = "220100"`.
        #[arg(long, default_value = "")]
        filter: String,
        #[arg(long, default_value = "")]
        order_by: String,
        #[arg(long, default_value = "50")]
        page_size: i32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Change the given fields only.
    Update {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        planned_investment: Option<i64>,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
        #[arg(long)]
        agency: Option<String>,
    },
    /// Move through the life cycle, e.g. `--to UNDER_CONSTRUCTION`.
    Transition {
        name: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        reason: String,
    },
    History {
        name: String,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Reports {
    /// Submit (or revise) one month of progress.
    Submit {
        project: String,
        /// YYYY-MM.
        #[arg(long)]
        period: String,
        #[arg(long, default_value = "0")]
        investment: i64,
        #[arg(long, default_value = "0")]
        output_value: i64,
        #[arg(long, default_value = "0")]
        value_added: i64,
        #[arg(long, default_value = "0")]
        energy: i64,
        #[arg(long, default_value = "0")]
        employment: i64,
        #[arg(long, default_value = "0")]
        rd_spend: i64,
        #[arg(long, default_value = "0")]
        export_value: i64,
        /// Cumulative physical progress, 0..100.
        #[arg(long, default_value = "0")]
        progress: i32,
    },
    List {
        project: String,
    },
    /// Submit many reports from a CSV file (header: project, period, then
    /// any of investment, output_value, value_added, energy, employment,
    /// rd_spend, export_value, progress), in all-or-nothing batches; an
    /// import run again stores no batch twice.
    Import {
        file: std::path::PathBuf,
        /// Reports per call, 1 to 1000.
        #[arg(long, default_value_t = super::import::DEFAULT_BATCH)]
        batch_size: usize,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum Catalog {
    Sectors,
    Regions,
}

fn status_name(status: i32) -> String {
    pb::project::Status::try_from(status)
        .map(|s| s.as_str_name().to_owned())
        .unwrap_or_else(|_| status.to_string())
}

fn print_project(connection: &Connection, project: &pb::Project) {
    if connection.json() {
        return print_json(project);
    }
    println!(
        "{}",
        fields(&[
            ("name", project.name.clone()),
            ("display name", project.display_name.clone()),
            ("status", status_name(project.status)),
            ("sector", format!("{} ({})", project.sector, project.group)),
            ("region", project.region_code.clone()),
            ("agency", project.agency.clone()),
            (
                "planned",
                format!("{} yuan", amount(project.planned_investment_yuan))
            ),
            (
                "span",
                format!(
                    "{} → {}",
                    project.planned_start_date, project.planned_end_date
                )
            ),
            (
                "revision",
                format!("{} (etag {})", project.revision, project.etag)
            ),
            ("updated", time(project.update_time.as_ref())),
        ])
    );
}

async fn client(
    connection: &Connection,
) -> Result<RegistryServiceClient<super::AuthedChannel>, super::ClientError> {
    Ok(RegistryServiceClient::new(
        connection.authed(&connection.registry).await?,
    ))
}

pub async fn projects(connection: &Connection, command: Projects) -> Outcome {
    let mut client = client(connection).await?;
    match command {
        Projects::Create {
            id,
            display_name,
            sector,
            region,
            agency,
            planned_investment,
            start,
            end,
            description,
            tags,
        } => {
            let project = pb::Project {
                display_name,
                description: description.unwrap_or_default(),
                sector,
                region_code: region,
                agency,
                tags,
                planned_investment_yuan: planned_investment,
                planned_start_date: start,
                planned_end_date: end,
                ..Default::default()
            };
            let request = pb::CreateProjectRequest {
                project: Some(project),
                project_id: id.unwrap_or_default(),
                request_id: String::new(),
            };
            let project = client.create_project(request).await?.into_inner();
            print_project(connection, &project);
        }
        Projects::Get { name } => {
            let request = pb::GetProjectRequest {
                name: named("projects", &name),
            };
            print_project(connection, &client.get_project(request).await?.into_inner());
        }
        Projects::List {
            filter,
            order_by,
            page_size,
            page_token,
        } => {
            let request = pb::ListProjectsRequest {
                page_size,
                page_token,
                filter,
                order_by,
            };
            let page = client.list_projects(request).await?.into_inner();
            if connection.json() {
                print_json(&page);
                return Ok(());
            }
            let rows = page.projects.iter().map(|p| {
                vec![
                    p.name.trim_start_matches("projects/").to_owned(),
                    p.display_name.clone(),
                    p.sector.clone(),
                    p.region_code.clone(),
                    status_name(p.status),
                    amount(p.planned_investment_yuan),
                    p.planned_start_date.clone(),
                    p.planned_end_date.clone(),
                ]
            });
            println!(
                "{}",
                table(
                    &[
                        "ID",
                        "NAME",
                        "SECTOR",
                        "REGION",
                        "STATUS",
                        "PLANNED (YUAN)",
                        "START",
                        "END"
                    ],
                    rows
                )
            );
            println!("{} of {} projects", page.projects.len(), page.total_size);
            if !page.next_page_token.is_empty() {
                println!("next page: --page-token {}", page.next_page_token);
            }
        }
        Projects::Update {
            name,
            display_name,
            description,
            planned_investment,
            start,
            end,
            agency,
        } => {
            let mut paths = Vec::new();
            let mut project = pb::Project {
                name: named("projects", &name),
                ..Default::default()
            };
            if let Some(value) = display_name {
                project.display_name = value;
                paths.push("display_name");
            }
            if let Some(value) = description {
                project.description = value;
                paths.push("description");
            }
            if let Some(value) = planned_investment {
                project.planned_investment_yuan = value;
                paths.push("planned_investment_yuan");
            }
            if let Some(value) = start {
                project.planned_start_date = value;
                paths.push("planned_start_date");
            }
            if let Some(value) = end {
                project.planned_end_date = value;
                paths.push("planned_end_date");
            }
            if let Some(value) = agency {
                project.agency = value;
                paths.push("agency");
            }
            if paths.is_empty() {
                return Err(super::ClientError::Usage(
                    "nothing to update: give at least one field flag (see --help)".into(),
                ));
            }
            let request = pb::UpdateProjectRequest {
                project: Some(project),
                update_mask: mask(paths),
            };
            print_project(
                connection,
                &client.update_project(request).await?.into_inner(),
            );
        }
        Projects::Transition { name, to, reason } => {
            let status = pb::project::Status::from_str_name(&to.to_uppercase()).ok_or_else(|| {
                super::ClientError::Usage(format!(
                    "`{to}` is not a status: PROPOSED, APPROVED, UNDER_CONSTRUCTION, OPERATING, SUSPENDED, CANCELLED"
                ))
            })?;
            let request = pb::TransitionProjectRequest {
                name: named("projects", &name),
                status: status.into(),
                reason,
                ..Default::default()
            };
            print_project(
                connection,
                &client.transition_project(request).await?.into_inner(),
            );
        }
        Projects::History { name } => {
            let request = pb::ListProjectHistoryRequest {
                name: named("projects", &name),
                page_size: 1000,
                page_token: String::new(),
            };
            let page = client.list_project_history(request).await?.into_inner();
            if connection.json() {
                print_json(&page);
                return Ok(());
            }
            let rows = page.entries.iter().map(|e| {
                let action = pb::history_entry::Action::try_from(e.action)
                    .map(|a| a.as_str_name().to_owned())
                    .unwrap_or_default();
                let detail = if !e.report.is_empty() {
                    format!("{} v{}", e.report, e.report_revision)
                } else if e.to_status != 0 {
                    format!(
                        "{} → {} {}",
                        status_name(e.from_status),
                        status_name(e.to_status),
                        e.reason
                    )
                } else {
                    e.changed_fields.join(", ")
                };
                vec![
                    e.revision.to_string(),
                    time(e.time.as_ref()),
                    e.actor.clone(),
                    action,
                    detail,
                ]
            });
            println!(
                "{}",
                table(&["REV", "TIME", "ACTOR", "ACTION", "DETAIL"], rows)
            );
        }
    }
    Ok(())
}

pub async fn reports(connection: &Connection, command: Reports) -> Outcome {
    let mut client = client(connection).await?;
    match command {
        Reports::Submit {
            project,
            period,
            investment,
            output_value,
            value_added,
            energy,
            employment,
            rd_spend,
            export_value,
            progress,
        } => {
            let report = pb::ProgressReport {
                period,
                investment_completed_yuan: investment,
                output_value_yuan: output_value,
                value_added_yuan: value_added,
                energy_kgce: energy,
                employment,
                rd_spend_yuan: rd_spend,
                export_value_yuan: export_value,
                physical_progress_percent: progress,
                ..Default::default()
            };
            let request = pb::ReportProgressRequest {
                parent: named("projects", &project),
                report: Some(report),
                request_id: String::new(),
            };
            let report = client.report_progress(request).await?.into_inner();
            if connection.json() {
                print_json(&report);
                return Ok(());
            }
            println!("{} revision {}", report.name, report.revision);
        }
        Reports::Import { file, batch_size } => {
            return super::import::run(connection, client, &file, batch_size).await;
        }
        Reports::List { project } => {
            let request = pb::ListProgressReportsRequest {
                parent: named("projects", &project),
                page_size: 1000,
                page_token: String::new(),
            };
            let page = client.list_progress_reports(request).await?.into_inner();
            if connection.json() {
                print_json(&page);
                return Ok(());
            }
            let rows = page.reports.iter().map(|r| {
                vec![
                    r.period.clone(),
                    amount(r.investment_completed_yuan),
                    amount(r.output_value_yuan),
                    amount(r.value_added_yuan),
                    amount(r.energy_kgce),
                    amount(r.employment),
                    format!("{}%", r.physical_progress_percent),
                    r.revision.to_string(),
                ]
            });
            println!(
                "{}",
                table(
                    &[
                        "PERIOD",
                        "INVESTMENT",
                        "OUTPUT",
                        "VALUE ADDED",
                        "ENERGY (KGCE)",
                        "EMPLOYED",
                        "PROGRESS",
                        "REV"
                    ],
                    rows
                )
            );
        }
    }
    Ok(())
}

pub async fn catalog(connection: &Connection, command: Catalog) -> Outcome {
    let mut client = client(connection).await?;
    match command {
        Catalog::Sectors => {
            let sectors = client
                .list_sectors(pb::ListSectorsRequest {})
                .await?
                .into_inner();
            if connection.json() {
                print_json(&sectors);
                return Ok(());
            }
            let rows = sectors.sectors.iter().map(|s| {
                vec![
                    s.code.clone(),
                    s.display_name.clone(),
                    s.display_name_zh.clone(),
                    s.group.clone(),
                    s.industry_codes.join(" "),
                ]
            });
            println!(
                "{}",
                table(&["CODE", "NAME", "名称", "GROUP", "GB/T 4754"], rows)
            );
        }
        Catalog::Regions => {
            let regions = client
                .list_regions(pb::ListRegionsRequest {})
                .await?
                .into_inner();
            if connection.json() {
                print_json(&regions);
                return Ok(());
            }
            let rows = regions.regions.iter().map(|r| {
                vec![
                    r.code.clone(),
                    r.display_name.clone(),
                    r.display_name_zh.clone(),
                    if r.changjitu { "yes" } else { "" }.into(),
                ]
            });
            println!("{}", table(&["CODE", "NAME", "名称", "CHANGJITU"], rows));
        }
    }
    Ok(())
}
