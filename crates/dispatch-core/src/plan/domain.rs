//! The planner on the domain: a region's contractors, bookings and open jobs over a period →
//! the routing model → the search → a [`Plan`] of visits the engine's own check accepts.
//!
//! # From calendars to routes
//!
//! A contractor's free time is what the recommendation engine calls *gaps*: inside each
//! working stretch (weekly hours in the region's zone, DST-correct), the time between bookings
//! and time off. Each gap of the period becomes one route: it starts where the contractor
//! comes from (home at the stretch's start or after time off, else the booked job just
//! before), no earlier than the gap, the period and `now`; it ends by the gap's end, and — when
//! the gap ends at a booked job — early enough to drive there. Visits on a route are
//! consecutive, so travel between them is the engine's trip between the two jobs. A route's
//! visits count against the contractor's `maxJobsPerDay` on the local day each starts on, less
//! the jobs already booked that day (the engine's `day_load`), shared with the other gaps of
//! that day.
//!
//! A job may go on a route only if the engine's static rules (active, region, skills and
//! levels, `maxTravelKm` from home) admit the contractor, and it fits the route alone.
//!
//! # Objective
//!
//! Travel is counted as the engine counts it, trip by trip into each job, plus the change of
//! the trip into the booked job a gap ends at: so a plan's travel is exactly the driving it
//! adds to the calendars. See the [module docs](super) for the order of the terms.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::model::{FAR, Model, NO_ROUTE, RouteSpec, Time};
use super::{Budget, Control, search};
use crate::config::ScoringConfig;
use crate::engine::{Calendars, Ctx, ShiftCache, Step};
use crate::ids::{ContractorId, JobId, RegionId};
use crate::index::RegionIndex;
use crate::model::{GeoPoint, Job, Priority};
use crate::time::{from_secs, secs_ceil};
use crate::travel::{StraightLine, TravelEstimator};
use crate::validate::ValidationError;

/// The most jobs one plan takes: the travel matrix between them is held in memory
/// (4 bytes per pair, ~100 MB at this size).
pub const MAX_PLAN_JOBS: usize = 5_000;

/// What to plan.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The region's contractors and their live bookings (which stay where they are).
    pub index: &'a RegionIndex,
    /// The jobs to plan: open jobs of the index's region.
    pub jobs: &'a [Job],
    /// Start of the planning period: no visit starts before it.
    pub from: DateTime<Utc>,
    /// End of the planning period: every visit ends by it.
    pub to: DateTime<Utc>,
    /// The present: no visit starts before the contractor could get there from now.
    pub now: DateTime<Utc>,
    /// Limits (travel estimate, `maxTravelKm`) and the weights of the soft terms.
    pub config: &'a ScoringConfig,
    /// Seed of the search: same inputs, seed and iteration budget, same plan.
    pub seed: u64,
    /// How much search.
    pub budget: Budget,
    /// The optional capacity dimension (absent: no capacity rule).
    pub capacity: Option<&'a Capacity>,
}

/// A capacity dimension, for problems that have one (a van's load): each of a contractor's
/// routes — a free gap between two fixed places — carries at most the contractor's capacity
/// of the jobs' demand. Contractors without an entry are unlimited; jobs without one demand 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Capacity {
    /// Capacity per contractor.
    pub contractors: HashMap<ContractorId, u32>,
    /// Demand per job.
    pub jobs: HashMap<JobId, u32>,
}

/// Why a plan could not be made at all. Each is the caller's to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// A job is of another region than the index; plan each region with its own index.
    #[error("job {job_id} is in region {job}, but the index is of region {index}")]
    RegionMismatch {
        /// The job.
        job_id: JobId,
        /// Its region.
        job: RegionId,
        /// The index's region.
        index: RegionId,
    },
    /// A job fails validation.
    #[error("job {job_id} is invalid: {error}")]
    InvalidJob {
        /// The job.
        job_id: JobId,
        /// What is wrong.
        error: ValidationError,
    },
    /// The configuration fails validation.
    #[error("scoring configuration is invalid: {0}")]
    InvalidConfig(ValidationError),
    /// A job is listed twice; list each once.
    #[error("job {0} is listed twice")]
    DuplicateJob(JobId),
    /// The period ends before it starts.
    #[error("the planning period ends before it starts")]
    EmptyPeriod,
    /// Too many jobs for one plan; split the period or the region.
    #[error("{jobs} jobs in one plan, at most {max}; plan a shorter period")]
    TooManyJobs {
        /// Jobs given.
        jobs: usize,
        /// The most allowed ([`MAX_PLAN_JOBS`]).
        max: usize,
    },
}

