//! Who may call what, checked over every RPC of the three services as
//! `jilin up` runs them (real tokens signed by its development key):
//! no token, an expired one, a bad signature and a wrong audience are
//! UNAUTHENTICATED with their reason; a reporter writes only its own
//! agency's projects, an analyst indicators, a supervisor rules, alerts and
//! silences, an admin everything; every principal reads. A refused call
//! leaves all three stores exactly as they were. The actor recorded (in
//! history, silences, rule edits) is the token's subject, whatever a header
//! claims.

mod common;

use std::time::Duration;

use jilin::client::Credentials;
use jilin::up::System;
use jilin_auth::{AUDIENCE, DEV_ISSUER, Grant, Minter, Role};
use jilin_proto::indicators::v1 as indicators;
use jilin_proto::registry::v1 as registry;
use jilin_proto::risk::v1 as risk;
use jilin_testkit::NatsServer;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use indicators::indicator_service_client::IndicatorServiceClient;
use registry::registry_service_client::RegistryServiceClient;
use risk::risk_service_client::RiskServiceClient;

type Channel = jilin::client::AuthedChannel;

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Caller {
    NoToken,
    Expired,
    BadSignature,
    WrongAudience,
    OwnReporter,
    OtherReporter,
    Analyst,
    Supervisor,
    Admin,
}

const CALLERS: [Caller; 9] = [
    Caller::NoToken,
    Caller::Expired,
    Caller::BadSignature,
    Caller::WrongAudience,
    Caller::OwnReporter,
    Caller::OtherReporter,
    Caller::Analyst,
    Caller::Supervisor,
    Caller::Admin,
];

/// The agency of the project every registry write is about.
const AGENCY: &str = "2201-drc";

/// What a write needs beyond being authenticated.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Needs {
    Nothing,
    Agency,
    Role(Role),
}

#[derive(Clone, Copy, Debug)]
enum Rpc {
    CreateProject,
    GetProject,
    ListProjects,
    UpdateProject,
    TransitionProject,
    ListProjectHistory,
    ReportProgress,
    BatchReportProgress,
    GetProgressReport,
    ListProgressReports,
    ListSectors,
    ListRegions,
    ListIndicators,
    GetIndicator,
    CreateIndicator,
    UpdateIndicator,
    DeleteIndicator,
    QueryIndicator,
    ExplainIndicatorValue,
    WatchIndicators,
    ListRules,
    GetRule,
    CreateRule,
    UpdateRule,
    ListAlerts,
    GetAlert,
    AcknowledgeAlert,
    CreateSilence,
    ListSilences,
    DeleteSilence,
    WatchAlerts,
    CreateReceiver,
    GetReceiver,
    ListReceivers,
    DeleteReceiver,
    CreateRoute,
    ListRoutes,
    DeleteRoute,
    CreateInhibition,
    ListInhibitions,
    DeleteInhibition,
    ListDeliveries,
}

const RPCS: [Rpc; 42] = [
    Rpc::CreateProject,
    Rpc::GetProject,
    Rpc::ListProjects,
    Rpc::UpdateProject,
    Rpc::TransitionProject,
    Rpc::ListProjectHistory,
    Rpc::ReportProgress,
    Rpc::BatchReportProgress,
    Rpc::GetProgressReport,
    Rpc::ListProgressReports,
    Rpc::ListSectors,
    Rpc::ListRegions,
    Rpc::ListIndicators,
    Rpc::GetIndicator,
    Rpc::CreateIndicator,
    Rpc::UpdateIndicator,
    Rpc::DeleteIndicator,
    Rpc::QueryIndicator,
    Rpc::ExplainIndicatorValue,
    Rpc::WatchIndicators,
    Rpc::ListRules,
    Rpc::GetRule,
    Rpc::CreateRule,
    Rpc::UpdateRule,
    Rpc::ListAlerts,
    Rpc::GetAlert,
    Rpc::AcknowledgeAlert,
    Rpc::CreateSilence,
    Rpc::ListSilences,
    Rpc::DeleteSilence,
    Rpc::WatchAlerts,
    Rpc::CreateReceiver,
    Rpc::GetReceiver,
    Rpc::ListReceivers,
    Rpc::DeleteReceiver,
    Rpc::CreateRoute,
    Rpc::ListRoutes,
    Rpc::DeleteRoute,
    Rpc::CreateInhibition,
    Rpc::ListInhibitions,
    Rpc::DeleteInhibition,
    Rpc::ListDeliveries,
];

