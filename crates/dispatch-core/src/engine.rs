//! The recommendation engine: hard rules, slot finding, soft factors, ranking (SPEC §5,
//! DOMAIN.md B1–B2), and the same hard rules for one manual assignment.
//!
//! # A request, step by step
//!
//! One pass over the region's contractors in id order (the [`RegionIndex`] columns make each
//! step a few loads):
//!
//! 1. **Hard rules, cheapest first**, each failure a stable reason code: `inactive`,
//!    `wrongRegion`, `missingSkill` (a byte per required skill from the skill index), `tooFar`
//!    (a dot product decides most; the travel estimator is asked only about homes within reach).
//! 2. **Slot search** for the survivors: the earliest start inside the job window, the search
//!    horizon and a working stretch, in a gap between bookings and time off that leaves travel
//!    time from where the contractor comes from (the previous job in that stretch, else home),
//!    and from "now", and to the next booked job, on a local day under the contractor's cap. It
//!    ends in a slot, in `maxJobsPerDay` (a slot exists, but only on days already at the cap) or
//!    in `noSlot`.
//! 3. **Soft factors** for each slot, graded 0–100 between a best and a worst case and weighted
//!    by the configuration.
//! 4. **Ranking**: a partial selection of the best `limit`, sorted by score, then travel, then
//!    start, then contractor id: a total order, so input order never matters.
//!
//! The excluded list comes out of the pass already in id order. Why a pass and not a candidate
//! list from a skill or spatial index: the result must explain every excluded contractor, so the
//! region is visited anyway; see the [`crate::index`] docs and the README for the measurements.
//!
//! # Wire format
//!
//! ```text
//! Recommendation {jobId, region, configVersion, generatedAt, feasibleCount, consideredCount,
//!   candidates:[{rank, contractorId, score, breakdown:{travelTime, earliestStart, skillFit,
//!                rating, workload}, startUtc, endUtc,
//!                travel:{distanceKm, minutes, source:"estimate"|"road", from:"home"|"previousJob"}}],
//!   excluded:[{contractorId, reason, message, …facts of the reason}]}
//! ```

use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Limits, ScoringConfig};
use crate::ids::{ContractorId, JobId, RegionId, SkillName};
use crate::index::{Calendar, RegionIndex};
use crate::model::{Booking, Contractor, GeoPoint, Job};
use crate::time::{DAY, LocalClock, expand_rules, from_secs, secs_ceil};
use crate::travel::{
    StraightLine, TravelEstimate, TravelEstimator, TravelSource, chord2, chord2_to_km,
    km_to_chord2, unit_vector,
};
use crate::validate::ValidationError;

/// How many candidates a recommendation returns when the caller does not say (DOMAIN.md: top 5).
pub const DEFAULT_LIMIT: usize = 5;

/// The longest slot [`check_assignment`] examines: the longest job plus a day, in seconds.
const MAX_MANUAL_SLOT: i64 = (crate::validate::MAX_DURATION_MINUTES as i64 + 24 * 60) * 60;

/// The result of [`recommend`]: the best candidates and every excluded contractor.
///
/// `candidates` holds the best `limit` of the `feasibleCount` contractors that pass every hard
/// rule; `excluded` holds every contractor that fails one, in contractor-id order. So
/// `consideredCount = feasibleCount + excluded.len()`, and when `limit ≥ feasibleCount`,
/// candidates ∪ excluded is exactly the region's contractors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendation {
    /// The job recommended for.
    pub job_id: JobId,
    /// Its region.
    pub region: RegionId,
    /// The scoring configuration version used.
    pub config_version: u32,
    /// The "now" the engine was given.
    pub generated_at: DateTime<Utc>,
    /// Best first.
    pub candidates: Vec<Candidate>,
    /// In contractor-id order.
    pub excluded: Vec<Exclusion>,
    /// Contractors passing every hard rule (candidates are the best of them).
    pub feasible_count: usize,
    /// Contractors in the index.
    pub considered_count: usize,
}

/// A ranked contractor with its proposed slot and the explanation of its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Candidate {
    /// 1 for the best.
    pub rank: u32,
    /// The contractor.
    pub contractor_id: ContractorId,
    /// Weighted score, 0–100 (two decimals): `Σ weight·grade / Σ weight` over the breakdown.
    pub score: f64,
    /// Each factor's grade, 0–100 (one decimal).
    pub breakdown: Breakdown,
    /// Proposed on-site start: the earliest feasible.
    pub start_utc: DateTime<Utc>,
    /// Proposed on-site end (start + duration).
    pub end_utc: DateTime<Utc>,
    /// The trip to the job for this slot.
    pub travel: Travel,
}

/// Grades of the soft factors, each 0 (worst case) … 100 (best case).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Breakdown {
    /// 100 at 0 minutes, 0 at `travelWorstMinutes` or more.
    pub travel_time: f64,
    /// 100 when starting as early as the job allows, 0 at the latest start (window end or
    /// horizon).
    pub earliest_start: f64,
    /// 100 at exactly the required level, 0 when four levels above it (averaged over skills).
    pub skill_fit: f64,
    /// 100 for a 5.0 rating, 0 for 0.
    pub rating: f64,
    /// 100 with no other job that day, falling linearly to 0 at `maxJobsPerDay` jobs.
    pub workload: f64,
}

/// Where the trip to the job starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum TravelOrigin {
    /// The contractor's home base (first job of a working stretch, or after time off).
    Home,
    /// The previous booked job in the same working stretch.
    PreviousJob,
}

