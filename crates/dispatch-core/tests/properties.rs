//! Property tests of the engine's promises, on small random regions around DST transitions in
//! several zones, with calendars booked through the engine itself (as the service books them):
//!
//! * every proposed slot is feasible — checked against an oracle written independently of the
//!   engine (chrono-tz's own local-time resolution, plain loops): inside the window and the
//!   working hours, clear of bookings and time off, with travel from the previous place and from
//!   now, and to the next job, under the daily cap; and `check_assignment` accepts it;
//! * candidates ∪ excluded = the region's contractors, disjoint, excluded in id order;
//! * the result does not depend on the order of the inputs;
//! * removing a booking never makes a contractor's earliest slot later.

mod common;

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use common::*;
use dispatch_core::synth::Rng;
use dispatch_core::*;
use proptest::prelude::*;

const ZONES: [Tz; 6] = [
    chrono_tz::America::Los_Angeles,
    chrono_tz::America::Chicago,
    chrono_tz::Europe::Berlin,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kolkata,
    chrono_tz::UTC,
];

/// Days near DST changes (US spring 03-08, EU spring 03-29, Lord Howe 10-04, EU fall 10-25,
/// US fall 11-01) and an ordinary one.
const BASES: [&str; 6] = [
    "2026-03-07T12:00:00Z",
    "2026-03-28T12:00:00Z",
    "2026-10-03T06:00:00Z",
    "2026-10-24T12:00:00Z",
    "2026-10-31T12:00:00Z",
    "2026-06-10T12:00:00Z",
];

const TRADES: [&str; 3] = ["plumbing", "electrical", "hvac"];
const CENTER: GeoPoint = GeoPoint::new(37.7, -122.3);

#[derive(Debug, Clone)]
struct World {
    region: Region,
    contractors: Vec<Contractor>,
    bookings: Vec<Booking>,
    job: Job,
    now: DateTime<Utc>,
}

fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).expect("in range")
}

fn near(rng: &mut Rng, spread_deg: f64) -> GeoPoint {
    GeoPoint::new(
        CENTER.lat + (rng.unit() - 0.5) * spread_deg,
        CENTER.lon + (rng.unit() - 0.5) * spread_deg,
    )
}

fn random_contractor(rng: &mut Rng, id: u128, base: i64) -> Contractor {
    let mut skills = Vec::new();
    for t in TRADES {
        if rng.chance(0.6) {
            skills.push(Skill {
                name: t.into(),
                level: 1 + rng.below(5) as u8,
            });
        }
    }
    let mut working_hours = Vec::new();
    for _ in 0..2 + rng.below(6) {
        // Any minute: shifts starting or ending inside DST gaps and folds included.
        let start = rng.below(1440) as u16;
        let len = 30 + rng.below(16 * 60) as u16;
        let end = (start + len) % 1440;
        if start == end {
            continue;
        }
        working_hours.push(WorkingHours {
            day: Weekday::from_index(rng.below(7) as u8),
            start: LocalTime::from_minutes(start).expect("< 1440"),
            end: LocalTime::from_minutes(end).expect("< 1440"),
        });
    }
    let mut time_off = Vec::new();
    for _ in 0..rng.below(3) {
        let start = base - 86_400 + rng.below(5 * 86_400) as i64 / 60 * 60;
        let len = 1800 + rng.below(36 * 3600) as i64 / 60 * 60;
        time_off.push(TimeOff {
            start_utc: at(start),
            end_utc: at(start + len),
            reason: "off".into(),
        });
    }
    Contractor {
        id: ContractorId::from_u128(id),
        name: format!("C{id}"),
        region: if rng.chance(0.05) {
            "east".into()
        } else {
            "west".into()
        },
        skills,
        location: if rng.chance(0.1) {
            near(rng, 2.0)
        } else {
            near(rng, 0.3)
        },
        working_hours,
        time_off,
        rating: (rng.unit() * 50.0).round() / 10.0,
        max_jobs_per_day: 1 + rng.below(4) as u32,
        active: rng.chance(0.9),
    }
}

