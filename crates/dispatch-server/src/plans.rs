//! Planning a region's backlog in the background, and applying a plan.
//!
//! `POST /api/v1/plans` stores a `running` plan and hands it to the [`Planner`]. Plans search
//! on threads of their own — at most `DISPATCH_PLAN_WORKERS` at once, the rest wait their turn —
//! so a plan never takes the async threads or the recommendation worker's place: interactive
//! recommendations keep their share of the machine however many plans are asked for. While a
//! search runs, its node writes its progress to the store every [`HEARTBEAT`]; that write is
//! also how the search hears it was cancelled (from any node). A plan whose node dies stops
//! being written, and [`sweep`] (on every node, from start-up on) marks it `failed` once its
//! heartbeat is [`STALE_AFTER`] old, so no plan stays `running` forever.
//!
//! Applying a plan ([`apply`]) books each planned visit through the one assignment step
//! ([`crate::assignment::assign`]), re-validated against the region as it is now, with an
//! audit record naming the plan; what no longer holds is reported as a conflict. The store's
//! claim makes it run once: a second apply answers the first one's result.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use dispatch_core::plan::{self, Budget, Control, PlanError, PlanInput, PlannedVisit, Progress};
use dispatch_core::{
    Assignment, AssignmentSource, Booking, ContractorId, Job, JobStatus, PlanId, Region,
    RegionIndex, ScoringConfig,
};
use dispatch_store::{
    AppliedVisit, AssignmentConflict, PlanApplication, PlanConflict, PlanProgress, PlanRecord,
    PlanStatus, StoreError,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, oneshot, watch};

use crate::assignment::{AssignError, Basis, Proposal, assign};
use crate::error::ApiError;
use crate::planning::{RegionLoadError, period_index};
use crate::state::AppState;
use crate::telemetry::{self, Origin};

/// How often a running search writes its progress (its heartbeat).
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A running plan whose heartbeat is this old has lost its node: the sweep fails it.
pub const STALE_AFTER: Duration = Duration::from_secs(15);
/// How often every node sweeps for such plans.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// An apply claimed this long ago without finishing was left by a dead node: taken over.
pub const APPLY_STALE_AFTER: Duration = Duration::from_secs(120);
/// Plans that may wait for a planning worker on one node, beyond those running; more is 503.
pub const MAX_WAITING_PLANS: usize = 16;
/// How long a shutdown waits for stopped searches to store their end.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Why a running search should stop.
const GO: u8 = 0;
const CANCELLED: u8 = 1;
const SHUTDOWN: u8 = 2;

/// Runs plans on threads of their own, a bounded number at once.
#[derive(Debug)]
pub struct Planner {
    /// One permit per planning worker; given out by [`Planner::start_workers`].
    workers: Arc<Semaphore>,
    /// One permit per plan this node holds (running or waiting); none left is a 503.
    admission: Arc<Semaphore>,
    /// Why each of this node's plans should stop, by plan.
    stops: Mutex<HashMap<PlanId, Arc<AtomicU8>>>,
}

impl Default for Planner {
    fn default() -> Self {
        Self {
            // No worker until the service runs: plans asked for before then wait.
            workers: Arc::new(Semaphore::new(0)),
            admission: Arc::new(Semaphore::new(MAX_WAITING_PLANS)),
            stops: Mutex::default(),
        }
    }
}

/// A place for one more plan on this node, taken before the plan is stored (so a full node
/// leaves nothing behind).
#[derive(Debug)]
pub struct Admission(
    /// Held until the plan's end is stored.
    #[allow(dead_code)]
    OwnedSemaphorePermit,
    /// The caller's place among its share of plans (`fairness::Shares`), held as long.
    #[allow(dead_code)]
    Option<crate::fairness::Share>,
);

/// Everything a search needs, read when the plan was asked for.
#[derive(Debug)]
pub struct PlanJob {
    /// The plan as stored (`running`).
    pub record: PlanRecord,
    /// Its region.
    pub region: Region,
    /// The jobs to plan.
    pub jobs: Vec<Job>,
    /// The bookings of some of those jobs that may move: off the calendars while planning.
    pub movable: Vec<Assignment>,
    /// The scoring configuration in force (its version is the record's).
    pub config: ScoringConfig,
}

impl Planner {
    /// Lets `workers` plans search at once (called once, when the service runs).
    pub fn start_workers(&self, workers: usize) {
        self.workers.add_permits(workers.max(1));
        self.admission.add_permits(workers.max(1));
    }

