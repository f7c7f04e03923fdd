//! The domain entities of SPEC §4, shaped as the HTTP API of SPEC §6 carries them.
//!
//! These are the wire types: the service serializes them as they are, so every field name is the
//! SPEC's (camelCase) and every timestamp a `DateTime<Utc>` (ISO 8601 with `Z`).
//!
//! ```text
//! Region      {id, name, timeZone}
//! Contractor  {id, name, region, skills:[{name, level}], location:{lat, lon},
//!              workingHours:[{day:"mon".."sun", start:"08:00", end:"17:00"}],
//!              timeOff:[{startUtc, endUtc, reason}], rating, maxJobsPerDay, active}
//! Job         {id, region, title, location, requiredSkills:[{name, minLevel}],
//!              priority:"low|normal|high|emergency", windowStartUtc, windowEndUtc,
//!              durationMinutes, status:"open|assigned|completed|cancelled"}
//! Assignment  {id, jobId, contractorId, startUtc, endUtc, source:"auto|manual", auditId}
//! ```
//!
//! The `New*` types are the create inputs (no `id`, no `status`); each has a `validate()` in
//! [`crate::validate`]. Parsing already rejects what cannot be represented (a day other than
//! `mon`…`sun`, a time that is not `HH:MM`, an unknown time zone); `validate()` checks the rest.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{AssignmentId, AuditId, ContractorId, JobId, RegionId, SkillName};

/// A point on the earth, in degrees (WGS 84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct GeoPoint {
    /// Latitude, −90…90.
    pub lat: f64,
    /// Longitude, −180…180.
    pub lon: f64,
}

impl GeoPoint {
    /// A point from latitude and longitude in degrees.
    pub const fn new(lat: f64, lon: f64) -> Self {
        Self { lat, lon }
    }
}

/// A day of the week, `mon` … `sun` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Weekday {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Weekday {
    /// All days, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// 0 for Monday … 6 for Sunday.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// The day from its index, 0 for Monday … 6 for Sunday (wrapping).
    pub const fn from_index(i: u8) -> Self {
        Self::ALL[(i % 7) as usize]
    }
}

impl From<chrono::Weekday> for Weekday {
    fn from(d: chrono::Weekday) -> Self {
        Self::from_index(d.num_days_from_monday() as u8)
    }
}

/// A wall-clock time of day in the region's time zone, `"HH:MM"` on the wire (00:00 … 23:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    /// Midnight, `00:00`.
    pub const MIDNIGHT: LocalTime = LocalTime(0);

    /// A time from hours and minutes; `None` outside 00:00…23:59.
    pub const fn from_hm(hour: u8, minute: u8) -> Option<Self> {
        if hour < 24 && minute < 60 {
            Some(Self(hour as u16 * 60 + minute as u16))
        } else {
            None
        }
    }

    /// Minutes since midnight, 0 … 1439.
    pub const fn minutes(self) -> u16 {
        self.0
    }

    /// A time from minutes since midnight; `None` from 1440 on.
    pub const fn from_minutes(minutes: u16) -> Option<Self> {
        if minutes < 1440 {
            Some(Self(minutes))
        } else {
            None
        }
    }
}

/// Why a `"HH:MM"` string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid time {value:?}: use 24-hour \"HH:MM\" from \"00:00\" to \"23:59\"")]
pub struct ParseTimeError {
    /// The refused text.
    pub value: String,
}

impl FromStr for LocalTime {
    type Err = ParseTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseTimeError {
            value: s.to_owned(),
        };
        // Exactly two digits, a colon, two digits: "8:00" or "08:00:00" are refused rather
        // than guessed at, so what a dispatcher typed is what the contractor works.
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' {
            return Err(err());
        }
        let digit = |c: u8| c.is_ascii_digit().then(|| c - b'0');
        let (Some(h1), Some(h2), Some(m1), Some(m2)) =
            (digit(b[0]), digit(b[1]), digit(b[3]), digit(b[4]))
        else {
            return Err(err());
        };
        Self::from_hm(h1 * 10 + h2, m1 * 10 + m2).ok_or_else(err)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One weekly working period in the region's time zone.
