//! The times logs carry, as nanoseconds since the Unix epoch: RFC 3339, seconds (or
//! milliseconds) since the epoch, the access log's `[10/Oct/2000:13:55:36 -0700]`, syslog's
//! year-less `Jun 21 16:47:48`, and any strftime-style format ([`TimeFormat`]).
//!
//! Dates and time zones are [jiff](https://docs.rs/jiff)'s: RFC 3339, strftime-style parsing,
//! the local time zone (`TZ`, else the system's) for times written without an offset. Two fixed
//! layouts are read by hand because they are most of what replay reads and a benchmark showed
//! it paying: the access log's and syslog's; a test checks both against jiff on every day of
//! several years. So is RFC 3339's commonest shape, UTC with `Z`, which JSON Lines logs write
//! on every line: anything else in RFC 3339 (offsets, leap seconds, errors) goes to jiff, and a
//! test checks the two agree on every day from 1970 to 2554 and on damaged texts. The
//! byte-level pieces live in `by_hand.rs`.
//!
//! A time written without a year (syslog's) takes it from [`Years`]: a year given by the caller
//! (`--year`), else the year of the file's last change (a time later than that change belongs to
//! the year before), else this year; and it rolls over at New Year (a month that goes back from
//! December to January is the next year).

use jiff::civil::DateTime;
use jiff::fmt::strtime::BrokenDownTime;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

mod by_hand;

pub(crate) use by_hand::digits;
use by_hand::{month, rfc3339_utc};

/// An event time as text: RFC 3339, or a number of seconds (milliseconds from 10^11 on).
pub fn event_time(text: &str) -> Result<u64, String> {
    match text.parse::<f64>() {
        Ok(v) => unix_number(v),
        Err(_) => rfc3339(text),
    }
}

/// Seconds (or, from 10^11 on, milliseconds) since the epoch, as nanoseconds. The whole part is
/// converted exactly; only a fraction goes through floating point.
pub(crate) fn unix_number(v: f64) -> Result<u64, String> {
    if !v.is_finite() || v < 0.0 {
        return Err(format!(
            "timestamp {v} is not a time: give seconds since 1970 or RFC 3339"
        ));
    }
    let unit: u64 = if v >= 1e11 { 1_000_000 } else { 1_000_000_000 };
    let whole = v.trunc();
    let fraction = ((v - whole) * unit as f64).round() as u64;
    if whole >= u64::MAX as f64 {
        return Err(format!("timestamp {v} is too far in the future"));
    }
    (whole as u64)
        .checked_mul(unit)
        .and_then(|n| n.checked_add(fraction))
        .ok_or_else(|| format!("timestamp {v} is too far in the future"))
}

/// Nanoseconds since the epoch of an instant; refused before 1970 and past 2554 (what 64 bits
/// of nanoseconds hold).
fn nanos(ts: Timestamp) -> Result<u64, String> {
    let n = ts.as_nanosecond();
    if n < 0 {
        return Err("before 1970".into());
    }
    u64::try_from(n).map_err(|_| "too far in the future".to_string())
}

/// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`, `z` and a space for `T` accepted.
pub fn rfc3339(text: &str) -> Result<u64, String> {
    match rfc3339_utc(text.as_bytes()) {
        Some(n) => Ok(n),
        None => rfc3339_by_jiff(text),
    }
}

/// [`rfc3339`] by jiff: every form RFC 3339 allows, and the reason for what it does not.
fn rfc3339_by_jiff(text: &str) -> Result<u64, String> {
    let bad = |why: &dyn std::fmt::Display| {
        format!("timestamp {text:?}: {why} (expected RFC 3339, like 2026-11-24T10:00:00Z)")
    };
    let ts: Timestamp = text.parse().map_err(|e| {
        // A well-formed time past jiff's range (the year 9999) is a time, just too far ahead.
        match jiff::fmt::temporal::Pieces::parse(text) {
            Ok(p) if p.date().year() > 2554 => bad(&"too far in the future"),
            _ => bad(&e),
        }
    })?;
    nanos(ts).map_err(|e| bad(&e))
}

