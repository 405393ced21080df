//! Durations (`"30s"`, `"1h30m"`) and sync schedules (`"manual"`, `{ every, starting_at }`,
//! `{ cron }`), parsed and checked. All times are UTC.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

/// When a sync runs.
#[derive(Clone)]
pub enum Schedule {
    /// Only when someone runs `audience sync`.
    Manual,
    /// At `starting_at` (UTC) plus whole multiples of `every`, every day.
    Every {
        /// The interval, [`MIN_EVERY`] to [`MAX_EVERY`].
        every: Duration,
        /// The day's first slot (default 00:00).
        starting_at: TimeOfDay,
    },
    /// A standard 5-field cron expression, in UTC.
    Cron {
        /// The expression as written.
        expression: String,
        /// The expression, parsed.
        cron: Box<croner::Cron>,
    },
}

impl Schedule {
    /// Whether the sync runs only on demand.
    pub fn is_manual(&self) -> bool {
        matches!(self, Schedule::Manual)
    }

    /// The first slot strictly after `after`; `None` for a manual schedule (or a cron that
    /// never fires, which the validator refuses).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Manual => None,
            Schedule::Every { every, starting_at } => {
                let every = chrono::Duration::from_std(*every).ok()?;
                let day = after.date_naive().and_hms_opt(starting_at.hour.into(), starting_at.minute.into(), 0)?;
                // The day's anchor, or the previous day's when `after` is before it: the slots
                // of one anchor run on past midnight until the next anchor.
                let mut slot = Utc.from_utc_datetime(&day);
                if slot > after {
                    slot -= chrono::Duration::days(1);
                }
                let steps = (after - slot).num_milliseconds() / every.num_milliseconds().max(1) + 1;
                let next = slot + every * i32::try_from(steps).ok()?;
                // A new day's anchor comes before a slot of the previous anchor that runs past it.
                let next_anchor = slot + chrono::Duration::days(1);
                Some(if next > next_anchor { next_anchor } else { next })
            }
            Schedule::Cron { cron, .. } => cron.find_next_occurrence(&after, false).ok(),
        }
    }
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Schedule::Manual, Schedule::Manual) => true,
            (Schedule::Every { every: a, starting_at: s }, Schedule::Every { every: b, starting_at: t }) => {
                a == b && s == t
            }
            (Schedule::Cron { expression: a, .. }, Schedule::Cron { expression: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Manual => f.write_str("Manual"),
            Schedule::Every { every, starting_at } => {
                f.debug_struct("Every").field("every", every).field("starting_at", starting_at).finish()
            }
            Schedule::Cron { expression, .. } => f.debug_tuple("Cron").field(expression).finish(),
        }
    }
}

/// A time of day, UTC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeOfDay {
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
}

impl TimeOfDay {
    /// `"HH:MM"`, 00:00 to 23:59 (one-digit hours are accepted).
    pub fn parse(s: &str) -> Option<TimeOfDay> {
        let (h, m) = s.split_once(':')?;
        let digits = |t: &str, max: u8| -> Option<u8> {
            if t.is_empty() || t.len() > 2 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            t.parse().ok().filter(|v| *v <= max)
        };
        if m.len() != 2 {
            return None;
        }
        Some(TimeOfDay { hour: digits(h, 23)?, minute: digits(m, 59)? })
    }
}

