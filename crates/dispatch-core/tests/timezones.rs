//! Time-zone and DST edges, end to end through `recommend` and `check_assignment`: shifts across
//! the spring-forward and fall-back nights, shifts starting in the gap or the fold, a job window
//! spanning local midnight, the daily cap counted by local day, and a European zone.

mod common;

use chrono::{DateTime, Utc};
use common::*;
use dispatch_core::*;

fn berlin() -> Region {
    Region {
        id: "germany".into(),
        name: "Germany".into(),
        time_zone: chrono_tz::Europe::Berlin,
    }
}

fn one(region: Region, mut c: Contractor, bookings: &[Booking]) -> RegionIndex {
    c.region = region.id.clone();
    index(region, &[c], bookings)
}

fn window_job(region: &str, start: &str, end: &str, minutes: u32) -> Job {
    let mut j = job();
    j.region = region.into();
    j.window_start_utc = utc(start);
    j.window_end_utc = utc(end);
    j.duration_minutes = minutes;
    j
}

fn with_hours(h: Vec<WorkingHours>) -> Contractor {
    let mut c = contractor(1);
    c.working_hours = h;
    c
}

/// Table: contractor hours, job window and duration, "now" → the expected start (or `None`
/// for `noSlot`).
macro_rules! tz_cases {
    ($($name:ident: $region:expr, $hours:expr, ($ws:expr, $we:expr, $min:expr), $now:expr => $want:expr;)*) => {$(
        #[test]
        fn $name() {
            let region: Region = $region;
            let j = window_job(region.id.as_str(), $ws, $we, $min);
            let idx = one(region, with_hours($hours), &[]);
            let now: DateTime<Utc> = utc($now);
            let want: Option<&str> = $want;
            match (want, outcome(&idx, &j, now, 1)) {
                (Some(s), Ok(c)) => assert_eq!(c.start_utc, utc(s), "{c:?}"),
                (None, Err(e)) => assert_eq!(e.reason.code(), "noSlot", "{e}"),
                (want, got) => panic!("wanted {want:?}, got {got:?}"),
            }
        }
    )*};
}

tz_cases! {
    // Sat 22:00 PST (06:00Z) → Sun 06:00 PDT (13:00Z): 7 real hours, not 8.
    spring_forward_night_fits_6h50: west(), vec![hours(Weekday::Sat, "22:00", "06:00")],
        ("2026-03-08T00:00:00Z", "2026-03-08T20:00:00Z", 410), "2026-03-07T00:00:00Z"
        => Some("2026-03-08T06:05:00Z");
    spring_forward_night_refuses_7h: west(), vec![hours(Weekday::Sat, "22:00", "06:00")],
        ("2026-03-08T00:00:00Z", "2026-03-08T20:00:00Z", 420), "2026-03-07T00:00:00Z"
        => None;
    // A week later, an ordinary night: 8 hours, the 7-hour job fits.
    ordinary_night_fits_7h: west(), vec![hours(Weekday::Sat, "22:00", "06:00")],
        ("2026-03-15T00:00:00Z", "2026-03-15T20:00:00Z", 420), "2026-03-14T00:00:00Z"
        => Some("2026-03-15T05:05:00Z");
    // Sat 22:00 PDT (05:00Z) → Sun 06:00 PST (14:00Z): 9 real hours.
    fall_back_night_fits_8h50: west(), vec![hours(Weekday::Sat, "22:00", "06:00")],
        ("2026-11-01T00:00:00Z", "2026-11-01T20:00:00Z", 530), "2026-10-31T00:00:00Z"
        => Some("2026-11-01T05:05:00Z");
    fall_back_night_refuses_9h: west(), vec![hours(Weekday::Sat, "22:00", "06:00")],
        ("2026-11-01T00:00:00Z", "2026-11-01T20:00:00Z", 540), "2026-10-31T00:00:00Z"
        => None;
    // A shift starting at 02:30 on the spring-forward day starts at 03:30 PDT (10:30Z).
    shift_starting_in_gap: west(), vec![hours(Weekday::Sun, "02:30", "06:00")],
        ("2026-03-08T08:00:00Z", "2026-03-08T20:00:00Z", 60), "2026-03-07T00:00:00Z"
        => Some("2026-03-08T10:35:00Z");
    // A shift starting at 01:00 on the fall-back day starts at the first 01:00 (PDT, 08:00Z)
    // and runs to 05:00 PST (13:00Z): five real hours.
    shift_starting_in_fold: west(), vec![hours(Weekday::Sun, "01:00", "05:00")],
        ("2026-11-01T07:00:00Z", "2026-11-01T20:00:00Z", 295), "2026-10-31T00:00:00Z"
        => Some("2026-11-01T08:05:00Z");
    // Job window Tue 21:00 → Wed 03:00 PDT (04:00Z → 10:00Z), night shift Tue 22:00–06:00:
    // the slot starts 22:05 Tue and ends 00:05 Wed local.
    window_spanning_midnight: west(), vec![hours(Weekday::Tue, "22:00", "06:00")],
        ("2026-06-03T04:00:00Z", "2026-06-03T10:00:00Z", 120), "2026-06-01T00:00:00Z"
        => Some("2026-06-03T05:05:00Z");
    // The same window for a day worker: no working hours inside it.
    window_spanning_midnight_day_worker: west(), weekdays("08:00", "17:00"),
        ("2026-06-03T04:00:00Z", "2026-06-03T10:00:00Z", 120), "2026-06-01T00:00:00Z"
        => None;
    // Berlin is UTC+1 in January and UTC+2 in July: 08:00 local moves in UTC.
    berlin_winter: berlin(), weekdays("08:00", "17:00"),
        ("2026-01-13T00:00:00Z", "2026-01-13T23:00:00Z", 60), "2026-01-12T00:00:00Z"
        => Some("2026-01-13T07:05:00Z");
    berlin_summer: berlin(), weekdays("08:00", "17:00"),
        ("2026-07-14T00:00:00Z", "2026-07-14T23:00:00Z", 60), "2026-07-13T00:00:00Z"
        => Some("2026-07-14T06:05:00Z");
    // Europe springs forward on 2026-03-29 (a Sunday): a Sunday shift 01:00–05:00 CET/CEST is
    // 00:00Z–03:00Z, three real hours.
    berlin_spring_forward_sunday: berlin(), vec![hours(Weekday::Sun, "01:00", "05:00")],
        ("2026-03-28T20:00:00Z", "2026-03-29T12:00:00Z", 175), "2026-03-28T00:00:00Z"
        => Some("2026-03-29T00:05:00Z");
    berlin_spring_forward_sunday_refuses_3h: berlin(), vec![hours(Weekday::Sun, "01:00", "05:00")],
        ("2026-03-28T20:00:00Z", "2026-03-29T12:00:00Z", 180), "2026-03-28T00:00:00Z"
        => None;
}

