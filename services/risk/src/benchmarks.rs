//! Sector benchmarks from the indicator service: every sector's energy
//! intensity for a year (QueryIndicator `energy_intensity`, yearly, by
//! SECTOR), kept in the [`Monitor`] for the energy rule. A peer that is
//! down leaves the last values in place; the next pass tries again.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use indicators::indicator_service_client::IndicatorServiceClient;
use jilin_proto::indicators::v1 as indicators;
use jilin_runtime::CancellationToken;
use jilin_runtime::peer::{Peer, PeerError, call_retrying};
use tonic::transport::Channel;

use crate::monitor::Monitor;

/// How long one refresh keeps retrying an unavailable indicator service
/// before the pass goes on with the benchmarks it has.
const PATIENCE: Duration = Duration::from_secs(3);
pub const BENCHMARK_INDICATOR: &str = "indicators/energy_intensity";

#[derive(Clone)]
pub struct BenchmarkSource {
    indicators: Peer,
    client: IndicatorServiceClient<Channel>,
}

impl BenchmarkSource {
    pub fn new(indicators: Peer) -> Self {
        Self {
            client: IndicatorServiceClient::new(indicators.channel()),
            indicators,
        }
    }

    /// Fetches the benchmarks of `years` into the monitor.
    pub async fn refresh(
        &self,
        monitor: &Monitor,
        years: BTreeSet<i32>,
        shutdown: &CancellationToken,
    ) -> Result<(), PeerError> {
        for year in years {
            let request = indicators::QueryIndicatorRequest {
                name: BENCHMARK_INDICATOR.to_owned(),
                start_period: format!("{year}-01"),
                end_period: format!("{year}-12"),
                granularity: indicators::Granularity::Year.into(),
                group_by: indicators::GroupBy::Sector.into(),
                filter: String::new(),
            };
            let call = call_retrying("indicators", shutdown, || {
                let mut client = self.client.clone();
                let request = self.indicators.request(request.clone());
                async move { client.query_indicator(request).await }
            });
            let response = tokio::time::timeout(PATIENCE, call)
                .await
                .map_err(|_| PeerError::Status(tonic::Status::unavailable("gave up retrying")))??;
            let sectors: HashMap<String, f64> = response
                .series
                .into_iter()
                .filter_map(|series| {
                    let value = series.points.first()?.value?;
                    Some((series.group, value))
                })
                .collect();
            monitor.set_benchmarks(year, sectors);
        }
        Ok(())
    }
}