/// Shortest and longest `every` (docs/design/interface.md).
pub const MIN_EVERY: Duration = Duration::from_secs(5 * 60);
/// See [`MIN_EVERY`].
pub const MAX_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses a cron expression: the standard 5 fields (minute hour day-of-month month
/// day-of-week), where a restricted day-of-month and day-of-week match either, as in Vixie
/// cron. croner also accepts `@daily`-style nicknames and the `L`, `W` and `#` extensions.
pub fn parse_cron(expression: &str) -> Result<croner::Cron, String> {
    if expression.split_whitespace().count() == 6 {
        return Err("it has 6 fields: seconds are not supported, use the standard 5 fields".into());
    }
    croner::Cron::new(expression).parse().map_err(|e| e.to_string())
}

/// Whether a cron fires at all: some slot in the 28 years after 2000-01-01 (the Gregorian
/// calendar repeats its weekdays and leap days every 28 years in this range).
pub fn cron_fires(cron: &croner::Cron) -> bool {
    let Some(start) = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single() else { return true };
    match cron.find_next_occurrence(&start, true) {
        Ok(at) => at < start + chrono::Duration::days(366 * 28 + 1),
        Err(_) => false,
    }
}

/// Parses a duration: one or more `<integer><unit>` (units `ms`, `s`, `m`, `h`, `d`), such as
/// `"500ms"`, `"30s"`, `"1h30m"`. Rejects an empty text, a bare number and an overflow.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const HINT: &str = "write a number and a unit (ms, s, m, h, d), such as \"30s\" or \"1h30m\"";
    if s.is_empty() {
        return Err(format!("the duration is empty: {HINT}"));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("`{s}` is not a duration: {HINT}"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("`{s}` is too long a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let millis_per: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("`{s}` has a number without a unit: {HINT}")),
            _ => return Err(format!("`{s}` has an unknown unit `{unit}`: {HINT}")),
        };
        let part = n.checked_mul(millis_per).ok_or_else(|| format!("`{s}` is too long a duration"))?;
        total =
            total.checked_add(Duration::from_millis(part)).ok_or_else(|| format!("`{s}` is too long a duration"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (text, ms) in [("500ms", 500), ("30s", 30_000), ("5m", 300_000), ("1h30m", 5_400_000), ("1d", 86_400_000)] {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
        for bad in ["", "30", "s", "30 s", "1.5h", "-1s", "30sec", "99999999999999999999s", "1h 30m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_of_day() {
        assert_eq!(TimeOfDay::parse("00:30"), Some(TimeOfDay { hour: 0, minute: 30 }));
        assert_eq!(TimeOfDay::parse("7:05"), Some(TimeOfDay { hour: 7, minute: 5 }));
        for bad in ["24:00", "12:60", "12:5", "1230", "", ":30", "aa:bb", "12:30:00"] {
            assert_eq!(TimeOfDay::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn cron_parses_and_fires() {
        assert!(cron_fires(&parse_cron("0 */6 * * *").unwrap()));
        assert!(cron_fires(&parse_cron("0 0 29 2 *").unwrap()));
        assert!(!cron_fires(&parse_cron("0 0 30 2 *").unwrap()));
        assert!(!cron_fires(&parse_cron("0 0 31 4 *").unwrap()));
        assert!(parse_cron("61 * * * *").is_err());
        assert!(parse_cron("0 0 * * * *").is_err());
        assert!(parse_cron("* * *").is_err());
    }

    #[test]
    fn next_slots() {
        let at = |h, m| Utc.with_ymd_and_hms(2025, 3, 1, h, m, 0).unwrap();
        let every = |mins: u64, h, m| Schedule::Every {
            every: Duration::from_secs(mins * 60),
            starting_at: TimeOfDay { hour: h, minute: m },
        };
        assert_eq!(every(360, 0, 30).next_after(at(0, 0)), Some(at(0, 30)));
        assert_eq!(every(360, 0, 30).next_after(at(0, 30)), Some(at(6, 30)));
        assert_eq!(every(360, 0, 30).next_after(at(20, 0)), Some(at(0, 30) + chrono::Duration::days(1)));
        // 7h from 00:00: 21:00 is followed by the next day's 00:00, not 04:00.
        assert_eq!(every(420, 0, 0).next_after(at(21, 0)), Some(at(0, 0) + chrono::Duration::days(1)));
        let cron =
            Schedule::Cron { expression: "15 * * * *".into(), cron: Box::new(parse_cron("15 * * * *").unwrap()) };
        assert_eq!(cron.next_after(at(3, 15)), Some(at(4, 15)));
        assert_eq!(Schedule::Manual.next_after(at(0, 0)), None);
    }
}
