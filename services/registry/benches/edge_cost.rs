//! What identity and transport security cost per call: GetProject on three
//! registries in one process, against one nats-server: plaintext without
//! tokens (the baseline), plaintext with a verified token, and TLS with a
//! verified token. Each over one open channel, one call at a time, so the
//! difference is the per-call cost (the TLS handshake is paid once).
//!
//! `NATS_SERVER_BIN=/usr/sbin/nats-server cargo bench -p jilin-registry --bench edge_cost`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jilin_auth::{AUDIENCE, CertFiles, DEV_ISSUER, Grant, KeyFiles, LOCAL_HOSTS, Minter, Role};
use jilin_proto::registry::v1 as pb;
use jilin_registry::{Config, RunningRegistry};
use jilin_runtime::{AuthArgs, CancellationToken, ClientTls, TlsArgs};
use jilin_testkit::NatsServer;
use pb::registry_service_client::RegistryServiceClient;
use tonic::transport::Channel;

/// One way of serving, and a client set up for it.
struct Edge {
    name: &'static str,
    _registry: RunningRegistry,
    client: RegistryServiceClient<Channel>,
    token: Option<String>,
}

async fn edge(
    name: &'static str,
    nats: &NatsServer,
    data: &std::path::Path,
    auth: AuthArgs,
    tls: TlsArgs,
    client_tls: &ClientTls,
    token: Option<String>,
) -> Edge {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), data.join(name), nats.url());
    config.auth = auth;
    config.tls = tls;
    config.clock = jilin_testkit::TEST_NOW.parse().unwrap();
    let secure = config.tls.tls_cert.is_some();
    let registry = jilin_registry::start(&config, CancellationToken::new())
        .await
        .unwrap();
    let url = jilin_runtime::tls::url_of(registry.addr(), secure);
    let channel = client_tls.endpoint(&url).unwrap().connect().await.unwrap();
    let mut edge = Edge {
        name,
        _registry: registry,
        client: RegistryServiceClient::new(channel),
        token,
    };
    let project = jilin_testkit::registry::paint_shop();
    let request = edge.request(pb::CreateProjectRequest {
        project_id: "measured".into(),
        project: Some(project),
        request_id: String::new(),
    });
    edge.client.create_project(request).await.unwrap();
    edge
}

impl Edge {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        request
    }

    async fn get_project(&self) {
        let request = self.request(pb::GetProjectRequest {
            name: "projects/measured".into(),
        });
        self.client.clone().get_project(request).await.unwrap();
    }
}

fn edge_cost(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let keys = KeyFiles::in_dir(&data.path().join("auth"));
    keys.ensure().unwrap();
    let certs = CertFiles::in_dir(&data.path().join("tls"));
    certs.ensure(&LOCAL_HOSTS).unwrap();
    let minter = Minter::from_key_file(&keys.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
    let grant = Grant {
        subject: "users/admin".into(),
        roles: vec![Role::Admin],
        agency: None,
    };
    let token = minter
        .mint(
            &grant,
            time::OffsetDateTime::now_utc(),
            time::Duration::hours(2),
        )
        .unwrap();
    let verified = AuthArgs::verified(keys.jwks.clone(), None);
    let tls = TlsArgs::with_certificate(certs.cert.clone(), certs.key.clone(), certs.ca.clone());
    let trusting = ClientTls::trusting(Some(&certs.ca)).unwrap();
    let (_nats, edges) = runtime.block_on(async {
        let nats = NatsServer::start().await;
        let plain = ClientTls::default();
        let edges = vec![
            edge(
                "baseline_plaintext_no_auth",
                &nats,
                data.path(),
                AuthArgs::insecure(),
                TlsArgs::plaintext(),
                &plain,
                None,
            )
            .await,
            edge(
                "plaintext_token",
                &nats,
                data.path(),
                verified.clone(),
                TlsArgs::plaintext(),
                &plain,
                Some(token.clone()),
            )
            .await,
            edge(
                "tls_token",
                &nats,
                data.path(),
                verified,
                tls,
                &trusting,
                Some(token),
            )
            .await,
        ];
        (nats, edges)
    });
    let mut group = c.benchmark_group("get_project");
    group.measurement_time(Duration::from_secs(8));
    for edge in &edges {
        group.bench_function(edge.name, |b| {
            b.to_async(&runtime).iter(|| edge.get_project())
        });
    }
    group.finish();
}

criterion_group!(benches, edge_cost);
criterion_main!(benches);