/// The trip to the job for a proposed slot.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Travel {
    /// Road distance, km (one decimal).
    pub distance_km: f64,
    /// Driving minutes.
    pub minutes: u32,
    /// `estimate` (straight line) or `road`.
    pub source: TravelSource,
    /// Where the trip starts.
    pub from: TravelOrigin,
}

/// A contractor that fails a hard rule, with the first rule it fails.
///
/// On the wire the reason's code, its facts and a human sentence sit side by side:
/// `{"contractorId":"…","reason":"missingSkill","skill":"plumbing","requiredLevel":2,
/// "actualLevel":1,"message":"Has plumbing at level 1; the job needs level 2 or higher."}`.
/// The sentence is rendered when serialized, so excluding 100,000 contractors costs no
/// formatting on the request path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ExclusionWire", from = "ExclusionWire")]
pub struct Exclusion {
    /// The contractor.
    pub contractor_id: ContractorId,
    /// The first rule it fails.
    pub reason: ExclusionReason,
}

impl Exclusion {
    /// The human sentence for the reason.
    pub fn message(&self) -> String {
        self.reason.to_string()
    }
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} excluded ({}): {}",
            self.contractor_id,
            self.reason.code(),
            self.reason
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExclusionWire {
    contractor_id: ContractorId,
    #[serde(flatten)]
    reason: ExclusionReason,
    #[serde(default)]
    message: String,
}

impl From<Exclusion> for ExclusionWire {
    fn from(e: Exclusion) -> Self {
        Self {
            message: e.reason.to_string(),
            contractor_id: e.contractor_id,
            reason: e.reason,
        }
    }
}

impl From<ExclusionWire> for Exclusion {
    fn from(w: ExclusionWire) -> Self {
        // The message is derived; it is re-rendered from the facts, never trusted from input.
        Self {
            contractor_id: w.contractor_id,
            reason: w.reason,
        }
    }
}

/// A failed hard rule, with its facts. The `reason` code on the wire is stable; see
/// [`ExclusionReason::code`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "reason",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ExclusionReason {
    /// The contractor is marked inactive.
    Inactive,
    /// The contractor is not in the job's region.
    WrongRegion {
        /// The contractor's region, when the index knows the contractor.
        region: Option<RegionId>,
    },
    /// A required skill is missing or below the required level (the first such, in the job's
    /// order).
    MissingSkill {
        /// The skill.
        skill: SkillName,
        /// The level the job needs.
        required_level: u8,
        /// The contractor's level; absent when it lacks the skill.
        actual_level: Option<u8>,
    },
    /// The home base is farther from the job than the configured maximum.
    TooFar {
        /// Estimated road distance home → job, km (one decimal).
        distance_km: f64,
        /// The configured maximum, km.
        max_km: f64,
    },
    /// No feasible slot (see the cause).
    NoSlot {
        /// Why.
        cause: NoSlotCause,
    },
    /// A slot exists, but only on days that already hold the contractor's maximum of jobs.
    MaxJobsPerDay {
        /// The contractor's cap.
        max_jobs_per_day: u32,
    },
}

impl ExclusionReason {
    /// The stable reason code: `inactive`, `wrongRegion`, `missingSkill`, `tooFar`, `noSlot`,
    /// `maxJobsPerDay`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::WrongRegion { .. } => "wrongRegion",
            Self::MissingSkill { .. } => "missingSkill",
            Self::TooFar { .. } => "tooFar",
            Self::NoSlot { .. } => "noSlot",
            Self::MaxJobsPerDay { .. } => "maxJobsPerDay",
        }
    }
}

impl fmt::Display for ExclusionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inactive => f.write_str("The contractor is marked inactive."),
            Self::WrongRegion { region: Some(r) } => {
                write!(
                    f,
                    "The contractor works in region {r}, not in the job's region."
                )
            }
            Self::WrongRegion { region: None } => {
                f.write_str("The contractor is not part of the job's region.")
            }
            Self::MissingSkill {
                skill,
                required_level,
                actual_level: None,
            } => write!(
                f,
                "Lacks the skill {skill}; the job needs it at level {required_level} or higher."
            ),
            Self::MissingSkill {
                skill,
                required_level,
                actual_level: Some(a),
            } => write!(
                f,
                "Has {skill} at level {a}; the job needs level {required_level} or higher."
            ),
            Self::TooFar {
                distance_km,
                max_km,
            } => write!(
                f,
                "Home base is about {distance_km:.1} km from the job by road (estimate); the limit is {max_km} km."
            ),
            Self::NoSlot { cause } => fmt::Display::fmt(cause, f),
            Self::MaxJobsPerDay { max_jobs_per_day } => write!(
                f,
                "Already has the maximum of {max_jobs_per_day} jobs on every day where the job would fit."
            ),
        }
    }
}

/// Why no slot could be found (or why a proposed slot is not feasible).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NoSlotCause {
    /// No working stretch inside the job window (and search horizon) is long enough for the job.
    NoWorkingHours,
    /// Working hours would fit, but bookings, time off and travel leave no gap.
    Busy,
    /// (Manual check) the slot is not inside the job window.
    OutsideWindow,
    /// (Manual check) the slot is not inside one working stretch.
    OutsideWorkingHours,
    /// (Manual check) the slot is shorter than the job's duration.
    TooShort,
    /// (Manual check) the slot overlaps another booking or time off.
    Overlap,
    /// (Manual check) too little time to travel from the previous location or to the next job,
    /// or the contractor could not be there in time from now.
    Travel,
}

