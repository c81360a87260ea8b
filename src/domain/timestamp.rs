//! Event timestamps. Accepted forms: RFC 3339 (`2021-01-01T09:15:27.243860Z`,
//! `…+02:00`) and the brief's `2021-01-01 09:15:27.243860`: a space or `T` between date and
//! time, 0 to 9 fraction digits, and an optional zone (`Z` or `±HH:MM`); no zone means UTC.
//! Instants are kept in UTC at microsecond precision (what PostgreSQL stores); finer digits
//! are truncated.

use chrono::{
    DateTime, Datelike, DurationRound, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta,
    TimeZone, Utc,
};

/// The accepted format, for messages.
pub const FORMAT_HINT: &str = "YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|±HH:MM]";

/// Why a timestamp did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(pub String);

fn malformed(what: &str) -> TimestampError {
    TimestampError(format!("{what}; expected {FORMAT_HINT}"))
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
}

/// Parses a timestamp in one of the accepted forms into a UTC instant truncated to
/// microseconds.
pub fn parse_timestamp(raw: &str) -> Result<DateTime<Utc>, TimestampError> {
    let b = raw.as_bytes();
    if b.len() < 19 || !raw.is_char_boundary(19) {
        return Err(malformed("too short"));
    }
    let shape_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !shape_ok {
        return Err(malformed("not a date-time"));
    }
    let field = |range: std::ops::Range<usize>| {
        digits(&b[range]).ok_or_else(|| malformed("not a date-time"))
    };
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or_else(|| TimestampError(format!("{} is not a calendar date", &raw[..10])))?;

    let mut rest = &raw[19..];
    let mut nanos = 0u32;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 9 {
            return Err(malformed("the fraction must have 1 to 9 digits"));
        }
        let value =
            digits(&after_dot.as_bytes()[..len]).ok_or_else(|| malformed("bad fraction"))?;
        nanos = value * 10u32.pow(9 - len as u32);
        rest = &after_dot[len..];
    }
    let offset = parse_zone(rest)?;
    // Leap seconds (60) are not accepted: events are not timed that precisely.
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
        .filter(|_| second < 60)
        .ok_or_else(|| TimestampError(format!("{} is not a time of day", &raw[11..19])))?;
    let local = NaiveDateTime::new(date, time);
    let instant = offset
        .from_local_datetime(&local)
        .single()
        .ok_or_else(|| malformed("not a valid instant"))?
        .with_timezone(&Utc);
    // A zone can push the instant out of the four-digit years (`0000-01-01T00:00:00+01:00`);
    // such an instant could be shown but not sent back, so it is refused here.
    if !(0..=9999).contains(&instant.year()) {
        return Err(TimestampError(
            "the instant falls outside the years 0000 to 9999 in UTC".into(),
        ));
    }
    Ok(truncate_to_micros(instant))
}

fn parse_zone(rest: &str) -> Result<FixedOffset, TimestampError> {
    match rest.as_bytes() {
        [] | [b'Z'] | [b'z'] => Ok(FixedOffset::east_opt(0).expect("zero offset")),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2]).ok_or_else(|| malformed("bad zone"))?;
            let minutes = digits(&[*m1, *m2]).ok_or_else(|| malformed("bad zone"))?;
            if hours > 23 || minutes > 59 {
                return Err(malformed("bad zone"));
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            let seconds = if *sign == b'-' { -seconds } else { seconds };
            FixedOffset::east_opt(seconds).ok_or_else(|| malformed("bad zone"))
        }
        _ => Err(malformed("unexpected text after the time")),
    }
}

/// Drops the digits below a microsecond.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// The start of the hour holding `at`: the bucket of the hourly aggregates.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

/// The first whole hour at or after `at`.
pub fn ceil_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    let floor = hour_of(at);
    if floor == at {
        at
    } else {
        floor + TimeDelta::hours(1)
    }
}