impl Rpc {
    fn needs(self) -> Needs {
        use Rpc::*;
        match self {
            CreateProject | UpdateProject | TransitionProject | ReportProgress
            | BatchReportProgress => Needs::Agency,
            CreateIndicator | UpdateIndicator | DeleteIndicator => Needs::Role(Role::Analyst),
            CreateRule | UpdateRule | AcknowledgeAlert | CreateSilence | DeleteSilence
            | CreateReceiver | GetReceiver | ListReceivers | DeleteReceiver | CreateRoute
            | DeleteRoute | CreateInhibition | DeleteInhibition => Needs::Role(Role::Supervisor),
            _ => Needs::Nothing,
        }
    }
}

/// The refusal `caller` gets for `rpc`: code and ErrorInfo reason, or
/// `None` when the call is let through.
fn expected(rpc: Rpc, caller: Caller) -> Option<(Code, &'static str)> {
    let unauthenticated = |reason| Some((Code::Unauthenticated, reason));
    match (caller, rpc.needs()) {
        (Caller::NoToken, _) => unauthenticated("TOKEN_MISSING"),
        (Caller::Expired, _) => unauthenticated("TOKEN_EXPIRED"),
        (Caller::BadSignature, _) => unauthenticated("TOKEN_BAD_SIGNATURE"),
        (Caller::WrongAudience, _) => unauthenticated("TOKEN_WRONG_AUDIENCE"),
        (Caller::Admin, _) | (_, Needs::Nothing) => None,
        (Caller::OwnReporter, Needs::Agency) => None,
        (_, Needs::Agency) => Some((Code::PermissionDenied, "AGENCY_REQUIRED")),
        (Caller::Analyst, Needs::Role(Role::Analyst)) => None,
        (Caller::Supervisor, Needs::Role(Role::Supervisor)) => None,
        (_, Needs::Role(_)) => Some((Code::PermissionDenied, "ROLE_REQUIRED")),
    }
}

struct Clients {
    registry: RegistryServiceClient<Channel>,
    indicators: IndicatorServiceClient<Channel>,
    risk: RiskServiceClient<Channel>,
}

async fn clients(system: &System, credentials: &Credentials) -> Clients {
    let [registry_url, indicators_url, risk_url] = common::urls(system);
    let channel = |url: String| async move {
        let channel = system.channel(&url).await.unwrap();
        credentials.on(channel)
    };
    Clients {
        registry: RegistryServiceClient::new(channel(registry_url).await),
        indicators: IndicatorServiceClient::new(channel(indicators_url).await),
        risk: RiskServiceClient::new(channel(risk_url).await),
    }
}

fn project(id: &str) -> registry::Project {
    registry::Project {
        name: format!("projects/{id}"),
        display_name: "FAW paint shop".into(),
        sector: "automobile".into(),
        region_code: "220100".into(),
        agency: AGENCY.into(),
        planned_investment_yuan: 1_000_000_000,
        planned_start_date: "2025-03-01".into(),
        planned_end_date: "2027-06-30".into(),
        ..Default::default()
    }
}

fn report(period: &str) -> registry::ProgressReport {
    registry::ProgressReport {
        period: period.into(),
        investment_completed_yuan: 10_000_000,
        output_value_yuan: 5_000_000,
        value_added_yuan: 1_000_000,
        energy_kgce: 1_000,
        employment: 100,
        physical_progress_percent: 10,
        ..Default::default()
    }
}

