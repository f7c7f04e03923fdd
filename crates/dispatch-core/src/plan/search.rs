//! The search: greedy insertion, then ruin and recreate with simulated annealing — the
//! "slack induction by string removals" (SISR) of Christiaens & Vanden Berghe (Transportation
//! Science 54(2), 2020), on the integer [`Model`].
//!
//! # One iteration
//!
//! 1. **Ruin**: pick a served job at random and walk its neighbours (nearest first); from each
//!    neighbour's route not yet ruined, remove a *string* (consecutive visits containing the
//!    neighbour) or a *split string* (a string with a few visits kept in its middle), until a
//!    random number of routes is ruined. Removing strings of neighbouring visits frees time in
//!    several nearby routes at once: the "slack" the next step uses.
//! 2. **Recreate**: put every unserved job back, one at a time (most urgent level first; within
//!    it in a random, largest-first, farthest-first or closest-first order), at the cheapest
//!    feasible position of any route it may take, skipping each position with a small
//!    probability ("blinks", so equal moves do not always win the same way).
//! 3. **Accept** by the score: fewer unserved jobs at a higher level always wins; at equal
//!    service, the cost is compared with a simulated-annealing threshold whose temperature
//!    falls geometrically over the budget.
//!
//! # Why positions are O(1)
//!
//! Every route keeps, per position, the earliest departure (`dep`: visits start as early as
//! their window and the route allow) and the latest arrival that keeps the rest of the route
//! feasible (`lat`, computed backwards). A job fits between positions `k` and `k + 1` iff it
//! can start inside its window after `dep[k]` plus the trip, and the next place is still
//! reached by `lat[k + 1]` — two additions and three comparisons, whatever the route's length.
//! Only a route whose visits may count against two local days' caps (an overnight shift) needs
//! the exact O(length) check, since moving a visit there can move it across midnight.

use std::ops::ControlFlow;
use std::time::Duration;

use super::model::{LEVELS, Model, NO_ROUTE, Score, Time};
use super::{Budget, Control, Progress};
use crate::synth::Rng;

/// Tuning of the search. The defaults are SISR's published ones, except the temperatures,
/// which are scaled to the problem (see [`Params::for_model`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    /// Average number of jobs removed per ruin (SISR's c̄).
    pub(crate) avg_removed: f64,
    /// Longest string removed (SISR's L_max).
    pub(crate) max_string: f64,
    /// Probability of a split string rather than a string.
    pub(crate) split_rate: f64,
    /// Each further kept visit of a split string is added while a uniform draw exceeds this.
    pub(crate) split_depth: f64,
    /// Probability of skipping a position when recreating.
    pub(crate) blink: f64,
    /// Starting temperature, in cost units.
    pub(crate) t_start: f64,
    /// Final temperature, in cost units.
    pub(crate) t_end: f64,
}

impl Params {
    /// SISR's parameters with temperatures scaled to the model: a fraction of the average
    /// trip between neighbouring jobs, so the same schedule suits distances in tenths
    /// (Solomon) and travel in seconds (the domain).
    pub(crate) fn for_model(model: &Model) -> Self {
        let n = model.jobs();
        let mut sum = 0.0;
        let mut count = 0.0;
        for i in 0..n {
            // The trip to the nearest few neighbours: the scale of a typical move.
            for &j in model.neighbours[i].iter().skip(1).take(5) {
                sum += model.t(model.loc[i], model.loc[j as usize]) as f64;
                count += 1.0;
            }
        }
        let scale = if count > 0.0 { sum / count } else { 1.0 }.max(1.0);
        Self {
            avg_removed: 10.0,
            max_string: 10.0,
            split_rate: 0.5,
            split_depth: 0.01,
            blink: 0.01,
            // Measured on the seven Solomon instances, 10 s each: from 0.5 to 0.005 × the scale
            // the mean gap to the best-known costs was +0.8 % (RC208, long routes with wide
            // windows, +1.3 … +5 %); from 1 to 0.05, +0.1 %.
            t_start: scale,
            t_end: 0.05 * scale,
        }
    }
}

