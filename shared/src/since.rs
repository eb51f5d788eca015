//! Points in time on the wire: the `since` query parameter, trailer and
//! horizon timestamps. Always UTC; both binaries run their database sessions
//! with `time_zone = '+00:00'` so these strings compare directly with
//! TIMESTAMP columns, whatever the hosts' time zones are.

use std::fmt;

/// A calendar date and time in UTC with microseconds. The all-zero value is
/// MySQL's "zero" TIMESTAMP (`0000-00-00 00:00:00`), which a table can hold
/// and which therefore must be expressible as a resume point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UtcTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micro: u32,
}

impl UtcTime {
    pub const ZERO: UtcTime = UtcTime {
        year: 0,
        month: 0,
        day: 0,
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
    };

    /// Parses the forms `since` accepts: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS[.f…]`
    /// (also with `T` as separator) and RFC 3339 with `Z` or `±HH:MM`.
    /// Everything without an offset is taken as UTC.
    pub fn parse(text: &str) -> Result<UtcTime, String> {
        parse(text.trim()).ok_or_else(|| {
            format!(
                "invalid time {text:?}: expected YYYY-MM-DD, YYYY-MM-DD HH:MM:SS[.ffffff] (UTC) \
                 or RFC 3339 such as 2014-09-01T01:23:45Z"
            )
        })
    }

    /// Builds a value from the parts of a MySQL DATE/DATETIME/TIMESTAMP.
    pub fn from_parts(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8, us: u32) -> UtcTime {
        UtcTime {
            year: y,
            month: mo,
            day: d,
            hour: h,
            minute: mi,
            second: s,
            micro: us,
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == UtcTime::ZERO
    }

    /// Microseconds since 1970-01-01 00:00:00 UTC (negative before).
    pub fn to_unix_micros(&self) -> i64 {
        let days = days_from_civil(i64::from(self.year), self.month.into(), self.day.into());
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        secs * 1_000_000 + i64::from(self.micro)
    }

    pub fn from_unix_micros(micros: i64) -> UtcTime {
        let secs = micros.div_euclid(1_000_000);
        let micro = micros.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        UtcTime {
            year: y.clamp(0, 9999) as u16,
            month: m as u8,
            day: d as u8,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            micro,
        }
    }

    /// Drops sub-second digits beyond `fsp` (0..=6), rounding towards the past.
    pub fn truncate(&self, fsp: u8) -> UtcTime {
        let unit = 10u32.pow(6 - u32::from(fsp.min(6)));
        UtcTime {
            micro: self.micro / unit * unit,
            ..*self
        }
    }

    /// Formats as `YYYY-MM-DD HH:MM:SS` plus `fsp` fractional digits, the way
    /// MySQL prints a TIMESTAMP(fsp).
    pub fn format(&self, fsp: u8) -> String {
        let mut s = String::with_capacity(26);
        self.write_to(fsp, &mut s);
        s
    }

    pub fn write_to(&self, fsp: u8, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        let fsp = fsp.min(6);
        if fsp > 0 {
            let digits = format!("{:06}", self.micro);
            out.push('.');
            out.push_str(&digits[..fsp as usize]);
        }
    }
}

/// Full microsecond precision, the canonical form sent as a query parameter.
impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format(6))
    }
}