/// An RFC 3339 UTC rendering of a time, to the millisecond.
pub fn format_rfc3339(nanos: u64) -> String {
    match Timestamp::from_nanosecond(i128::from(nanos)) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => format!("{nanos}ns"),
    }
}

/// A civil date and time, checked (a leap second counts as the last second of its minute).
fn civil(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8, nanos: i32) -> Result<DateTime, String> {
    DateTime::new(y, mo, d, h, mi, s.min(59), nanos)
        .map_err(|_| "a date or time field is out of range".to_string())
}

/// The access-log time: `10/Oct/2000:13:55:36 -0700`.
#[allow(clippy::many_single_char_names)] // d, y, h, o: the date's own fields
pub(crate) fn clf_time(text: &str) -> Result<u64, String> {
    let bad = || format!("time [{text}] is not like [24/Nov/2026:10:00:00 +0000]");
    let s = text.as_bytes();
    if s.len() != 26
        || s[2] != b'/'
        || s[6] != b'/'
        || s[11] != b':'
        || s[14] != b':'
        || s[17] != b':'
        || s[20] != b' '
    {
        return Err(bad());
    }
    let mo = month(&s[3..6]).ok_or_else(bad)?;
    let f = |at, n| digits(s, at, n).ok_or_else(bad);
    let (d, y, h, mi, sec) = (f(0, 2)?, f(7, 4)?, f(12, 2)?, f(15, 2)?, f(18, 2)?);
    let (oh, om) = (f(22, 2)?, f(24, 2)?);
    let o = (oh * 3600 + om * 60) as i32;
    let offset = match s[21] {
        b'+' => o,
        b'-' => -o,
        _ => return Err(bad()),
    };
    let offset = Offset::from_seconds(offset).map_err(|_| bad())?;
    let dt = civil(y as i16, mo, d as i8, h as i8, mi as i8, sec as i8, 0)
        .map_err(|why| format!("{}: {why}", bad()))?;
    let ts = offset
        .to_timestamp(dt)
        .map_err(|_| format!("{}: out of range", bad()))?;
    nanos(ts).map_err(|why| format!("{}: {why}", bad()))
}

/// Where a year-less time (syslog's `Jun 21 16:47:48`) takes its year, with the roll-over at
/// New Year (see the [module docs](self)).
#[derive(Debug, Clone, Copy)]
pub struct Years {
    /// The year of the first time read.
    start: i16,
    /// Whether `start` was given (no correction by `latest`).
    given: bool,
    /// No time can be later than this (the file's last change, plus a day for clock skew).
    latest: Option<Timestamp>,
    /// The year and month of the last time read.
    last: Option<(i16, i8)>,
}

impl Years {
    /// Years counted from `year` (the caller's `--year`).
    pub fn given(year: i16) -> Years {
        Years {
            start: year,
            given: true,
            latest: None,
            last: None,
        }
    }

    /// Years of a file last changed at `changed` (a time later than that is the year before).
    pub fn file_changed(changed: std::time::SystemTime) -> Years {
        let ts = Timestamp::try_from(changed).unwrap_or_else(|_| Timestamp::now());
        Years {
            start: ts.to_zoned(TimeZone::system()).year(),
            given: false,
            latest: ts.checked_add(jiff::SignedDuration::from_hours(24)).ok(),
            last: None,
        }
    }

    /// Years of lines read as they are written: this year.
    pub fn now() -> Years {
        Years::file_changed(std::time::SystemTime::now())
    }

    /// The year of a time in `month`, and the year to check against the latest time.
    fn year_of(&mut self, month: i8) -> i16 {
        let year = match self.last {
            None => self.start,
            // December to January: the next year.
            Some((year, last)) if month + 6 <= last => year + 1,
            // January back to December (a late line after the roll-over): the year before,
            // for this line only.
            Some((year, last)) if month >= last + 6 => return year - 1,
            Some((year, _)) => year,
        };
        self.last = Some((year, month));
        year
    }

    /// Whether the first time read, `ts`, is later than the file's last change: then the
    /// file began the year before, and the time is to be read again.
    fn correct(&mut self, ts: Timestamp) -> bool {
        let Some(latest) = self.latest.take() else {
            return false;
        };
        if self.given || ts <= latest {
            return false;
        }
        self.start -= 1;
        self.last = None;
        true
    }
}