/// One route of a solution with its caches (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Route {
    /// The jobs, in visiting order.
    pub(crate) jobs: Vec<u32>,
    /// `dep[k]`: earliest departure from position `k` (0 = the start, `k` = the k-th job).
    dep: Vec<Time>,
    /// `lat[k]`: latest arrival at position `k` (1… = jobs, `len + 1` = the end) that keeps the
    /// rest feasible.
    lat: Vec<Time>,
    /// Per job: the bucket its start counts against (`NO_ROUTE` for none).
    bucket: Vec<u32>,
    /// Total demand.
    load: i64,
    /// Travel minus the empty route's, plus the delay term.
    cost: i64,
    /// Travel minus the empty route's.
    travel: i64,
}

/// A solution being searched: routes, who is where, and the aggregates of the score.
#[derive(Debug)]
pub(crate) struct Solution {
    pub(crate) routes: Vec<Route>,
    pub(crate) route_of: Vec<u32>,
    pub(crate) unassigned: Vec<u32>,
    bucket_load: Vec<i64>,
    /// Σ over buckets of load².
    balance_sq: i64,
    /// Visits over their bucket's cap, summed over buckets. Insertions never add any, but a
    /// removal can: on a route whose visits may fall on two local days, the visits after a
    /// removed one start earlier and may move back across midnight into a full day. An
    /// iteration that leaves any is undone.
    over_cap: i64,
    /// Σ route costs.
    route_cost: i64,
    /// Σ route travel.
    pub(crate) travel: i64,
    /// Undo journal: routes as they were before this iteration touched them.
    journal: Vec<(u32, Vec<u32>)>,
    journal_unassigned: Vec<u32>,
    /// Per route: the iteration stamp that saved it (so each is saved once).
    saved: Vec<u64>,
    /// Per route: the iteration stamp that ruined it.
    ruined: Vec<u64>,
    /// Per class: the insertion stamp that tried an empty route of it.
    class_tried: Vec<u64>,
    /// The iteration's stamp (journal, ruin).
    stamp: u64,
    /// The insertion's stamp (empty classes tried).
    insertion: u64,
}

impl Solution {
    /// Every job unserved, every route empty.
    pub(crate) fn new(model: &Model) -> Self {
        let n_routes = model.routes.len();
        let classes = model
            .routes
            .iter()
            .map(|r| r.class)
            .max()
            .map_or(0, |c| c + 1);
        let mut s = Self {
            routes: (0..n_routes).map(|_| Route::default()).collect(),
            route_of: vec![NO_ROUTE; model.jobs()],
            unassigned: (0..model.jobs() as u32).collect(),
            bucket_load: vec![0; model.bucket_cap.len()],
            balance_sq: 0,
            over_cap: 0,
            route_cost: 0,
            travel: 0,
            journal: Vec::new(),
            journal_unassigned: Vec::new(),
            saved: vec![0; n_routes],
            ruined: vec![0; n_routes],
            class_tried: vec![0; classes as usize],
            stamp: 1,
            insertion: 1,
        };
        for r in 0..n_routes {
            s.refresh(model, r);
        }
        s
    }

    /// The score: unserved per level (most urgent first), then cost.
    pub(crate) fn score(&self, model: &Model) -> Score {
        let mut unserved = [0u32; LEVELS];
        for &j in &self.unassigned {
            let level = usize::from(model.level[j as usize]).min(LEVELS - 1);
            unserved[LEVELS - 1 - level] += 1;
        }
        Score {
            unserved,
            cost: self.route_cost + model.balance_rate * self.balance_sq,
        }
    }