fn random_job(rng: &mut Rng, id: u128, now: i64, with_skills: bool) -> Job {
    let mut required_skills = Vec::new();
    if with_skills {
        for t in TRADES {
            if rng.chance(0.25) {
                required_skills.push(RequiredSkill {
                    name: t.into(),
                    min_level: 1 + rng.below(2) as u8,
                });
            }
        }
    }
    let duration_minutes = 15 + rng.below(226) as u32;
    let start = now - 6 * 3600 + rng.below(54 * 3600) as i64 / 60 * 60;
    let len = i64::from(duration_minutes) * 60 + rng.below(72 * 3600) as i64 / 60 * 60;
    Job {
        id: JobId::from_u128(id),
        region: "west".into(),
        title: "job".into(),
        location: near(rng, 0.3),
        required_skills,
        priority: Priority::Normal,
        window_start_utc: at(start),
        window_end_utc: at(start + len.max(i64::from(duration_minutes) * 60 + 60)),
        duration_minutes,
        status: JobStatus::Open,
    }
}

/// A world: random contractors, a calendar booked through the engine at `now`, and a job.
fn world(seed: u64, zone: usize, base: usize, offset_min: u32, n: usize, prebook: usize) -> World {
    let mut rng = Rng::new(seed);
    let base = secs(utc(BASES[base]));
    let now = base + i64::from(offset_min) * 60;
    let region = Region {
        id: "west".into(),
        name: "West".into(),
        time_zone: ZONES[zone],
    };
    let contractors: Vec<Contractor> = (0..n)
        .map(|i| random_contractor(&mut rng, 1 + i as u128, base))
        .collect();
    let mut idx = index(region.clone(), &contractors, &[]);
    let mut bookings = Vec::new();
    let config = ScoringConfig::default();
    for k in 0..prebook {
        let j = random_job(&mut rng, 10_000 + k as u128, now, false);
        let Ok(rec) = recommend(&idx, &j, &config, at(now), 200) else {
            continue;
        };
        if rec.candidates.is_empty() {
            continue;
        }
        let c = &rec.candidates[rng.below(rec.candidates.len() as u64) as usize];
        let b = Booking {
            assignment_id: AssignmentId::from_u128(20_000 + k as u128),
            job_id: j.id,
            contractor_id: c.contractor_id,
            start_utc: c.start_utc,
            end_utc: c.end_utc,
            location: j.location,
        };
        idx.add_booking(&b).expect("known contractor");
        bookings.push(b);
    }
    let job = random_job(&mut rng, 1, now, true);
    World {
        region,
        contractors,
        bookings,
        job,
        now: at(now),
    }
}

fn build(w: &World) -> RegionIndex {
    index(w.region.clone(), &w.contractors, &w.bookings)
}

fn run(w: &World, idx: &RegionIndex) -> Option<Recommendation> {
    recommend(idx, &w.job, &ScoringConfig::default(), w.now, 1_000).ok()
}

// ---- The oracle -------------------------------------------------------------------------

/// The UTC instant of a local time, resolved by chrono-tz: a fold takes the earlier instant, a
/// gap is read with the offset in force before it (the rule the engine documents).
fn oracle_local_to_utc(tz: Tz, local: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.timestamp(),
        chrono::LocalResult::Ambiguous(a, b) => a.timestamp().min(b.timestamp()),
        chrono::LocalResult::None => {
            let before = tz
                .from_local_datetime(&(local - Duration::hours(3)))
                .earliest()
                .expect("3 hours before a gap exists");
            local.and_utc().timestamp() - i64::from(before.offset().fix().local_minus_utc())
        }
    }
}

