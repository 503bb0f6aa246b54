//! What verifying a bearer token costs per call: the first time a token is
//! seen (EdDSA signature, claims) and every time after (remembered), next
//! to a baseline of decoding the same token's header alone.
//!
//! `cargo bench -p jilin-auth`

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jilin_auth::{AUDIENCE, DEV_ISSUER, Grant, KeyFiles, Minter, Role, Verifier, VerifierConfig};

fn verify(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyFiles::in_dir(dir.path());
    keys.ensure().unwrap();
    let minter = Minter::from_key_file(&keys.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let grant = Grant {
        subject: "users/wang.li".into(),
        roles: vec![Role::Reporter],
        agency: Some("agencies/2201-drc".into()),
    };
    let token = minter.mint(&grant, now, time::Duration::hours(1)).unwrap();
    let config = VerifierConfig {
        keys: keys.jwks.clone(),
        issuer: DEV_ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway_seconds: 30,
    };
    let mut group = c.benchmark_group("token");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("baseline_decode_header", |b| {
        b.iter(|| jsonwebtoken::decode_header(&token).unwrap())
    });
    group.bench_function("first_sight", |b| {
        b.iter_batched(
            || Verifier::load(config.clone()).unwrap(),
            |verifier| verifier.verify(&token, now).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    let verifier = Verifier::load(config.clone()).unwrap();
    group.bench_function("remembered", |b| {
        b.iter(|| verifier.verify(&token, now).unwrap())
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