    /// Recomputes route `r`'s caches after its jobs changed, and the aggregates.
    fn refresh(&mut self, model: &Model, r: usize) {
        let spec = &model.routes[r];
        let route = &mut self.routes[r];
        for &b in &route.bucket {
            if b != NO_ROUTE {
                let load = &mut self.bucket_load[b as usize];
                self.balance_sq -= 2 * *load - 1;
                if *load > model.bucket_cap[b as usize] {
                    self.over_cap -= 1;
                }
                *load -= 1;
            }
        }
        route.bucket.clear();
        let n = route.jobs.len();
        route.dep.clear();
        route.lat.clear();
        route.lat.resize(n + 2, 0);
        let mut t = spec.depart;
        let mut at = spec.start;
        let mut travel = 0;
        let mut delay = 0;
        let mut load = 0;
        route.dep.push(t);
        for &j in &route.jobs {
            let ju = j as usize;
            let lj = model.loc[ju];
            let trip = model.t(at, lj);
            travel += trip;
            let start = (t + trip).max(model.early[ju]);
            delay += start - model.early[ju];
            t = start + model.service[ju];
            route.dep.push(t);
            at = lj;
            load += model.demand[ju];
            let b = spec.bucket_at(start).unwrap_or(NO_ROUTE);
            if b != NO_ROUTE {
                let l = &mut self.bucket_load[b as usize];
                *l += 1;
                self.balance_sq += 2 * *l - 1;
                if *l > model.bucket_cap[b as usize] {
                    self.over_cap += 1;
                }
            }
            route.bucket.push(b);
        }
        travel += model.t(at, spec.end) - model.t(spec.start, spec.end);
        route.lat[n + 1] = spec.end_by;
        let mut next = spec.end;
        for k in (1..=n).rev() {
            let j = route.jobs[k - 1];
            let lj = model.loc[j as usize];
            route.lat[k] = model
                .late_on(j, spec)
                .min(route.lat[k + 1] - model.t(lj, next) - model.service[j as usize]);
            next = lj;
        }
        route.load = load;
        let cost = travel + delay * model.delay_rate / 1024;
        self.route_cost += cost - route.cost;
        route.cost = cost;
        self.travel += travel - route.travel;
        route.travel = travel;
        for &j in &route.jobs {
            self.route_of[j as usize] = r as u32;
        }
    }

    /// Journals route `r` before its first change in this iteration.
    fn save(&mut self, r: usize) {
        if self.saved[r] != self.stamp {
            self.saved[r] = self.stamp;
            self.journal.push((r as u32, self.routes[r].jobs.clone()));
        }
    }

    /// Starts an iteration: changes from here on can be undone by [`Solution::revert`].
    fn begin(&mut self) {
        self.stamp += 1;
        self.journal.clear();
        self.journal_unassigned.clone_from(&self.unassigned);
    }

    /// Undoes every change since [`Solution::begin`].
    fn revert(&mut self, model: &Model) {
        let journal = std::mem::take(&mut self.journal);
        for (r, jobs) in &journal {
            self.routes[*r as usize].jobs.clone_from(jobs);
            self.refresh(model, *r as usize);
        }
        self.journal = journal;
        std::mem::swap(&mut self.unassigned, &mut self.journal_unassigned);
        for &j in &self.unassigned {
            self.route_of[j as usize] = NO_ROUTE;
        }
    }

    /// Removes the jobs at `positions` (ascending indices into the route) from route `r`.
    fn remove_positions(&mut self, model: &Model, r: usize, positions: &[usize]) {
        self.save(r);
        let route = &mut self.routes[r];
        for &p in positions.iter().rev() {
            let j = route.jobs.remove(p);
            self.route_of[j as usize] = NO_ROUTE;
            self.unassigned.push(j);
        }
        self.refresh(model, r);
    }

    /// Inserts job `c` into route `r` before index `k` of its jobs.
    fn insert(&mut self, model: &Model, r: usize, k: usize, c: u32) {
        self.save(r);
        self.routes[r].jobs.insert(k, c);
        self.refresh(model, r);
    }

    /// Would the caps of route `r`'s days hold with `c` inserted before index `k`? The exact
    /// check, for routes whose visits may fall on two local days.
    fn caps_hold_with(&self, model: &Model, r: usize, k: usize, c: u32) -> bool {
        let spec = &model.routes[r];
        let route = &self.routes[r];
        // Buckets of this route are few (two or three days): a small list of counts.
        let mut delta: Vec<(u32, i64)> = Vec::with_capacity(4);
        let mut bump = |b: u32, d: i64| match delta.iter_mut().find(|x| x.0 == b) {
            Some(x) => x.1 += d,
            None => delta.push((b, d)),
        };
        for &b in &route.bucket {
            if b != NO_ROUTE {
                bump(b, -1);
            }
        }
        let mut t = spec.depart;
        let mut at = spec.start;
        for i in 0..=route.jobs.len() {
            let j = if i == k {
                c
            } else {
                route.jobs[if i < k { i } else { i - 1 }]
            };
            let ju = j as usize;
            let lj = model.loc[ju];
            let start = (t + model.t(at, lj)).max(model.early[ju]);
            if let Some(b) = spec.bucket_at(start) {
                bump(b, 1);
            }
            t = start + model.service[ju];
            at = lj;
        }
        delta
            .iter()
            .all(|&(b, d)| self.bucket_load[b as usize] + d <= model.bucket_cap[b as usize])
    }