///
/// `end` earlier than `start` (e.g. `22:00`–`06:00`) means the shift runs overnight into the next
/// day; `end == start` is refused by validation. Several entries on one day (a split shift) are
/// fine; overlapping or touching entries are merged into one working stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct WorkingHours {
    /// The day the shift starts on.
    pub day: Weekday,
    /// Local start time.
    pub start: LocalTime,
    /// Local end time; before `start` means the next day.
    pub end: LocalTime,
}

impl WorkingHours {
    /// A shift from `"HH:MM"` strings; `None` when either does not parse.
    pub fn parse(day: Weekday, start: &str, end: &str) -> Option<Self> {
        Some(Self {
            day,
            start: start.parse().ok()?,
            end: end.parse().ok()?,
        })
    }

    /// True when the shift ends on the following day.
    pub fn is_overnight(&self) -> bool {
        self.end <= self.start
    }
}

/// A period a contractor is not available (vacation, sick leave, appointment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TimeOff {
    /// Start, inclusive.
    pub start_utc: DateTime<Utc>,
    /// End, exclusive.
    pub end_utc: DateTime<Utc>,
    /// Free text, e.g. `vacation`.
    #[serde(default)]
    pub reason: String,
}

/// A skill a contractor has, with a proficiency level 1 (apprentice) … 5 (master).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Skill {
    /// Trade name, e.g. `plumbing`.
    pub name: SkillName,
    /// Level, 1…5.
    pub level: u8,
}

/// A skill a job requires, with the minimum acceptable level.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RequiredSkill {
    /// Trade name, e.g. `plumbing`.
    pub name: SkillName,
    /// Minimum level, 1…5.
    pub min_level: u8,
}

/// A region (territory) with its IANA time zone; also its own create input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Region {
    /// Slug, e.g. `west`.
    pub id: RegionId,
    /// Display name.
    pub name: String,
    /// IANA zone, e.g. `America/Los_Angeles`; working hours are read in it.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "America/Los_Angeles"))]
    #[cfg_attr(feature = "ts", ts(type = "string"))]
    pub time_zone: Tz,
}

fn default_true() -> bool {
    true
}

/// The create input for a contractor (`POST /api/v1/contractors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewContractor {
    /// Display name.
    pub name: String,
    /// Region the contractor works in.
    pub region: RegionId,
    /// Skills with levels.
    pub skills: Vec<Skill>,
    /// Home base (start and end of each working day).
    pub location: GeoPoint,
    /// Weekly working hours in the region's time zone.
    pub working_hours: Vec<WorkingHours>,
    /// Absences.
    #[serde(default)]
    pub time_off: Vec<TimeOff>,
    /// Rating 0…5.
    pub rating: f64,
    /// Most jobs the contractor takes on one local day.
    pub max_jobs_per_day: u32,
    /// Inactive contractors are never recommended.
    #[serde(default = "default_true")]
    pub active: bool,
}

impl NewContractor {
    /// The stored contractor, with the id the caller chose.
    pub fn into_contractor(self, id: ContractorId) -> Contractor {
        Contractor {
            id,
            name: self.name,
            region: self.region,
            skills: self.skills,
            location: self.location,
            working_hours: self.working_hours,
            time_off: self.time_off,
            rating: self.rating,
            max_jobs_per_day: self.max_jobs_per_day,
            active: self.active,
        }
    }
}

/// A contractor (technician) who can be assigned jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Contractor {
    /// Id.
    pub id: ContractorId,
    /// Display name.
    pub name: String,
    /// Region the contractor works in.
    pub region: RegionId,
    /// Skills with levels.
    pub skills: Vec<Skill>,
    /// Home base (start and end of each working day).
    pub location: GeoPoint,
    /// Weekly working hours in the region's time zone.
    pub working_hours: Vec<WorkingHours>,
    /// Absences.
    #[serde(default)]
    pub time_off: Vec<TimeOff>,
    /// Rating 0…5.
    pub rating: f64,
    /// Most jobs the contractor takes on one local day.
    pub max_jobs_per_day: u32,
    /// Inactive contractors are never recommended.
    pub active: bool,
}

