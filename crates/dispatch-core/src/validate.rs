//! Validation of inputs, as typed errors that name the offending field by its JSON path
//! (`skills[1].level`). The service answers each with 422 and the path (SPEC §6); nothing here
//! panics on bad input.
//!
//! Parsing has already refused what the types cannot hold (a day other than `mon`…`sun`, a time
//! that is not `HH:MM`, an unknown IANA zone); `validate()` checks the rest: ranges, impossible
//! windows, empty names, duplicates. Sits beside [`crate::model`] and [`crate::config`] and is
//! used by nothing in the engine: the engine stays total on unvalidated data too, it only
//! recommends less.

use std::collections::HashSet;

use crate::config::{Limits, NewScoringConfig, ScoringConfig, Weights};
use crate::ids::{RegionId, SkillName};
use crate::model::{
    Assignment, Contractor, GeoPoint, Job, NewContractor, NewJob, Region, RequiredSkill, Skill,
    TimeOff, WorkingHours,
};

/// Why an input was refused. Every variant names the field (a JSON path); the service maps every
/// variant to 422 Unprocessable Content.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValidationError {
    /// A required text is empty or blank.
    #[error("{field} must not be empty")]
    Empty {
        /// JSON path of the field.
        field: String,
    },
    /// A text or list is longer than allowed.
    #[error("{field} is too long: at most {max} allowed")]
    TooLong {
        /// JSON path of the field.
        field: String,
        /// The maximum length (characters or entries).
        max: usize,
    },
    /// A number is outside its range (or not finite).
    #[error("{field} must be between {min} and {max}; got {value}")]
    OutOfRange {
        /// JSON path of the field.
        field: String,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
        /// The refused value.
        value: f64,
    },
    /// An identifier is not a slug.
    #[error(
        "{field} must be a slug of lower-case letters, digits, '-' or '_' (e.g. \"west\"); got {value:?}"
    )]
    NotASlug {
        /// JSON path of the field.
        field: String,
        /// The refused value.
        value: String,
    },
    /// A list names the same thing twice.
    #[error("{field} lists {value:?} more than once; list each once")]
    Duplicate {
        /// JSON path of the field.
        field: String,
        /// The repeated name.
        value: String,
    },
    /// A combination of fields is impossible (an end before its start, a window shorter than the
    /// job).
    #[error("{field} {problem}")]
    Inconsistent {
        /// JSON path of the field to change.
        field: String,
        /// What is wrong, as the rest of a sentence.
        problem: &'static str,
    },
}

impl ValidationError {
    /// The JSON path of the refused field, e.g. `workingHours[0].end`.
    pub fn field(&self) -> &str {
        match self {
            Self::Empty { field }
            | Self::TooLong { field, .. }
            | Self::OutOfRange { field, .. }
            | Self::NotASlug { field, .. }
            | Self::Duplicate { field, .. }
            | Self::Inconsistent { field, .. } => field,
        }
    }
}

type Result = std::result::Result<(), ValidationError>;

/// Longest accepted display name or title.
pub const MAX_NAME_LEN: usize = 200;
/// Longest accepted slug (region id, skill name).
pub const MAX_SLUG_LEN: usize = 64;
/// Most skills on a contractor or a job.
pub const MAX_SKILLS: usize = 32;
/// Most weekly working-hours entries.
pub const MAX_WORKING_HOURS: usize = 50;
/// Most time-off entries carried on a contractor.
pub const MAX_TIME_OFF: usize = 500;
/// Longest job, in minutes (one week).
pub const MAX_DURATION_MINUTES: u32 = 7 * 24 * 60;
/// Most jobs per day a contractor may be configured for.
pub const MAX_JOBS_PER_DAY: u32 = 50;

fn text(field: &str, value: &str, max: usize) -> Result {
    if value.trim().is_empty() {
        return Err(ValidationError::Empty {
            field: field.to_owned(),
        });
    }
    if value.chars().count() > max {
        return Err(ValidationError::TooLong {
            field: field.to_owned(),
            max,
        });
    }
    Ok(())
}