    /// The cheapest feasible insertion of `c`: `(route, index, cost increase)`.
    fn best_insertion(
        &mut self,
        model: &Model,
        c: u32,
        rng: &mut Rng,
        blink: f64,
    ) -> Option<(usize, usize, i64)> {
        self.insertion += 1;
        let stamp = self.insertion;
        let cu = c as usize;
        let lc = model.loc[cu];
        let (early, service, demand) = (model.early[cu], model.service[cu], model.demand[cu]);
        let mut best: Option<(usize, usize, i64)> = None;
        for &r in &model.candidates[cu] {
            let r = r as usize;
            let spec = &model.routes[r];
            let route = &self.routes[r];
            if route.jobs.is_empty() {
                let class = &mut self.class_tried[spec.class as usize];
                if *class == stamp {
                    continue;
                }
                *class = stamp;
            }
            if route.load + demand > spec.capacity {
                continue;
            }
            let exact_caps = spec.days.len() > 1;
            let mut bucket_extra = 0;
            if spec.days.len() == 1 {
                let b = spec.days[0].1 as usize;
                if self.bucket_load[b] >= model.bucket_cap[b] {
                    continue;
                }
                bucket_extra = model.balance_rate * (2 * self.bucket_load[b] + 1);
            }
            let late = model.late_on(c, spec);
            let len = route.jobs.len();
            let mut p = spec.start;
            for k in 0..=len {
                let q = if k == len {
                    spec.end
                } else {
                    model.loc[route.jobs[k] as usize]
                };
                let in_trip = model.t(p, lc);
                let arrive = route.dep[k] + in_trip;
                if arrive > late {
                    // Departures only grow along the route (service times exceed any
                    // rounding in the travel times), so no later position fits either.
                    break;
                }
                let prev = p;
                p = q;
                if blink > 0.0 && rng.unit() < blink {
                    continue;
                }
                let start = arrive.max(early);
                let out_trip = model.t(lc, q);
                if start + service + out_trip > route.lat[k + 1] {
                    continue;
                }
                let delta = in_trip + out_trip - model.t(prev, q)
                    + (start - early) * model.delay_rate / 1024
                    + bucket_extra;
                if best.is_none_or(|b| delta < b.2) {
                    if exact_caps && !self.caps_hold_with(model, r, k, c) {
                        continue;
                    }
                    best = Some((r, k, delta));
                }
            }
        }
        best
    }

    /// SISR's ruin (see the module docs).
    fn ruin(&mut self, model: &Model, rng: &mut Rng, params: &Params) {
        let n = model.jobs();
        let served = n - self.unassigned.len();
        if served == 0 {
            return;
        }
        let used = self
            .routes
            .iter()
            .filter(|r| !r.jobs.is_empty())
            .count()
            .max(1);
        let card = (served as f64 / used as f64)
            .min(params.max_string)
            .max(1.0);
        let max_strings = (4.0 * params.avg_removed / (1.0 + card) - 1.0).max(1.0);
        let strings = ((1.0 + rng.unit() * max_strings).floor() as usize).min(used);
        let seed = loop {
            let j = rng.below(n as u64) as usize;
            if self.route_of[j] != NO_ROUTE {
                break j;
            }
        };
        let stamp = self.stamp;
        let mut done = 0;
        let mut positions: Vec<usize> = Vec::with_capacity(32);
        for &c in &model.neighbours[seed] {
            if done >= strings {
                break;
            }
            let r = self.route_of[c as usize];
            if r == NO_ROUTE || self.ruined[r as usize] == stamp {
                continue;
            }
            let r = r as usize;
            self.ruined[r] = stamp;
            done += 1;
            let jobs = &self.routes[r].jobs;
            let len = jobs.len();
            let Some(at) = jobs.iter().position(|&j| j == c) else {
                continue;
            };
            let l_max = (len as f64).min(card);
            let l = ((rng.unit() * l_max).floor() as usize + 1).min(len);
            positions.clear();
            if l == 1 || l == len || rng.unit() >= params.split_rate {
                let first = at.saturating_sub(l - 1);
                let last = at.min(len - l);
                let from = first + rng.below((last - first + 1) as u64) as usize;
                positions.extend(from..from + l);
            } else {
                // A split string: `l` removed around `m` kept.
                let mut m = 1;
                while m < len - l && rng.unit() > params.split_depth {
                    m += 1;
                }
                let whole = l + m;
                let first = at.saturating_sub(whole - 1);
                let last = at.min(len - whole);
                let from = first + rng.below((last - first + 1) as u64) as usize;
                let keep = rng.below((whole - m + 1) as u64) as usize;
                positions.extend(
                    (0..whole)
                        .filter(|&i| i < keep || i >= keep + m)
                        .map(|i| from + i),
                );
            }
            self.remove_positions(model, r, &positions);
        }
    }