impl fmt::Display for NoSlotCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoWorkingHours => {
                "No working hours inside the job window (within the search horizon) are long enough for the job."
            }
            Self::Busy => {
                "Bookings, time off and travel leave no gap long enough for the job inside the job window and working hours."
            }
            Self::OutsideWindow => "The slot is not inside the job window.",
            Self::OutsideWorkingHours => "The slot is not inside the contractor's working hours.",
            Self::TooShort => "The slot is shorter than the job's duration.",
            Self::Overlap => "The slot overlaps another assignment or time off.",
            Self::Travel => {
                "The slot leaves too little travel time from the previous location (or from now) or to the next job."
            }
        })
    }
}

/// Why a recommendation could not be computed at all. Each is the caller's to fix: the service
/// answers 422 for `InvalidJob` / `InvalidConfig` and 409 for `RegionMismatch` /
/// `WindowClosed`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecommendError {
    /// The job is not in the index's region; use the index of the job's region.
    #[error(
        "job is in region {job}, but the index is of region {index}; use the job region's index"
    )]
    RegionMismatch {
        /// The job's region.
        job: RegionId,
        /// The index's region.
        index: RegionId,
    },
    /// The job fails validation.
    #[error("job is invalid: {0}")]
    InvalidJob(ValidationError),
    /// The configuration fails validation.
    #[error("scoring configuration is invalid: {0}")]
    InvalidConfig(ValidationError),
    /// The job can no longer be done inside its window from `now` on; widen the window.
    #[error("the job's window ends at {window_end}; it can no longer be fitted from now on")]
    WindowClosed {
        /// The window's end.
        window_end: DateTime<Utc>,
    },
}

/// Ranks the region's contractors for `job` with the straight-line travel estimate of the
/// configuration. `limit` is clamped to `limits.maxCandidates`; use [`DEFAULT_LIMIT`] when the
/// caller gives none.
pub fn recommend(
    index: &RegionIndex,
    job: &Job,
    config: &ScoringConfig,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Recommendation, RecommendError> {
    recommend_with(
        index,
        job,
        config,
        now,
        limit,
        &StraightLine::from_limits(&config.limits),
    )
}

/// [`recommend`] with another travel source (e.g. road routing).
pub fn recommend_with<E: TravelEstimator + ?Sized>(
    index: &RegionIndex,
    job: &Job,
    config: &ScoringConfig,
    now: DateTime<Utc>,
    limit: usize,
    travel: &E,
) -> Result<Recommendation, RecommendError> {
    if job.region != index.region.id {
        return Err(RecommendError::RegionMismatch {
            job: job.region.clone(),
            index: index.region.id.clone(),
        });
    }
    job.validate().map_err(RecommendError::InvalidJob)?;
    config.validate().map_err(RecommendError::InvalidConfig)?;
    let ctx = Ctx::new(index, job, &config.limits, travel, now.timestamp(), None).ok_or(
        RecommendError::WindowClosed {
            window_end: job.window_end_utc,
        },
    )?;
    let limit = limit.min(config.limits.max_candidates as usize);
    let n = index.ids.len();

    // One pass in id order (see the module docs for why not an index-driven candidate list).
    let mut drafts: Vec<Draft> = Vec::new();
    let mut excluded: Vec<Exclusion> = Vec::with_capacity(n);
    let mut shifts = ShiftCache::new(index.patterns.rules.len());
    for &idx in &index.order {
        let outcome = ctx
            .static_rules(idx)
            .and_then(|home| ctx.earliest_slot(idx, home, &mut shifts));
        match outcome {
            Ok(slot) => drafts.push(ctx.draft(idx, slot, &config.weights)),
            Err(reason) => excluded.push(Exclusion {
                contractor_id: index.ids[idx as usize],
                reason,
            }),
        }
    }

    // 3. Rank: a total order, so input order never matters.
    let feasible_count = drafts.len();
    if limit == 0 {
        drafts.clear();
    } else if drafts.len() > limit {
        drafts.select_nth_unstable_by(limit - 1, Draft::ranking);
        drafts.truncate(limit);
    }
    drafts.sort_unstable_by(Draft::ranking);
    let candidates = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| d.into_candidate(i as u32 + 1))
        .collect();

    Ok(Recommendation {
        job_id: job.id,
        region: index.region.id.clone(),
        config_version: config.version,
        generated_at: now,
        candidates,
        excluded,
        feasible_count,
        considered_count: n,
    })
}

/// Checks a manual assignment of `contractor` to `job` at `[start, end)` against the same hard
/// rules as [`recommend`] (the staleness guard of DOMAIN.md: re-validate on assign). `Ok` means
/// the engine could have proposed it; `Err` carries the first failing rule.
///
/// The slot must lie inside the job window and one working stretch, last at least the job's
/// duration, overlap no booking (other than this job's own) or time off, leave travel time from
/// the previous location — and from `now` — and to the next booked job, on a local day under the
/// contractor's cap. The start need not be on the `slotStepMinutes` grid, and the search horizon
/// does not apply: a dispatcher may book further ahead than the engine searches.
pub fn check_assignment(
    index: &RegionIndex,
    contractor: ContractorId,
    job: &Job,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    config: &ScoringConfig,
    now: DateTime<Utc>,
) -> Result<(), Exclusion> {
    check_assignment_with(
        index,
        contractor,
        job,
        start,
        end,
        config,
        now,
        &StraightLine::from_limits(&config.limits),
    )
}

