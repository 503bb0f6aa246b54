//! Keys rotate on a running service: the real binary verifies tokens
//! against a JWKS file, and on SIGHUP reads it again, so a token signed
//! with a newly added key is accepted and, once that key is removed and
//! the service signalled again, refused. It serves TLS with a certificate
//! from a local CA, as deployed.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jilin_auth::{
    AUDIENCE, CertFiles, DEV_ISSUER, Grant, LOCAL_HOSTS, Minter, Role, generate_signing_key, jwks,
};
use jilin_proto::registry::v1 as pb;
use jilin_runtime::ClientTls;
use jilin_testkit::NatsServer;
use pb::registry_service_client::RegistryServiceClient;
use tonic::Code;
use tonic_types::StatusExt;

const PATIENCE: Duration = Duration::from_secs(20);

fn token(minter: &Minter) -> String {
    let grant = Grant {
        subject: "users/reader".into(),
        roles: vec![Role::Analyst],
        agency: None,
    };
    let now = time::OffsetDateTime::now_utc();
    minter.mint(&grant, now, time::Duration::hours(1)).unwrap()
}

/// ListRegions with `token`: Ok, or the ErrorInfo reason of the refusal.
async fn list_regions(server: &Server, token: &str) -> Result<(), String> {
    let channel = server.tls.endpoint(&server.url).unwrap().connect().await;
    let mut client = RegistryServiceClient::new(channel.map_err(|err| err.to_string())?);
    let mut request = tonic::Request::new(pb::ListRegionsRequest::default());
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match client.list_regions(request).await {
        Ok(_) => Ok(()),
        Err(status) => {
            assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
            Err(status.get_details_error_info().unwrap().reason)
        }
    }
}

/// Waits until `list_regions` answers `expected`.
async fn until(server: &Server, token: &str, expected: Result<(), &str>) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = list_regions(server, token).await;
        if answer.as_ref().map(|_| ()).map_err(String::as_str) == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {answer:?}, not {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where the registry serves and what its clients trust.
struct Server {
    url: String,
    tls: ClientTls,
}

fn hang_up(pid: u32) {
    let sent = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn a_key_added_then_removed_is_honoured_then_refused_after_sighup() {
    let nats = NatsServer::start().await;
    let data = tempfile::tempdir().unwrap();
    let (old, new) = (generate_signing_key(), generate_signing_key());
    let jwks_file = data.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks(&[old.verifying_key()])).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let certs = CertFiles::in_dir(&data.path().join("tls"));
    certs.ensure(&LOCAL_HOSTS).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jilin-registry"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(&certs.cert)
        .arg("--tls-key")
        .arg(&certs.key)
        .arg("--jwks")
        .arg(&jwks_file)
        .arg("--data-dir")
        .arg(data.path().join("registry"))
        .args(["--nats-url", &nats.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jilin-registry");
    let server = Server {
        url: format!("https://127.0.0.1:{port}"),
        tls: ClientTls::trusting(Some(&certs.ca)).unwrap(),
    };
    let by_old = token(&Minter::new(&old, DEV_ISSUER, AUDIENCE).unwrap());
    let by_new = token(&Minter::new(&new, DEV_ISSUER, AUDIENCE).unwrap());
    until(&server, &by_old, Ok(())).await;
    until(&server, &by_new, Err("TOKEN_UNKNOWN_KEY")).await;

    // Add the new key: accepted once the service has re-read the file.
    std::fs::write(
        &jwks_file,
        jwks(&[old.verifying_key(), new.verifying_key()]),
    )
    .unwrap();
    hang_up(child.id());
    until(&server, &by_new, Ok(())).await;
    until(&server, &by_old, Ok(())).await;

    // Retire the old key.
    std::fs::write(&jwks_file, jwks(&[new.verifying_key()])).unwrap();
    hang_up(child.id());
    until(&server, &by_old, Err("TOKEN_UNKNOWN_KEY")).await;
    until(&server, &by_new, Ok(())).await;

    child.kill().unwrap();
    child.wait().unwrap();
}