    /// Puts every unserved job back where it is cheapest, most urgent first (see the module
    /// docs); those that fit nowhere stay unserved.
    fn recreate(&mut self, model: &Model, rng: &mut Rng, params: &Params) {
        let mut todo = std::mem::take(&mut self.unassigned);
        // Random, largest first, farthest first or closest first: SISR's weights 4 : 4 : 2 : 1.
        match rng.weighted(&[4, 4, 2, 1]) {
            0 => {
                for i in (1..todo.len()).rev() {
                    let k = rng.below(i as u64 + 1) as usize;
                    todo.swap(i, k);
                }
            }
            1 => todo.sort_by_key(|&j| {
                let ju = j as usize;
                std::cmp::Reverse((model.demand[ju], model.service[ju]))
            }),
            2 => todo.sort_by_key(|&j| std::cmp::Reverse(model.remoteness[j as usize])),
            _ => todo.sort_by_key(|&j| model.remoteness[j as usize]),
        }
        // Stable: the order above holds within a level.
        todo.sort_by_key(|&j| std::cmp::Reverse(model.level[j as usize]));
        let mut left = Vec::new();
        for &c in &todo {
            match self.best_insertion(model, c, rng, params.blink) {
                Some((r, k, _)) => self.insert(model, r, k, c),
                None => left.push(c),
            }
        }
        self.unassigned = left;
    }
}

/// What a search found.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    /// Per route, its jobs in order.
    pub(crate) routes: Vec<Vec<u32>>,
    /// The best score.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) score: Score,
    /// Iterations run.
    pub(crate) iterations: u64,
    /// Time used, as the caller's clock told it.
    pub(crate) elapsed: Duration,
    /// True when the caller stopped it early.
    pub(crate) cancelled: bool,
}

/// How often the caller's clock is read, in iterations.
const CLOCK_EVERY: u64 = 16;