/// [`check_assignment`] with another travel source.
#[allow(clippy::too_many_arguments)]
pub fn check_assignment_with<E: TravelEstimator + ?Sized>(
    index: &RegionIndex,
    contractor: ContractorId,
    job: &Job,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    config: &ScoringConfig,
    now: DateTime<Utc>,
    travel: &E,
) -> Result<(), Exclusion> {
    let exclude = |reason| Exclusion {
        contractor_id: contractor,
        reason,
    };
    let Some(idx) = index.idx_of(contractor) else {
        return Err(exclude(ExclusionReason::WrongRegion { region: None }));
    };
    if job.region != index.region.id {
        return Err(exclude(ExclusionReason::WrongRegion {
            region: Some(
                index
                    .foreign
                    .get(&idx)
                    .cloned()
                    .unwrap_or_else(|| index.region.id.clone()),
            ),
        }));
    }
    let (s, e) = (start.timestamp(), secs_ceil(end));
    if e - s > MAX_MANUAL_SLOT {
        // Longer than any job may last: no need to expand weeks of shifts to say no.
        return Err(exclude(ExclusionReason::NoSlot {
            cause: NoSlotCause::OutsideWorkingHours,
        }));
    }
    let ctx = Ctx::new(
        index,
        job,
        &config.limits,
        travel,
        now.timestamp(),
        Some((s, e)),
    );
    let Some(ctx) = ctx else {
        return Err(exclude(ExclusionReason::NoSlot {
            cause: NoSlotCause::OutsideWindow,
        }));
    };
    let home = ctx.static_rules(idx).map_err(exclude)?;
    let mut shifts = ShiftCache::new(index.patterns.rules.len());
    ctx.check_slot(idx, home, s, e, &mut shifts)
        .map_err(exclude)
}

/// Per-request state shared by every contractor's evaluation.
pub(crate) struct Ctx<'a, E: ?Sized> {
    index: &'a RegionIndex,
    job: &'a Job,
    limits: &'a Limits,
    travel: &'a E,
    required: Vec<Required<'a>>,
    /// The job's bits, for comparing with bookings' jobs.
    job_bits: u128,
    /// The job's place as a unit vector.
    job_xyz: [f64; 3],
    /// Squared chord beyond which a home is surely out of reach.
    reach_chord2: f64,
    /// The calendars over the request's span (shared with the planner, `crate::plan`).
    cals: Calendars<'a>,
    now: i64,
    window_start: i64,
    /// Earliest possible start: max(window start, now).
    t0: i64,
    /// Latest start searched: min(window end − duration, t0 + horizon).
    latest_start: i64,
    duration: i64,
    step: i64,
}

struct Required<'a> {
    name: &'a SkillName,
    /// The skill's level column; `None` when no contractor has the skill.
    column: Option<&'a [u8]>,
    min_level: u8,
}

/// A feasible slot found for one contractor.
struct Slot {
    start: i64,
    travel: TravelEstimate,
    from: TravelOrigin,
    /// Other jobs on the slot's local day.
    jobs_that_day: u32,
}

/// A gap between busy periods inside one working stretch.
pub(crate) struct Gap {
    pub(crate) start: i64,
    pub(crate) end: i64,
    /// Where the contractor comes from: `None` = home.
    pub(crate) origin: Option<GeoPoint>,
    /// The next booked job's place, when the gap ends at one.
    pub(crate) dest: Option<GeoPoint>,
}

/// What a gap visitor tells [`Calendars::walk_gaps`].
pub(crate) enum Step<T> {
    /// Try the next gap.
    Next,
    /// Stop walking, with this result.
    Done(T),
}

/// A busy period inside a working stretch: `(start, end[, place])`.
enum Busy {
    Booking(i64, i64, GeoPoint),
    TimeOff(i64, i64),
}

/// Each shift pattern's UTC working intervals for this request, computed on first use.
pub(crate) struct ShiftCache {
    /// Per pattern: `(offset, len)` into `flat`, or `u32::MAX` when not computed yet.
    spans: Vec<(u32, u32)>,
    flat: Vec<(i64, i64)>,
}

impl ShiftCache {
    pub(crate) fn new(patterns: usize) -> Self {
        Self {
            spans: vec![(u32::MAX, 0); patterns],
            flat: Vec::new(),
        }
    }
}

/// The region's calendars over a span of time, seen apart from any one job: working stretches
/// (DST-correct), the gaps between bookings and time off inside them, and the day's load. The
/// recommendation engine reads them through [`Ctx`] for one job; the planner (`crate::plan`)
/// reads the same gaps as the routes it fills, so both apply one definition of "free".
pub(crate) struct Calendars<'a> {
    pub(crate) index: &'a RegionIndex,
    pub(crate) clock: LocalClock,
    /// Local days whose shifts are expanded.
    days: (i64, i64),
}

impl<'a> Calendars<'a> {
    /// The calendars of `index` over `span` (UTC seconds).
    pub(crate) fn new(index: &'a RegionIndex, span: (i64, i64)) -> Self {
        let clock = LocalClock::new(index.region.time_zone, span.0 - 3 * DAY, span.1 + 3 * DAY);
        // A shift may start the local day before and run overnight into the span.
        let days = (clock.local_day(span.0) - 1, clock.local_day(span.1));
        Self { index, clock, days }
    }