/// How a pattern's `time` group is read.
#[derive(Debug, Clone)]
pub struct TimeFormat {
    layout: Layout,
    /// For times written without an offset.
    zone: TimeZone,
}

#[derive(Debug, Clone)]
enum Layout {
    /// RFC 3339, epoch seconds, the access log's, syslog's, whichever the text is.
    Auto,
    /// strftime-style (`%Y-%m-%d %H:%M:%S`), read by jiff.
    Strftime(String),
}

impl Default for TimeFormat {
    fn default() -> Self {
        TimeFormat::auto()
    }
}

impl TimeFormat {
    /// RFC 3339 (`2026-11-24T10:00:00Z`), seconds since the epoch, the access log's
    /// (`24/Nov/2026:10:00:00 +0000`), or syslog's (`Nov 24 10:00:00`, local time, year from
    /// [`Years`]): whichever the text is.
    pub fn auto() -> TimeFormat {
        TimeFormat {
            layout: Layout::Auto,
            zone: TimeZone::system(),
        }
    }

    /// A strftime-style format (jiff's: `%Y %m %d %H %M %S %b %a %z %.f %s` and the rest). Without
    /// `%Y` (or `%y`, `%s`) the year comes from [`Years`]; without an offset (`%z`, `%:z`, `%Q`)
    /// the time is local.
    pub fn strftime(format: &str) -> Result<TimeFormat, String> {
        if !format.contains('%') {
            return Err(format!(
                "time format {format:?} has no % field: write it strftime-style, like \
                 \"%b %d %H:%M:%S\" or \"%Y-%m-%d %H:%M:%S %z\""
            ));
        }
        // An unknown directive shows at the first parse; find it now with a time it can format.
        let probe = jiff::Zoned::now().with_time_zone(TimeZone::UTC);
        jiff::fmt::strtime::format(format, &probe)
            .map_err(|e| format!("time format {format:?}: {e}"))?;
        Ok(TimeFormat {
            layout: Layout::Strftime(format.to_string()),
            zone: TimeZone::system(),
        })
    }

    /// Times written without an offset are in `zone` (default: `TZ`, else the system's).
    #[must_use]
    pub fn in_zone(mut self, zone: TimeZone) -> TimeFormat {
        self.zone = zone;
        self
    }

    /// The time `text` stands for.
    pub fn parse(&self, text: &str, years: &mut Years) -> Result<u64, String> {
        match &self.layout {
            Layout::Auto => {
                if let Ok(ns) = event_time(text) {
                    return Ok(ns);
                }
                if let Some(ns) = syslog(text, years, &self.zone) {
                    return ns;
                }
                clf_time(text).map_err(|_| {
                    format!(
                        "time {text:?} is not RFC 3339, seconds since 1970, an access-log time \
                         or a syslog time: give --time-format"
                    )
                })
            }
            Layout::Strftime(format) => self.strftime_time(format, text, years),
        }
    }

    fn strftime_time(&self, format: &str, text: &str, years: &mut Years) -> Result<u64, String> {
        let bad = |why: &dyn std::fmt::Display| format!("time {text:?} is not {format:?}: {why}");
        let mut tm = BrokenDownTime::parse(format, text).map_err(|e| bad(&e))?;
        if let Some(ts) = tm.timestamp() {
            return nanos(ts).map_err(|e| bad(&e));
        }
        let guessed = tm.year().is_none();
        if guessed {
            let month = tm.month().ok_or_else(|| bad(&"no month"))?;
            let year = years.year_of(month);
            tm.set_weekday(None);
            tm.set_year(Some(year)).map_err(|e| bad(&e))?;
        }
        let dt = tm.to_datetime().map_err(|e| bad(&e))?;
        let ts = self.instant(dt, tm.offset()).map_err(|e| bad(&e))?;
        if guessed && years.correct(ts) {
            return self.strftime_time(format, text, years);
        }
        nanos(ts).map_err(|e| bad(&e))
    }

    fn instant(&self, dt: DateTime, offset: Option<Offset>) -> Result<Timestamp, jiff::Error> {
        match offset {
            Some(offset) => offset.to_timestamp(dt),
            None => self.zone.to_timestamp(dt),
        }
    }
}