fn indicator(id: &str) -> indicators::Indicator {
    indicators::Indicator {
        name: format!("indicators/{id}"),
        display_name: "Output".into(),
        display_name_zh: "产值".into(),
        unit: "yuan".into(),
        direction: indicators::Direction::HigherIsBetter.into(),
        concept: indicators::Concept::Structure.into(),
        expression: "sum(output_value)".into(),
        ..Default::default()
    }
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// Calls `rpc` once; `cell` makes the ids of what it creates unique.
async fn call(clients: &mut Clients, rpc: Rpc, cell: usize) -> Result<(), Status> {
    let target = "projects/target".to_string();
    match rpc {
        Rpc::CreateProject => {
            let request = registry::CreateProjectRequest {
                project_id: format!("cell-{cell}"),
                project: Some(project(&format!("cell-{cell}"))),
                request_id: String::new(),
            };
            clients.registry.create_project(request).await.map(drop)
        }
        Rpc::GetProject => {
            let request = registry::GetProjectRequest { name: target };
            clients.registry.get_project(request).await.map(drop)
        }
        Rpc::ListProjects => {
            let request = registry::ListProjectsRequest::default();
            clients.registry.list_projects(request).await.map(drop)
        }
        Rpc::UpdateProject => {
            let request = registry::UpdateProjectRequest {
                project: Some(registry::Project {
                    name: target,
                    display_name: format!("Renamed {cell}"),
                    ..Default::default()
                }),
                update_mask: mask(&["display_name"]),
            };
            clients.registry.update_project(request).await.map(drop)
        }
        Rpc::TransitionProject => {
            let request = registry::TransitionProjectRequest {
                name: target,
                status: registry::project::Status::Suspended.into(),
                reason: "audit".into(),
                ..Default::default()
            };
            clients.registry.transition_project(request).await.map(drop)
        }
        Rpc::ListProjectHistory => {
            let request = registry::ListProjectHistoryRequest {
                name: target,
                ..Default::default()
            };
            clients
                .registry
                .list_project_history(request)
                .await
                .map(drop)
        }
        Rpc::ReportProgress => {
            let request = registry::ReportProgressRequest {
                parent: target,
                report: Some(report("2026-01")),
                request_id: String::new(),
            };
            clients.registry.report_progress(request).await.map(drop)
        }
        Rpc::BatchReportProgress => {
            let request = registry::BatchReportProgressRequest {
                requests: vec![registry::ReportProgressRequest {
                    parent: target,
                    report: Some(report("2026-02")),
                    request_id: String::new(),
                }],
                request_id: String::new(),
            };
            clients
                .registry
                .batch_report_progress(request)
                .await
                .map(drop)
        }
        Rpc::GetProgressReport => {
            let request = registry::GetProgressReportRequest {
                name: format!("{target}/reports/2026-01"),
            };
            clients
                .registry
                .get_progress_report(request)
                .await
                .map(drop)
        }
        Rpc::ListProgressReports => {
            let request = registry::ListProgressReportsRequest {
                parent: target,
                ..Default::default()
            };
            clients
                .registry
                .list_progress_reports(request)
                .await
                .map(drop)
        }
        Rpc::ListSectors => {
            let request = registry::ListSectorsRequest::default();
            clients.registry.list_sectors(request).await.map(drop)
        }
        Rpc::ListRegions => {
            let request = registry::ListRegionsRequest::default();
            clients.registry.list_regions(request).await.map(drop)
        }
        Rpc::ListIndicators => {
            let request = indicators::ListIndicatorsRequest::default();
            clients.indicators.list_indicators(request).await.map(drop)
        }
        Rpc::GetIndicator => {
            let request = indicators::GetIndicatorRequest {
                name: "indicators/rd_intensity".into(),
            };
            clients.indicators.get_indicator(request).await.map(drop)
        }
        Rpc::CreateIndicator => {
            let request = indicators::CreateIndicatorRequest {
                indicator_id: format!("cell_{cell}"),
                indicator: Some(indicator(&format!("cell_{cell}"))),
            };
            clients.indicators.create_indicator(request).await.map(drop)
        }
        Rpc::UpdateIndicator => {
            let request = indicators::UpdateIndicatorRequest {
                indicator: Some(indicators::Indicator {
                    display_name: format!("Output {cell}"),
                    ..indicator("target_output")
                }),
                update_mask: mask(&["display_name"]),
            };
            clients.indicators.update_indicator(request).await.map(drop)
        }
        Rpc::DeleteIndicator => {
            let request = indicators::DeleteIndicatorRequest {
                name: format!("indicators/doomed_{cell}"),
                etag: String::new(),
            };
            clients.indicators.delete_indicator(request).await.map(drop)
        }
        Rpc::QueryIndicator => {
            let request = indicators::QueryIndicatorRequest {
                name: "indicators/rd_intensity".into(),
                start_period: "2026-01".into(),
                end_period: "2026-03".into(),
                ..Default::default()
            };
            clients.indicators.query_indicator(request).await.map(drop)
        }
        Rpc::ExplainIndicatorValue => {
            let request = indicators::ExplainIndicatorValueRequest {
                name: "indicators/rd_intensity".into(),
                period: "2026-01".into(),
                filter: String::new(),
            };
            let explained = clients.indicators.explain_indicator_value(request).await;
            explained.map(drop)
        }
        Rpc::WatchIndicators => {
            let request = indicators::WatchIndicatorsRequest::default();
            clients.indicators.watch_indicators(request).await.map(drop)
        }
        Rpc::ListRules => {
            let request = risk::ListRulesRequest::default();
            clients.risk.list_rules(request).await.map(drop)
        }
        Rpc::GetRule => {
            let request = risk::GetRuleRequest {
                name: "rules/schedule_lag".into(),
            };
            clients.risk.get_rule(request).await.map(drop)
        }
        Rpc::CreateRule => {
            let request = risk::CreateRuleRequest {
                rule_id: format!("cell_{cell}"),
                rule: Some(risk::Rule {
                    kind: risk::rule::Kind::Indicator.into(),
                    indicator: Some(risk::rule::IndicatorMeasure {
                        indicator: "indicators/rd_intensity".into(),
                        ..Default::default()
                    }),
                    bands: vec![risk::Band {
                        severity: risk::Severity::Warning.into(),
                        comparison: risk::Comparison::Below.into(),
                        threshold: 1.0,
                    }],
                    for_periods: 1,
                    summary: "R&D intensity is low".into(),
                    ..Default::default()
                }),
            };
            clients.risk.create_rule(request).await.map(drop)
        }
        Rpc::UpdateRule => {
            let request = risk::UpdateRuleRequest {
                rule: Some(risk::Rule {
                    name: "rules/schedule_lag".into(),
                    summary: format!("behind schedule ({cell})"),
                    ..Default::default()
                }),
                update_mask: mask(&["summary"]),
            };
            clients.risk.update_rule(request).await.map(drop)
        }
        Rpc::ListAlerts => {
            let request = risk::ListAlertsRequest::default();
            clients.risk.list_alerts(request).await.map(drop)
        }
        Rpc::GetAlert => {
            let request = risk::GetAlertRequest {
                name: "alerts/schedule_lag:projects:target".into(),
            };
            clients.risk.get_alert(request).await.map(drop)
        }
        Rpc::AcknowledgeAlert => {
            let request = risk::AcknowledgeAlertRequest {
                name: "alerts/schedule_lag:projects:target".into(),
                comment: "seen".into(),
                ..Default::default()
            };
            clients.risk.acknowledge_alert(request).await.map(drop)
        }
        Rpc::CreateSilence => {
            let now = time::OffsetDateTime::now_utc();
            let request = risk::CreateSilenceRequest {
                silence: Some(risk::Silence {
                    matchers: vec![risk::silence::Matcher {
                        name: "region".into(),
                        value: "220100".into(),
                        negated: false,
                    }],
                    start_time: Some(jilin_proto::timestamp(now)),
                    end_time: Some(jilin_proto::timestamp(now + time::Duration::hours(1))),
                    comment: format!("cell {cell}"),
                    ..Default::default()
                }),
            };
            clients.risk.create_silence(request).await.map(drop)
        }
        Rpc::ListSilences => {
            let request = risk::ListSilencesRequest::default();
            clients.risk.list_silences(request).await.map(drop)
        }
        Rpc::DeleteSilence => {
            let request = risk::DeleteSilenceRequest {
                name: "silences/none".into(),
            };
            clients.risk.delete_silence(request).await.map(drop)
        }
        Rpc::WatchAlerts => {
            let request = risk::WatchAlertsRequest::default();
            clients.risk.watch_alerts(request).await.map(drop)
        }
        Rpc::CreateReceiver => {
            let request = risk::CreateReceiverRequest {
                receiver_id: format!("hook_{cell}"),
                receiver: Some(risk::Receiver {
                    kind: Some(risk::receiver::Kind::Webhook(risk::receiver::Webhook {
                        url: "http://127.0.0.1:9/hook".into(),
                        ..Default::default()
                    })),
                    ..Default::default()
                }),
            };
            clients.risk.create_receiver(request).await.map(drop)
        }
        Rpc::GetReceiver => {
            let request = risk::GetReceiverRequest {
                name: "receivers/none".into(),
            };
            clients.risk.get_receiver(request).await.map(drop)
        }
        Rpc::ListReceivers => {
            let request = risk::ListReceiversRequest::default();
            clients.risk.list_receivers(request).await.map(drop)
        }
        Rpc::DeleteReceiver => {
            let request = risk::DeleteReceiverRequest {
                name: "receivers/none".into(),
            };
            clients.risk.delete_receiver(request).await.map(drop)
        }
        Rpc::CreateRoute => {
            let request = risk::CreateRouteRequest {
                route_id: format!("route_{cell}"),
                route: Some(risk::Route {
                    receiver: "receivers/none".into(),
                    ..Default::default()
                }),
            };
            clients.risk.create_route(request).await.map(drop)
        }
        Rpc::ListRoutes => {
            let request = risk::ListRoutesRequest::default();
            clients.risk.list_routes(request).await.map(drop)
        }
        Rpc::DeleteRoute => {
            let request = risk::DeleteRouteRequest {
                name: "routes/none".into(),
            };
            clients.risk.delete_route(request).await.map(drop)
        }
        Rpc::CreateInhibition => {
            let matcher = |label: &str, value: &str| risk::RouteMatcher {
                label: label.into(),
                operator: risk::route_matcher::Operator::Equal.into(),
                value: value.into(),
            };
            let request = risk::CreateInhibitionRequest {
                inhibition_id: format!("inhibition_{cell}"),
                inhibition: Some(risk::Inhibition {
                    source_matchers: vec![matcher("severity", "critical")],
                    target_matchers: vec![matcher("severity", "warning")],
                    equal: vec!["project".into()],
                    ..Default::default()
                }),
            };
            clients.risk.create_inhibition(request).await.map(drop)
        }
        Rpc::ListInhibitions => {
            let request = risk::ListInhibitionsRequest::default();
            clients.risk.list_inhibitions(request).await.map(drop)
        }
        Rpc::DeleteInhibition => {
            let request = risk::DeleteInhibitionRequest {
                name: "inhibitions/none".into(),
            };
            clients.risk.delete_inhibition(request).await.map(drop)
        }
        Rpc::ListDeliveries => {
            let request = risk::ListDeliveriesRequest::default();
            clients.risk.list_deliveries(request).await.map(drop)
        }
    }
}

/// The credentials of each caller.
fn credentials(system: &System, caller: Caller) -> Credentials {
    let key = &system.identity.keys.signing_key;
    let admin = Grant {
        subject: "users/dev-admin".into(),
        roles: vec![Role::Admin],
        agency: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let token = |name: &str| system.tokens.value(name).unwrap().to_owned();
    let token = match caller {
        Caller::NoToken => return Credentials::default(),
        Caller::Expired => Minter::from_key_file(key, DEV_ISSUER, AUDIENCE)
            .unwrap()
            .mint(
                &admin,
                now - time::Duration::hours(2),
                time::Duration::hours(1),
            )
            .unwrap(),
        Caller::BadSignature => {
            // The admin's claims under the analyst's signature.
            let admin_token = token("admin");
            let analyst = token("analyst");
            let (claims, _) = admin_token.rsplit_once('.').unwrap();
            let (_, signature) = analyst.rsplit_once('.').unwrap();
            format!("{claims}.{signature}")
        }
        Caller::WrongAudience => Minter::from_key_file(key, DEV_ISSUER, "elsewhere")
            .unwrap()
            .mint(&admin, now, time::Duration::hours(1))
            .unwrap(),
        Caller::OwnReporter => token(&format!("reporter-{AGENCY}")),
        Caller::OtherReporter => token("reporter-2202-drc"),
        Caller::Analyst => token("analyst"),
        Caller::Supervisor => token("supervisor"),
        Caller::Admin => token("admin"),
    };
    Credentials::new(Some(&token), None).unwrap()
}

fn fingerprints(system: &System) -> Vec<Vec<u64>> {
    vec![
        system.registry.state_fingerprint(),
        system.indicators.fingerprint(),
        system.risk.fingerprint(),
    ]
}

/// Waits until nothing changes in the stores for a while (the services'
/// background work after the setup has settled).
async fn settled(system: &System) -> Vec<Vec<u64>> {
    let mut last = fingerprints(system);
    let mut quiet = 0;
    let deadline = std::time::Instant::now() + common::PATIENCE;
    while quiet < 10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = fingerprints(system);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
        assert!(
            std::time::Instant::now() < deadline,
            "the stores never settled"
        );
    }
    last
}

async fn start_system() -> (NatsServer, tempfile::TempDir, System) {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let config = common::system_config(
        nats.url(),
        data.path(),
        jilin_testkit::TEST_NOW.parse().unwrap(),
    );
    let system = System::start(&config).await.expect("the system starts");
    (nats, data, system)
}

#[tokio::test]
async fn every_rpc_lets_through_exactly_the_callers_it_should() {
    let (_nats, _data, system) = start_system().await;
    // What the writes are about: a project of AGENCY under construction,
    // a user indicator, an indicator per delete cell.
    let mut admin = clients(&system, &credentials(&system, Caller::Admin)).await;
    admin
        .registry
        .create_project(registry::CreateProjectRequest {
            project_id: "target".into(),
            project: Some(project("target")),
            request_id: String::new(),
        })
        .await
        .unwrap();
    for status in [
        registry::project::Status::Approved,
        registry::project::Status::UnderConstruction,
    ] {
        admin
            .registry
            .transition_project(registry::TransitionProjectRequest {
                name: "projects/target".into(),
                status: status.into(),
                reason: "setup".into(),
                ..Default::default()
            })
            .await
            .unwrap();
    }
    admin
        .indicators
        .create_indicator(indicators::CreateIndicatorRequest {
            indicator_id: "target_output".into(),
            indicator: Some(indicator("target_output")),
        })
        .await
        .unwrap();
    let cells: Vec<(usize, Rpc, Caller)> = RPCS
        .iter()
        .flat_map(|rpc| CALLERS.iter().map(move |caller| (*rpc, *caller)))
        .enumerate()
        .map(|(cell, (rpc, caller))| (cell, rpc, caller))
        .collect();
    for (cell, rpc, _) in &cells {
        if matches!(rpc, Rpc::DeleteIndicator) {
            admin
                .indicators
                .create_indicator(indicators::CreateIndicatorRequest {
                    indicator_id: format!("doomed_{cell}"),
                    indicator: Some(indicator(&format!("doomed_{cell}"))),
                })
                .await
                .unwrap();
        }
    }

    // One set of channels per caller: a TLS handshake per cell would make
    // the run outlast the services' minute-long bookkeeping (pruning
    // applied event ids), which changes the stores on its own.
    let mut by_caller = std::collections::HashMap::new();
    for caller in CALLERS {
        by_caller.insert(
            caller,
            clients(&system, &credentials(&system, caller)).await,
        );
    }

    // Every refusal first, each leaving the stores as they were.
    let mut checked = 0;
    let before = settled(&system).await;
    for (cell, rpc, caller) in &cells {
        let Some((code, reason)) = expected(*rpc, *caller) else {
            continue;
        };
        let clients = by_caller.get_mut(caller).expect("every caller");
        let status = call(clients, *rpc, *cell)
            .await
            .expect_err(&format!("{rpc:?} by {caller:?} is refused"));
        assert_eq!(status.code(), code, "{rpc:?} by {caller:?}: {status:?}");
        let info = status.get_details_error_info().expect("an ErrorInfo");
        assert_eq!(info.reason, reason, "{rpc:?} by {caller:?}");
        if reason == "AGENCY_REQUIRED" {
            assert_eq!(
                info.metadata.get("agency").map(String::as_str),
                Some("agencies/2201-drc")
            );
        }
        assert_eq!(
            fingerprints(&system),
            before,
            "{rpc:?} by {caller:?} changed a store"
        );
        checked += 1;
    }
    assert!(checked > 120, "{checked} refusals checked");

    // Then everything let through: no authentication or permission error.
    for (cell, rpc, caller) in &cells {
        if expected(*rpc, *caller).is_some() {
            continue;
        }
        let clients = by_caller.get_mut(caller).expect("every caller");
        if let Err(status) = call(clients, *rpc, *cell).await {
            assert!(
                !matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied
                ),
                "{rpc:?} by {caller:?}: {status:?}"
            );
        }
    }
    system.shutdown().await;
}