/// Formats an instant the way the API shows it: RFC 3339, UTC, microseconds.
pub fn format_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn accepts_the_brief_format_and_rfc3339() {
        let cases = [
            ("2021-01-01 09:15:27.243860", "2021-01-01T09:15:27.243860Z"),
            ("2021-01-01T09:15:27.243860", "2021-01-01T09:15:27.243860Z"),
            ("2021-01-01T09:15:27Z", "2021-01-01T09:15:27Z"),
            ("2021-01-01t09:15:27z", "2021-01-01T09:15:27Z"),
            ("2021-01-01 09:15:27", "2021-01-01T09:15:27Z"),
            ("2021-01-01T09:15:27.5+02:00", "2021-01-01T07:15:27.5Z"),
            (
                "2021-01-01T09:15:27.123456789-01:30",
                "2021-01-01T10:45:27.123456Z",
            ),
            ("2020-02-29T00:00:00.1", "2020-02-29T00:00:00.1Z"),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_timestamp(raw), Ok(utc(expected)), "{raw}");
        }
    }

    #[test]
    fn refuses_malformed_timestamps() {
        let cases = [
            "",
            "yesterday",
            "2021-01-01",
            "2021-01-01X09:15:27",
            "2021-13-01 09:15:27",
            "2021-02-30 09:15:27",
            "2021-01-01 24:00:00",
            "2021-01-01 09:60:00",
            "2021-01-01 09:15:60",
            "2021-01-01 09:15:27.",
            "2021-01-01 09:15:27.1234567890",
            "2021-01-01 09:15:27 ",
            "2021-01-01 09:15:27+0200",
            "2021-01-01 09:15:27+24:00",
            "2021-01-01 09:15:27UTC",
            "+021-01-01 09:15:27",
            "2021-01-01 09:15:2é",
            "１２３４-01-01 09:15:27",
            "0000-01-01T00:00:00+00:01",
            "9999-12-31T23:59:59-00:01",
        ];
        for raw in cases {
            assert!(parse_timestamp(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn formats_in_utc_with_microseconds() {
        let at = parse_timestamp("2021-01-01 09:15:27.24386").unwrap();
        assert_eq!(format_timestamp(&at), "2021-01-01T09:15:27.243860Z");
    }
}

/// Property tests (fuzzing with proptest). `PROPTEST_CASES` sets the number of cases; the
/// default is small so that `cargo test` stays fast.
#[cfg(test)]
mod properties {
    use chrono::{Duration, NaiveDate};
    use proptest::prelude::*;

    use super::*;

    /// A valid timestamp in one of the accepted forms, with the instant it denotes.
    fn valid_timestamp() -> impl Strategy<Value = (String, DateTime<Utc>)> {
        (
            (1i32..=9998, 1u32..=12, 1u32..=28),
            (0u32..24, 0u32..60, 0u32..60),
            proptest::option::of("[0-9]{1,9}"),
            prop::sample::select(vec!["T", "t", " "]),
            proptest::option::of((any::<bool>(), 0u32..24, 0u32..60)),
            any::<bool>(),
        )
            .prop_map(|((y, mo, d), (h, mi, s), fraction, sep, zone, z)| {
                let mut text = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}");
                let mut nanos = 0;
                if let Some(f) = &fraction {
                    text.push('.');
                    text.push_str(f);
                    nanos = f.parse::<u32>().unwrap() * 10u32.pow(9 - f.len() as u32);
                }
                let mut offset = 0i64;
                match zone {
                    Some((east, zh, zm)) => {
                        text.push_str(&format!("{}{zh:02}:{zm:02}", if east { '+' } else { '-' }));
                        offset = i64::from(zh * 3600 + zm * 60) * if east { 1 } else { -1 };
                    }
                    None if z => text.push('Z'),
                    None => {}
                }
                let local = NaiveDate::from_ymd_opt(y, mo, d)
                    .unwrap()
                    .and_hms_nano_opt(h, mi, s, nanos)
                    .unwrap();
                let at = (local - Duration::seconds(offset)).and_utc();
                (text, truncate_to_micros(at))
            })
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(raw in any::<String>()) {
            let _ = parse_timestamp(&raw);
        }

        #[test]
        fn never_panics_on_near_misses(raw in "[0-9]{1,5}[-:. Tt+Z0-9]{0,30}[^a]{0,3}") {
            let _ = parse_timestamp(&raw);
        }

        #[test]
        fn accepted_text_formats_and_reparses_to_the_same_instant(
            year in prop_oneof![Just(0u32), Just(9999), 0u32..=9999],
            (month, day) in (0u32..=13, 0u32..=32),
            (h, m, s) in (0u32..=25, 0u32..=61, 0u32..=61),
            rest in "(\\.[0-9]{1,10})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        ) {
            let raw = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}{rest}");
            if let Ok(at) = parse_timestamp(&raw) {
                prop_assert_eq!(parse_timestamp(&format_timestamp(&at)), Ok(at));
            }
        }

        #[test]
        fn every_generated_valid_form_is_accepted((text, at) in valid_timestamp()) {
            prop_assert_eq!(parse_timestamp(&text), Ok(at));
            prop_assert_eq!(parse_timestamp(&format_timestamp(&at)), Ok(at));
        }
    }
}