    /// The contractor's working intervals for this request (sorted, merged).
    pub(crate) fn shifts<'c>(&self, idx: u32, cache: &'c mut ShiftCache) -> &'c [(i64, i64)] {
        let p = self.index.pattern[idx as usize] as usize;
        if cache.spans[p].0 == u32::MAX {
            let from = cache.flat.len();
            expand_rules(
                &self.clock,
                &self.index.patterns.rules[p],
                self.days.0,
                self.days.1,
                &mut cache.flat,
            );
            cache.spans[p] = (from as u32, (cache.flat.len() - from) as u32);
        }
        let (from, len) = cache.spans[p];
        &cache.flat[from as usize..(from + len) as usize]
    }

    /// Jobs other than `skip`'s starting on the local day of `t`, and the next local midnight;
    /// `hint` is a booking index near `t`.
    pub(crate) fn day_load(&self, cal: &Calendar, t: i64, skip: u128, hint: usize) -> (u32, i64) {
        let day = self.clock.local_day(t);
        let (from, to) = (self.clock.day_start(day), self.clock.day_start(day + 1));
        (cal.starts_between(from, to, skip, hint), to)
    }

    /// Calls `f` on each gap of working stretch `(s, e)` in time order until it returns
    /// `Done`, whose value it returns; `None` when every gap said `Next`.
    ///
    /// A gap starts at the stretch's start (the contractor comes from home), at the end of a
    /// booking (from that job) or at the end of time off (from home); it ends at the stretch's
    /// end, at time off, or at a booking (which the contractor must then travel to).
    ///
    /// `bi` is [`Calendar::first_reaching`]`(s)`, computed by the caller. The booking of job
    /// `skip` (its bits; 0 for none) is ignored: re-planning a job never collides with itself.
    pub(crate) fn walk_gaps<T>(
        &self,
        cal: &Calendar,
        (s, e): (i64, i64),
        mut bi: usize,
        skip: u128,
        mut f: impl FnMut(&Gap) -> Step<T>,
    ) -> Option<T> {
        let bookings = &cal.bookings;
        let mut ti = cal.time_off.partition_point(|t| t.1 <= s);
        let mut cursor = s;
        let mut origin = None;
        loop {
            while bi < bookings.len() && (bookings[bi].job == skip || bookings[bi].end <= s) {
                bi += 1;
            }
            let nb = bookings.get(bi).filter(|b| b.start < e);
            let nt = cal.time_off.get(ti).filter(|t| t.0 < e);
            let next = match (nb, nt) {
                (Some(b), Some(t)) if t.0 < b.start => Some(Busy::TimeOff(t.0, t.1)),
                (Some(b), _) => Some(Busy::Booking(b.start, b.end, b.location)),
                (None, Some(t)) => Some(Busy::TimeOff(t.0, t.1)),
                (None, None) => None,
            };
            let (gap_end, dest) = match next {
                Some(Busy::Booking(start, _, at)) => (start, Some(at)),
                Some(Busy::TimeOff(start, _)) => (start, None),
                None => (e, None),
            };
            if gap_end > cursor {
                let gap = Gap {
                    start: cursor,
                    end: gap_end,
                    origin,
                    dest,
                };
                if let Step::Done(x) = f(&gap) {
                    return Some(x);
                }
            }
            let (end, after) = match next? {
                Busy::Booking(_, end, at) => {
                    bi += 1;
                    (end, Some(at))
                }
                Busy::TimeOff(_, end) => {
                    ti += 1;
                    (end, None)
                }
            };
            if end > cursor {
                cursor = end;
                origin = after;
            }
            if cursor >= e {
                return None;
            }
        }
    }
}

impl<'a, E: TravelEstimator + ?Sized> Ctx<'a, E> {
    /// The request state of `job` as [`recommend_with`] builds it, for the planner's use of the
    /// same hard rules ([`Ctx::static_rules`]); `None` when the window is closed at `now`.
    pub(crate) fn for_job(
        index: &'a RegionIndex,
        job: &'a Job,
        limits: &'a Limits,
        travel: &'a E,
        now: i64,
    ) -> Option<Self> {
        Self::new(index, job, limits, travel, now, None)
    }

    /// `None` when no start is possible at all (window closed, or — for a manual check — the slot
    /// lies outside the window).
    fn new(
        index: &'a RegionIndex,
        job: &'a Job,
        limits: &'a Limits,
        travel: &'a E,
        now: i64,
        manual: Option<(i64, i64)>,
    ) -> Option<Self> {
        let window_start = job.window_start_utc.timestamp();
        let window_end = job.window_end_utc.timestamp();
        let duration = i64::from(job.duration_minutes).max(1) * 60;
        let t0 = window_start.max(now);
        let (latest_start, span) = match manual {
            None => {
                let horizon = i64::from(limits.horizon_hours) * 3600;
                let latest = (window_end - duration).min(t0.saturating_add(horizon));
                (latest, (t0, latest + duration))
            }
            Some((s, e)) => {
                if s < window_start || e > window_end {
                    return None;
                }
                (window_end - duration, (s, e))
            }
        };
        if manual.is_none() && latest_start < t0 {
            return None;
        }
        let cals = Calendars::new(index, span);
        let required = job
            .required_skills
            .iter()
            .map(|r| Required {
                name: &r.name,
                column: index
                    .skills
                    .column(r.name.as_str())
                    .map(|c| index.skills.levels[c as usize].as_slice()),
                min_level: r.min_level,
            })
            .collect();
        Some(Self {
            index,
            job,
            limits,
            travel,
            required,
            job_bits: job.id.as_uuid().as_u128(),
            job_xyz: unit_vector(job.location),
            reach_chord2: km_to_chord2(travel.great_circle_bound_km(limits.max_travel_km)),
            cals,
            now,
            window_start,
            t0,
            latest_start,
            duration,
            step: i64::from(limits.slot_step_minutes.max(1)) * 60,
        })
    }

