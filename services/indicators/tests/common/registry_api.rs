//! Driving a real registry over gRPC, for tests that need it running.

use std::path::Path;

use jilin_proto::registry::v1 as registry;
use jilin_registry::RunningRegistry;
use jilin_runtime::CancellationToken;
use jilin_testkit::NatsServer;
use registry::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

pub use jilin_testkit::registry::{RegistryClient, submit, under_construction};

/// The registry on 127.0.0.1:0 with its store under `data/registry`.
pub async fn start_registry(nats: &NatsServer, data: &Path) -> (RunningRegistry, RegistryClient) {
    let running = jilin_registry::start(
        &jilin_registry::Config {
            clock: jilin_testkit::TEST_NOW.parse().unwrap(),
            auth: jilin_runtime::AuthArgs::insecure(),
            tls: jilin_runtime::TlsArgs::plaintext(),
            ..jilin_registry::Config::new(
                "127.0.0.1:0".parse().unwrap(),
                data.join("registry"),
                nats.url(),
            )
        },
        CancellationToken::new(),
    )
    .await
    .expect("registry starts");
    let client = RegistryServiceClient::connect(format!("http://{}", running.addr()))
        .await
        .expect("connect to the registry");
    (running, client)
}

pub fn project(sector: &str, region: &str) -> registry::Project {
    registry::Project {
        display_name: format!("{sector} plant"),
        sector: sector.into(),
        region_code: region.into(),
        agency: "jilin-drc".into(),
        planned_investment_yuan: 1_200_000_000,
        planned_start_date: "2025-07-01".into(),
        planned_end_date: "2026-12-31".into(),
        ..Default::default()
    }
}

pub fn report(period: &str, output: i64) -> registry::ProgressReport {
    registry::ProgressReport {
        period: period.into(),
        investment_completed_yuan: 50_000_000,
        output_value_yuan: output,
        value_added_yuan: output / 4,
        energy_kgce: 20_000,
        employment: 300,
        rd_spend_yuan: 1_000_000,
        export_value_yuan: output / 10,
        physical_progress_percent: 40,
        ..Default::default()
    }
}