impl Contractor {
    /// The contractor's level in a skill, if it has the skill at all.
    pub fn skill_level(&self, name: &str) -> Option<u8> {
        self.skills
            .iter()
            .filter(|s| s.name.as_str() == name)
            .map(|s| s.level)
            .max()
    }
}

/// How urgent a job is. Priority orders *jobs* (which to handle first), not contractors; the
/// engine does not score contractors by it (DOMAIN.md, "Priority orders jobs").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum Priority {
    /// Can wait.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Soon.
    High,
    /// Now.
    Emergency,
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum JobStatus {
    /// Waiting for a contractor.
    #[default]
    Open,
    /// Has a live assignment.
    Assigned,
    /// Done.
    Completed,
    /// Called off.
    Cancelled,
}

/// The create input for a job (`POST /api/v1/jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct NewJob {
    /// Region the job is in.
    pub region: RegionId,
    /// Short description.
    pub title: String,
    /// Where the work is.
    pub location: GeoPoint,
    /// Skills needed, each with a minimum level.
    pub required_skills: Vec<RequiredSkill>,
    /// Urgency.
    #[serde(default)]
    pub priority: Priority,
    /// The work may start at this instant at the earliest.
    pub window_start_utc: DateTime<Utc>,
    /// The work must be finished by this instant.
    pub window_end_utc: DateTime<Utc>,
    /// How long the work takes on site, in minutes (at least 1).
    pub duration_minutes: u32,
}

impl NewJob {
    /// The stored job, with the id the caller chose, status `open`.
    pub fn into_job(self, id: JobId) -> Job {
        Job {
            id,
            region: self.region,
            title: self.title,
            location: self.location,
            required_skills: self.required_skills,
            priority: self.priority,
            window_start_utc: self.window_start_utc,
            window_end_utc: self.window_end_utc,
            duration_minutes: self.duration_minutes,
            status: JobStatus::Open,
        }
    }
}

/// A job to be done by one contractor inside a time window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// Region the job is in.
    pub region: RegionId,
    /// Short description.
    pub title: String,
    /// Where the work is.
    pub location: GeoPoint,
    /// Skills needed, each with a minimum level.
    pub required_skills: Vec<RequiredSkill>,
    /// Urgency.
    #[serde(default)]
    pub priority: Priority,
    /// The work may start at this instant at the earliest.
    pub window_start_utc: DateTime<Utc>,
    /// The work must be finished by this instant.
    pub window_end_utc: DateTime<Utc>,
    /// How long the work takes on site, in minutes.
    pub duration_minutes: u32,
    /// Life-cycle state.
    #[serde(default)]
    pub status: JobStatus,
}

/// Who made an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum AssignmentSource {
    /// The service assigned the top candidate.
    Auto,
    /// A dispatcher chose.
    Manual,
}

/// A contractor booked for a job at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Assignment {
    /// Id.
    pub id: AssignmentId,
    /// The job.
    pub job_id: JobId,
    /// The contractor.
    pub contractor_id: ContractorId,
    /// On-site start.
    pub start_utc: DateTime<Utc>,
    /// On-site end.
    pub end_utc: DateTime<Utc>,
    /// Auto or manual.
    pub source: AssignmentSource,
    /// The audit record behind the decision.
    pub audit_id: AuditId,
}

/// What the engine needs to know about one live assignment: when, and where (the job's
/// location, for travel to and from it). Built from an [`Assignment`] and its job.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Booking {
    /// The assignment.
    pub assignment_id: AssignmentId,
    /// Its job; a recommendation for this same job ignores this booking (re-planning).
    pub job_id: JobId,
    /// The contractor booked.
    pub contractor_id: ContractorId,
    /// On-site start.
    pub start_utc: DateTime<Utc>,
    /// On-site end.
    pub end_utc: DateTime<Utc>,
    /// The job's location.
    pub location: GeoPoint,
}