    /// A place for one more plan, or 503 when this node holds as many as it may; `share` is
    /// the caller's place among its own share, kept with the plan.
    pub fn admit(&self, share: Option<crate::fairness::Share>) -> Result<Admission, ApiError> {
        match Arc::clone(&self.admission).try_acquire_owned() {
            Ok(permit) => Ok(Admission(permit, share)),
            Err(TryAcquireError::NoPermits) => Err(ApiError::Unavailable(
                "too many plans are running on this node; retry shortly".to_owned(),
            )),
            Err(TryAcquireError::Closed) => Err(ApiError::Unavailable(
                "the service is shutting down".to_owned(),
            )),
        }
    }

    /// Searches `job` in the background, in its turn; its end is stored in the plan.
    pub fn start(self: &Arc<Self>, state: AppState, job: PlanJob, admission: Admission) {
        let stop = Arc::new(AtomicU8::new(GO));
        self.stops_mut()
            .insert(job.record.plan_id, Arc::clone(&stop));
        let planner = Arc::clone(self);
        tokio::spawn(async move {
            let plan_id = job.record.plan_id;
            let started = Instant::now();
            let record = match Arc::clone(&planner.workers).acquire_owned().await {
                Ok(worker) => {
                    let record = search(&state, job, &stop).await;
                    drop(worker);
                    record
                }
                Err(_) => ended(
                    job.record,
                    Err("the service stopped before planning".into()),
                ),
            };
            let outcome = record.status.as_str();
            if let Err(error) = state.store.finish_plan(&record).await {
                tracing::error!(%plan_id, %error, "could not store a plan's end");
            }
            metrics::counter!(telemetry::PLANS, "outcome" => outcome).increment(1);
            metrics::histogram!(telemetry::PLAN_SECONDS).record(started.elapsed().as_secs_f64());
            planner.stops_mut().remove(&plan_id);
            drop(admission);
        });
    }

    /// Stops this node's search of `plan_id` at once (the store says `cancelled` already;
    /// another node's search hears it at its next heartbeat).
    pub fn cancel(&self, plan_id: PlanId) {
        if let Some(stop) = self.stops_mut().get(&plan_id) {
            stop.store(CANCELLED, Ordering::Relaxed);
        }
    }