/// The daily cap counts jobs by the *local* day of their start: on an overnight shift, once
/// Tuesday is full the job can still start after local midnight, on Wednesday.
#[test]
fn cap_counts_local_days_within_an_overnight_shift() {
    let mut c = with_hours(vec![hours(Weekday::Tue, "22:00", "06:00")]);
    c.max_jobs_per_day = 1;
    // Tue 22:30–23:00 PDT.
    let b = [booking(
        1,
        1,
        "2026-06-03T05:30:00Z",
        "2026-06-03T06:00:00Z",
        SITE,
    )];
    let idx = one(west(), c, &b);
    let j = window_job("west", "2026-06-03T05:00:00Z", "2026-06-03T12:00:00Z", 60);
    let cand = outcome(&idx, &j, utc("2026-06-01T00:00:00Z"), 1).expect("candidate");
    // Local midnight Wed = 07:00Z; no travel from the previous job at the same place.
    assert_eq!(cand.start_utc, utc("2026-06-03T07:00:00Z"));
    assert_eq!(cand.travel.from, TravelOrigin::PreviousJob);
    // The workload factor sees Wednesday's load (none), not Tuesday's.
    assert_eq!(cand.breakdown.workload, 100.0);
}

#[test]
fn manual_check_honours_dst_length_of_shift() {
    let c = with_hours(vec![hours(Weekday::Sat, "22:00", "06:00")]);
    let idx = one(west(), c, &[]);
    let j = window_job("west", "2026-03-08T00:00:00Z", "2026-03-08T20:00:00Z", 60);
    let check = |s: &str, e: &str| {
        check_assignment(
            &idx,
            ContractorId::from_u128(1),
            &j,
            utc(s),
            utc(e),
            &ScoringConfig::default(),
            utc("2026-03-07T00:00:00Z"),
        )
        .map_err(|e| e.reason)
    };
    // 12:00Z–13:00Z is 05:00–06:00 PDT: the last hour of the shortened shift.
    assert_eq!(
        check("2026-03-08T12:00:00Z", "2026-03-08T13:00:00Z"),
        Ok(())
    );
    // 13:00Z–14:00Z would be 06:00–07:00 PDT: after the shift.
    assert_eq!(
        check("2026-03-08T13:00:00Z", "2026-03-08T14:00:00Z"),
        Err(ExclusionReason::NoSlot {
            cause: NoSlotCause::OutsideWorkingHours
        })
    );
}

#[test]
fn working_intervals_are_public_for_calendars() {
    let iv = time::working_intervals(
        chrono_tz::America::Los_Angeles,
        &[hours(Weekday::Sat, "22:00", "06:00")],
        utc("2026-03-07T00:00:00Z"),
        utc("2026-03-09T00:00:00Z"),
    );
    assert_eq!(
        iv,
        vec![(utc("2026-03-08T06:00:00Z"), utc("2026-03-08T13:00:00Z"))]
    );
}