impl Booking {
    /// The booking of an assignment for a job at `location`.
    pub fn new(assignment: &Assignment, location: GeoPoint) -> Self {
        Self {
            assignment_id: assignment.id,
            job_id: assignment.job_id,
            contractor_id: assignment.contractor_id,
            start_utc: assignment.start_utc,
            end_utc: assignment.end_utc,
            location,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_parses_strict_hh_mm() {
        macro_rules! case {
            ($s:expr => ok $m:expr) => {
                assert_eq!(
                    $s.parse::<LocalTime>().map(LocalTime::minutes),
                    Ok($m),
                    "{}",
                    $s
                )
            };
            ($s:expr => err) => {
                assert!($s.parse::<LocalTime>().is_err(), "{} should be refused", $s)
            };
        }
        case!("00:00" => ok 0);
        case!("08:30" => ok 510);
        case!("23:59" => ok 1439);
        case!("24:00" => err);
        case!("12:60" => err);
        case!("8:00" => err);
        case!("08:00:00" => err);
        case!("08-00" => err);
        case!("ab:cd" => err);
        case!("" => err);
        case!("+1:00" => err);
    }

    #[test]
    fn contractor_shape_matches_spec() {
        let json = r#"{"name":"Ana Ruiz","region":"west",
            "skills":[{"name":"plumbing","level":4}],
            "location":{"lat":37.77,"lon":-122.42},
            "workingHours":[{"day":"mon","start":"08:00","end":"17:00"}],
            "rating":4.6,"maxJobsPerDay":6,"active":true}"#;
        let c: NewContractor = serde_json::from_str(json).expect("SPEC shape parses");
        assert_eq!(c.working_hours[0].start.to_string(), "08:00");
        assert_eq!(c.working_hours[0].day, Weekday::Mon);
        let out =
            serde_json::to_value(c.into_contractor(ContractorId::from_u128(1))).expect("serialize");
        assert_eq!(out["workingHours"][0]["end"], "17:00");
        assert_eq!(out["maxJobsPerDay"], 6);
        assert_eq!(out["timeOff"], serde_json::json!([]));
        assert_eq!(out["id"], "00000000-0000-0000-0000-000000000001");
    }

    #[test]
    fn job_shape_matches_spec() {
        let json = r#"{"region":"west","title":"Leaking pipe under sink",
            "location":{"lat":37.76,"lon":-122.41},
            "requiredSkills":[{"name":"plumbing","minLevel":2}],
            "priority":"high","windowStartUtc":"2026-12-01T16:00:00Z",
            "windowEndUtc":"2026-12-01T22:00:00Z","durationMinutes":90}"#;
        let j: NewJob = serde_json::from_str(json).expect("SPEC shape parses");
        let out = serde_json::to_value(j.into_job(JobId::from_u128(2))).expect("serialize");
        assert_eq!(out["windowStartUtc"], "2026-12-01T16:00:00Z");
        assert_eq!(out["status"], "open");
        assert_eq!(out["requiredSkills"][0]["minLevel"], 2);
        assert_eq!(out["priority"], "high");
    }

    #[test]
    fn region_time_zone_is_iana_name() {
        let r: Region =
            serde_json::from_str(r#"{"id":"west","name":"West","timeZone":"America/Los_Angeles"}"#)
                .expect("parses");
        assert_eq!(r.time_zone, chrono_tz::America::Los_Angeles);
        assert!(
            serde_json::from_str::<Region>(r#"{"id":"x","name":"X","timeZone":"Mars/Olympus"}"#)
                .is_err()
        );
        assert_eq!(
            serde_json::to_value(&r).expect("serialize")["timeZone"],
            "America/Los_Angeles"
        );
    }

    #[test]
    fn bad_day_or_time_is_refused_when_parsing() {
        assert!(
            serde_json::from_str::<WorkingHours>(
                r#"{"day":"monday","start":"08:00","end":"17:00"}"#
            )
            .is_err()
        );
        let e =
            serde_json::from_str::<WorkingHours>(r#"{"day":"mon","start":"25:00","end":"17:00"}"#)
                .expect_err("refused");
        assert!(e.to_string().contains("HH:MM"), "{e}");
    }
}