    /// Stops every search (a shutdown): each stores itself `failed`, within a bounded wait.
    pub async fn stop_all(&self) {
        self.workers.close();
        for stop in self.stops_mut().values() {
            stop.store(SHUTDOWN, Ordering::Relaxed);
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        let mut poll = tokio::time::interval(Duration::from_millis(20));
        while !self.stops_mut().is_empty() && Instant::now() < deadline {
            poll.tick().await;
        }
    }

    fn stops_mut(&self) -> std::sync::MutexGuard<'_, HashMap<PlanId, Arc<AtomicU8>>> {
        // The map stays consistent whatever panicked while holding it.
        self.stops
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `record` ended: `ready` with `plan`, or `failed` with why.
fn ended(mut record: PlanRecord, outcome: Result<plan::Plan, String>) -> PlanRecord {
    match outcome {
        Ok(found) => {
            record.status = PlanStatus::Ready;
            record.progress = progress(
                found.elapsed,
                found.iterations,
                found.kpis.scheduled,
                found.kpis.travel_minutes,
            );
            record.routes = found.routes;
            record.unassigned = found.unassigned;
            record.kpis = Some(found.kpis);
        }
        Err(error) => {
            record.status = PlanStatus::Failed;
            record.error = Some(error);
        }
    }
    record
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
enum SearchError {
    #[error(transparent)]
    Region(#[from] RegionLoadError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the planning thread failed")]
    Thread,
}

/// Runs one search to its end and answers the plan to store.
async fn search(state: &AppState, job: PlanJob, stop: &Arc<AtomicU8>) -> PlanRecord {
    let PlanJob {
        record,
        region,
        jobs,
        movable,
        config,
    } = job;
    let (progress_tx, mut progress_rx) = watch::channel(None::<Progress>);
    let outcome = async {
        let mut index = period_index(&state.store, region, record.from, record.to).await?;
        for booking in &movable {
            index.remove_booking(booking.contractor_id, booking.job_id);
        }
        let (done_tx, done_rx) = oneshot::channel();
        let input = (record.from, record.to, record.seed, record.time_limit_seconds);
        let thread_stop = Arc::clone(stop);
        std::thread::Builder::new()
            .name(format!("plan-{}", record.plan_id))
            .spawn(move || {
                let (from, to, seed, seconds) = input;
                let input = PlanInput {
                    index: &index,
                    jobs: &jobs,
                    from,
                    to,
                    now: Utc::now(),
                    config: &config,
                    seed,
                    budget: Budget::time(Duration::from_secs(u64::from(seconds))),
                    capacity: None,
                };
                let mut control = Searching {
                    started: Instant::now(),
                    stop: thread_stop,
                    progress: progress_tx,
                };
                let _ = done_tx.send(plan::plan(&input, &mut control));
            })
            .map_err(|_| SearchError::Thread)?;
        // The heartbeat, until the search ends: its progress, and whether to go on.
        tokio::pin!(done_rx);
        let mut beat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                result = &mut done_rx => return result.map_err(|_| SearchError::Thread)?.map_err(SearchError::from),
                _ = beat.tick() => {
                    let latest = *progress_rx.borrow_and_update();
                    let progress = latest.map(plan_progress).unwrap_or_default();
                    match state.store.plan_progress(record.plan_id, &progress).await {
                        Ok(true) => {}
                        // Cancelled (or failed by a sweep) elsewhere.
                        Ok(false) => { let _ = stop.compare_exchange(GO, CANCELLED, Ordering::Relaxed, Ordering::Relaxed); }
                        Err(error) => tracing::warn!(plan_id = %record.plan_id, %error, "could not write a plan's progress"),
                    }
                }
            }
        }
    }
    .await;
    let stopped = stop.load(Ordering::Relaxed);
    match outcome {
        Ok(_) if stopped == SHUTDOWN => ended(
            record,
            Err("the service stopped while planning; plan again".into()),
        ),
        Ok(found) => {
            let cancelled = stopped == CANCELLED;
            let mut record = ended(record, Ok(found));
            if cancelled {
                record.status = PlanStatus::Cancelled;
            }
            record
        }
        Err(error) => {
            tracing::warn!(plan_id = %record.plan_id, %error, "plan failed");
            ended(record, Err(error.to_string()))
        }
    }
}

/// The store's form of a search's progress.
fn plan_progress(found: Progress) -> PlanProgress {
    // A plan's model travels in seconds.
    progress(
        found.elapsed,
        found.iterations,
        found.scheduled,
        found.travel / 60,
    )
}

/// A plan's progress figures, saturated into the stored widths.
fn progress(
    elapsed: Duration,
    iterations: u64,
    scheduled: usize,
    travel_minutes: i64,
) -> PlanProgress {
    PlanProgress {
        elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        iterations,
        scheduled: u32::try_from(scheduled).unwrap_or(u32::MAX),
        travel_minutes,
    }
}

/// The search's side of its control: the wall clock, progress out, stop in.
struct Searching {
    started: Instant,
    stop: Arc<AtomicU8>,
    progress: watch::Sender<Option<Progress>>,
}

impl Control for Searching {
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn report(&mut self, progress: &Progress) -> ControlFlow<()> {
        self.progress.send_replace(Some(*progress));
        if self.stop.load(Ordering::Relaxed) == GO {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    }
}

/// Fails the plans whose node died, now and every [`SWEEP_EVERY`], until `stop` resolves.
pub async fn sweep(state: AppState, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = every.tick() => match state.store.fail_stale_plans(STALE_AFTER).await {
                Ok(0) => {}
                Ok(failed) => tracing::warn!(failed, "plans whose node stopped were marked failed"),
                Err(error) => tracing::warn!(%error, "could not sweep for orphaned plans"),
            },
        }
    }
}

/// Why an apply stopped before its end (what it booked stays booked).
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The region could not be read.
    #[error(transparent)]
    Region(#[from] RegionLoadError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Booking failed for a reason that is not the plan's (store, event encoding).
    #[error(transparent)]
    Assign(AssignError),
}

impl From<ApplyError> for ApiError {
    fn from(error: ApplyError) -> Self {
        match error {
            ApplyError::Region(error) => error.into(),
            ApplyError::Store(error) => error.into(),
            ApplyError::Assign(error) => error.into(),
        }
    }
}

/// Books `plan`'s visits, each through the one assignment step against the region as it is
/// now (the bookings made before it in this apply included), for `decided_by`. A visit that
/// no longer holds is a conflict; a visit this plan booked already (an apply cut short by a
/// dead node, taken over) counts as applied. With `moveAutomatic`, a visit of a job whose
/// unstarted automatic booking the plan moved is that booking moved, in one step; a visit
/// refused because its slot is still held by a booking that moves later is tried again after
/// the others.
pub async fn apply(
    state: &AppState,
    plan: &PlanRecord,
    decided_by: &str,
) -> Result<PlanApplication, ApplyError> {
    let store = &state.store;
    let mut application = PlanApplication::default();
    let mut pending: Vec<(ContractorId, &PlannedVisit)> = plan
        .routes
        .iter()
        .flat_map(|route| route.visits.iter().map(|v| (route.contractor_id, v)))
        .collect();
    let Some(region) = store.region(&plan.region).await? else {
        for (_, visit) in pending {
            application.conflicts.push(PlanConflict {
                job_id: visit.job_id,
                reason: "gone".to_owned(),
                detail: "the region no longer exists".to_owned(),
            });
        }
        return Ok(application);
    };
    let mut apply = Applying {
        state,
        plan,
        decided_by,
        config: store.current_config().await?,
        index: period_index(store, region, plan.from, plan.to).await?,
        now: Utc::now(),
    };
    loop {
        let booked_before = application.applied.len();
        let mut deferred = Vec::new();
        let mut refused = Vec::new();
        for (contractor_id, visit) in pending {
            match apply.visit(contractor_id, visit).await? {
                Ok(done) => application.applied.push(done),
                Err((conflict, true)) if plan.move_automatic => {
                    deferred.push((contractor_id, visit));
                    refused.push(conflict);
                }
                Err((conflict, _)) => application.conflicts.push(conflict),
            }
        }
        // Tried again only while a pass books something (a move may have freed their slots).
        if deferred.is_empty() || application.applied.len() == booked_before {
            application.conflicts.extend(refused);
            break;
        }
        pending = deferred;
    }
    Ok(application)
}
/// One apply under way: the region as it is now, updated with each booking it makes.
struct Applying<'a> {
    state: &'a AppState,
    plan: &'a PlanRecord,
    decided_by: &'a str,
    config: ScoringConfig,
    index: RegionIndex,
    now: chrono::DateTime<Utc>,
}