    /// The rules that need no calendar: active, region, skills, distance. On success, the trip
    /// from home.
    ///
    /// Inlined into the pass: most contractors end here, and returning the large `Result`
    /// through memory cost more than the checks themselves (store-forwarding stalls).
    #[inline(always)]
    pub(crate) fn static_rules(&self, idx: u32) -> Result<TravelEstimate, ExclusionReason> {
        let i = idx as usize;
        let ix = self.index;
        if !ix.active[i] {
            return Err(ExclusionReason::Inactive);
        }
        if !ix.in_region[i] {
            return Err(ExclusionReason::WrongRegion {
                region: ix.foreign.get(&idx).cloned(),
            });
        }
        for r in &self.required {
            let level = r.column.map_or(0, |c| c[i]);
            if level < r.min_level {
                return Err(ExclusionReason::MissingSkill {
                    skill: r.name.clone(),
                    required_level: r.min_level,
                    actual_level: (level > 0).then_some(level),
                });
            }
        }
        // Surely out of reach (the estimator's distance is never below the great circle's):
        // decided by a dot product, no trigonometry, for most of the region.
        let c2 = chord2(ix.home_xyz[i], self.job_xyz);
        if c2 > self.reach_chord2 {
            let gc = chord2_to_km(c2);
            let km = self.travel.road_km_for_great_circle(gc).unwrap_or_else(|| {
                self.travel
                    .estimate(ix.home[i], self.job.location)
                    .distance_km
            });
            return Err(ExclusionReason::TooFar {
                distance_km: round_to(km, 10.0),
                max_km: self.limits.max_travel_km,
            });
        }
        let home = self.travel.estimate(ix.home[i], self.job.location);
        // A NaN distance (bad coordinates) excludes rather than admits.
        if home.distance_km.is_nan() || home.distance_km > self.limits.max_travel_km {
            return Err(ExclusionReason::TooFar {
                distance_km: round_to(home.distance_km, 10.0),
                max_km: self.limits.max_travel_km,
            });
        }
        Ok(home)
    }

    /// The trip to the job from `origin` (`None` = home, already estimated).
    fn trip_from(
        &self,
        origin: Option<GeoPoint>,
        home: &TravelEstimate,
    ) -> (TravelEstimate, TravelOrigin) {
        match origin {
            None => (*home, TravelOrigin::Home),
            Some(p) => (
                self.travel.estimate(p, self.job.location),
                TravelOrigin::PreviousJob,
            ),
        }
    }

    /// Seconds to drive from the job to the next booked job, if any.
    fn seconds_to(&self, dest: Option<GeoPoint>) -> i64 {
        dest.map_or(0, |d| {
            i64::from(self.travel.estimate(self.job.location, d).minutes) * 60
        })
    }

    fn round_up(&self, t: i64) -> i64 {
        t.div_euclid(self.step) * self.step
            + if t.rem_euclid(self.step) > 0 {
                self.step
            } else {
                0
            }
    }

    /// The earliest feasible slot, or why there is none.
    fn earliest_slot(
        &self,
        idx: u32,
        home: TravelEstimate,
        cache: &mut ShiftCache,
    ) -> Result<Slot, ExclusionReason> {
        let mut capped = false;
        match self.search(idx, &home, true, &mut capped, cache) {
            Some(slot) => Ok(slot),
            None => {
                let max = self.index.max_jobs[idx as usize];
                // A slot that only the cap rules out is a `maxJobsPerDay`, not a `noSlot`.
                if capped && self.search(idx, &home, false, &mut false, cache).is_some() {
                    return Err(ExclusionReason::MaxJobsPerDay {
                        max_jobs_per_day: max,
                    });
                }
                let fits_hours = self.cals.shifts(idx, cache).iter().any(|&(s, e)| {
                    let (a, b) = (s.max(self.t0), e.min(self.latest_start + self.duration));
                    b - a >= self.duration
                });
                Err(ExclusionReason::NoSlot {
                    cause: if fits_hours {
                        NoSlotCause::Busy
                    } else {
                        NoSlotCause::NoWorkingHours
                    },
                })
            }
        }
    }

