//! Civil-time conversions (UTC only) without a date crate: RFC 3339 for the audit log,
//! IMF-fixdate for the `Date` header, and SigV4's `YYYYMMDDTHHMMSSZ`.

use std::time::{SystemTime, UNIX_EPOCH};

pub const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the Unix epoch (0 if the clock is before 1970, which only a broken host has).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Epoch milliseconds as KMS JSON timestamps: fractional epoch seconds.
pub fn ms_to_epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
    weekday: usize,
}

fn split(ms: i64) -> Parts {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: rem / 3_600_000,
        minute: rem / 60_000 % 60,
        second: rem / 1000 % 60,
        millis: rem % 1000,
        // 1970-01-01 was a Thursday (index 4 with Sunday = 0).
        weekday: (days + 4).rem_euclid(7) as usize,
    }
}

/// `2026-11-22T05:12:33.123Z`
pub fn rfc3339(ms: i64) -> String {
    let p = split(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        p.year, p.month, p.day, p.hour, p.minute, p.second, p.millis
    )
}

/// `Sun, 22 Nov 2026 05:12:33 GMT` (RFC 9110 IMF-fixdate).
pub fn http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p = split(ms);
    let day_name = DAYS.get(p.weekday).copied().unwrap_or("Sun");
    let month_name = MONTHS
        .get((p.month as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day_name}, {:02} {month_name} {:04} {:02}:{:02}:{:02} GMT",
        p.day, p.year, p.hour, p.minute, p.second
    )
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses SigV4's `X-Amz-Date` (`20150830T123600Z`) into epoch milliseconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    if s.len() != 16 || s.get(8..9) != Some("T") || s.get(15..16) != Some("Z") {
        return None;
    }
    let year = digits(s.get(0..4)?)?;
    let month = u32::try_from(digits(s.get(4..6)?)?).ok()?;
    let day = u32::try_from(digits(s.get(6..8)?)?).ok()?;
    let hour = digits(s.get(9..11)?)?;
    let minute = digits(s.get(11..13)?)?;
    let second = digits(s.get(13..15)?)?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400) + hour * 3600 + minute * 60 + second) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_across_leap_years_and_epoch() {
        for days in [-1_000_000, -1, 0, 1, 59, 60, 11_016, 20_779, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
    }

    #[test]
    fn formats_match_known_instants() {
        // 2015-08-30T12:36:00Z is the SigV4 test-suite instant; it was a Sunday.
        let ms = parse_amz_date("20150830T123600Z").unwrap();
        assert_eq!(ms, 1_440_938_160_000);
        assert_eq!(rfc3339(ms + 7), "2015-08-30T12:36:00.007Z");
        assert_eq!(http_date(ms), "Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn malformed_amz_dates_are_rejected() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150830T253600Z",
            "+0150830T123600Z",
            "２0150830T12360Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad:?}");
        }
    }
}
