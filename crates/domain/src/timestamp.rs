//! How instants are stored: `#[serde(with = "jilin_domain::timestamp")]`
//! (or `timestamp::option`) on an `OffsetDateTime` field.
//!
//! A human-readable format (JSON: page tokens, and the store values of
//! formats before 2) holds RFC 3339 text; a binary one (the stores'
//! MessagePack) holds Unix nanoseconds as one integer, 9 bytes instead of
//! about 30. Reading follows the same rule, so values written either way
//! read back.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        time::serde::rfc3339::serialize(at, serializer)
    } else {
        let nanos = i64::try_from(at.unix_timestamp_nanos())
            .map_err(|_| serde::ser::Error::custom("an instant past the year 2262"))?;
        nanos.serialize(serializer)
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<OffsetDateTime, D::Error> {
    if deserializer.is_human_readable() {
        time::serde::rfc3339::deserialize(deserializer)
    } else {
        let nanos = i64::deserialize(deserializer)?;
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
            .map_err(serde::de::Error::custom)
    }
}

/// The same for `Option<OffsetDateTime>`.
pub mod option {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Instant(#[serde(with = "super")] OffsetDateTime);

    pub fn serialize<S: Serializer>(
        at: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        at.map(Instant).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        Ok(Option::<Instant>::deserialize(deserializer)?.map(|Instant(at)| at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Stamped {
        #[serde(with = "crate::timestamp")]
        at: OffsetDateTime,
        #[serde(with = "crate::timestamp::option")]
        ended: Option<OffsetDateTime>,
    }

    #[test]
    fn text_in_json_and_one_integer_in_binary_formats() {
        let at = time::macros::datetime!(2026-12-03 10:20:30.123456789 UTC);
        let stamped = Stamped {
            at,
            ended: Some(at),
        };
        let json = serde_json::to_string(&stamped).unwrap();
        assert_eq!(
            json,
            r#"{"at":"2026-12-03T10:20:30.123456789Z","ended":"2026-12-03T10:20:30.123456789Z"}"#
        );
        assert_eq!(serde_json::from_str::<Stamped>(&json).unwrap(), stamped);
        let binary = rmp_serde::to_vec(&stamped).unwrap();
        assert!(binary.len() <= 1 + 9 + 9, "{} bytes", binary.len());
        assert_eq!(rmp_serde::from_slice::<Stamped>(&binary).unwrap(), stamped);
        let none = Stamped { at, ended: None };
        assert_eq!(
            rmp_serde::from_slice::<Stamped>(&rmp_serde::to_vec(&none).unwrap()).unwrap(),
            none
        );
    }
}