/// A plan: the visits per contractor, the jobs left out and why, and its figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Per contractor with at least one visit, in contractor-id order.
    pub routes: Vec<PlannedRoute>,
    /// The jobs not planned, in the order given.
    pub unassigned: Vec<Unplanned>,
    /// Its figures.
    pub kpis: Kpis,
    /// Search iterations run.
    pub iterations: u64,
    /// Time used, by the caller's clock.
    #[serde(with = "millis")]
    pub elapsed: Duration,
    /// True when the caller stopped the search before its budget was spent.
    pub cancelled: bool,
}

/// A contractor's planned visits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlannedRoute {
    /// The contractor.
    pub contractor_id: ContractorId,
    /// In time order.
    pub visits: Vec<PlannedVisit>,
}

/// One planned visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlannedVisit {
    /// The job.
    pub job_id: JobId,
    /// On-site start.
    pub start_utc: DateTime<Utc>,
    /// On-site end.
    pub end_utc: DateTime<Utc>,
    /// Driving minutes into the visit, from the previous place (a visit, a booked job or home).
    pub travel_minutes: u32,
    /// Road km of that trip (one decimal).
    pub travel_km: f64,
}

/// A job the plan leaves out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Unplanned {
    /// The job.
    pub job_id: JobId,
    /// Why, as a stable code.
    pub reason: UnplannedReason,
    /// Why, for people.
    pub detail: String,
}

/// Why a job is left out of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum UnplannedReason {
    /// Its window cannot hold it inside the period from now on.
    OutsideWindow,
    /// Every contractor fails a hard rule that needs no calendar (inactive, region, skills,
    /// distance from home).
    NoEligibleContractor,
    /// Contractors qualify, but none has a free gap in the period the job fits alone.
    NoSlot,
    /// It fits alone, but not alongside the jobs the plan preferred (more urgent, or together
    /// less driving).
    Outcompeted,
}

/// A plan's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Kpis {
    /// Jobs planned.
    pub scheduled: usize,
    /// Jobs planned per priority.
    pub scheduled_by_priority: ByPriority,
    /// Driving the plan adds to the calendars, minutes: the trips into the visits, plus the
    /// change of the trip into each booked job a visit now precedes.
    pub travel_minutes: i64,
    /// The same in road km (one decimal).
    pub travel_km: f64,
    /// Share of the free working time in the period (of contractors who can take a job) that
    /// the plan fills with visits and the driving to them, 0…1.
    pub utilisation: f64,
}

/// A count per priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ByPriority {
    /// Emergencies.
    pub emergency: usize,
    /// High.
    pub high: usize,
    /// Normal.
    pub normal: usize,
    /// Low.
    pub low: usize,
}

impl ByPriority {
    /// Adds one of `priority`.
    pub fn add(&mut self, priority: Priority) {
        *match priority {
            Priority::Emergency => &mut self.emergency,
            Priority::High => &mut self.high,
            Priority::Normal => &mut self.normal,
            Priority::Low => &mut self.low,
        } += 1;
    }