/// Solves `model` within `budget`: deterministic for a seed and an iteration budget.
pub(crate) fn solve(
    model: &Model,
    seed: u64,
    budget: &Budget,
    control: &mut dyn Control,
) -> Outcome {
    let params = Params::for_model(model);
    let mut rng = Rng::new(seed);
    let mut cur = Solution::new(model);
    cur.begin();
    cur.recreate(model, &mut rng, &params);
    let mut cur_score = cur.score(model);
    let mut best: Vec<Vec<u32>> = cur.routes.iter().map(|r| r.jobs.clone()).collect();
    let mut best_score = cur_score;
    let mut best_travel = cur.travel;
    let mut iterations: u64 = 0;
    let mut elapsed = control.elapsed();
    let mut last_report = Duration::ZERO;
    let mut cancelled = false;
    let (t0, t1) = (params.t_start, params.t_end);
    let mut frac = 0.0f64;
    let nothing_to_search = model.jobs() == 0 || model.routes.is_empty();
    loop {
        if nothing_to_search {
            break;
        }
        if iterations.is_multiple_of(CLOCK_EVERY) {
            elapsed = control.elapsed();
            frac = budget.fraction(iterations, elapsed);
            if frac >= 1.0 {
                break;
            }
            if elapsed >= last_report + super::REPORT_EVERY || iterations == 0 {
                last_report = elapsed;
                let unserved: u32 = best_score.unserved.iter().sum();
                let progress = Progress {
                    iterations,
                    elapsed,
                    scheduled: model.jobs() - unserved as usize,
                    unserved: best_score.unserved,
                    travel: best_travel,
                };
                if let ControlFlow::Break(()) = control.report(&progress) {
                    cancelled = true;
                    break;
                }
            }
        }
        let temperature = t0 * (t1 / t0).powf(frac);
        cur.begin();
        cur.ruin(model, &mut rng, &params);
        cur.recreate(model, &mut rng, &params);
        let score = cur.score(model);
        let accept = cur.over_cap == 0
            && match score.unserved.cmp(&cur_score.unserved) {
                std::cmp::Ordering::Less => true,
                std::cmp::Ordering::Greater => false,
                std::cmp::Ordering::Equal => {
                    let threshold = -temperature * rng.unit().max(f64::MIN_POSITIVE).ln();
                    (score.cost as f64) < cur_score.cost as f64 + threshold
                }
            };
        if accept {
            cur_score = score;
            if score < best_score {
                best_score = score;
                best_travel = cur.travel;
                for (b, r) in best.iter_mut().zip(&cur.routes) {
                    b.clone_from(&r.jobs);
                }
            }
        } else {
            cur.revert(model);
        }
        iterations += 1;
    }
    Outcome {
        routes: best,
        score: best_score,
        iterations,
        elapsed: control.elapsed().max(elapsed),
        cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::NoClock;
    use crate::plan::model::{FAR, RouteSpec};

    /// Jobs on a line with staggered windows, two identical vehicles.
    fn line(n: usize) -> Model {
        let n_loc = n + 2;
        let mut time = vec![0i32; n_loc * n_loc];
        let x = |i: usize| if i == 0 { 0 } else { (i as i32) * 10 };
        for a in 0..=n {
            for b in 0..=n {
                time[a * n_loc + b] = (x(a) - x(b)).abs();
            }
        }
        let route = RouteSpec {
            start: 0,
            depart: 0,
            end: 0,
            end_by: 10_000,
            finish_by: FAR,
            capacity: 5,
            class: 0,
            days: Vec::new(),
        };
        let mut m = Model {
            loc: (1..=n as u32).collect(),
            service: vec![5; n],
            early: (0..n as i64).map(|i| i * 7).collect(),
            late: (0..n as i64).map(|i| i * 7 + 400).collect(),
            demand: vec![1; n],
            level: (0..n).map(|i| (i % 4) as u8).collect(),
            candidates: vec![vec![0, 1]; n],
            routes: vec![route; 2],
            n_loc,
            time,
            bucket_cap: Vec::new(),
            delay_rate: 0,
            balance_rate: 0,
            neighbours: Vec::new(),
            remoteness: (1..=n as i64).collect(),
        };
        m.finish();
        m
    }

    fn state(s: &Solution, m: &Model) -> (Vec<Vec<u32>>, Vec<u32>, Score, i64) {
        let mut unassigned = s.unassigned.clone();
        unassigned.sort_unstable();
        (
            s.routes.iter().map(|r| r.jobs.clone()).collect(),
            unassigned,
            s.score(m),
            s.travel,
        )
    }

    #[test]
    fn revert_restores_the_solution_exactly() {
        let m = line(12);
        let params = Params::for_model(&m);
        let mut rng = Rng::new(5);
        let mut s = Solution::new(&m);
        s.begin();
        s.recreate(&m, &mut rng, &params);
        for _ in 0..200 {
            let before = state(&s, &m);
            s.begin();
            s.ruin(&m, &mut rng, &params);
            s.recreate(&m, &mut rng, &params);
            s.revert(&m);
            assert_eq!(state(&s, &m), before);
            for (r, route) in s.routes.iter().enumerate() {
                for &j in &route.jobs {
                    assert_eq!(s.route_of[j as usize], r as u32);
                }
            }
            for &j in &s.unassigned {
                assert_eq!(s.route_of[j as usize], NO_ROUTE);
            }
        }
    }

    #[test]
    fn capacity_leaves_the_least_urgent_out() {
        // Ten jobs, two vehicles of five: all fit. Twelve: two stay out, and never a job of
        // the top level while a lower one is in.
        let m = line(12);
        let out = solve(&m, 1, &Budget::iterations(300), &mut NoClock);
        let served: usize = out.routes.iter().map(Vec::len).sum();
        assert_eq!(served, 10);
        assert_eq!(out.score.unserved[0], 0, "{:?}", out.score);
        assert_eq!(out.score.unserved.iter().sum::<u32>(), 2);
    }
}
