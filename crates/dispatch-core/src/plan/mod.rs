//! Planning a region's backlog at once ("plan the day"): every open job of a period placed on
//! the contractors' calendars together, trading one job's best slot for a better day — more
//! jobs done, less driving.
//!
//! # Layout
//!
//! * [`plan`] / [`plan_with`] (module `domain`): the region's contractors, bookings and jobs →
//!   the routing model → the search → a [`Plan`]. Every hard rule comes from the
//!   recommendation engine's own code: the static rules (active, region, skills and levels,
//!   `maxTravelKm`) are the engine's `static_rules`; the routes are the engine's gaps between
//!   bookings and time off inside working stretches (DST-correct); a route's days and their
//!   loads are the engine's `day_load`; travel is the engine's estimator. Nothing is
//!   re-implemented, so a plan is what the engine's [`crate::check_assignment`] accepts — the
//!   property tests check exactly that.
//! * `model`: the integer routing model (jobs, routes, one travel matrix, day buckets and an
//!   optional capacity dimension).
//! * `search`: greedy insertion, then ruin and recreate (string removals) with simulated
//!   annealing; positions checked in O(1) with forward/backward time slack.
//! * [`solomon`]: Solomon's VRPTW instances as the same model, for the benchmark against
//!   PyVRP (`dispatch plan-bench`).
//!
//! # Objective
//!
//! Lexicographic: first the jobs scheduled by priority — one more emergency outweighs any
//! number of high, normal or low jobs, and so on down — then total travel time, then the soft
//! terms (an earlier start inside the window, balanced days), weighted by the scoring
//! configuration's `earliestStart` and `workload` relative to `travelTime`.
//!
//! # Purity
//!
//! No clock, no I/O, no threads: the caller passes the seed, the budget and a [`Control`],
//! through which it tells the elapsed time (for a time budget) and hears progress (and may
//! stop the search). With an iteration budget the result depends on the inputs and the seed
//! only.

mod domain;
mod model;
mod search;
pub mod solomon;

use std::ops::ControlFlow;
use std::time::Duration;

pub use domain::{
    ByPriority, Capacity, Kpis, MAX_PLAN_JOBS, Plan, PlanError, PlanInput, PlannedRoute,
    PlannedVisit, Unplanned, UnplannedReason, evaluate, evaluate_with, plan, plan_with,
};

/// How often a running search reports progress, by the caller's clock.
pub const REPORT_EVERY: Duration = Duration::from_millis(200);

/// How much search a plan gets: iterations, time, or both (whichever ends first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Budget {
    /// At most this many ruin-and-recreate iterations.
    pub iterations: Option<u64>,
    /// At most this much time, by the [`Control`]'s clock.
    pub time: Option<Duration>,
}

impl Budget {
    /// A budget of iterations only: the result depends on the inputs and the seed alone.
    pub fn iterations(n: u64) -> Self {
        Self {
            iterations: Some(n),
            time: None,
        }
    }

    /// A budget of time only.
    pub fn time(limit: Duration) -> Self {
        Self {
            iterations: None,
            time: Some(limit),
        }
    }

    /// How much of the budget is used, 0 … 1 (1 when neither limit is set: nothing to spend).
    pub(crate) fn fraction(&self, iterations: u64, elapsed: Duration) -> f64 {
        let by_iterations = self.iterations.map(|n| iterations as f64 / n.max(1) as f64);
        let by_time = self
            .time
            .map(|t| elapsed.as_secs_f64() / t.as_secs_f64().max(1e-9));
        match (by_iterations, by_time) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => 1.0,
        }
    }
}

/// The caller's side of a running search: its clock (this crate reads none) and where progress
/// goes.
pub trait Control {
    /// Time since the search started, by the caller's clock.
    fn elapsed(&self) -> Duration;

    /// Progress, about every [`REPORT_EVERY`]; `Break` stops the search, which then returns
    /// the best plan found so far.
    fn report(&mut self, progress: &Progress) -> ControlFlow<()> {
        let _ = progress;
        ControlFlow::Continue(())
    }
}

/// A [`Control`] without a clock, for iteration budgets: time never passes, nothing is told.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClock;

impl Control for NoClock {
    fn elapsed(&self) -> Duration {
        Duration::ZERO
    }
}

/// How a running search is doing: the best solution so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Iterations run.
    pub iterations: u64,
    /// Time used, by the caller's clock.
    pub elapsed: Duration,
    /// Jobs placed.
    pub scheduled: usize,
    /// Jobs left out, per priority level, most urgent first (emergency, high, normal, low).
    pub unserved: [u32; 4],
    /// Travel of the best solution, in the model's unit (seconds for a plan, tenths of a
    /// distance unit for a Solomon instance).
    pub travel: i64,
}
