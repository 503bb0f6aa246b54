//! `jilin token mint`: a signed token, for development and tests (the
//! services only ever need the public keys).

use std::path::PathBuf;

use jilin_auth::{Grant, Minter, Role};

use super::{ClientError, Outcome};

#[derive(Debug, clap::Subcommand)]
pub enum Token {
    /// Print a token signed with an Ed25519 key (PKCS#8 PEM).
    Mint {
        /// The signing key, e.g. `./data/auth/signing-key.pem` of `jilin up`.
        #[arg(long)]
        key: PathBuf,
        /// The principal, e.g. `users/wang.li` or `services/risk`.
        #[arg(long)]
        subject: String,
        /// reporter, analyst, supervisor or admin (repeat for several).
        #[arg(long = "role")]
        roles: Vec<Role>,
        /// For a reporter: its agency, e.g. `agencies/2201-drc`.
        #[arg(long)]
        agency: Option<String>,
        /// How long it is valid: `90s`, `30m`, `12h` or `7d`.
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: time::Duration,
        #[arg(long, default_value = jilin_auth::DEV_ISSUER)]
        issuer: String,
        #[arg(long, default_value = jilin_auth::AUDIENCE)]
        audience: String,
    },
}

pub fn run(command: Token) -> Outcome {
    let Token::Mint {
        key,
        subject,
        roles,
        agency,
        ttl,
        issuer,
        audience,
    } = command;
    let minter = Minter::from_key_file(&key, &issuer, &audience)
        .map_err(|err| ClientError::Usage(err.to_string()))?;
    let grant = Grant {
        subject,
        roles,
        agency,
    };
    let token = minter
        .mint(&grant, time::OffsetDateTime::now_utc(), ttl)
        .map_err(|err| ClientError::Usage(format!("cannot sign: {err}")))?;
    println!("{token}");
    Ok(())
}

fn parse_ttl(text: &str) -> Result<time::Duration, String> {
    let bad = || format!("`{text}` is not a duration such as 90s, 30m, 12h or 7d");
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let number: i64 = number.parse().map_err(|_| bad())?;
    if number <= 0 {
        return Err(bad());
    }
    match unit {
        "s" => Ok(time::Duration::seconds(number)),
        "m" => Ok(time::Duration::minutes(number)),
        "h" => Ok(time::Duration::hours(number)),
        "d" => Ok(time::Duration::days(number)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_parse_with_their_unit() {
        assert_eq!(parse_ttl("90s"), Ok(time::Duration::seconds(90)));
        assert_eq!(parse_ttl("7d"), Ok(time::Duration::days(7)));
        for bad in ["", "h", "0h", "-1h", "1w", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
