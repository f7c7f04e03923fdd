//! Local wall-clock time ↔ UTC for one region, DST-correct, and weekly working hours expanded
//! into UTC intervals.
//!
//! # The rule for times that do not exist or exist twice
//!
//! A weekly shift is written in local wall-clock time ("mon 08:00–17:00"), but on the day of a
//! DST change some local times do not exist (spring forward: 02:30 in `America/Los_Angeles` on
//! 2026-03-08) and some exist twice (fall back: 01:30 on 2026-11-01). We resolve them the way
//! RFC 5545 and JavaScript's Temporal (`"compatible"`) do:
//!
//! * a time in a **gap** is read with the offset in force *before* the gap, which lands it the
//!   gap's length later (02:30 → 03:30 PDT);
//! * a time in a **fold** takes the *earlier* of its two instants (01:30 → 01:30 PDT).
//!
//! So a `22:00–06:00` shift across the spring-forward night lasts 7 real hours and one across the
//! fall-back night 9; a shift never gains or loses time except by the DST change itself.
//!
//! # Speed
//!
//! The engine converts thousands of shift boundaries per request. Rather than ask the time-zone
//! database each time, `LocalClock` asks it once per request for the offsets in force over the
//! request's span (a handful of calls) and then converts with integer arithmetic.
//!
//! Sits under the engine: [`crate::index`] and the engine use `LocalClock`; the service may use
//! [`local_to_utc`] and [`working_intervals`] to draw calendars with the same rule.

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{LocalTime, Weekday, WorkingHours};

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// Offsets of one time zone over a span of UTC time, as a list of segments.
#[derive(Debug, Clone)]
pub(crate) struct LocalClock {
    /// `(first UTC second of the segment, offset in seconds)`, in time order; the first segment
    /// also covers everything before it and the last everything after.
    segments: Vec<(i64, i64)>,
}

/// How often the database is sampled for offset changes. Real zones change offset at most a
/// few times a year, never twice within this step.
const SAMPLE_STEP: i64 = 6 * 3600;

fn offset_at(tz: Tz, utc: i64) -> i64 {
    match DateTime::from_timestamp(utc, 0) {
        Some(t) => i64::from(
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc(),
        ),
        // Outside chrono's range (±262,000 years): no zone rules exist there anyway.
        None => 0,
    }
}

