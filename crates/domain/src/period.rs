//! Calendar months `YYYY-MM`, the unit of reporting.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::{Date, Month};

/// A calendar month. Orders chronologically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: u8,
}

impl Period {
    pub fn new(year: i32, month: u8) -> Option<Self> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year)).then_some(Self { year, month })
    }

    /// Parses exactly `YYYY-MM`.
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 7 || bytes[4] != b'-' || !text[..4].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !text[5..].bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::new(text[..4].parse().ok()?, text[5..].parse().ok()?)
    }

    pub fn of_date(date: Date) -> Self {
        Self {
            year: date.year(),
            month: u8::from(date.month()),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> Month {
        Month::try_from(self.month).expect("month is validated on construction")
    }

    /// The month number, 1..=12.
    pub fn month_number(self) -> u8 {
        self.month
    }

    /// The quarter, 1..=4.
    pub fn quarter(self) -> u8 {
        (self.month - 1) / 3 + 1
    }

    /// The month `months` later (earlier when negative), or `None` when that
    /// leaves the years 1900..=9999.
    pub fn add_months(self, months: i32) -> Option<Self> {
        let index = self.year * 12 + i32::from(self.month) - 1 + months;
        Self::new(index.div_euclid(12), (index.rem_euclid(12) + 1) as u8)
    }

    /// The next month.
    pub fn next(self) -> Option<Self> {
        self.add_months(1)
    }

    /// Whole months from `self` to `later` (negative when `later` is earlier).
    pub fn months_until(self, later: Period) -> i32 {
        (later.year - self.year) * 12 + i32::from(later.month) - i32::from(self.month)
    }

    /// January of the same year.
    pub fn january(self) -> Self {
        Self {
            year: self.year,
            month: 1,
        }
    }
}

impl Period {
    /// `YYYY-MM` as bytes, without the formatting machinery: values with
    /// months in them are encoded and decoded on every store write.
    fn text(self) -> [u8; 7] {
        let year = self.year as u32;
        let digit = |value: u32| b'0' + (value % 10) as u8;
        [
            digit(year / 1000),
            digit(year / 100),
            digit(year / 10),
            digit(year),
            b'-',
            digit(u32::from(self.month) / 10),
            digit(u32::from(self.month)),
        ]
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        f.write_str(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.text();
        serializer.serialize_str(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(PeriodVisitor)
    }
}

/// Reads a `YYYY-MM` string in place, without copying it.
struct PeriodVisitor;

impl serde::de::Visitor<'_> for PeriodVisitor {
    type Value = Period;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a month as YYYY-MM")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Period, E> {
        Period::parse(text).ok_or_else(|| E::custom("expected YYYY-MM"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_months() {
        let period = Period::parse("2026-03").unwrap();
        assert_eq!(period.year(), 2026);
        assert_eq!(period.month(), Month::March);
        assert_eq!(period.to_string(), "2026-03");
    }

    #[test]
    fn rejects_malformed_months() {
        for bad in [
            "2026-13",
            "2026-00",
            "2026-3",
            "26-03",
            "2026/03",
            "2026-03-01",
            "",
            "abcd-ef",
            "+026-03",
        ] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn month_arithmetic_crosses_years() {
        let march = Period::parse("2026-03").unwrap();
        assert_eq!(march.add_months(-3).unwrap().to_string(), "2025-12");
        assert_eq!(march.add_months(12).unwrap().to_string(), "2027-03");
        assert_eq!(march.add_months(10).unwrap().to_string(), "2027-01");
        assert_eq!(march.months_until(Period::parse("2025-12").unwrap()), -3);
        assert_eq!(march.quarter(), 1);
        assert_eq!(Period::parse("2026-12").unwrap().quarter(), 4);
        assert_eq!(march.january().to_string(), "2026-01");
        assert_eq!(Period::parse("9999-12").unwrap().next(), None);
    }

    #[test]
    fn every_month_reads_back_from_its_text() {
        for year in 1900..=9999 {
            for month in 1..=12 {
                let period = Period::new(year, month).unwrap();
                let text = period.to_string();
                assert_eq!(text, format!("{year:04}-{month:02}"));
                assert_eq!(Period::parse(&text), Some(period));
            }
        }
    }

    #[test]
    fn serializes_as_its_text_and_refuses_other_text() {
        let period = Period::parse("2026-03").unwrap();
        assert_eq!(serde_json::to_string(&period).unwrap(), "\"2026-03\"");
        let read: Period = serde_json::from_str("\"2026-03\"").unwrap();
        assert_eq!(read, period);
        let refused = serde_json::from_str::<Period>("\"2026-13\"").unwrap_err();
        assert!(
            refused.to_string().contains("expected YYYY-MM"),
            "{refused}"
        );
        assert!(serde_json::from_str::<Period>("202603").is_err());
    }

    #[test]
    fn orders_chronologically() {
        assert!(Period::parse("2025-12").unwrap() < Period::parse("2026-01").unwrap());
    }
}