    /// The counts most urgent first, for lexicographic comparison: a plan with more
    /// emergencies is better whatever the rest, and so on down.
    pub fn lexicographic(&self) -> [usize; 4] {
        [self.emergency, self.high, self.normal, self.low]
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u128::from(u64::MAX)) as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Plans with the configuration's straight-line travel estimate.
pub fn plan(input: &PlanInput<'_>, control: &mut dyn Control) -> Result<Plan, PlanError> {
    plan_with(
        input,
        &StraightLine::from_limits(&input.config.limits),
        control,
    )
}

/// [`plan`] with another travel source — the one the engine is given for the same region, so
/// that the engine's check accepts the plan.
pub fn plan_with<E: TravelEstimator + ?Sized>(
    input: &PlanInput<'_>,
    travel: &E,
    control: &mut dyn Control,
) -> Result<Plan, PlanError> {
    let built = Builder::new(input, travel)?.build();
    let outcome = search::solve(&built.model, input.seed, &input.budget, control);
    Ok(built.plan(input, travel, &outcome))
}

/// What the model was built from, to turn the search's answer back into a plan.
struct Built {
    model: Model,
    /// Per route: the contractor (dense index) and its start and end places.
    routes: Vec<RouteOrigin>,
    /// Per job given: why it cannot be planned at all, if so.
    blocked: Vec<Option<(UnplannedReason, String)>>,
    /// Per job given: its index in the model, if it is in it.
    model_job: Vec<u32>,
    /// Model job → job given.
    given: Vec<usize>,
}

struct RouteOrigin {
    contractor: u32,
    from: GeoPoint,
    to: Option<GeoPoint>,
}

struct Builder<'a, 'e, E: ?Sized> {
    input: &'a PlanInput<'a>,
    travel: &'e E,
    from: i64,
    to: i64,
    now: i64,
}

impl<'a, 'e, E: TravelEstimator + ?Sized> Builder<'a, 'e, E> {
    fn new(input: &'a PlanInput<'a>, travel: &'e E) -> Result<Self, PlanError> {
        let index = input.index;
        input.config.validate().map_err(PlanError::InvalidConfig)?;
        if input.to <= input.from {
            return Err(PlanError::EmptyPeriod);
        }
        if input.jobs.len() > MAX_PLAN_JOBS {
            return Err(PlanError::TooManyJobs {
                jobs: input.jobs.len(),
                max: MAX_PLAN_JOBS,
            });
        }
        let mut seen = std::collections::HashSet::with_capacity(input.jobs.len());
        for job in input.jobs {
            if job.region != index.region.id {
                return Err(PlanError::RegionMismatch {
                    job_id: job.id,
                    job: job.region.clone(),
                    index: index.region.id.clone(),
                });
            }
            job.validate().map_err(|error| PlanError::InvalidJob {
                job_id: job.id,
                error,
            })?;
            if !seen.insert(job.id) {
                return Err(PlanError::DuplicateJob(job.id));
            }
        }
        Ok(Self {
            input,
            travel,
            from: input.from.timestamp(),
            to: secs_ceil(input.to),
            now: input.now.timestamp(),
        })
    }

    fn seconds(&self, a: GeoPoint, b: GeoPoint) -> i32 {
        let minutes = i64::from(self.travel.estimate(a, b).minutes);
        (minutes * 60).min(i64::from(i32::MAX / 4)) as i32
    }