impl LocalClock {
    /// The offsets of `tz` between `from` and `to` (UTC seconds).
    pub(crate) fn new(tz: Tz, from: i64, to: i64) -> Self {
        let mut segments = vec![(from, offset_at(tz, from))];
        let mut t = from;
        let mut current = segments[0].1;
        while t < to {
            let next = t.saturating_add(SAMPLE_STEP).min(to);
            let off = offset_at(tz, next);
            if off != current {
                // Bisect to the exact second of the change.
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_at(tz, mid) == current {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                segments.push((hi, off));
                current = off;
            }
            if next == t {
                break;
            }
            t = next;
        }
        Self { segments }
    }

    /// The UTC offset in force at a UTC instant, in seconds.
    pub(crate) fn offset(&self, utc: i64) -> i64 {
        let i = self.segments.partition_point(|&(start, _)| start <= utc);
        self.segments[i.saturating_sub(1)].1
    }

    /// Local wall-clock seconds (since 1970-01-01T00:00 local) of a UTC instant.
    pub(crate) fn to_local(&self, utc: i64) -> i64 {
        utc + self.offset(utc)
    }

    /// The local day number (days since 1970-01-01) of a UTC instant.
    pub(crate) fn local_day(&self, utc: i64) -> i64 {
        self.to_local(utc).div_euclid(DAY)
    }

    /// The UTC instant of a local wall-clock time, with the gap/fold rule of the module docs.
    pub(crate) fn to_utc(&self, local: i64) -> i64 {
        let n = self.segments.len();
        // Segments are in time order, so the first that contains its reading is the earlier
        // instant of a fold.
        for i in 0..n {
            let (start, off) = self.segments[i];
            let u = local - off;
            let after_start = i == 0 || u >= start;
            let before_end = i + 1 == n || u < self.segments[i + 1].0;
            if after_start && before_end {
                return u;
            }
        }
        // No reading fits: the local time is in a gap. Read it with the offset before the gap.
        for i in 1..n {
            let (start, off) = self.segments[i];
            let before = self.segments[i - 1].1;
            if off > before && local >= start + before && local < start + off {
                return local - before;
            }
        }
        // Unreachable for real zones; stay total anyway.
        local - self.segments[n - 1].1
    }

    /// UTC instant of local midnight starting local day `day`.
    pub(crate) fn day_start(&self, day: i64) -> i64 {
        self.to_utc(day * DAY)
    }
}

/// The weekday of a local day number (day 0, 1970-01-01, was a Thursday).
pub(crate) fn weekday_of_day(day: i64) -> Weekday {
    Weekday::from_index((day + 3).rem_euclid(7) as u8)
}

/// A weekly shift reduced to integers: weekday index, start and end minute; `end <= start`
/// means overnight.
pub(crate) type ShiftRule = (u8, u16, u16);

/// Shift rules in canonical order (sorted, deduplicated), the key under which the index interns
/// identical weekly patterns.
pub(crate) fn shift_rules(hours: &[WorkingHours]) -> Vec<ShiftRule> {
    let mut rules: Vec<ShiftRule> = hours
        .iter()
        .filter(|w| w.start != w.end)
        .map(|w| (w.day.index(), w.start.minutes(), w.end.minutes()))
        .collect();
    rules.sort_unstable();
    rules.dedup();
    rules
}

/// Appends to `out` the UTC working intervals of `rules` for shifts starting on local days
/// `first_day..=last_day`, sorted and merged (overlapping or touching shifts become one
/// stretch).
pub(crate) fn expand_rules(
    clock: &LocalClock,
    rules: &[ShiftRule],
    first_day: i64,
    last_day: i64,
    out: &mut Vec<(i64, i64)>,
) {
    let base = out.len();
    for day in first_day..=last_day {
        let wd = weekday_of_day(day).index();
        for &(d, start, end) in rules {
            if d != wd {
                continue;
            }
            let local_start = day * DAY + i64::from(start) * 60;
            let end_day = if end <= start { day + 1 } else { day };
            let local_end = end_day * DAY + i64::from(end) * 60;
            let s = clock.to_utc(local_start);
            let e = clock.to_utc(local_end);
            // A shift whose start moves past its end in a spring-forward gap (02:30–03:15 on
            // the night 02:00 becomes 03:00) collapses to nothing.
            if e > s {
                out.push((s, e));
            }
        }
    }
    let tail = &mut out[base..];
    tail.sort_unstable();
    // Merge in place.
    let mut w = base;
    for r in base..out.len() {
        let (s, e) = out[r];
        if w > base && s <= out[w - 1].1 {
            if e > out[w - 1].1 {
                out[w - 1].1 = e;
            }
        } else {
            out[w] = (s, e);
            w += 1;
        }
    }
    out.truncate(w);
}

/// The UTC instant of a local date and time in `tz`, with the gap/fold rule of the module docs.
pub fn local_to_utc(tz: Tz, date: NaiveDate, time: LocalTime) -> DateTime<Utc> {
    let local = date
        .and_hms_opt(0, 0, 0)
        .map_or(0, |d| d.and_utc().timestamp())
        + i64::from(time.minutes()) * 60;
    let clock = LocalClock::new(tz, local - 2 * DAY, local + 2 * DAY);
    from_secs(clock.to_utc(local))
}

/// The contractor's working intervals in UTC that overlap `[from, to)`, sorted and merged: what
/// the engine treats as "inside working hours". The cost grows with the span (a calendar view's
/// week or month is fine).
pub fn working_intervals(
    tz: Tz,
    hours: &[WorkingHours],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let (f, t) = (from.timestamp(), to.timestamp());
    if t <= f {
        return Vec::new();
    }
    let clock = LocalClock::new(tz, f - 3 * DAY, t + 3 * DAY);
    let rules = shift_rules(hours);
    let mut out = Vec::new();
    // A shift can start the local day before `from` and run overnight into it.
    expand_rules(
        &clock,
        &rules,
        clock.local_day(f) - 1,
        clock.local_day(t),
        &mut out,
    );
    out.into_iter()
        .filter(|&(s, e)| e > f && s < t)
        .map(|(s, e)| (from_secs(s), from_secs(e)))
        .collect()
}

/// Seconds since the epoch → `DateTime<Utc>`, saturating at chrono's range.
pub(crate) fn from_secs(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(if secs < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// `DateTime<Utc>` → whole seconds, rounding up (so a fractional end is never cut short).
pub(crate) fn secs_ceil(t: DateTime<Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};
    use chrono_tz::{America, Australia, Europe};

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("test timestamp")
    }

    fn t(h: u8, m: u8) -> LocalTime {
        LocalTime::from_hm(h, m).expect("valid")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid")
    }

    macro_rules! conversions {
        ($($name:ident: $tz:expr, $date:expr, $time:expr => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(local_to_utc($tz, $date, $time), utc($want));
            }
        )*};
    }

    conversions! {
        la_winter: America::Los_Angeles, date(2026, 1, 5), t(8, 0) => "2026-01-05T16:00:00Z";
        la_summer: America::Los_Angeles, date(2026, 7, 6), t(8, 0) => "2026-07-06T15:00:00Z";
        la_before_gap: America::Los_Angeles, date(2026, 3, 8), t(1, 59) => "2026-03-08T09:59:00Z";
        // 02:30 does not exist: read with PST, it is 03:30 PDT.
        la_in_gap: America::Los_Angeles, date(2026, 3, 8), t(2, 30) => "2026-03-08T10:30:00Z";
        la_after_gap: America::Los_Angeles, date(2026, 3, 8), t(3, 0) => "2026-03-08T10:00:00Z";
        // 01:30 exists twice: the earlier (PDT) instant.
        la_in_fold: America::Los_Angeles, date(2026, 11, 1), t(1, 30) => "2026-11-01T08:30:00Z";
        la_after_fold: America::Los_Angeles, date(2026, 11, 1), t(2, 0) => "2026-11-01T10:00:00Z";
        berlin_in_gap: Europe::Berlin, date(2026, 3, 29), t(2, 15) => "2026-03-29T01:15:00Z";
        berlin_in_fold: Europe::Berlin, date(2026, 10, 25), t(2, 15) => "2026-10-25T00:15:00Z";
        // Lord Howe shifts by 30 minutes: 02:00 → 02:30 on 2026-10-04.
        lord_howe_in_gap: Australia::Lord_Howe, date(2026, 10, 4), t(2, 10) => "2026-10-03T15:40:00Z";
    }