fn parse(s: &str) -> Option<UtcTime> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(&b[0..4])? as u16;
    let month = digits(&b[5..7])? as u8;
    let day = digits(&b[8..10])? as u8;
    let mut t = UtcTime {
        year,
        month,
        day,
        ..UtcTime::ZERO
    };
    let rest = &b[10..];
    if rest.is_empty() {
        return valid(t);
    }
    if rest.len() < 9
        || !matches!(rest[0], b' ' | b'T' | b't')
        || rest[3] != b':'
        || rest[6] != b':'
    {
        return None;
    }
    t.hour = digits(&rest[1..3])? as u8;
    t.minute = digits(&rest[4..6])? as u8;
    t.second = digits(&rest[7..9])? as u8;
    let mut rest = &rest[9..];
    if let Some((b'.', frac)) = rest.split_first() {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 6 {
            return None;
        }
        t.micro = digits(&frac[..n])? * 10u32.pow(6 - n as u32);
        rest = &frac[n..];
    }
    let offset_minutes: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = i64::from(digits(&[*h1, *h2])?);
            let m = i64::from(digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'-' {
                -total
            } else {
                total
            }
        }
        _ => return None,
    };
    let t = valid(t)?;
    if offset_minutes == 0 || t.is_zero() {
        return Some(t);
    }
    Some(UtcTime::from_unix_micros(
        t.to_unix_micros() - offset_minutes * 60_000_000,
    ))
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn valid(t: UtcTime) -> Option<UtcTime> {
    if t.year == 0 && t.month == 0 && t.day == 0 {
        // Only the complete zero value is meaningful for a TIMESTAMP.
        return (t == UtcTime::ZERO).then_some(t);
    }
    let leap =
        (t.year.is_multiple_of(4) && !t.year.is_multiple_of(100)) || t.year.is_multiple_of(400);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let ok = (1..=12).contains(&t.month)
        && t.day >= 1
        && t.day <= month_days[t.month as usize - 1]
        && t.hour < 24
        && t.minute < 60
        && t.second < 60;
    ok.then_some(t)
}

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        UtcTime::parse(s).unwrap().to_string()
    }

    #[test]
    fn accepts_the_documented_forms() {
        assert_eq!(p("2014-09-01"), "2014-09-01 00:00:00.000000");
        assert_eq!(p("2014-09-01 01:23:45"), "2014-09-01 01:23:45.000000");
        assert_eq!(p("2014-09-01 01:23:45.5"), "2014-09-01 01:23:45.500000");
        assert_eq!(
            p("2014-09-01 01:23:45.999999"),
            "2014-09-01 01:23:45.999999"
        );
        assert_eq!(p("2014-09-01T01:23:45Z"), "2014-09-01 01:23:45.000000");
        assert_eq!(
            p("2014-09-01T01:23:45.123+02:00"),
            "2014-08-31 23:23:45.123000"
        );
        assert_eq!(p("2014-12-31T23:30:00-01:00"), "2015-01-01 00:30:00.000000");
        assert_eq!(p("0000-00-00 00:00:00"), "0000-00-00 00:00:00.000000");
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "yesterday",
            "2014-13-01",
            "2014-02-30",
            "2013-02-29",
            "2014-09-01 24:00:00",
            "2014-09-01 01:60:00",
            "2014-09-01 01:23",
            "2014-09-01 01:23:45.1234567",
            "2014-09-01 01:23:45.",
            "2014-09-01T01:23:45+2",
            "2014-09-01 01:23:45 UTC",
            "0000-01-00",
            "2014-09-01'; DROP TABLE x; --",
        ] {
            assert!(UtcTime::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn leap_day_is_valid() {
        assert_eq!(p("2024-02-29"), "2024-02-29 00:00:00.000000");
        assert_eq!(p("2000-02-29"), "2000-02-29 00:00:00.000000");
    }

    #[test]
    fn unix_micros_round_trip() {
        for s in [
            "1970-01-01 00:00:00",
            "2038-01-19 03:14:07.999999",
            "1900-03-01 12:00:00.5",
        ] {
            let t = UtcTime::parse(s).unwrap();
            assert_eq!(UtcTime::from_unix_micros(t.to_unix_micros()), t);
        }
        assert_eq!(
            UtcTime::parse("1970-01-02").unwrap().to_unix_micros(),
            86_400_000_000
        );
    }

    #[test]
    fn truncates_and_formats_by_precision() {
        let t = UtcTime::parse("2020-01-02 03:04:05.987654").unwrap();
        assert_eq!(t.truncate(0).format(0), "2020-01-02 03:04:05");
        assert_eq!(t.truncate(3).format(3), "2020-01-02 03:04:05.987");
        assert_eq!(t.truncate(3).to_string(), "2020-01-02 03:04:05.987000");
        assert_eq!(t.format(6), "2020-01-02 03:04:05.987654");
    }
}
