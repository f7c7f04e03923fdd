//! The planner against greedy sequential assignment — each open job, in priority-then-window
//! order, given its top recommendation (what auto-assign does one job at a time) — on a
//! generated demo region, one thread:
//!
//! ```sh
//! cargo bench -p dispatch-core --bench plan -- [demo|large|all] [SECONDS]
//! ```
//!
//! * `demo`: 150 contractors, 450 open jobs of mixed priority, a week; the planner gets 10 s.
//! * `large`: 200 contractors, 1,000 open jobs, a week; the planner gets 60 s.
//!
//! Both results are measured by one function, `plan::evaluate` (travel the visits add to the
//! calendars, trip by trip as the engine counts it), and every planned visit is re-checked by
//! the engine's `check_assignment`, applied in time order. Targets (issue 12): priority-weighted
//! jobs scheduled ≥ greedy's, travel ≤ 85 % of greedy's, in the time given.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use dispatch_core::plan::{
    Budget, Control, Kpis, PlanInput, PlannedRoute, PlannedVisit, Progress, evaluate, plan,
};
use dispatch_core::synth::{self, RegionPreset, SynthConfig};
use dispatch_core::*;

struct Clock {
    started: Instant,
    last: Option<Progress>,
}

impl Control for Clock {
    fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn report(&mut self, progress: &Progress) -> std::ops::ControlFlow<()> {
        self.last = Some(*progress);
        std::ops::ControlFlow::Continue(())
    }
}

/// Low 1, normal 2, high 4, emergency 8: a plain weighted count to print next to the
/// lexicographic comparison the planner optimises.
fn weighted(k: &Kpis) -> usize {
    let p = &k.scheduled_by_priority;
    p.low + 2 * p.normal + 4 * p.high + 8 * p.emergency
}