/// Working stretches (merged) for shifts starting on local dates around `[s, e]`.
fn oracle_stretches(tz: Tz, hours: &[WorkingHours], s: i64, e: i64) -> Vec<(i64, i64)> {
    let first = tz.timestamp_opt(s, 0).single().expect("valid").date_naive() - Duration::days(2);
    let last = tz.timestamp_opt(e, 0).single().expect("valid").date_naive() + Duration::days(1);
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        for h in hours {
            if Weekday::from(d.weekday()) != h.day || h.start == h.end {
                continue;
            }
            let hm = |t: LocalTime| {
                chrono::NaiveTime::from_hms_opt(
                    u32::from(t.minutes() / 60),
                    u32::from(t.minutes() % 60),
                    0,
                )
                .expect("valid")
            };
            let end_date = if h.end <= h.start {
                d + Duration::days(1)
            } else {
                d
            };
            let a = oracle_local_to_utc(tz, d.and_time(hm(h.start)));
            let b = oracle_local_to_utc(tz, end_date.and_time(hm(h.end)));
            if b > a {
                out.push((a, b));
            }
        }
        d += Duration::days(1);
    }
    out.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (a, b) in out {
        match merged.last_mut() {
            Some(m) if a <= m.1 => m.1 = m.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

fn minutes(from: GeoPoint, to: GeoPoint) -> i64 {
    i64::from(
        StraightLine::from_limits(&Limits::default())
            .estimate(from, to)
            .minutes,
    ) * 60
}

/// Every promise about one candidate's slot.
fn assert_feasible(w: &World, idx: &RegionIndex, cand: &Candidate) {
    let c = w
        .contractors
        .iter()
        .find(|c| c.id == cand.contractor_id)
        .expect("candidate is a contractor");
    let tz = w.region.time_zone;
    let (s, e) = (secs(cand.start_utc), secs(cand.end_utc));
    let job = &w.job;
    assert_eq!(e - s, i64::from(job.duration_minutes) * 60);
    assert!(
        s >= secs(job.window_start_utc) && e <= secs(job.window_end_utc),
        "outside window"
    );
    assert!(s >= secs(w.now), "in the past");
    assert!(
        s <= secs(job.window_start_utc.max(w.now)) + 168 * 3600,
        "beyond the horizon"
    );

    // Inside one working stretch.
    let stretches = oracle_stretches(tz, &c.working_hours, s, e);
    let &(st, en) = stretches
        .iter()
        .find(|&&(a, b)| a <= s && e <= b)
        .unwrap_or_else(|| panic!("slot {s}..{e} outside working hours {stretches:?} of {c:?}"));

    // Clear of bookings (other than this job's) and time off.
    let own: Vec<&Booking> = w
        .bookings
        .iter()
        .filter(|b| b.contractor_id == c.id && b.job_id != job.id)
        .collect();
    for b in &own {
        assert!(
            !(secs(b.start_utc) < e && s < secs(b.end_utc)),
            "overlaps booking {b:?}"
        );
    }
    for t in &c.time_off {
        assert!(
            !(secs(t.start_utc) < e && s < secs(t.end_utc)),
            "overlaps time off {t:?}"
        );
    }

    // Travel from the previous place: the latest booking or time off ending in the stretch
    // before the slot, else home from the stretch's start.
    let mut origins: Vec<(i64, Option<GeoPoint>)> = vec![(st, None)];
    for b in &own {
        let end = secs(b.end_utc);
        if end > st && end <= s {
            origins.push((end, Some(b.location)));
        }
    }
    for t in &c.time_off {
        let end = secs(t.end_utc);
        if end > st && end <= s {
            origins.push((end, None));
        }
    }
    let latest = origins.iter().map(|o| o.0).max().expect("non-empty");
    let ok = origins.iter().filter(|o| o.0 == latest).any(|&(t, at)| {
        let from = at.unwrap_or(c.location);
        let tin = minutes(from, job.location);
        let kind = if at.is_some() {
            TravelOrigin::PreviousJob
        } else {
            TravelOrigin::Home
        };
        s >= t + tin
            && s >= secs(w.now) + tin
            && i64::from(cand.travel.minutes) * 60 == tin
            && cand.travel.from == kind
    });
    assert!(
        ok,
        "travel from the previous place not respected: {cand:?} origins {origins:?}"
    );

    // Travel to the next booked job in the stretch, unless time off comes first.
    let next_booking = own
        .iter()
        .filter(|b| secs(b.start_utc) >= e && secs(b.start_utc) < en)
        .min_by_key(|b| secs(b.start_utc));
    if let Some(nb) = next_booking {
        let off_first = c
            .time_off
            .iter()
            .any(|t| secs(t.start_utc) >= e && secs(t.start_utc) < secs(nb.start_utc));
        if !off_first {
            assert!(
                e + minutes(job.location, nb.location) <= secs(nb.start_utc),
                "no time to reach the next job {nb:?}"
            );
        }
    }

    // Under the cap on the slot's local day.
    let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    let that_day = own
        .iter()
        .filter(|b| day(b.start_utc) == day(cand.start_utc))
        .count();
    assert!((that_day as u32) < c.max_jobs_per_day, "over the daily cap");

    // The manual check agrees.
    assert_eq!(
        check_assignment(
            idx,
            c.id,
            job,
            cand.start_utc,
            cand.end_utc,
            &ScoringConfig::default(),
            w.now
        ),
        Ok(()),
        "check_assignment refuses a proposed slot"
    );
}

fn params() -> impl Strategy<Value = World> {
    (
        any::<u64>(),
        0..ZONES.len(),
        0..BASES.len(),
        0u32..48 * 60,
        1usize..12,
        0usize..24,
    )
        .prop_map(|(seed, z, b, off, n, pre)| world(seed, z, b, off, n, pre))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_proposed_slot_is_feasible(w in params()) {
        let idx = build(&w);
        if let Some(rec) = run(&w, &idx) {
            for cand in &rec.candidates {
                assert_feasible(&w, &idx, cand);
            }
        }
    }

    #[test]
    fn candidates_and_excluded_partition_the_region(w in params()) {
        let idx = build(&w);
        if let Some(rec) = run(&w, &idx) {
            let cand: HashSet<ContractorId> = rec.candidates.iter().map(|c| c.contractor_id).collect();
            let excl: HashSet<ContractorId> = rec.excluded.iter().map(|e| e.contractor_id).collect();
            let all: HashSet<ContractorId> = w.contractors.iter().map(|c| c.id).collect();
            prop_assert!(cand.is_disjoint(&excl));
            prop_assert_eq!(cand.len() + excl.len(), all.len());
            prop_assert_eq!(&cand | &excl, all);
            prop_assert_eq!(rec.feasible_count, rec.candidates.len());
            prop_assert!(rec.excluded.windows(2).all(|p| p[0].contractor_id < p[1].contractor_id));
            let ranks: Vec<u32> = rec.candidates.iter().map(|c| c.rank).collect();
            prop_assert_eq!(ranks, (1..=rec.candidates.len() as u32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn ranking_is_invariant_under_input_order(w in params(), shuffle in any::<u64>()) {
        let idx = build(&w);
        let mut rng = Rng::new(shuffle);
        let mut shuffled = w.clone();
        for i in (1..shuffled.contractors.len()).rev() {
            shuffled.contractors.swap(i, rng.below(i as u64 + 1) as usize);
        }
        shuffled.bookings.reverse();
        let again = build(&shuffled);
        prop_assert_eq!(run(&w, &idx), run(&shuffled, &again));
    }

    #[test]
    fn removing_a_booking_never_delays_a_slot(w in params(), pick in any::<u64>()) {
        prop_assume!(!w.bookings.is_empty());
        let idx = build(&w);
        let Some(before) = run(&w, &idx) else { return Ok(()) };
        let mut fewer = w.clone();
        let gone = fewer.bookings.remove((pick % w.bookings.len() as u64) as usize);
        let mut updated = build(&w);
        prop_assert!(updated.remove_booking(gone.contractor_id, gone.job_id));
        let after = run(&fewer, &updated).expect("same job, same now");
        // The updated index and one built without the booking agree.
        let rebuilt = run(&fewer, &build(&fewer));
        prop_assert_eq!(Some(&after), rebuilt.as_ref());
        for c in &before.candidates {
            let now = after.candidates.iter().find(|a| a.contractor_id == c.contractor_id);
            let now = now.ok_or_else(|| TestCaseError::fail(format!("{} lost its slot", c.contractor_id)))?;
            prop_assert!(now.start_utc <= c.start_utc, "{:?} later than {:?}", now, c);
        }
    }

    /// Unvalidated, even absurd, jobs never panic the engine.
    #[test]
    fn never_panics(w in params(), start in -10_000i64..10_000, len in -10_000i64..10_000, dur in 0u32..20_000) {
        let idx = build(&w);
        let mut j = w.job.clone();
        j.window_start_utc = w.now + Duration::minutes(start);
        j.window_end_utc = j.window_start_utc + Duration::minutes(len);
        j.duration_minutes = dur;
        let _ = recommend(&idx, &j, &ScoringConfig::default(), w.now, 5);
        let c = w.contractors[0].id;
        let _ = check_assignment(&idx, c, &j, j.window_start_utc, j.window_end_utc, &ScoringConfig::default(), w.now);
    }
}
