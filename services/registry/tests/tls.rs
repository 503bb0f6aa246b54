//! Transport security: the real registry serving TLS with a certificate
//! from a local CA. A client trusting that CA is served; one trusting
//! another CA, or speaking plaintext, is refused. With mutual TLS, a
//! client must also present a certificate from the client CA.

use std::path::Path;

use jilin_auth::{CertFiles, LOCAL_HOSTS};
use jilin_proto::registry::v1 as pb;
use jilin_registry::{Config, RunningRegistry};
use jilin_runtime::{AuthArgs, CancellationToken, ClientTls, TlsArgs};
use jilin_testkit::NatsServer;
use pb::registry_service_client::RegistryServiceClient;

struct Served {
    _nats: NatsServer,
    data: tempfile::TempDir,
    registry: RunningRegistry,
    certs: CertFiles,
}

impl Served {
    fn https(&self) -> String {
        format!("https://{}", self.registry.addr())
    }

    /// A CA and certificate the server knows nothing of.
    fn stranger(&self) -> CertFiles {
        let certs = CertFiles::in_dir(&self.data.path().join("stranger"));
        certs.ensure(&LOCAL_HOSTS).unwrap();
        certs
    }
}

/// The registry over TLS; with `mutual`, clients need a certificate
/// signed by the same CA.
async fn serve(mutual: bool) -> Served {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let certs = CertFiles::in_dir(&data.path().join("tls"));
    certs.ensure(&LOCAL_HOSTS).unwrap();
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        data.path().join("registry"),
        nats.url(),
    );
    config.auth = AuthArgs::insecure();
    config.tls = TlsArgs {
        tls_client_ca: mutual.then(|| certs.ca.clone()),
        ..TlsArgs::with_certificate(certs.cert.clone(), certs.key.clone(), certs.ca.clone())
    };
    let registry = jilin_registry::start(&config, CancellationToken::new())
        .await
        .expect("the registry starts");
    Served {
        _nats: nats,
        data,
        registry,
        certs,
    }
}

/// ListRegions over a channel from `tls` to `url`: Ok, or why not.
async fn list_regions(tls: &ClientTls, url: &str) -> Result<usize, String> {
    let channel = tls
        .endpoint(url)
        .map_err(|err| err.to_string())?
        .connect()
        .await
        .map_err(|err| format!("connect: {err:?}"))?;
    let reply = RegistryServiceClient::new(channel)
        .list_regions(pb::ListRegionsRequest::default())
        .await
        .map_err(|status| format!("call: {status:?}"))?;
    Ok(reply.into_inner().regions.len())
}

fn trusting(ca: &Path) -> ClientTls {
    ClientTls::trusting(Some(ca)).unwrap()
}

#[tokio::test]
async fn a_client_trusting_the_ca_is_served_and_others_are_refused() {
    let served = serve(false).await;
    let regions = list_regions(&trusting(&served.certs.ca), &served.https()).await;
    assert!(regions.unwrap() > 0, "the regions of the catalog");

    let stranger = served.stranger();
    let refused = list_regions(&trusting(&stranger.ca), &served.https()).await;
    assert!(
        refused.is_err(),
        "a client trusting another CA connects: {refused:?}"
    );

    let plaintext = format!("http://{}", served.registry.addr());
    let refused = list_regions(&ClientTls::default(), &plaintext).await;
    assert!(
        refused.is_err(),
        "plaintext is served beside TLS: {refused:?}"
    );
    served.registry.shutdown().await.unwrap();
}

#[tokio::test]
async fn with_mutual_tls_a_client_needs_a_certificate_from_the_client_ca() {
    let served = serve(true).await;
    let without = list_regions(&trusting(&served.certs.ca), &served.https()).await;
    assert!(
        without.is_err(),
        "a client without a certificate is served: {without:?}"
    );

    let stranger = served.stranger();
    let foreign = trusting(&served.certs.ca)
        .presenting(&stranger.cert, &stranger.key)
        .unwrap();
    let refused = list_regions(&foreign, &served.https()).await;
    assert!(
        refused.is_err(),
        "a certificate from another CA is accepted: {refused:?}"
    );

    let own = trusting(&served.certs.ca)
        .presenting(&served.certs.cert, &served.certs.key)
        .unwrap();
    let regions = list_regions(&own, &served.https()).await;
    assert!(
        regions.unwrap() > 0,
        "a client with its certificate is served"
    );
    served.registry.shutdown().await.unwrap();
}
