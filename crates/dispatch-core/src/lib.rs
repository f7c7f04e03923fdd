//! The Dispatch domain, pure: types and the recommendation engine. No I/O, no async; the caller
//! passes in "now" and every input.
//!
//! # Layout
//!
//! From the bottom up:
//!
//! * [`ids`]: typed identifiers (`ContractorId`, `JobId`, … UUIDs; `RegionId`, a slug).
//! * [`model`]: regions, contractors, jobs, assignments: the wire types of SPEC §4 and §6.
//! * [`config`]: the versioned scoring configuration (weights and limits).
//! * [`validate`]: input validation, typed errors naming the field (the service's 422s).
//! * [`time`]: local working hours → UTC, with the DST rule for gaps and folds.
//! * [`travel`]: travel estimates behind [`TravelEstimator`]; [`StraightLine`] built in.
//! * [`index`]: [`RegionIndex`], built once per region, updated per assignment.
//! * [`engine`]: [`recommend`] and [`check_assignment`]: hard rules, slot finding, soft factors,
//!   ranking.
//! * [`plan`]: the planner — a region's open jobs over a period placed at once (routing by
//!   ruin and recreate), under the engine's own hard rules; and Solomon's benchmark instances.
//! * [`synth`]: a seeded generator of realistic regions, contractors, calendars and jobs, for
//!   the benchmarks and the demo data.
//!
//! # Where it sits
//!
//! `dispatch-store` turns rows into these types; `dispatch-server` keeps a [`RegionIndex`] per
//! region, calls [`recommend`] in the background task of `POST /api/v1/recommendations`, stores
//! the [`Recommendation`] as the audit record and pushes `RecommendationReady`; on a manual
//! assignment it calls [`check_assignment`] before committing. Nothing here knows about HTTP,
//! SQL or the hub.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use dispatch_core::{synth, recommend, RegionIndex, ScoringConfig, DEFAULT_LIMIT};
//!
//! let now = Utc.with_ymd_and_hms(2026, 6, 1, 15, 0, 0).unwrap();
//! let data = synth::generate(&synth::SynthConfig::new(7, 200, now));
//! let index = RegionIndex::build(data.region.clone(), &data.contractors, &data.bookings)?;
//! let rec = recommend(&index, &data.open_jobs[0], &ScoringConfig::default(), now, DEFAULT_LIMIT)?;
//! assert_eq!(rec.feasible_count + rec.excluded.len(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod config;
pub mod engine;
pub mod ids;
pub mod index;
pub mod model;
#[cfg(feature = "openapi")]
mod openapi;
pub mod plan;
pub mod synth;
pub mod time;
pub mod travel;
#[cfg(feature = "ts")]
mod ts;
pub mod validate;

pub use config::{Limits, NewScoringConfig, ScoringConfig, Weights};
pub use engine::{
    Breakdown, Candidate, DEFAULT_LIMIT, Exclusion, ExclusionReason, NoSlotCause, RecommendError,
    Recommendation, Travel, TravelOrigin, check_assignment, check_assignment_with, recommend,
    recommend_with, trips_into_bookings,
};
pub use ids::{AssignmentId, AuditId, ContractorId, JobId, PlanId, RegionId, SkillName};
pub use index::{IndexError, RegionIndex};
pub use model::{
    Assignment, AssignmentSource, Booking, Contractor, GeoPoint, Job, JobStatus, LocalTime,
    NewContractor, NewJob, ParseTimeError, Priority, Region, RequiredSkill, Skill, TimeOff,
    Weekday, WorkingHours,
};
pub use travel::{StraightLine, TravelEstimate, TravelEstimator, TravelSource};
pub use validate::ValidationError;
