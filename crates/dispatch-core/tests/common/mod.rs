//! Builders shared by the integration tests: a small region in America/Los_Angeles, a
//! contractor who works Monday–Friday 08:00–17:00 in San Francisco, a plumbing job nearby.
#![allow(dead_code, missing_docs)]

use chrono::{DateTime, Utc};
use dispatch_core::*;

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("test timestamp")
}

pub fn west() -> Region {
    Region {
        id: "west".into(),
        name: "West".into(),
        time_zone: chrono_tz::America::Los_Angeles,
    }
}

/// San Francisco, near the default job.
pub const HOME: GeoPoint = GeoPoint::new(37.77, -122.42);
/// The default job's place, ~1.4 km from HOME (3 minutes' drive by the default estimate).
pub const SITE: GeoPoint = GeoPoint::new(37.76, -122.41);

pub fn hours(day: Weekday, start: &str, end: &str) -> WorkingHours {
    WorkingHours::parse(day, start, end).expect("valid hours")
}

pub fn weekdays(start: &str, end: &str) -> Vec<WorkingHours> {
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
    .into_iter()
    .map(|d| hours(d, start, end))
    .collect()
}

pub fn contractor(n: u128) -> Contractor {
    Contractor {
        id: ContractorId::from_u128(n),
        name: format!("Contractor {n}"),
        region: "west".into(),
        skills: vec![Skill {
            name: "plumbing".into(),
            level: 3,
        }],
        location: HOME,
        working_hours: weekdays("08:00", "17:00"),
        time_off: vec![],
        rating: 4.5,
        max_jobs_per_day: 4,
        active: true,
    }
}

/// Tuesday 2026-06-02, 08:00–17:00 PDT (15:00Z–00:00Z), 60 minutes of plumbing ≥ 2.
pub fn job() -> Job {
    Job {
        id: JobId::from_u128(0xAB),
        region: "west".into(),
        title: "Leaking pipe".into(),
        location: SITE,
        required_skills: vec![RequiredSkill {
            name: "plumbing".into(),
            min_level: 2,
        }],
        priority: Priority::Normal,
        window_start_utc: utc("2026-06-02T15:00:00Z"),
        window_end_utc: utc("2026-06-03T00:00:00Z"),
        duration_minutes: 60,
        status: JobStatus::Open,
    }
}

/// Monday 2026-06-01 05:00 PDT.
pub fn now() -> DateTime<Utc> {
    utc("2026-06-01T12:00:00Z")
}

pub fn booking(contractor: u128, job: u128, start: &str, end: &str, at: GeoPoint) -> Booking {
    Booking {
        assignment_id: AssignmentId::from_u128(job),
        job_id: JobId::from_u128(job),
        contractor_id: ContractorId::from_u128(contractor),
        start_utc: utc(start),
        end_utc: utc(end),
        location: at,
    }
}

pub fn index(region: Region, contractors: &[Contractor], bookings: &[Booking]) -> RegionIndex {
    RegionIndex::build(region, contractors, bookings).expect("consistent test data")
}

/// A point `km` kilometres north of `p`.
pub fn north(p: GeoPoint, km: f64) -> GeoPoint {
    GeoPoint::new(p.lat + km / 111.195, p.lon)
}

/// The recommendation for one contractor: its candidate, or its exclusion.
pub fn outcome(
    idx: &RegionIndex,
    job: &Job,
    now: DateTime<Utc>,
    id: u128,
) -> Result<Candidate, Exclusion> {
    let rec = recommend(idx, job, &ScoringConfig::default(), now, 200).expect("recommendation");
    let id = ContractorId::from_u128(id);
    if let Some(c) = rec.candidates.into_iter().find(|c| c.contractor_id == id) {
        return Ok(c);
    }
    Err(rec
        .excluded
        .into_iter()
        .find(|e| e.contractor_id == id)
        .expect("every contractor is a candidate or excluded"))
}
