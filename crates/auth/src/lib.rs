//! Who is calling. Every RPC but health and reflection carries a JWT
//! (`authorization: Bearer …`): [`Verifier`] checks it against the public
//! keys of a JWKS file (rotatable: add a key, reload, remove the old one)
//! and yields a [`Principal`] (subject, roles, agency) that the services
//! authorize against and record as the actor. [`Minter`] and [`KeyFiles`]
//! make keys and tokens for development and tests; [`CertFiles`] a local
//! certificate authority and the certificate the services present.
//!
//! No tonic here: turning a refusal into a gRPC status is the runtime's.

mod certs;
mod mint;
mod principal;
mod verify;

pub use certs::{CertFiles, IssuedCerts, LOCAL_HOSTS, issue};
pub use mint::{Grant, KeyFiles, Minter, generate_signing_key, jwks, key_id, write_private};
pub use principal::{Denied, Principal, Role, UnknownRole};
pub use verify::{KeyError, TokenError, Verifier, VerifierConfig};

/// Why a token could not be signed.
pub use jsonwebtoken::errors::Error as SignError;

/// The issuer `jilin up` and the test kit sign their tokens as.
pub const DEV_ISSUER: &str = "jilin-dev";
/// The audience every Jilin service expects unless configured otherwise.
pub const AUDIENCE: &str = "jilin";

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-11-16 8:00 UTC);

    struct Keys {
        _dir: tempfile::TempDir,
        files: KeyFiles,
    }

    fn keys() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::in_dir(dir.path());
        files.ensure().unwrap();
        Keys { _dir: dir, files }
    }

    fn verifier(keys: &Keys, issuer: &str, audience: &str) -> Verifier {
        Verifier::load(VerifierConfig {
            keys: keys.files.jwks.clone(),
            issuer: issuer.into(),
            audience: audience.into(),
            leeway_seconds: 30,
        })
        .unwrap()
    }

    fn reporter() -> Grant {
        Grant {
            subject: "users/wang.li".into(),
            roles: vec![Role::Reporter],
            agency: Some("agencies/changchun-drc".into()),
        }
    }

    #[test]
    fn a_minted_token_verifies_into_its_principal() {
        let keys = keys();
        let minter = Minter::from_key_file(&keys.files.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
        let token = minter.mint(&reporter(), NOW, Duration::hours(1)).unwrap();
        let principal = verifier(&keys, DEV_ISSUER, AUDIENCE)
            .verify(&token, NOW + Duration::minutes(5))
            .unwrap();
        assert_eq!(principal.subject, "users/wang.li");
        assert_eq!(principal.reporting_agency(), Some("changchun-drc"));
    }

    #[test]
    fn every_bad_token_is_refused_for_its_own_reason() {
        let keys = keys();
        let other = self::keys();
        let minter = Minter::from_key_file(&keys.files.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
        let stranger =
            Minter::from_key_file(&other.files.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
        let good = minter.mint(&reporter(), NOW, Duration::hours(1)).unwrap();
        let verify = |token: &str, at| verifier(&keys, DEV_ISSUER, AUDIENCE).verify(token, at);
        let tampered = {
            let mut parts: Vec<&str> = good.split('.').collect();
            let forged = minter
                .mint(
                    &Grant {
                        subject: "users/admin".into(),
                        roles: vec![Role::Admin],
                        agency: None,
                    },
                    NOW,
                    Duration::hours(1),
                )
                .unwrap();
            parts[1] = forged.split('.').nth(1).unwrap();
            parts.join(".")
        };
        let cases: Vec<(&str, Result<Principal, TokenError>)> = vec![
            ("garbage", verify("not.a.token", NOW)),
            ("expired", verify(&good, NOW + Duration::hours(2))),
            ("not yet valid", verify(&good, NOW - Duration::hours(1))),
            ("tampered", verify(&tampered, NOW)),
            (
                "unknown key",
                verify(
                    &stranger.mint(&reporter(), NOW, Duration::hours(1)).unwrap(),
                    NOW,
                ),
            ),
            (
                "wrong issuer",
                verifier(&keys, "someone-else", AUDIENCE).verify(&good, NOW),
            ),
            (
                "wrong audience",
                verifier(&keys, DEV_ISSUER, "elsewhere").verify(&good, NOW),
            ),
        ];
        let reasons: Vec<(&str, &str)> = cases
            .iter()
            .map(|(case, outcome)| (*case, outcome.as_ref().unwrap_err().reason()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("garbage", "TOKEN_MALFORMED"),
                ("expired", "TOKEN_EXPIRED"),
                ("not yet valid", "TOKEN_NOT_YET_VALID"),
                ("tampered", "TOKEN_BAD_SIGNATURE"),
                ("unknown key", "TOKEN_UNKNOWN_KEY"),
                ("wrong issuer", "TOKEN_WRONG_ISSUER"),
                ("wrong audience", "TOKEN_WRONG_AUDIENCE"),
            ]
        );
    }

    #[test]
    fn the_skew_is_allowed_on_both_ends() {
        let keys = keys();
        let minter = Minter::from_key_file(&keys.files.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
        let token = minter.mint(&reporter(), NOW, Duration::hours(1)).unwrap();
        let verifier = verifier(&keys, DEV_ISSUER, AUDIENCE);
        assert!(verifier.verify(&token, NOW - Duration::seconds(20)).is_ok());
        assert!(
            verifier
                .verify(&token, NOW + Duration::seconds(3620))
                .is_ok()
        );
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let keys = keys();
        let minter = Minter::from_key_file(&keys.files.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
        let token = minter.mint(&reporter(), NOW, Duration::hours(1)).unwrap();
        let verifier = verifier(&keys, DEV_ISSUER, AUDIENCE);
        assert!(verifier.verify(&token, NOW).is_ok());
        assert!(verifier.verify(&token, NOW).is_ok(), "remembered");
        assert_eq!(
            verifier.verify(&token, NOW + Duration::hours(2)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn keys_rotate_by_reloading_the_key_set() {
        let keys = keys();
        let old = Minter::from_key_file(&keys.files.signing_key, DEV_ISSUER, AUDIENCE).unwrap();
        let verifier = verifier(&keys, DEV_ISSUER, AUDIENCE);
        let next = generate_signing_key();
        let next_minter = Minter::new(&next, DEV_ISSUER, AUDIENCE).unwrap();
        let by_next = next_minter
            .mint(&reporter(), NOW, Duration::hours(1))
            .unwrap();
        assert_eq!(
            verifier.verify(&by_next, NOW).unwrap_err().reason(),
            "TOKEN_UNKNOWN_KEY"
        );

        let original = std::fs::read_to_string(&keys.files.signing_key).unwrap();
        let old_key =
            <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(
                &original,
            )
            .unwrap();
        std::fs::write(
            &keys.files.jwks,
            jwks(&[old_key.verifying_key(), next.verifying_key()]),
        )
        .unwrap();
        assert_eq!(verifier.reload().unwrap(), 2);
        assert!(verifier.verify(&by_next, NOW).is_ok());
        let by_old = old.mint(&reporter(), NOW, Duration::hours(1)).unwrap();
        assert!(verifier.verify(&by_old, NOW).is_ok());

        std::fs::write(&keys.files.jwks, jwks(&[next.verifying_key()])).unwrap();
        verifier.reload().unwrap();
        assert_eq!(
            verifier.verify(&by_old, NOW).unwrap_err().reason(),
            "TOKEN_UNKNOWN_KEY"
        );
        assert!(verifier.verify(&by_next, NOW).is_ok());
    }
}