fn slug(field: &str, value: &str) -> Result {
    if value.is_empty() {
        return Err(ValidationError::Empty {
            field: field.to_owned(),
        });
    }
    if value.len() > MAX_SLUG_LEN {
        return Err(ValidationError::TooLong {
            field: field.to_owned(),
            max: MAX_SLUG_LEN,
        });
    }
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !first_ok || !value.chars().all(ok_char) {
        return Err(ValidationError::NotASlug {
            field: field.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

fn range(field: &str, value: f64, min: f64, max: f64) -> Result {
    // NaN is refused too.
    if value.is_nan() || value < min || value > max {
        return Err(ValidationError::OutOfRange {
            field: field.to_owned(),
            min,
            max,
            value,
        });
    }
    Ok(())
}

fn inconsistent(field: &str, problem: &'static str) -> Result {
    Err(ValidationError::Inconsistent {
        field: field.to_owned(),
        problem,
    })
}

fn too_many(field: &str, len: usize, max: usize) -> Result {
    if len > max {
        return Err(ValidationError::TooLong {
            field: field.to_owned(),
            max,
        });
    }
    Ok(())
}

impl GeoPoint {
    /// Checks latitude −90…90 and longitude −180…180; `field` is the path of the point.
    pub fn validate_at(&self, field: &str) -> Result {
        range(&format!("{field}.lat"), self.lat, -90.0, 90.0)?;
        range(&format!("{field}.lon"), self.lon, -180.0, 180.0)
    }
}

impl RegionId {
    /// Checks the slug form; `field` is the path of the id.
    pub fn validate_at(&self, field: &str) -> Result {
        slug(field, self.as_str())
    }
}

impl SkillName {
    /// Checks the slug form (`plumbing`, `hvac`, `low-voltage`); `field` is the path.
    pub fn validate_at(&self, field: &str) -> Result {
        slug(field, self.as_str())
    }
}

impl Region {
    /// Checks the id slug and the name (the time zone was checked when parsing).
    pub fn validate(&self) -> Result {
        self.id.validate_at("id")?;
        text("name", &self.name, MAX_NAME_LEN)
    }
}

impl TimeOff {
    /// Checks that the period ends after it starts; `field` is the path of the entry.
    pub fn validate_at(&self, field: &str) -> Result {
        if self.end_utc <= self.start_utc {
            return inconsistent(&format!("{field}.endUtc"), "must be after startUtc");
        }
        if self.reason.chars().count() > MAX_NAME_LEN {
            return Err(ValidationError::TooLong {
                field: format!("{field}.reason"),
                max: MAX_NAME_LEN,
            });
        }
        Ok(())
    }

    /// Checks the body of `POST /api/v1/contractors/{id}/time-off`.
    pub fn validate(&self) -> Result {
        self.validate_at("").map_err(strip_leading_dot)
    }
}

/// `validate_at("")` yields paths like `.endUtc`; at the top level they should read `endUtc`.
fn strip_leading_dot(mut e: ValidationError) -> ValidationError {
    let field = match &mut e {
        ValidationError::Empty { field }
        | ValidationError::TooLong { field, .. }
        | ValidationError::OutOfRange { field, .. }
        | ValidationError::NotASlug { field, .. }
        | ValidationError::Duplicate { field, .. }
        | ValidationError::Inconsistent { field, .. } => field,
    };
    if let Some(rest) = field.strip_prefix('.') {
        *field = rest.to_owned();
    }
    e
}

impl WorkingHours {
    /// Checks that the shift has a length; `field` is the path of the entry.
    pub fn validate_at(&self, field: &str) -> Result {
        if self.start == self.end {
            return inconsistent(
                &format!("{field}.end"),
                "must differ from start (an end before the start means an overnight shift)",
            );
        }
        Ok(())
    }
}

fn skills(field: &str, list: &[Skill]) -> Result {
    too_many(field, list.len(), MAX_SKILLS)?;
    let mut seen = HashSet::new();
    for (i, s) in list.iter().enumerate() {
        s.name.validate_at(&format!("{field}[{i}].name"))?;
        range(&format!("{field}[{i}].level"), f64::from(s.level), 1.0, 5.0)?;
        if !seen.insert(s.name.as_str()) {
            return Err(ValidationError::Duplicate {
                field: format!("{field}[{i}].name"),
                value: s.name.to_string(),
            });
        }
    }
    Ok(())
}

fn required_skills(field: &str, list: &[RequiredSkill]) -> Result {
    too_many(field, list.len(), MAX_SKILLS)?;
    let mut seen = HashSet::new();
    for (i, s) in list.iter().enumerate() {
        s.name.validate_at(&format!("{field}[{i}].name"))?;
        range(
            &format!("{field}[{i}].minLevel"),
            f64::from(s.min_level),
            1.0,
            5.0,
        )?;
        if !seen.insert(s.name.as_str()) {
            return Err(ValidationError::Duplicate {
                field: format!("{field}[{i}].name"),
                value: s.name.to_string(),
            });
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn contractor_fields(
    name: &str,
    region: &RegionId,
    skill_list: &[Skill],
    location: &GeoPoint,
    working_hours: &[WorkingHours],
    time_off: &[TimeOff],
    rating: f64,
    max_jobs_per_day: u32,
) -> Result {
    text("name", name, MAX_NAME_LEN)?;
    region.validate_at("region")?;
    skills("skills", skill_list)?;
    location.validate_at("location")?;
    too_many("workingHours", working_hours.len(), MAX_WORKING_HOURS)?;
    for (i, w) in working_hours.iter().enumerate() {
        w.validate_at(&format!("workingHours[{i}]"))?;
    }
    too_many("timeOff", time_off.len(), MAX_TIME_OFF)?;
    for (i, t) in time_off.iter().enumerate() {
        t.validate_at(&format!("timeOff[{i}]"))?;
    }
    range("rating", rating, 0.0, 5.0)?;
    range(
        "maxJobsPerDay",
        f64::from(max_jobs_per_day),
        1.0,
        f64::from(MAX_JOBS_PER_DAY),
    )
}

impl NewContractor {
    /// Checks every field: name, region slug, skills (levels 1–5, no duplicates), location,
    /// working hours, time off, rating 0–5, maxJobsPerDay 1–50.
    pub fn validate(&self) -> Result {
        contractor_fields(
            &self.name,
            &self.region,
            &self.skills,
            &self.location,
            &self.working_hours,
            &self.time_off,
            self.rating,
            self.max_jobs_per_day,
        )
    }
}

impl Contractor {
    /// The same checks as [`NewContractor::validate`] (for updates).
    pub fn validate(&self) -> Result {
        contractor_fields(
            &self.name,
            &self.region,
            &self.skills,
            &self.location,
            &self.working_hours,
            &self.time_off,
            self.rating,
            self.max_jobs_per_day,
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn job_fields(
    region: &RegionId,
    title: &str,
    location: &GeoPoint,
    skill_list: &[RequiredSkill],
    window_start: chrono::DateTime<chrono::Utc>,
    window_end: chrono::DateTime<chrono::Utc>,
    duration_minutes: u32,
) -> Result {
    region.validate_at("region")?;
    text("title", title, MAX_NAME_LEN)?;
    location.validate_at("location")?;
    required_skills("requiredSkills", skill_list)?;
    range(
        "durationMinutes",
        f64::from(duration_minutes),
        1.0,
        f64::from(MAX_DURATION_MINUTES),
    )?;
    if window_end <= window_start {
        return inconsistent("windowEndUtc", "must be after windowStartUtc");
    }
    if window_end - window_start < chrono::Duration::minutes(i64::from(duration_minutes)) {
        return inconsistent(
            "windowEndUtc",
            "leaves a window shorter than durationMinutes; the job could never fit",
        );
    }
    Ok(())
}

impl NewJob {
    /// Checks every field: region slug, title, location, required skills (levels 1–5, no
    /// duplicates), duration 1 minute … 1 week, and a window that ends after it starts and can
    /// hold the job.
    pub fn validate(&self) -> Result {
        job_fields(
            &self.region,
            &self.title,
            &self.location,
            &self.required_skills,
            self.window_start_utc,
            self.window_end_utc,
            self.duration_minutes,
        )
    }
}

impl Job {
    /// The same checks as [`NewJob::validate`].
    pub fn validate(&self) -> Result {
        job_fields(
            &self.region,
            &self.title,
            &self.location,
            &self.required_skills,
            self.window_start_utc,
            self.window_end_utc,
            self.duration_minutes,
        )
    }
}

impl Assignment {
    /// Checks that the assignment ends after it starts (the hard rules are checked by
    /// [`crate::check_assignment`]).
    pub fn validate(&self) -> Result {
        if self.end_utc <= self.start_utc {
            return inconsistent("endUtc", "must be after startUtc");
        }
        Ok(())
    }
}

impl Weights {
    /// Checks that every weight is finite and ≥ 0 and that at least one is positive.
    pub fn validate(&self) -> Result {
        let all = [
            ("weights.travelTime", self.travel_time),
            ("weights.earliestStart", self.earliest_start),
            ("weights.skillFit", self.skill_fit),
            ("weights.rating", self.rating),
            ("weights.workload", self.workload),
        ];
        for (field, w) in all {
            range(field, w, 0.0, 1_000.0)?;
        }
        if self.total() <= 0.0 {
            return inconsistent("weights", "must have at least one weight above 0");
        }
        Ok(())
    }
}

impl Limits {
    /// Checks every limit's range.
    pub fn validate(&self) -> Result {
        range("limits.maxTravelKm", self.max_travel_km, 0.1, 20_000.0)?;
        range("limits.roadFactor", self.road_factor, 1.0, 3.0)?;
        range("limits.averageSpeedKmh", self.average_speed_kmh, 1.0, 200.0)?;
        range(
            "limits.horizonHours",
            f64::from(self.horizon_hours),
            1.0,
            24.0 * 90.0,
        )?;
        range(
            "limits.travelWorstMinutes",
            f64::from(self.travel_worst_minutes),
            1.0,
            24.0 * 60.0,
        )?;
        range(
            "limits.slotStepMinutes",
            f64::from(self.slot_step_minutes),
            1.0,
            60.0,
        )?;
        range(
            "limits.maxCandidates",
            f64::from(self.max_candidates),
            1.0,
            1_000.0,
        )
    }
}

impl NewScoringConfig {
    /// Checks weights and limits.
    pub fn validate(&self) -> Result {
        self.weights.validate()?;
        self.limits.validate()
    }
}

impl ScoringConfig {
    /// Checks version ≥ 1, weights and limits.
    pub fn validate(&self) -> Result {
        range("version", f64::from(self.version), 1.0, f64::from(u32::MAX))?;
        self.weights.validate()?;
        self.limits.validate()
    }
}

#[cfg(test)]
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::model::{LocalTime, Priority, Weekday};

    fn contractor() -> NewContractor {
        NewContractor {
            name: "Ana Ruiz".into(),
            region: "west".into(),
            skills: vec![Skill {
                name: "plumbing".into(),
                level: 4,
            }],
            location: GeoPoint::new(37.77, -122.42),
            working_hours: vec![WorkingHours {
                day: Weekday::Mon,
                start: LocalTime::from_hm(8, 0).expect("valid"),
                end: LocalTime::from_hm(17, 0).expect("valid"),
            }],
            time_off: vec![],
            rating: 4.6,
            max_jobs_per_day: 6,
            active: true,
        }
    }

    fn job() -> NewJob {
        NewJob {
            region: "west".into(),
            title: "Leaking pipe".into(),
            location: GeoPoint::new(37.76, -122.41),
            required_skills: vec![RequiredSkill {
                name: "plumbing".into(),
                min_level: 2,
            }],
            priority: Priority::High,
            window_start_utc: Utc.with_ymd_and_hms(2026, 12, 1, 16, 0, 0).unwrap(),
            window_end_utc: Utc.with_ymd_and_hms(2026, 12, 1, 22, 0, 0).unwrap(),
            duration_minutes: 90,
        }
    }

    /// Table: a mutation of a valid input, and the field the error must name.
    macro_rules! refused {
        ($name:ident, $make:expr, |$v:ident| $mutate:expr, $field:expr) => {
            #[test]
            fn $name() {
                let mut $v = $make;
                $mutate;
                let err = $v.validate().expect_err("must be refused");
                assert_eq!(err.field(), $field, "{err}");
            }
        };
    }

    #[test]
    fn valid_inputs_pass() {
        assert_eq!(contractor().validate(), Ok(()));
        assert_eq!(job().validate(), Ok(()));
        assert_eq!(ScoringConfig::default().validate(), Ok(()));
    }

    refused!(
        level_above_5,
        contractor(),
        |c| c.skills[0].level = 6,
        "skills[0].level"
    );
    refused!(
        level_0,
        contractor(),
        |c| c.skills[0].level = 0,
        "skills[0].level"
    );
    refused!(rating_above_5, contractor(), |c| c.rating = 5.1, "rating");
    refused!(rating_nan, contractor(), |c| c.rating = f64::NAN, "rating");
    refused!(
        lat_out_of_range,
        contractor(),
        |c| c.location.lat = 91.0,
        "location.lat"
    );
    refused!(
        lon_out_of_range,
        contractor(),
        |c| c.location.lon = -180.5,
        "location.lon"
    );
    refused!(blank_name, contractor(), |c| c.name = "  ".into(), "name");
    refused!(
        region_not_slug,
        contractor(),
        |c| c.region = "West Coast".into(),
        "region"
    );
    refused!(
        skill_not_slug,
        contractor(),
        |c| c.skills[0].name = "Plumbing".into(),
        "skills[0].name"
    );
    refused!(
        duplicate_skill,
        contractor(),
        |c| c.skills.push(Skill {
            name: "plumbing".into(),
            level: 2
        }),
        "skills[1].name"
    );
    refused!(
        zero_length_shift,
        contractor(),
        |c| c.working_hours[0].end = c.working_hours[0].start,
        "workingHours[0].end"
    );
    refused!(
        max_jobs_zero,
        contractor(),
        |c| c.max_jobs_per_day = 0,
        "maxJobsPerDay"
    );
    refused!(
        time_off_backwards,
        contractor(),
        |c| c.time_off.push(TimeOff {
            start_utc: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
            end_utc: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            reason: "vacation".into(),
        }),
        "timeOff[0].endUtc"
    );
    refused!(
        duration_zero,
        job(),
        |j| j.duration_minutes = 0,
        "durationMinutes"
    );
    refused!(
        window_backwards,
        job(),
        |j| j.window_end_utc = j.window_start_utc,
        "windowEndUtc"
    );
    refused!(
        window_shorter_than_job,
        job(),
        |j| j.duration_minutes = 7 * 60,
        "windowEndUtc"
    );
    refused!(
        min_level_6,
        job(),
        |j| j.required_skills[0].min_level = 6,
        "requiredSkills[0].minLevel"
    );
    refused!(
        job_lat,
        job(),
        |j| j.location.lat = f64::INFINITY,
        "location.lat"
    );
    refused!(
        negative_weight,
        ScoringConfig::default(),
        |c| c.weights.rating = -0.1,
        "weights.rating"
    );
    refused!(
        all_weights_zero,
        ScoringConfig::default(),
        |c| c.weights = Weights {
            travel_time: 0.0,
            earliest_start: 0.0,
            skill_fit: 0.0,
            rating: 0.0,
            workload: 0.0
        },
        "weights"
    );
    refused!(
        road_factor_below_1,
        ScoringConfig::default(),
        |c| c.limits.road_factor = 0.9,
        "limits.roadFactor"
    );
    refused!(
        zero_travel_radius,
        ScoringConfig::default(),
        |c| c.limits.max_travel_km = 0.0,
        "limits.maxTravelKm"
    );

    #[test]
    fn top_level_time_off_names_plain_field() {
        let t = TimeOff {
            start_utc: Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap(),
            end_utc: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            reason: "vacation".into(),
        };
        assert_eq!(t.validate().expect_err("refused").field(), "endUtc");
    }

    #[test]
    fn messages_say_what_to_do() {
        let mut c = contractor();
        c.skills[0].level = 7;
        assert_eq!(
            c.validate().expect_err("refused").to_string(),
            "skills[0].level must be between 1 and 5; got 7"
        );
    }
}