    fn build(&self) -> Built {
        let input = self.input;
        let index = input.index;
        let limits = &input.config.limits;
        let cals = Calendars::new(index, (self.from, self.to));
        let mut shift_cache = ShiftCache::new(index.patterns.rules.len());

        // 1. Routes: the free gaps of every contractor who could take anything.
        let mut specs: Vec<RouteSpec> = Vec::new();
        let mut origins: Vec<RouteOrigin> = Vec::new();
        let mut by_contractor: Vec<Vec<u32>> = vec![Vec::new(); index.len()];
        let mut buckets: BTreeMap<(u32, i64), u32> = BTreeMap::new();
        let mut bucket_cap: Vec<i64> = Vec::new();
        let earliest = self.from.max(self.now);
        let min_duration = input
            .jobs
            .iter()
            .map(|j| i64::from(j.duration_minutes) * 60)
            .min()
            .unwrap_or(0);
        for &idx in &index.order {
            let i = idx as usize;
            if !index.active[i] || !index.in_region[i] {
                continue;
            }
            let cal = &index.calendars[i];
            let max_jobs = i64::from(index.max_jobs[i]);
            let mut gaps: Vec<(i64, i64, Option<GeoPoint>, Option<GeoPoint>)> = Vec::new();
            for &(s, e) in cals.shifts(idx, &mut shift_cache) {
                if e <= earliest || s >= self.to {
                    continue;
                }
                cals.walk_gaps(cal, (s, e), cal.first_reaching(s), 0, |gap| {
                    gaps.push((gap.start, gap.end, gap.origin, gap.dest));
                    Step::<()>::Next
                });
            }
            for (start, end, origin, dest) in gaps {
                let depart = start.max(earliest);
                let finish_by = end.min(self.to);
                if finish_by - depart < min_duration.max(1) {
                    continue;
                }
                // The local days the route's visits may start on, each a bucket shared with
                // the contractor's other gaps of that day.
                let mut days = Vec::new();
                let mut t = depart;
                while t < finish_by {
                    let (booked, next_midnight) = cals.day_load(cal, t, 0, cal.first_reaching(t));
                    let day = cals.clock.local_day(t);
                    let b = *buckets.entry((idx, day)).or_insert_with(|| {
                        bucket_cap.push((max_jobs - i64::from(booked)).max(0));
                        (bucket_cap.len() - 1) as u32
                    });
                    days.push((if days.is_empty() { Time::MIN } else { t }, b));
                    t = next_midnight.max(t + 1);
                }
                by_contractor[i].push(specs.len() as u32);
                let class = specs.len() as u32;
                specs.push(RouteSpec {
                    start: 0,
                    depart,
                    end: 0,
                    end_by: if dest.is_some() { end } else { FAR },
                    finish_by,
                    capacity: input
                        .capacity
                        .and_then(|c| c.contractors.get(&index.ids[i]))
                        .map_or(i64::MAX / 4, |&c| i64::from(c)),
                    class,
                    days,
                });
                origins.push(RouteOrigin {
                    contractor: idx,
                    from: origin.unwrap_or(index.home[i]),
                    to: dest,
                });
            }
        }

        // 2. Jobs: the static rules decide who may take each; the routes it fits alone
        // become its candidates.
        let mut blocked: Vec<Option<(UnplannedReason, String)>> = vec![None; input.jobs.len()];
        let mut model_job = vec![NO_ROUTE; input.jobs.len()];
        let mut given = Vec::new();
        let mut eligible: Vec<Vec<u32>> = Vec::new();
        for (g, job) in input.jobs.iter().enumerate() {
            let duration = i64::from(job.duration_minutes) * 60;
            let early = job.window_start_utc.timestamp().max(earliest);
            let late = job.window_end_utc.timestamp().min(self.to) - duration;
            let ctx = Ctx::for_job(index, job, limits, self.travel, self.now);
            let Some(ctx) = ctx.filter(|_| late >= early) else {
                blocked[g] = Some((
                    UnplannedReason::OutsideWindow,
                    "Its window cannot hold it inside the planning period from now on.".into(),
                ));
                continue;
            };
            let mut ok = Vec::new();
            let mut reasons: BTreeMap<&'static str, (usize, String)> = BTreeMap::new();
            for &idx in &index.order {
                match ctx.static_rules(idx) {
                    Ok(_) => ok.push(idx),
                    Err(reason) => {
                        let entry = reasons
                            .entry(reason.code())
                            .or_insert_with(|| (0, reason.to_string()));
                        entry.0 += 1;
                    }
                }
            }
            if ok.is_empty() {
                let counts = reasons
                    .iter()
                    .map(|(code, (n, _))| format!("{n} {code}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let example = reasons
                    .values()
                    .max_by_key(|(n, _)| *n)
                    .map_or(String::new(), |(_, e)| format!(" Most often: {e}"));
                blocked[g] = Some((
                    UnplannedReason::NoEligibleContractor,
                    format!("No contractor passes the hard rules ({counts}).{example}"),
                ));
                continue;
            }
            model_job[g] = given.len() as u32;
            given.push(g);
            eligible.push(ok);
        }

        // 3. Locations: the jobs, then every route's start and end place, then "nowhere".
        let n = given.len();
        let mut points: Vec<GeoPoint> = given.iter().map(|&g| input.jobs[g].location).collect();
        let mut point_id: HashMap<(u64, u64), u32> = HashMap::new();
        let mut place = |p: GeoPoint, points: &mut Vec<GeoPoint>| -> u32 {
            *point_id
                .entry((p.lat.to_bits(), p.lon.to_bits()))
                .or_insert_with(|| {
                    points.push(p);
                    (points.len() - 1) as u32
                })
        };
        let mut ends: Vec<Option<u32>> = Vec::with_capacity(specs.len());
        for (spec, o) in specs.iter_mut().zip(&origins) {
            spec.start = place(o.from, &mut points);
            ends.push(o.to.map(|p| place(p, &mut points)));
        }
        let n_loc = points.len() + 1;
        let nowhere = (n_loc - 1) as u32;
        for (spec, end) in specs.iter_mut().zip(&ends) {
            spec.end = end.unwrap_or(nowhere);
        }
        let mut time = vec![0i32; n_loc * n_loc];
        for a in 0..points.len() {
            // Trips between places that are not jobs are never driven, except a route's own
            // start → end (the trip a gap replaces), filled below.
            let cols = if a < n { points.len() } else { n };
            for b in 0..cols {
                if a != b {
                    time[a * n_loc + b] = self.seconds(points[a], points[b]);
                }
            }
        }
        for spec in &specs {
            if spec.end != nowhere {
                let (a, b) = (spec.start as usize, spec.end as usize);
                time[a * n_loc + b] = self.seconds(points[a], points[b]);
            }
        }

        // 4. The model, with each job's candidate routes: those it fits alone.
        let w = &input.config.weights;
        let travel_weight = w.travel_time.max(1e-6);
        let mut model = Model {
            loc: (0..n as u32).collect(),
            service: Vec::with_capacity(n),
            early: Vec::with_capacity(n),
            late: Vec::with_capacity(n),
            demand: Vec::with_capacity(n),
            level: Vec::with_capacity(n),
            candidates: Vec::with_capacity(n),
            routes: specs,
            n_loc,
            time,
            bucket_cap,
            // Travel comes before slack and balance (the order), so both are small:
            // at equal weights an hour later inside the window weighs as much as 6 seconds
            // more driving, and the k-th job of a day (2k − 1) seconds. They break near-ties;
            // stronger, they cost ~10 % more driving on the demo region (measured).
            delay_rate: (1024.0 * w.earliest_start / travel_weight / 600.0).round() as i64,
            balance_rate: (w.workload / travel_weight)
                .round()
                .max(if w.workload > 0.0 { 1.0 } else { 0.0 }) as i64,
            neighbours: Vec::new(),
            remoteness: Vec::with_capacity(n),
        };
        for (m, &g) in given.iter().enumerate() {
            let job = &input.jobs[g];
            let duration = i64::from(job.duration_minutes) * 60;
            model.service.push(duration);
            // From the earliest possible start, as the engine's `earliestStart` factor counts.
            let earliest_start = job.window_start_utc.timestamp().max(earliest);
            model.early.push(earliest_start);
            model
                .late
                .push(job.window_end_utc.timestamp().min(self.to) - duration);
            model.demand.push(
                input
                    .capacity
                    .and_then(|c| c.jobs.get(&job.id))
                    .map_or(0, |&d| i64::from(d)),
            );
            model.level.push(job.priority as u8);
            let mut candidates = Vec::new();
            for &idx in &eligible[m] {
                for &r in &by_contractor[idx as usize] {
                    if fits_alone(&model, m as u32, &model.routes[r as usize]) {
                        candidates.push(r);
                    }
                }
            }
            candidates.sort_unstable();
            // Fewest options first, for the "far first" insertion order.
            model.remoteness.push(-(candidates.len() as i64));
            if candidates.is_empty() {
                blocked[g] = Some((
                    UnplannedReason::NoSlot,
                    format!(
                        "{} contractors qualify, but none has a free gap in the period it fits \
                         (working hours, bookings, time off, travel, maxJobsPerDay).",
                        eligible[m].len()
                    ),
                ));
            }
            model.candidates.push(candidates);
        }
        model.finish();
        Built {
            model,
            routes: origins,
            blocked,
            model_job,
            given,
        }
    }
}

/// Does job `j` fit route `r` with nothing else on it?
fn fits_alone(model: &Model, j: u32, r: &RouteSpec) -> bool {
    let ju = j as usize;
    let lj = model.loc[ju];
    let start = (r.depart + model.t(r.start, lj)).max(model.early[ju]);
    start <= model.late_on(j, r)
        && start + model.service[ju] + model.t(lj, r.end) <= r.end_by
        && model.demand[ju] <= r.capacity
        && r.bucket_at(start)
            .is_none_or(|b| model.bucket_cap[b as usize] > 0)
}

impl Built {
    fn plan<E: TravelEstimator + ?Sized>(
        &self,
        input: &PlanInput<'_>,
        travel: &E,
        outcome: &search::Outcome,
    ) -> Plan {
        let model = &self.model;
        let index = input.index;
        let mut per_contractor: BTreeMap<ContractorId, Vec<PlannedVisit>> = BTreeMap::new();
        for (r, jobs) in outcome.routes.iter().enumerate() {
            if jobs.is_empty() {
                continue;
            }
            let spec = &model.routes[r];
            let origin = &self.routes[r];
            let visits = per_contractor
                .entry(index.ids[origin.contractor as usize])
                .or_default();
            // The schedule the search evaluated: each visit as early as it can start.
            let mut t = spec.depart;
            let mut at = spec.start;
            let mut at_point = origin.from;
            for &j in jobs {
                let ju = j as usize;
                let job = &input.jobs[self.given[ju]];
                let start = (t + model.t(at, model.loc[ju])).max(model.early[ju]);
                let end = start + model.service[ju];
                let estimate = travel.estimate(at_point, job.location);
                visits.push(PlannedVisit {
                    job_id: job.id,
                    start_utc: from_secs(start),
                    end_utc: from_secs(end),
                    travel_minutes: estimate.minutes,
                    travel_km: (estimate.distance_km * 10.0).round() / 10.0,
                });
                t = end;
                at = model.loc[ju];
                at_point = job.location;
            }
        }
        let routes: Vec<PlannedRoute> = per_contractor
            .into_iter()
            .map(|(contractor_id, mut visits)| {
                visits.sort_by_key(|v| v.start_utc);
                PlannedRoute {
                    contractor_id,
                    visits,
                }
            })
            .collect();
        let mut served = vec![false; model.jobs()];
        for jobs in &outcome.routes {
            for &j in jobs {
                served[j as usize] = true;
            }
        }
        let unassigned = input
            .jobs
            .iter()
            .enumerate()
            .filter_map(|(g, job)| {
                let (reason, detail) = match &self.blocked[g] {
                    Some(why) => why.clone(),
                    None if served[self.model_job[g] as usize] => return None,
                    None => (
                        UnplannedReason::Outcompeted,
                        "It fits alone, but not alongside the jobs the plan preferred (more \
                         urgent ones, or together less driving)."
                            .into(),
                    ),
                };
                Some(Unplanned {
                    job_id: job.id,
                    reason,
                    detail,
                })
            })
            .collect();
        Plan {
            kpis: evaluate_with(input, travel, &routes),
            routes,
            unassigned,
            iterations: outcome.iterations,
            elapsed: outcome.elapsed,
            cancelled: outcome.cancelled,
        }
    }
}

/// The figures of any set of new visits on the calendars of `input` — a plan's, or those of
/// jobs assigned one at a time — measured one way: travel is the driving the visits add, trip
/// by trip as the engine counts it (from the previous place in the same working stretch, else
/// home), including the changed trip into the booked job a gap ends at; utilisation is the
/// share of the period's free working time (of contractors who could take a job) filled with
/// visits and the trips into them. Visits outside any free gap add nothing to travel.
pub fn evaluate(input: &PlanInput<'_>, routes: &[PlannedRoute]) -> Kpis {
    evaluate_with(
        input,
        &StraightLine::from_limits(&input.config.limits),
        routes,
    )
}

/// [`evaluate`] with another travel source.
pub fn evaluate_with<E: TravelEstimator + ?Sized>(
    input: &PlanInput<'_>,
    travel: &E,
    routes: &[PlannedRoute],
) -> Kpis {
    let index = input.index;
    let (from, to, now) = (
        input.from.timestamp(),
        secs_ceil(input.to),
        input.now.timestamp(),
    );
    let earliest = from.max(now);
    let min_duration = input
        .jobs
        .iter()
        .map(|j| i64::from(j.duration_minutes) * 60)
        .min()
        .unwrap_or(0)
        .max(1);
    let cals = Calendars::new(index, (from, to));
    let mut cache = ShiftCache::new(index.patterns.rules.len());
    let seconds = |a: GeoPoint, b: GeoPoint| i64::from(travel.estimate(a, b).minutes) * 60;
    let jobs: HashMap<JobId, &Job> = input.jobs.iter().map(|j| (j.id, j)).collect();
    let mut planned: HashMap<u32, Vec<&PlannedVisit>> = HashMap::new();
    let mut kpis = Kpis {
        scheduled: 0,
        scheduled_by_priority: ByPriority::default(),
        travel_minutes: 0,
        travel_km: 0.0,
        utilisation: 0.0,
    };
    for route in routes {
        let Some(idx) = index.idx_of(route.contractor_id) else {
            continue;
        };
        for v in &route.visits {
            if let Some(job) = jobs.get(&v.job_id) {
                kpis.scheduled += 1;
                kpis.scheduled_by_priority.add(job.priority);
                planned.entry(idx).or_default().push(v);
            }
        }
    }
    let (mut travel_seconds, mut km, mut busy, mut free) = (0i64, 0.0f64, 0i64, 0i64);
    for &idx in &index.order {
        let i = idx as usize;
        if !index.active[i] || !index.in_region[i] {
            continue;
        }
        let mut visits = planned.remove(&idx).unwrap_or_default();
        visits.sort_by_key(|v| v.start_utc);
        let cal = &index.calendars[i];
        let mut gaps = Vec::new();
        for &(s, e) in cals.shifts(idx, &mut cache) {
            if e <= earliest || s >= to {
                continue;
            }
            cals.walk_gaps(cal, (s, e), cal.first_reaching(s), 0, |gap| {
                gaps.push((gap.start, gap.end, gap.origin, gap.dest));
                Step::<()>::Next
            });
        }
        for (start, end, origin, dest) in gaps {
            if end.min(to) - start.max(earliest) >= min_duration {
                free += end.min(to) - start.max(earliest);
            }
            let mut at = origin.unwrap_or(index.home[i]);
            let first = at;
            let mut any = false;
            for v in visits
                .iter()
                .filter(|v| v.start_utc.timestamp() >= start && secs_ceil(v.end_utc) <= end)
            {
                let Some(job) = jobs.get(&v.job_id) else {
                    continue;
                };
                let trip = seconds(at, job.location);
                travel_seconds += trip;
                km += travel.estimate(at, job.location).distance_km;
                busy += trip + (secs_ceil(v.end_utc) - v.start_utc.timestamp());
                at = job.location;
                any = true;
            }
            if let (true, Some(d)) = (any, dest) {
                travel_seconds += seconds(at, d) - seconds(first, d);
                km += travel.estimate(at, d).distance_km - travel.estimate(first, d).distance_km;
            }
        }
    }
    kpis.travel_minutes = travel_seconds / 60;
    kpis.travel_km = (km * 10.0).round() / 10.0;
    kpis.utilisation = if free > 0 {
        (busy as f64 / free as f64 * 1000.0).round() / 1000.0
    } else {
        0.0
    };
    kpis
}
