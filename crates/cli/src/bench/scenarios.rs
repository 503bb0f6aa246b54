//! What the load harness calls: the clients it calls with, the projects it
//! makes for itself (named `bench-{run}-{i}`, so runs never collide), and
//! one call of each scenario.

use jilin_domain::Period;
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use registry::registry_service_client::RegistryServiceClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::client::{AuthedChannel, ClientError, Connection, through_backlog};

type Registry = RegistryServiceClient<AuthedChannel>;
type Indicators = indicators::indicator_service_client::IndicatorServiceClient<AuthedChannel>;

/// What `jilin bench` can run: a call made over and over, or one of the
/// two scenarios of their own (`alert`, `bulk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// gRPC health Check on the registry: the server's bare cost.
    Health,
    /// GetProject of a bench project.
    Get,
    /// ListProjects with a filter, a page of 50.
    List,
    /// ReportProgress, durable, a new (project, month) each call.
    Report,
    /// QueryIndicator: a year by month, by region.
    Query,
    /// 70% get, 10% list, 10% query, 10% report.
    Mixed,
    /// Report acknowledged → schedule_lag alert heard on NATS and WatchAlerts.
    Alert,
    /// Projects created, then their months through BatchReportProgress.
    Bulk,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::Get => "get",
            Scenario::List => "list",
            Scenario::Report => "report",
            Scenario::Query => "query",
            Scenario::Mixed => "mixed",
            Scenario::Alert => "alert",
            Scenario::Bulk => "bulk",
        }
    }
}

/// Clients over `connections` separate HTTP/2 connections per service;
/// call `i` goes over connection `i % connections`.
#[derive(Clone)]
pub struct Clients {
    registry: Vec<Registry>,
    indicators: Vec<Indicators>,
    health: Vec<HealthClient<AuthedChannel>>,
}

impl Clients {
    pub async fn connect(connection: &Connection, connections: usize) -> Result<Self, ClientError> {
        let mut clients = Clients {
            registry: Vec::new(),
            indicators: Vec::new(),
            health: Vec::new(),
        };
        for _ in 0..connections.max(1) {
            let registry_channel = connection.authed(&connection.registry).await?;
            clients
                .health
                .push(HealthClient::new(registry_channel.clone()));
            clients
                .registry
                .push(RegistryServiceClient::new(registry_channel));
            clients.indicators.push(
                indicators::indicator_service_client::IndicatorServiceClient::new(
                    connection.authed(&connection.indicators).await?,
                ),
            );
        }
        Ok(clients)
    }

    pub fn registry(&self, index: u64) -> Registry {
        self.registry[index as usize % self.registry.len()].clone()
    }

    fn indicators(&self, index: u64) -> Indicators {
        self.indicators[index as usize % self.indicators.len()].clone()
    }

    fn health(&self, index: u64) -> HealthClient<AuthedChannel> {
        self.health[index as usize % self.health.len()].clone()
    }
}

/// The bench's own projects: `count` of them, UNDER_CONSTRUCTION, planned
/// from three years before `this_month` to three years after (so half
/// their time has elapsed), in every prefecture.
#[derive(Clone, Debug)]
pub struct BenchProjects {
    pub run: String,
    pub count: u64,
    pub this_month: Period,
    /// Months each project may report: from January three years ago.
    pub first_month: Period,
}

impl BenchProjects {
    pub fn new(run: String, count: u64, this_month: Period) -> Self {
        let first_month = this_month
            .add_months(-36)
            .expect("a month three years ago")
            .january();
        Self {
            run,
            count,
            this_month,
            first_month,
        }
    }

    pub fn id(&self, index: u64) -> String {
        format!("bench-{}-{}", self.run, index % self.count)
    }

    pub fn name(&self, index: u64) -> String {
        format!("projects/{}", self.id(index))
    }

    pub fn project(&self, index: u64) -> registry::Project {
        let regions = jilin_domain::REGIONS;
        let sectors = jilin_domain::SECTORS;
        let start = self.first_month;
        let end = self.this_month.add_months(36).expect("a month ahead");
        registry::Project {
            display_name: format!("Bench plant {index}"),
            sector: sectors[index as usize % sectors.len()].code.to_owned(),
            region_code: regions[index as usize % regions.len()].code.to_owned(),
            agency: "jilin-drc".into(),
            planned_investment_yuan: 1_000_000_000,
            planned_start_date: format!("{start}-01"),
            planned_end_date: format!("{end}-28"),
            ..Default::default()
        }
    }