    #[test]
    fn conversion_agrees_with_chrono_tz_where_unambiguous() {
        for tz in [
            America::Los_Angeles,
            America::Chicago,
            Europe::Berlin,
            Australia::Lord_Howe,
        ] {
            let mut d = date(2026, 1, 1);
            while d < date(2027, 1, 1) {
                for (h, m) in [(0, 0), (1, 30), (2, 30), (8, 0), (23, 59)] {
                    let naive = d.and_hms_opt(h, m, 0).expect("valid");
                    if let chrono::LocalResult::Single(x) = tz.from_local_datetime(&naive) {
                        assert_eq!(
                            local_to_utc(tz, d, t(h as u8, m as u8)),
                            x.with_timezone(&Utc),
                            "{tz} {naive}"
                        );
                    }
                }
                d = d.succ_opt().expect("valid");
            }
        }
    }

    fn shift(day: Weekday, s: LocalTime, e: LocalTime) -> WorkingHours {
        WorkingHours {
            day,
            start: s,
            end: e,
        }
    }

    #[test]
    fn overnight_shift_across_spring_forward_lasts_seven_hours() {
        // Saturday 2026-03-07 22:00 PST → Sunday 06:00 PDT.
        let iv = working_intervals(
            America::Los_Angeles,
            &[shift(Weekday::Sat, t(22, 0), t(6, 0))],
            utc("2026-03-07T00:00:00Z"),
            utc("2026-03-09T00:00:00Z"),
        );
        assert_eq!(
            iv,
            vec![(utc("2026-03-08T06:00:00Z"), utc("2026-03-08T13:00:00Z"))]
        );
    }

    #[test]
    fn overnight_shift_across_fall_back_lasts_nine_hours() {
        let iv = working_intervals(
            America::Los_Angeles,
            &[shift(Weekday::Sat, t(22, 0), t(6, 0))],
            utc("2026-10-31T00:00:00Z"),
            utc("2026-11-02T00:00:00Z"),
        );
        assert_eq!(
            iv,
            vec![(utc("2026-11-01T05:00:00Z"), utc("2026-11-01T14:00:00Z"))]
        );
    }

    #[test]
    fn touching_and_split_shifts() {
        let hours = [
            shift(Weekday::Mon, t(8, 0), t(12, 0)),
            shift(Weekday::Mon, t(12, 0), t(14, 0)),
            shift(Weekday::Mon, t(15, 0), t(17, 0)),
        ];
        let iv = working_intervals(
            Europe::Berlin,
            &hours,
            utc("2026-06-01T00:00:00Z"),
            utc("2026-06-02T00:00:00Z"),
        );
        assert_eq!(
            iv,
            vec![
                (utc("2026-06-01T06:00:00Z"), utc("2026-06-01T12:00:00Z")),
                (utc("2026-06-01T13:00:00Z"), utc("2026-06-01T15:00:00Z")),
            ]
        );
    }

    #[test]
    fn shift_inside_gap_moves_with_it() {
        // 02:00–02:45 does not exist on 2026-03-08; both ends move by the gap's hour.
        let iv = working_intervals(
            America::Los_Angeles,
            &[shift(Weekday::Sun, t(2, 0), t(2, 45))],
            utc("2026-03-08T00:00:00Z"),
            utc("2026-03-09T00:00:00Z"),
        );
        assert_eq!(
            iv,
            vec![(utc("2026-03-08T10:00:00Z"), utc("2026-03-08T10:45:00Z"))]
        );
    }

    #[test]
    fn shift_swallowed_by_gap_vanishes() {
        // 02:30 reads as 03:30 PDT, later than 03:15 PDT: nothing is left to work.
        let iv = working_intervals(
            America::Los_Angeles,
            &[shift(Weekday::Sun, t(2, 30), t(3, 15))],
            utc("2026-03-08T00:00:00Z"),
            utc("2026-03-09T00:00:00Z"),
        );
        assert!(iv.is_empty(), "{iv:?}");
    }

    #[test]
    fn weekday_of_epoch_days() {
        assert_eq!(weekday_of_day(0), Weekday::Thu);
        assert_eq!(weekday_of_day(-1), Weekday::Wed);
        // 2026-03-08 is a Sunday.
        let d = date(2026, 3, 8)
            .signed_duration_since(date(1970, 1, 1))
            .num_days();
        assert_eq!(weekday_of_day(d), Weekday::Sun);
    }
}