    fn search(
        &self,
        idx: u32,
        home: &TravelEstimate,
        apply_cap: bool,
        capped: &mut bool,
        cache: &mut ShiftCache,
    ) -> Option<Slot> {
        let i = idx as usize;
        let cal = &self.index.calendars[i];
        let max_jobs = self.index.max_jobs[i];
        // One binary search per contractor; later stretches walk on from the previous one.
        let mut first: Option<usize> = None;
        for &(s, e) in self.cals.shifts(idx, cache) {
            if e - self.duration < self.t0 {
                continue;
            }
            if s > self.latest_start {
                break;
            }
            let bi = match first {
                None => cal.first_reaching(s),
                Some(prev) => cal.first_reaching_after(prev, s),
            };
            first = Some(bi);
            // `Done(Some)`: found; `Done(None)`: past the latest start, stop everything.
            let found = self.cals.walk_gaps(cal, (s, e), bi, self.job_bits, |gap| {
                // Cheap rejections first: most gaps of a busy calendar are too short even before
                // travel, and a travel estimate costs a haversine.
                let bare = self.round_up(gap.start.max(self.window_start).max(self.now));
                if bare > self.latest_start {
                    return Step::Done(None);
                }
                if bare + self.duration > gap.end {
                    return Step::Next;
                }
                let (trip, from) = self.trip_from(gap.origin, home);
                let tin = i64::from(trip.minutes) * 60;
                let mut start =
                    self.round_up((gap.start + tin).max(self.window_start).max(self.now + tin));
                if start + self.duration > gap.end && start <= self.latest_start {
                    return Step::Next;
                }
                let tout = self.seconds_to(gap.dest);
                loop {
                    if start > self.latest_start {
                        return Step::Done(None);
                    }
                    if start + self.duration + tout > gap.end {
                        return Step::Next;
                    }
                    let (jobs, next_midnight) = self.cals.day_load(cal, start, self.job_bits, bi);
                    if !apply_cap || jobs < max_jobs {
                        return Step::Done(Some(Slot {
                            start,
                            travel: trip,
                            from,
                            jobs_that_day: jobs,
                        }));
                    }
                    *capped = true;
                    start = self.round_up(next_midnight.max(start + 1));
                }
            });
            if let Some(done) = found {
                return done;
            }
        }
        None
    }

    /// The manual check of one slot `[s, e)`.
    fn check_slot(
        &self,
        idx: u32,
        home: TravelEstimate,
        s: i64,
        e: i64,
        cache: &mut ShiftCache,
    ) -> Result<(), ExclusionReason> {
        let no_slot = |cause| ExclusionReason::NoSlot { cause };
        if e - s < self.duration {
            return Err(no_slot(NoSlotCause::TooShort));
        }
        let i = idx as usize;
        let cal = &self.index.calendars[i];
        let Some(&stretch) = self
            .cals
            .shifts(idx, cache)
            .iter()
            .find(|&&(a, b)| a <= s && e <= b)
        else {
            return Err(no_slot(NoSlotCause::OutsideWorkingHours));
        };
        let verdict = self.cals.walk_gaps(
            cal,
            stretch,
            cal.first_reaching(stretch.0),
            self.job_bits,
            |gap| {
                if gap.start <= s && e <= gap.end {
                    let (trip, _) = self.trip_from(gap.origin, &home);
                    let tin = i64::from(trip.minutes) * 60;
                    let fits = s >= gap.start + tin
                        && s >= self.now + tin
                        && e + self.seconds_to(gap.dest) <= gap.end;
                    Step::Done(if fits {
                        Ok(())
                    } else {
                        Err(NoSlotCause::Travel)
                    })
                } else if gap.start > s {
                    // Gaps only move later: the slot starts inside a busy period.
                    Step::Done(Err(NoSlotCause::Overlap))
                } else {
                    Step::Next
                }
            },
        );
        match verdict {
            Some(Ok(())) => {
                let hint = cal.lower_bound(s, None);
                let (jobs, _) = self.cals.day_load(cal, s, self.job_bits, hint);
                let max = self.index.max_jobs[i];
                if jobs >= max {
                    return Err(ExclusionReason::MaxJobsPerDay {
                        max_jobs_per_day: max,
                    });
                }
                Ok(())
            }
            Some(Err(cause)) => Err(no_slot(cause)),
            None => Err(no_slot(NoSlotCause::Overlap)),
        }
    }

    /// Grades and scores a feasible slot.
    fn draft(&self, idx: u32, slot: Slot, w: &crate::config::Weights) -> Draft {
        let i = idx as usize;
        let ix = self.index;
        let linear = |x: f64| (100.0 * (1.0 - x)).clamp(0.0, 100.0);
        let travel_time = linear(
            f64::from(slot.travel.minutes) / f64::from(self.limits.travel_worst_minutes.max(1)),
        );
        let span = self.latest_start - self.t0;
        let earliest_start = if span <= 0 {
            100.0
        } else {
            linear((slot.start - self.t0) as f64 / span as f64)
        };
        let skill_fit = if self.required.is_empty() {
            100.0
        } else {
            let excess: f64 = self
                .required
                .iter()
                .map(|r| {
                    let level = r.column.map_or(0, |c| c[i]);
                    f64::from(level.saturating_sub(r.min_level))
                })
                .sum();
            linear(excess / self.required.len() as f64 / 4.0)
        };
        let rating = (ix.rating[i] / 5.0 * 100.0).clamp(0.0, 100.0);
        let workload = linear(f64::from(slot.jobs_that_day) / f64::from(ix.max_jobs[i].max(1)));
        let breakdown = Breakdown {
            travel_time: round_to(travel_time, 10.0),
            earliest_start: round_to(earliest_start, 10.0),
            skill_fit: round_to(skill_fit, 10.0),
            rating: round_to(rating, 10.0),
            workload: round_to(workload, 10.0),
        };
        // From the rounded grades, so a reader can recompute the score from what is shown.
        let weighted = w.travel_time * breakdown.travel_time
            + w.earliest_start * breakdown.earliest_start
            + w.skill_fit * breakdown.skill_fit
            + w.rating * breakdown.rating
            + w.workload * breakdown.workload;
        let score = round_to(weighted / w.total(), 100.0);
        Draft {
            contractor_id: ix.ids[i],
            score,
            breakdown,
            start: slot.start,
            end: slot.start + self.duration,
            travel: Travel {
                distance_km: round_to(slot.travel.distance_km, 10.0),
                minutes: slot.travel.minutes,
                source: slot.travel.source,
                from: slot.from,
            },
        }
    }
}

