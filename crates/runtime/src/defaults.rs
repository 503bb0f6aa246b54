//! Where each service listens unless told otherwise, and how the others
//! and the `jilin` command reach it there (over TLS). Defined here once.

/// The registry's gRPC address.
pub const REGISTRY_LISTEN: &str = "127.0.0.1:50051";
/// The registry's gRPC address as a URL.
pub const REGISTRY_URL: &str = "https://127.0.0.1:50051";
/// The indicator service's gRPC address.
pub const INDICATORS_LISTEN: &str = "127.0.0.1:50052";
/// The indicator service's gRPC address as a URL.
pub const INDICATORS_URL: &str = "https://127.0.0.1:50052";
/// The risk service's gRPC address.
pub const RISK_LISTEN: &str = "127.0.0.1:50053";
/// The risk service's gRPC address as a URL.
pub const RISK_URL: &str = "https://127.0.0.1:50053";

/// Where `jilin up` serves each service's metrics.
pub const REGISTRY_METRICS: &str = "127.0.0.1:9101";
pub const INDICATORS_METRICS: &str = "127.0.0.1:9102";
pub const RISK_METRICS: &str = "127.0.0.1:9103";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_url_is_its_address() {
        for (listen, url) in [
            (REGISTRY_LISTEN, REGISTRY_URL),
            (INDICATORS_LISTEN, INDICATORS_URL),
            (RISK_LISTEN, RISK_URL),
        ] {
            assert_eq!(url, format!("https://{listen}"));
        }
    }
}
