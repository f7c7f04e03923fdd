//! The routing model the search works on, in integers: jobs with a service time, a window on
//! the start of service, a demand and a priority level; routes with a start place and time, an
//! end place (or none), time bounds, a capacity and the local days whose caps they count
//! against; one travel matrix (travel time is also the cost minimised).
//!
//! Built from the domain ([`super::domain`]: one route per free gap of a contractor's working
//! stretches, times in seconds) or from a Solomon instance ([`super::solomon`]: one route per
//! vehicle, times and distances in tenths). The search knows neither.

/// A time (domain: UTC seconds; Solomon: tenths of a unit).
pub(crate) type Time = i64;

/// Later than any real time, small enough that adding a few of them never overflows.
pub(crate) const FAR: Time = i64::MAX / 8;

/// "No route" in route-of-job tables.
pub(crate) const NO_ROUTE: u32 = u32::MAX;

/// Priority levels, lowest first; the domain's `low … emergency`.
pub(crate) const LEVELS: usize = 4;

/// One route a vehicle (a contractor's free gap) can drive.
#[derive(Debug, Clone)]
pub(crate) struct RouteSpec {
    /// Where it starts (a location index).
    pub(crate) start: u32,
    /// When it may leave `start` at the earliest.
    pub(crate) depart: Time,
    /// Where it ends; [`Model::nowhere`] when it need not go anywhere (travel 0 to it).
    pub(crate) end: u32,
    /// Latest arrival at `end`.
    pub(crate) end_by: Time,
    /// Latest end of service of any visit on it.
    pub(crate) finish_by: Time,
    /// Most total demand it carries.
    pub(crate) capacity: i64,
    /// Routes of one class are interchangeable (identical vehicles): the search tries only
    /// one empty route per class.
    pub(crate) class: u32,
    /// The day buckets its visits count against, as `(from, bucket)` sorted by `from`: a visit
    /// starting at `t` counts against the last entry with `from ≤ t`. Empty: no cap.
    pub(crate) days: Vec<(Time, u32)>,
}

impl RouteSpec {
    /// The bucket a visit starting at `t` counts against, if the route has caps.
    pub(crate) fn bucket_at(&self, t: Time) -> Option<u32> {
        match self.days.len() {
            0 => None,
            1 => Some(self.days[0].1),
            _ => {
                let i = self.days.partition_point(|&(from, _)| from <= t);
                Some(self.days[i.saturating_sub(1)].1)
            }
        }
    }
}

/// A routing problem.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    /// Per job: its location index.
    pub(crate) loc: Vec<u32>,
    /// Per job: time on site.
    pub(crate) service: Vec<Time>,
    /// Per job: earliest start of service.
    pub(crate) early: Vec<Time>,
    /// Per job: latest start of service.
    pub(crate) late: Vec<Time>,
    /// Per job: demand on the route's capacity.
    pub(crate) demand: Vec<i64>,
    /// Per job: priority level, `0..LEVELS` (higher is more urgent).
    pub(crate) level: Vec<u8>,
    /// Per job: the routes it may go on, ascending. Hard rules that depend on the job and the
    /// contractor only (skills, distance from home, …) are applied here, once.
    pub(crate) candidates: Vec<Vec<u32>>,
    /// The routes.
    pub(crate) routes: Vec<RouteSpec>,
    /// Number of locations; `time` is `n_loc × n_loc`.
    pub(crate) n_loc: usize,
    /// Travel time (= cost) from location `a` to `b` at `a * n_loc + b`.
    pub(crate) time: Vec<i32>,
    /// Per bucket: how many more visits it takes.
    pub(crate) bucket_cap: Vec<i64>,
    /// Cost per 1,024 time units a visit starts after its earliest start (0: none).
    pub(crate) delay_rate: i64,
    /// Cost per unit of Σ (visits per bucket)² — workload balance (0: none).
    pub(crate) balance_rate: i64,
    /// Per job: other jobs by increasing travel time, itself first (the string removal's
    /// adjacency), at most [`MAX_NEIGHBOURS`] long.
    pub(crate) neighbours: Vec<Vec<u32>>,
    /// Per job: a "distance from the depot" key for the far/close insertion orders.
    pub(crate) remoteness: Vec<i64>,
}

/// How many neighbours each job keeps for the string removal.
pub(crate) const MAX_NEIGHBOURS: usize = 100;

impl Model {
    /// Number of jobs.
    pub(crate) fn jobs(&self) -> usize {
        self.loc.len()
    }

    /// Travel time from location `a` to `b`.
    #[inline(always)]
    pub(crate) fn t(&self, a: u32, b: u32) -> Time {
        Time::from(self.time[a as usize * self.n_loc + b as usize])
    }

    /// The latest start of job `j` on route `r`: its window, and its end inside the route's.
    #[inline(always)]
    pub(crate) fn late_on(&self, j: u32, r: &RouteSpec) -> Time {
        self.late[j as usize].min(r.finish_by - self.service[j as usize])
    }

    /// Fills [`Model::neighbours`] and checks the tables agree in length.
    pub(crate) fn finish(&mut self) {
        let n = self.jobs();
        debug_assert!(self.time.len() == self.n_loc * self.n_loc);
        let mut order: Vec<u32> = (0..n as u32).collect();
        self.neighbours = (0..n as u32)
            .map(|i| {
                let li = self.loc[i as usize];
                // Symmetrised, so "near" means near either way.
                let key = |j: u32| {
                    let lj = self.loc[j as usize];
                    self.t(li, lj) + self.t(lj, li)
                };
                let k = MAX_NEIGHBOURS.min(n);
                if k < n && k > 0 {
                    order.select_nth_unstable_by_key(k - 1, |&j| (j != i, key(j), j));
                }
                let mut near: Vec<u32> = order[..k].to_vec();
                near.sort_unstable_by_key(|&j| (j != i, key(j), j));
                near
            })
            .collect();
    }
}

/// Lexicographic score of a solution: unserved jobs per level (most urgent first), then cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Score {
    /// Unserved jobs per level, `[emergency, high, normal, low]`: fewer is better, and one more
    /// served at a level outweighs any number at the levels below.
    pub(crate) unserved: [u32; LEVELS],
    /// Travel plus the soft terms.
    pub(crate) cost: i64,
}
