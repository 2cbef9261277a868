use time::{Date, Month, OffsetDateTime};

use crate::{DomainError, Timestamp};

/// The day of the month (UTC midnight) on which usage periods start: 1 to 28, so it
/// exists in every month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodAnchor(u8);

impl PeriodAnchor {
    pub fn new(day: u8) -> Result<Self, DomainError> {
        if (1..=28).contains(&day) {
            Ok(Self(day))
        } else {
            Err(DomainError::invalid("usage period day", "must be 1 to 28"))
        }
    }

    /// Start of the usage period that contains `at`.
    pub fn period_start(self, at: Timestamp) -> Timestamp {
        let dt = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let (mut year, mut month) = (dt.year(), dt.month());
        if dt.day() < self.0 {
            if month == Month::January {
                year -= 1;
            }
            month = month.previous();
        }
        let start = Date::from_calendar_date(year, month, self.0).expect("days 1-28 exist in every month");
        Timestamp::from_millis(start.midnight().assume_utc().unix_timestamp() * 1000)
    }
}

impl Default for PeriodAnchor {
    fn default() -> Self {
        Self(1)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn ts(dt: OffsetDateTime) -> Timestamp {
        Timestamp::from_millis((dt.unix_timestamp_nanos() / 1_000_000) as i64)
    }

    #[test]
    fn periods_start_on_the_anchor_day_at_utc_midnight() {
        let first = PeriodAnchor::default();
        assert_eq!(first.period_start(ts(datetime!(2026-11-30 23:59:59.999 UTC))), ts(datetime!(2026-11-01 0:00 UTC)));
        assert_eq!(first.period_start(ts(datetime!(2026-12-01 0:00 UTC))), ts(datetime!(2026-12-01 0:00 UTC)));
        let fifteenth = PeriodAnchor::new(15).unwrap();
        assert_eq!(fifteenth.period_start(ts(datetime!(2026-11-14 12:00 UTC))), ts(datetime!(2026-10-15 0:00 UTC)));
        assert_eq!(fifteenth.period_start(ts(datetime!(2026-11-15 0:00 UTC))), ts(datetime!(2026-11-15 0:00 UTC)));
        assert_eq!(fifteenth.period_start(ts(datetime!(2027-01-03 0:00 UTC))), ts(datetime!(2026-12-15 0:00 UTC)));
        assert!(PeriodAnchor::new(0).is_err() && PeriodAnchor::new(29).is_err());
    }
}
