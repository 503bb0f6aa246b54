//! "Now" for every service: the system clock, a fixed instant, or a clock
//! that starts at an instant and runs faster than real time (for demos).
//! No service reads the wall clock directly, so tests pin it and hold on
//! any date; `--clock` chooses it at start.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// How the clock runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ClockSetting {
    /// The system clock.
    System,
    /// Always this instant (until set again).
    Fixed(OffsetDateTime),
    /// From this instant on, `factor` times faster than real time.
    Accelerated { start: OffsetDateTime, factor: f64 },
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a clock: use `system`, a date or RFC 3339 time (`2026-06-15`, \
     `2026-06-15T08:00:00Z`), or one followed by `*FACTOR` to run faster (`2026-01-01*86400`)"
)]
pub struct ClockError(String);

fn instant(text: &str) -> Option<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at);
    }
    let date = Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(date.midnight().assume_utc())
}

impl FromStr for ClockSetting {
    type Err = ClockError;

    fn from_str(text: &str) -> Result<Self, ClockError> {
        let bad = || ClockError(text.to_owned());
        let text = text.trim();
        if text.eq_ignore_ascii_case("system") {
            return Ok(ClockSetting::System);
        }
        match text.split_once('*') {
            None => instant(text).map(ClockSetting::Fixed).ok_or_else(bad),
            Some((start, factor)) => {
                let start = instant(start.trim()).ok_or_else(bad)?;
                let factor: f64 = factor.trim().parse().map_err(|_| bad())?;
                if !(factor.is_finite() && factor > 0.0) {
                    return Err(bad());
                }
                Ok(ClockSetting::Accelerated { start, factor })
            }
        }
    }
}

/// A shared, settable clock.
#[derive(Clone, Debug)]
pub struct Clock {
    state: Arc<Mutex<(ClockSetting, Instant)>>,
}

impl Clock {
    pub fn new(setting: ClockSetting) -> Self {
        Self {
            state: Arc::new(Mutex::new((setting, Instant::now()))),
        }
    }

    pub fn now(&self) -> OffsetDateTime {
        let (setting, since) = *self.state.lock().expect("no panic while holding the clock");
        match setting {
            ClockSetting::System => OffsetDateTime::now_utc(),
            ClockSetting::Fixed(at) => at,
            ClockSetting::Accelerated { start, factor } => {
                let elapsed = since.elapsed().as_secs_f64() * factor;
                start + time::Duration::seconds_f64(elapsed)
            }
        }
    }

    /// Changes how the clock runs from now on.
    pub fn set(&self, setting: ClockSetting) {
        *self.state.lock().expect("no panic while holding the clock") = (setting, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn settings_parse() {
        assert_eq!("system".parse(), Ok(ClockSetting::System));
        assert_eq!(
            "2026-06-15".parse(),
            Ok(ClockSetting::Fixed(datetime!(2026-06-15 0:00 UTC)))
        );
        assert_eq!(
            "2026-06-15T08:30:00+08:00".parse(),
            Ok(ClockSetting::Fixed(datetime!(2026-06-15 8:30 +8)))
        );
        assert_eq!(
            "2026-01-01*86400".parse(),
            Ok(ClockSetting::Accelerated {
                start: datetime!(2026-01-01 0:00 UTC),
                factor: 86_400.0
            })
        );
        for bad in ["", "tomorrow", "2026-13-01", "2026-01-01*0", "2026-01-01*x"] {
            assert!(bad.parse::<ClockSetting>().is_err(), "{bad}");
        }
    }

    #[test]
    fn fixed_clocks_stand_still_and_accelerated_ones_run() {
        let clock = Clock::new(ClockSetting::Fixed(datetime!(2026-06-15 0:00 UTC)));
        assert_eq!(clock.now(), datetime!(2026-06-15 0:00 UTC));
        clock.set(ClockSetting::Accelerated {
            start: datetime!(2026-06-15 0:00 UTC),
            factor: 1e6,
        });
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now() > datetime!(2026-06-15 1:00 UTC));
    }
}