/// Syslog's `Nov 24 10:00:00` (the day space-padded or not), local time; `None` if the text is
/// not that shape.
fn syslog(text: &str, years: &mut Years, zone: &TimeZone) -> Option<Result<u64, String>> {
    let s = text.as_bytes();
    if s.len() != 15 || s[3] != b' ' || s[6] != b' ' || s[9] != b':' || s[12] != b':' {
        return None;
    }
    let mo = month(&s[0..3])?;
    let d = match s[4] {
        b' ' => digits(s, 5, 1)?,
        _ => digits(s, 4, 2)?,
    };
    let (h, mi, sec) = (digits(s, 7, 2)?, digits(s, 10, 2)?, digits(s, 13, 2)?);
    let at = |years: &mut Years| -> Result<Timestamp, String> {
        let year = years.year_of(mo);
        let dt = civil(year, mo, d as i8, h as i8, mi as i8, sec as i8, 0)?;
        zone.to_timestamp(dt).map_err(|e| e.to_string())
    };
    let bad = |why: String| format!("time {text:?}: {why}");
    Some((|| {
        let mut ts = at(years).map_err(bad)?;
        if years.correct(ts) {
            ts = at(years).map_err(bad)?;
        }
        nanos(ts).map_err(bad)
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn rfc3339_reads_utc_offsets_fractions_and_refuses_the_rest() {
        assert_eq!(rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(rfc3339("2000-03-01T00:00:00Z").unwrap(), 951_868_800 * S);
        assert_eq!(
            rfc3339("2026-11-24T11:00:00.25+01:00").unwrap(),
            rfc3339("2026-11-24T10:00:00.250Z").unwrap()
        );
        assert_eq!(
            rfc3339("2026-11-24 10:00:00.123456789z").unwrap() % S,
            123_456_789
        );
        assert_eq!(rfc3339("2024-02-29T23:59:60Z").unwrap() / S, 1_709_251_199);
        for bad in [
            "",
            "2026-11-24",
            "2026-11-24T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-24T10:00:00+1:00",
            "2026-11-24T10:00:00.Z",
            "1969-12-31T23:59:59Z",
            "yesterday",
        ] {
            assert!(rfc3339(bad).is_err(), "{bad}");
        }
        for far in ["2600-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
            let e = rfc3339(far).unwrap_err();
            assert!(e.contains("too far in the future"), "{far}: {e}");
        }
        assert!(rfc3339("1969-12-31T23:59:59Z")
            .unwrap_err()
            .contains("before 1970"));
        assert_eq!(
            format_rfc3339(rfc3339("2026-11-24T10:00:00.250Z").unwrap()),
            "2026-11-24T10:00:00.250Z"
        );
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
    }

    /// The hand-written access-log and syslog readers against jiff's strftime parser, on every
    /// day of four years (a leap year among them) at a few times of day.
    #[test]
    fn the_fixed_layouts_agree_with_jiff_on_every_day() {
        let utc = TimeZone::UTC;
        let mut day = jiff::civil::date(2023, 1, 1);
        let end = jiff::civil::date(2027, 1, 1);
        let oracle = TimeFormat::strftime("%d/%b/%Y:%H:%M:%S %z").unwrap();
        let syslog_oracle = TimeFormat::strftime("%b %e %H:%M:%S")
            .unwrap()
            .in_zone(utc.clone());
        while day < end {
            for (h, m, s, off) in [
                (0, 0, 0, "+0000"),
                (13, 55, 36, "-0700"),
                (23, 59, 59, "+0530"),
            ] {
                let dt = day.at(h, m, s, 0);
                let clf = format!("{} {off}", dt.strftime("%d/%b/%Y:%H:%M:%S"));
                let want = oracle.parse(&clf, &mut Years::given(0)).unwrap();
                assert_eq!(clf_time(&clf).unwrap(), want, "{clf}");
                let text = dt.strftime("%b %e %H:%M:%S").to_string();
                let year = day.year();
                let got = syslog(&text, &mut Years::given(year), &utc)
                    .unwrap()
                    .unwrap();
                let want = syslog_oracle.parse(&text, &mut Years::given(year)).unwrap();
                assert_eq!(got, want, "{text}");
                assert_eq!(got, nanos(utc.to_timestamp(dt).unwrap()).unwrap());
            }
            day = day.tomorrow().unwrap();
        }
    }

    fn syslog_utc(text: &str, years: &mut Years) -> u64 {
        TimeFormat::auto()
            .in_zone(TimeZone::UTC)
            .parse(text, years)
            .unwrap()
    }

    fn at(text: &str) -> u64 {
        rfc3339(text).unwrap()
    }

    #[test]
    fn year_less_times_roll_over_at_new_year() {
        let mut years = Years::given(2025);
        assert_eq!(
            syslog_utc("Dec 31 23:59:58", &mut years),
            at("2025-12-31T23:59:58Z")
        );
        assert_eq!(
            syslog_utc("Jan  1 00:00:01", &mut years),
            at("2026-01-01T00:00:01Z")
        );
        // A late line from before midnight, then the new year goes on.
        assert_eq!(
            syslog_utc("Dec 31 23:59:59", &mut years),
            at("2025-12-31T23:59:59Z")
        );
        assert_eq!(
            syslog_utc("Jan  2 08:00:00", &mut years),
            at("2026-01-02T08:00:00Z")
        );
        assert_eq!(
            syslog_utc("Mar  2 08:00:00", &mut years),
            at("2026-03-02T08:00:00Z")
        );
    }

    #[test]
    fn a_files_year_is_the_year_of_its_last_change_or_the_one_before() {
        let changed = |text: &str| {
            let ts: Timestamp = text.parse().unwrap();
            Years::file_changed(std::time::SystemTime::from(ts))
        };
        // Written in January 2026, starting in December: December is 2025's.
        let mut years = changed("2026-01-03T12:00:00Z");
        assert_eq!(
            syslog_utc("Dec 30 10:00:00", &mut years),
            at("2025-12-30T10:00:00Z")
        );
        assert_eq!(
            syslog_utc("Jan  2 10:00:00", &mut years),
            at("2026-01-02T10:00:00Z")
        );
        // Written in June 2026, all of it in June.
        let mut years = changed("2026-06-30T12:00:00Z");
        assert_eq!(
            syslog_utc("Jun 21 16:47:48", &mut years),
            at("2026-06-21T16:47:48Z")
        );
        // A given year is taken as it is.
        let mut years = Years::given(2019);
        assert_eq!(
            syslog_utc("Dec 30 10:00:00", &mut years),
            at("2019-12-30T10:00:00Z")
        );
    }

    #[test]
    fn strftime_formats_read_local_and_offset_times_and_name_what_is_wrong() {
        let f = TimeFormat::strftime("%Y/%m/%d %H:%M:%S")
            .unwrap()
            .in_zone(TimeZone::get("America/New_York").unwrap());
        let mut years = Years::now();
        assert_eq!(
            f.parse("2026/11/24 05:00:00", &mut years).unwrap(),
            at("2026-11-24T10:00:00Z")
        );
        let f = TimeFormat::strftime("%a %b %d %H:%M:%S%.f %Y")
            .unwrap()
            .in_zone(TimeZone::UTC);
        assert_eq!(
            f.parse("Fri Sep 30 13:26:51.015401 2022", &mut years)
                .unwrap(),
            at("2022-09-30T13:26:51.015401Z")
        );
        let err = f.parse("yesterday", &mut years).unwrap_err();
        assert!(err.contains("is not \"%a %b %d"), "{err}");
        let err = TimeFormat::strftime("%Y-%m-%d %K").unwrap_err();
        assert!(err.contains("%Y-%m-%d %K"), "{err}");
        assert!(TimeFormat::strftime("YYYY-MM-DD")
            .unwrap_err()
            .contains("no % field"));
        let auto = TimeFormat::auto();
        assert_eq!(
            auto.parse("1700000000", &mut years).unwrap(),
            1_700_000_000 * S
        );
        assert!(auto
            .parse("soon", &mut years)
            .unwrap_err()
            .contains("--time-format"));
    }
}