#[tokio::test]
async fn the_actor_is_the_tokens_subject_whatever_a_header_claims() {
    let (_nats, _data, system) = start_system().await;
    let reporter = credentials(&system, Caller::OwnReporter);
    let mut clients = clients(&system, &reporter).await;
    let mut create = tonic::Request::new(registry::CreateProjectRequest {
        project_id: "actor".into(),
        project: Some(project("actor")),
        request_id: String::new(),
    });
    create
        .metadata_mut()
        .insert("x-jilin-actor", "someone.else".parse().unwrap());
    clients.registry.create_project(create).await.unwrap();
    let history = clients
        .registry
        .list_project_history(registry::ListProjectHistoryRequest {
            name: "projects/actor".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(history[0].actor, format!("users/dev-reporter@{AGENCY}"));

    // A reporter may not move its project to another agency; an admin may.
    let moved = registry::UpdateProjectRequest {
        project: Some(registry::Project {
            name: "projects/actor".into(),
            agency: "2202-drc".into(),
            ..Default::default()
        }),
        update_mask: mask(&["agency"]),
    };
    let refused = clients
        .registry
        .update_project(moved.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(
        refused.get_details_error_info().unwrap().reason,
        "ROLE_REQUIRED"
    );
    let mut admin = self::clients(&system, &credentials(&system, Caller::Admin)).await;
    let project = admin
        .registry
        .update_project(moved)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(project.agency, "2202-drc");

    let mut silence = tonic::Request::new(risk::CreateSilenceRequest {
        silence: Some(risk::Silence {
            matchers: vec![risk::silence::Matcher {
                name: "region".into(),
                value: "220100".into(),
                negated: false,
            }],
            start_time: Some(jilin_proto::timestamp(time::OffsetDateTime::now_utc())),
            end_time: Some(jilin_proto::timestamp(
                time::OffsetDateTime::now_utc() + time::Duration::hours(1),
            )),
            created_by: "someone.else".into(),
            comment: "review".into(),
            ..Default::default()
        }),
    });
    silence
        .metadata_mut()
        .insert("x-jilin-actor", "someone.else".parse().unwrap());
    let mut supervisor = self::clients(&system, &credentials(&system, Caller::Supervisor)).await;
    let created = supervisor
        .risk
        .create_silence(silence)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.created_by, "users/dev-supervisor");
    let edited = supervisor
        .risk
        .update_rule(risk::UpdateRuleRequest {
            rule: Some(risk::Rule {
                name: "rules/schedule_lag".into(),
                summary: "{subject} is behind schedule".into(),
                ..Default::default()
            }),
            update_mask: mask(&["summary"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(edited.updated_by, "users/dev-supervisor");
    system.shutdown().await;
}