    /// Creates project `index` and moves it to UNDER_CONSTRUCTION.
    pub async fn create(&self, client: &mut Registry, index: u64) -> Result<(), tonic::Status> {
        let name = self.name(index);
        let create = registry::CreateProjectRequest {
            project: Some(self.project(index)),
            project_id: self.id(index),
            request_id: format!("{name}-create"),
        };
        through_backlog(|| {
            let (mut client, create) = (client.clone(), create.clone());
            async move { client.create_project(create).await }
        })
        .await?;
        for status in [
            registry::project::Status::Approved,
            registry::project::Status::UnderConstruction,
        ] {
            let transition = registry::TransitionProjectRequest {
                name: name.clone(),
                status: status.into(),
                reason: "load test".into(),
                ..Default::default()
            };
            through_backlog(|| {
                let (mut client, transition) = (client.clone(), transition.clone());
                async move { client.transition_project(transition).await }
            })
            .await?;
        }
        Ok(())
    }

    /// The month call `index` reports: one that moves on each time the
    /// projects come round again.
    pub fn rolling_month(&self, index: u64) -> Period {
        let months = self.first_month.months_until(self.this_month) as u64 + 1;
        let round = (index / self.count) % months;
        self.first_month.add_months(round as i32).expect("a month")
    }

    /// Project `index % count`'s report of `period`, at `progress`.
    pub fn report_request(
        &self,
        index: u64,
        period: Period,
        progress: i32,
    ) -> registry::ReportProgressRequest {
        registry::ReportProgressRequest {
            parent: self.name(index),
            report: Some(report(period, index as i64, progress)),
            request_id: String::new(),
        }
    }
}

/// A month's figures; `seed` varies them.
fn report(period: Period, seed: i64, progress: i32) -> registry::ProgressReport {
    registry::ProgressReport {
        period: period.to_string(),
        investment_completed_yuan: 10_000_000 + seed % 1000,
        output_value_yuan: 50_000_000 + seed % 7919,
        value_added_yuan: 12_000_000,
        energy_kgce: 20_000,
        employment: 300,
        rd_spend_yuan: 1_000_000,
        export_value_yuan: 2_000_000,
        physical_progress_percent: progress,
        ..Default::default()
    }
}

/// One call of `scenario`, the `index`th of the run.
pub async fn call(
    scenario: Scenario,
    clients: &Clients,
    projects: &BenchProjects,
    index: u64,
) -> Result<(), String> {
    let scenario = match scenario {
        Scenario::Mixed => match index % 10 {
            0 => Scenario::List,
            1 => Scenario::Query,
            2 => Scenario::Report,
            _ => Scenario::Get,
        },
        other => other,
    };
    let outcome = match scenario {
        Scenario::Health => clients
            .health(index)
            .check(HealthCheckRequest::default())
            .await
            .map(drop),
        Scenario::Alert | Scenario::Bulk => {
            return Err(format!("{} is not a call scenario", scenario.name()));
        }
        Scenario::Get | Scenario::Mixed => clients
            .registry(index)
            .get_project(registry::GetProjectRequest {
                name: projects.name(index * 7919),
            })
            .await
            .map(drop),
        Scenario::List => clients
            .registry(index)
            .list_projects(registry::ListProjectsRequest {
                page_size: 50,
                filter: format!(
                    "region_code = \"{}\" AND status = UNDER_CONSTRUCTION",
                    jilin_domain::REGIONS[index as usize % jilin_domain::REGIONS.len()].code
                ),
                ..Default::default()
            })
            .await
            .map(drop),
        Scenario::Report => clients
            .registry(index)
            .report_progress(projects.report_request(index, projects.rolling_month(index), 50))
            .await
            .map(drop),
        Scenario::Query => clients
            .indicators(index)
            .query_indicator(indicators::QueryIndicatorRequest {
                name: "indicators/rd_intensity".into(),
                start_period: projects.this_month.add_months(-11).unwrap().to_string(),
                end_period: projects.this_month.to_string(),
                granularity: indicators::Granularity::Month.into(),
                group_by: indicators::GroupBy::Region.into(),
                filter: String::new(),
            })
            .await
            .map(drop),
    };
    outcome.map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}