/// Greedy sequential assignment: priority, then window start, each job's top recommendation,
/// booked at once so the next job sees it.
fn greedy(
    index: &RegionIndex,
    jobs: &[Job],
    config: &ScoringConfig,
    now: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<PlannedRoute> {
    let mut index = index.clone();
    let mut order: Vec<&Job> = jobs.iter().collect();
    order.sort_by_key(|j| {
        (
            std::cmp::Reverse(j.priority),
            j.window_start_utc,
            j.window_end_utc,
            j.id,
        )
    });
    let mut routes: BTreeMap<ContractorId, Vec<PlannedVisit>> = BTreeMap::new();
    for (k, job) in order.into_iter().enumerate() {
        let Ok(rec) = recommend(&index, job, config, now, 1) else {
            continue;
        };
        let Some(top) = rec.candidates.first() else {
            continue;
        };
        if top.end_utc > to {
            continue;
        }
        let booking = Booking {
            assignment_id: AssignmentId::from_u128(1 << 100 | k as u128),
            job_id: job.id,
            contractor_id: top.contractor_id,
            start_utc: top.start_utc,
            end_utc: top.end_utc,
            location: job.location,
        };
        index
            .add_booking(&booking)
            .expect("a contractor of the index");
        routes
            .entry(top.contractor_id)
            .or_default()
            .push(PlannedVisit {
                job_id: job.id,
                start_utc: top.start_utc,
                end_utc: top.end_utc,
                travel_minutes: top.travel.minutes,
                travel_km: top.travel.distance_km,
            });
    }
    routes
        .into_iter()
        .map(|(contractor_id, mut visits)| {
            visits.sort_by_key(|v| v.start_utc);
            PlannedRoute {
                contractor_id,
                visits,
            }
        })
        .collect()
}

/// Every visit through the engine's check, applied in time order; the refusals.
fn refusals(input: &PlanInput<'_>, routes: &[PlannedRoute]) -> usize {
    let mut index = input.index.clone();
    let jobs: BTreeMap<JobId, &Job> = input.jobs.iter().map(|j| (j.id, j)).collect();
    let mut visits: Vec<(ContractorId, &PlannedVisit)> = routes
        .iter()
        .flat_map(|r| r.visits.iter().map(move |v| (r.contractor_id, v)))
        .collect();
    visits.sort_by_key(|(c, v)| (v.start_utc, *c));
    let mut refused = 0;
    for (k, (c, v)) in visits.into_iter().enumerate() {
        let job = jobs[&v.job_id];
        match check_assignment(
            &index,
            c,
            job,
            v.start_utc,
            v.end_utc,
            input.config,
            input.now,
        ) {
            Ok(()) => {
                let b = Booking {
                    assignment_id: AssignmentId::from_u128(2 << 100 | k as u128),
                    job_id: job.id,
                    contractor_id: c,
                    start_utc: v.start_utc,
                    end_utc: v.end_utc,
                    location: job.location,
                };
                index.add_booking(&b).expect("known");
            }
            Err(e) => {
                refused += 1;
                eprintln!("  refused: {e}");
            }
        }
    }
    refused
}

fn row(name: &str, k: &Kpis, seconds: f64) {
    let p = &k.scheduled_by_priority;
    println!(
        "  {name:8} scheduled {:4} (emergency {:3}, high {:3}, normal {:3}, low {:3}; weighted {:5})  travel {:6} min {:8.1} km ({:5.1} min/job)  utilisation {:5.3}  {seconds:6.2} s",
        k.scheduled,
        p.emergency,
        p.high,
        p.normal,
        p.low,
        weighted(k),
        k.travel_minutes,
        k.travel_km,
        k.travel_minutes as f64 / k.scheduled.max(1) as f64,
        k.utilisation,
    );
}

fn scenario(name: &str, seed: u64, contractors: usize, jobs: usize, seconds: f64) {
    let now = Utc.with_ymd_and_hms(2026, 6, 1, 15, 0, 0).unwrap();
    let to = now + chrono::Duration::days(7);
    let data = synth::generate(&SynthConfig {
        seed,
        region: RegionPreset::West,
        contractors,
        days: 14,
        open_jobs: jobs,
        now,
    });
    let index =
        RegionIndex::build(data.region.clone(), &data.contractors, &data.bookings).expect("index");
    let mut config = ScoringConfig::default();
    if let Ok(w) = std::env::var("PLAN_WEIGHTS") {
        // "earliestStart,workload" for experiments with the soft terms.
        let v: Vec<f64> = w.split(',').filter_map(|x| x.parse().ok()).collect();
        config.weights.earliest_start = v.first().copied().unwrap_or(0.0);
        config.weights.workload = v.get(1).copied().unwrap_or(0.0);
    }
    println!(
        "{name}: {contractors} contractors ({} bookings), {jobs} open jobs, a week from {now}, seed {seed}",
        index.booking_count()
    );
    let input = PlanInput {
        index: &index,
        jobs: &data.open_jobs,
        from: now,
        to,
        now,
        config: &config,
        seed,
        budget: Budget::time(Duration::from_secs_f64(seconds)),
        capacity: None,
    };

    let started = Instant::now();
    let greedy_routes = greedy(&index, &data.open_jobs, &config, now, to);
    let greedy_seconds = started.elapsed().as_secs_f64();
    let g = evaluate(&input, &greedy_routes);

    let mut clock = Clock {
        started: Instant::now(),
        last: None,
    };
    let p = plan(&input, &mut clock).expect("plans");
    let plan_seconds = clock.started.elapsed().as_secs_f64();
    row("greedy", &g, greedy_seconds);
    row("planner", &p.kpis, plan_seconds);
    let refused = refusals(&input, &p.routes) + refusals(&input, &greedy_routes);
    let lex_ok =
        p.kpis.scheduled_by_priority.lexicographic() >= g.scheduled_by_priority.lexicographic();
    let ratio = p.kpis.travel_minutes as f64 / g.travel_minutes.max(1) as f64;
    println!(
        "  planner: {} iterations; travel {:.1} % of greedy's; scheduled ≥ greedy by priority: {}; weighted {} vs {}; refused by check_assignment: {refused}",
        p.iterations,
        ratio * 100.0,
        if lex_ok { "yes" } else { "NO" },
        weighted(&p.kpis),
        weighted(&g),
    );
    let by_reason = p.unassigned.iter().fold(BTreeMap::new(), |mut m, u| {
        *m.entry(format!("{:?}", u.reason)).or_insert(0) += 1;
        m
    });
    println!("  planner left out: {by_reason:?}");
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let which = args.first().map_or("all", String::as_str);
    let seconds: Option<f64> = args.get(1).and_then(|s| s.parse().ok());
    if which == "demo" || which == "all" {
        scenario("demo", 7, 150, 450, seconds.unwrap_or(10.0));
    }
    if which == "large" || which == "all" {
        scenario("large", 8, 200, 1_000, seconds.unwrap_or(60.0));
    }
}