/// A visit not booked: why, and whether a booking in its slot was the reason.
type Refusal = (PlanConflict, bool);

impl Applying<'_> {
    /// Books one visit (or moves the job's booking there): what was booked, or why not.
    async fn visit(
        &mut self,
        contractor_id: ContractorId,
        visit: &PlannedVisit,
    ) -> Result<Result<AppliedVisit, Refusal>, ApplyError> {
        let conflict = |reason: &str, detail: String, busy: bool| {
            let conflict = PlanConflict {
                job_id: visit.job_id,
                reason: reason.to_owned(),
                detail,
            };
            Err((conflict, busy))
        };
        let store = &self.state.store;
        let Some(job) = store.job(visit.job_id).await? else {
            return Ok(conflict(
                "gone",
                "the job no longer exists".to_owned(),
                false,
            ));
        };
        let mut replaces = None;
        if job.status == JobStatus::Assigned
            && let Some(current) = store.job_assignment(job.id).await?
        {
            let same_slot = current.contractor_id == contractor_id
                && current.start_utc == visit.start_utc
                && current.end_utc == visit.end_utc;
            if same_slot && self.named_by_plan(&current).await? {
                // Booked by this plan already (an apply cut short, taken over).
                return Ok(Ok(applied(&current)));
            }
            let movable = self.plan.move_automatic
                && current.source == AssignmentSource::Auto
                && current.start_utc > self.now;
            if movable && same_slot {
                // The plan keeps it where it is.
                return Ok(Ok(applied(&current)));
            }
            if movable {
                replaces = Some(current);
            }
        }
        let proposal = Proposal {
            job: &job,
            contractor_id,
            start_utc: visit.start_utc,
            end_utc: visit.end_utc,
            source: AssignmentSource::Auto,
            decided_by: self.decided_by,
            basis: Basis::Plan(self.plan.plan_id),
            replaces: replaces.as_ref().map(|old| old.id),
        };
        match assign(self.state, &self.index, &self.config, &proposal, self.now).await {
            Ok(assignment) => {
                // Later visits are checked with this one on the calendar (and the moved one off).
                if let Some(old) = &replaces {
                    self.index.remove_booking(old.contractor_id, old.job_id);
                }
                if let Err(error) = self
                    .index
                    .add_booking(&Booking::new(&assignment, job.location))
                {
                    tracing::warn!(%error, "an applied visit could not join the region's index");
                }
                Ok(Ok(applied(&assignment)))
            }
            Err(AssignError::Infeasible(exclusion)) => {
                telemetry::conflict("assignment-infeasible", Origin::PlanApply);
                Ok(conflict(
                    exclusion.reason.code(),
                    exclusion.message(),
                    false,
                ))
            }
            Err(AssignError::Conflict(refusal)) => {
                let busy = matches!(refusal, AssignmentConflict::ContractorBusy { .. });
                let refusal = ApiError::from(StoreError::Assignment(refusal));
                telemetry::conflict(refusal.kind(), Origin::PlanApply);
                Ok(conflict(refusal.kind(), refusal.to_string(), busy))
            }
            Err(error) => Err(ApplyError::Assign(error)),
        }
    }

    /// Whether `assignment`'s audit record names this plan.
    async fn named_by_plan(&self, assignment: &Assignment) -> Result<bool, StoreError> {
        let audit = self.state.store.audit(assignment.audit_id).await?;
        Ok(audit.is_some_and(|audit| audit.plan_id == Some(self.plan.plan_id)))
    }
}

/// The applied form of a booking.
fn applied(assignment: &Assignment) -> AppliedVisit {
    AppliedVisit {
        job_id: assignment.job_id,
        assignment_id: assignment.id,
        audit_id: assignment.audit_id,
    }
}