/// A scored candidate before ranking.
struct Draft {
    contractor_id: ContractorId,
    score: f64,
    breakdown: Breakdown,
    start: i64,
    end: i64,
    travel: Travel,
}

impl Draft {
    /// Best first: score, then shorter travel, then earlier start, then contractor id — a total
    /// order, so the ranking never depends on input order (DOMAIN.md tie-break, plus start).
    fn ranking(a: &Draft, b: &Draft) -> Ordering {
        b.score
            .total_cmp(&a.score)
            .then(a.travel.minutes.cmp(&b.travel.minutes))
            .then(a.start.cmp(&b.start))
            .then(a.contractor_id.cmp(&b.contractor_id))
    }

    fn into_candidate(self, rank: u32) -> Candidate {
        Candidate {
            rank,
            contractor_id: self.contractor_id,
            score: self.score,
            breakdown: self.breakdown,
            start_utc: from_secs(self.start),
            end_utc: from_secs(self.end),
            travel: self.travel,
        }
    }
}

/// The trip into each of a contractor's `bookings` (in their order), by the rule the engine
/// plans around them with: from the previous booked job when it ends in the same working
/// stretch with no time off after it, otherwise from home. Calendars (the schedule board) draw
/// travel with it, so what they show is what recommendations assumed.
pub fn trips_into_bookings<E: TravelEstimator + ?Sized>(
    contractor: &Contractor,
    time_zone: chrono_tz::Tz,
    bookings: &[Booking],
    travel: &E,
) -> Vec<Travel> {
    let mut order: Vec<usize> = (0..bookings.len()).collect();
    order.sort_by_key(|&i| (bookings[i].start_utc, bookings[i].end_utc));
    let span = bookings
        .iter()
        .map(|b| (b.start_utc, b.end_utc))
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
    let stretches = span.map_or_else(Vec::new, |(from, to)| {
        crate::time::working_intervals(time_zone, &contractor.working_hours, from, to)
    });
    let mut trips = vec![None; bookings.len()];
    let mut previous: Option<&Booking> = None;
    for i in order {
        let booking = &bookings[i];
        let stretch_start = stretches
            .iter()
            .find(|(s, e)| *s <= booking.start_utc && booking.start_utc < *e)
            .map(|(s, _)| *s);
        // Time off ending after the previous job and before this one sends the contractor home.
        let came_from_job = previous.filter(|p| {
            stretch_start.is_some_and(|s| p.end_utc > s)
                && p.end_utc <= booking.start_utc
                && !contractor
                    .time_off
                    .iter()
                    .any(|t| t.end_utc > p.end_utc && t.end_utc <= booking.start_utc)
        });
        let (estimate, from) = match came_from_job {
            Some(p) => (
                travel.estimate(p.location, booking.location),
                TravelOrigin::PreviousJob,
            ),
            None => (
                travel.estimate(contractor.location, booking.location),
                TravelOrigin::Home,
            ),
        };
        trips[i] = Some(Travel {
            distance_km: round_to(estimate.distance_km, 10.0),
            minutes: estimate.minutes,
            source: estimate.source,
            from,
        });
        if previous.is_none_or(|p| booking.end_utc > p.end_utc) {
            previous = Some(booking);
        }
    }
    trips.into_iter().flatten().collect()
}

fn round_to(x: f64, scale: f64) -> f64 {
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_with_code_and_message() {
        let reasons = [
            ExclusionReason::Inactive,
            ExclusionReason::WrongRegion {
                region: Some("east".into()),
            },
            ExclusionReason::WrongRegion { region: None },
            ExclusionReason::MissingSkill {
                skill: "hvac".into(),
                required_level: 3,
                actual_level: None,
            },
            ExclusionReason::TooFar {
                distance_km: 51.2,
                max_km: 40.0,
            },
            ExclusionReason::NoSlot {
                cause: NoSlotCause::Busy,
            },
            ExclusionReason::NoSlot {
                cause: NoSlotCause::NoWorkingHours,
            },
            ExclusionReason::MaxJobsPerDay {
                max_jobs_per_day: 6,
            },
        ];
        for reason in reasons {
            let e = Exclusion {
                contractor_id: ContractorId::from_u128(7),
                reason,
            };
            let json = serde_json::to_value(&e).expect("serialize");
            assert_eq!(json["reason"], e.reason.code());
            assert_eq!(json["message"], e.message());
            assert!(e.message().ends_with('.'), "{}", e.message());
            let back: Exclusion = serde_json::from_value(json).expect("deserialize");
            assert_eq!(back, e);
        }
    }

    #[test]
    fn wire_examples() {
        let e = Exclusion {
            contractor_id: ContractorId::from_u128(7),
            reason: ExclusionReason::NoSlot {
                cause: NoSlotCause::Busy,
            },
        };
        let json = serde_json::to_string(&e).expect("serialize");
        assert!(
            json.starts_with(
                r#"{"contractorId":"00000000-0000-0000-0000-000000000007","reason":"noSlot","cause":"busy","message":""#
            ),
            "{json}"
        );
        let e = Exclusion {
            contractor_id: ContractorId::from_u128(7),
            reason: ExclusionReason::Inactive,
        };
        assert_eq!(
            serde_json::to_string(&e).expect("serialize"),
            r#"{"contractorId":"00000000-0000-0000-0000-000000000007","reason":"inactive","message":"The contractor is marked inactive."}"#
        );
    }
}
