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

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Period::parse(&text).ok_or_else(|| serde::de::Error::custom("expected YYYY-MM"))
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
    fn orders_chronologically() {
        assert!(Period::parse("2025-12").unwrap() < Period::parse("2026-01").unwrap());
    }
}
