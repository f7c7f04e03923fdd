//! Assignments per second through `Store::create_assignment`, SQLite against PostgreSQL.
//!
//! ```sh
//! DISPATCH_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p dispatch-store --bench assignments
//! ```
//!
//! * **Throughput**: [`ASSIGNMENTS`] non-conflicting assignments per run (distinct jobs; slot
//!   `i / CONTRACTORS` of contractor `i % CONTRACTORS`, one hour each, so nobody is booked
//!   twice), each with its `JobAssigned` event as the service writes it, made by 1, 8 and 32
//!   tasks pulling the next assignment from a shared counter. [`RUNS`] runs per configuration;
//!   the medians of assignments/s and of the per-call p50/p99 latency are printed, and the
//!   PostgreSQL/SQLite throughput ratio.
//! * **Race**: [`RACE_TASKS`] tasks × [`RACE_ATTEMPTS`] attempts each at the *same* job
//!   (every attempt a distinct contractor slot, so the only possible refusal is
//!   `JobAlreadyAssigned`), released together: exactly one winner is asserted, and how long the
//!   whole race takes is printed.
//!
//! SQLite runs on a file in a temporary directory (WAL, `synchronous=NORMAL`: a commit does not
//! wait for the disk). PostgreSQL runs on a fresh database created next to the one named by
//! `DISPATCH_BENCH_POSTGRES_URL` (else `DISPATCH_TEST_POSTGRES_URL`; the user needs
//! `CREATEDB`) and dropped at the end; with neither set, PostgreSQL is skipped with a loud
//! message. `DISPATCH_BENCH_EVENTS=0` makes the assignments without their event (on
//! PostgreSQL that skips the outbox shard's lock, which serializes event-writing commits of
//! one shard: the difference is that lock's price). `DISPATCH_BENCH_REGIONS=N` spreads the
//! throughput runs' assignments over N regions (default 1), so their events fall in several
//! outbox shards, which commit in parallel. Every run seeds its own region, contractors, jobs and audit records (bulk
//! `create_contractors`/`create_jobs`; not timed) in that one database or file.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use dispatch_core::{
    Assignment, AssignmentId, AssignmentSource, AuditId, Contractor, ContractorId, GeoPoint, Job,
    JobId, JobStatus, Priority, Region, RegionId, RequiredSkill, Skill, SkillName, Weekday,
    WorkingHours,
};
use dispatch_store::{
    AssignmentConflict, AuditRecord, Decision, NewOutboxEvent, Store, StoreError,
};
use uuid::Uuid;

/// Assignments per throughput run.
const ASSIGNMENTS: usize = 2_000;
/// Contractors per throughput run: 10 one-hour slots each.
const CONTRACTORS: usize = 200;
/// Runs per configuration; the median is reported.
const RUNS: usize = 3;
/// Concurrent tasks of the throughput runs.
const CONCURRENCY: [usize; 3] = [1, 8, 32];
/// Tasks racing for one job.
const RACE_TASKS: usize = 32;
/// Attempts per racing task.
const RACE_ATTEMPTS: usize = 20;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "dispatch-store assignments bench: {cpus} CPUs (tokio workers = {cpus}), {ASSIGNMENTS} \
         assignments per run, {RUNS} runs per configuration, medians"
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = Store::connect(&sqlite_url).await.expect("SQLite store");
    let mut results = vec![measure("sqlite", &sqlite).await];
    sqlite.close().await;

    results.extend(postgres::measure_postgres().await);

    report(&results);
}

/// One backend's figures.
struct BackendResult {
    backend: &'static str,
    /// Per concurrency: the runs.
    throughput: Vec<(usize, Vec<Run>)>,
    /// The race runs.
    races: Vec<Run>,
}

/// One run: how long it took and each call's latency.
struct Run {
    calls: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q` quantile of the call latencies (nearest rank).
    fn latency(&mut self, q: f64) -> Duration {
        self.latencies.sort_unstable();
        let last = self.latencies.len().saturating_sub(1);
        self.latencies[((last as f64) * q).round() as usize]
    }
}

async fn measure(backend: &'static str, store: &Store) -> BackendResult {
    let mut result = BackendResult {
        backend,
        throughput: vec![],
        races: vec![],
    };
    for tasks in CONCURRENCY {
        let mut runs = vec![];
        for _ in 0..RUNS {
            let work = seed_throughput(store).await;
            let run = throughput_run(store, work, tasks).await;
            eprintln!(
                "  {backend:<8} tasks={tasks:<2} {:>8.0} assignments/s",
                run.per_second()
            );
            runs.push(run);
        }
        result.throughput.push((tasks, runs));
    }
    for _ in 0..RUNS {
        let work = seed_race(store).await;
        let run = race_run(store, work).await;
        eprintln!("  {backend:<8} race {:>8.1} ms", ms(run.elapsed));
        result.races.push(run);
    }
    result
}

/// What one call makes: the assignment, its decision, its event.
type Work = (Assignment, Decision, Vec<NewOutboxEvent>);

/// Fresh regions ([`bench_regions`] of them) with [`CONTRACTORS`] contractors between them
/// (contractor `c` in region `c % regions`), [`ASSIGNMENTS`] open jobs (job `i` in its
/// contractor's region) and their audit records; returns the non-conflicting assignments to
/// make, so consecutive ones are of different regions.
async fn seed_throughput(store: &Store) -> Vec<Work> {
    let mut regions = Vec::new();
    for _ in 0..bench_regions() {
        regions.push(new_region(store).await);
    }
    let contractors: Vec<Contractor> = (0..CONTRACTORS)
        .map(|c| contractor(&regions[c % regions.len()]))
        .collect();
    store
        .create_contractors(&contractors)
        .await
        .expect("contractors");
    let jobs: Vec<Job> = (0..ASSIGNMENTS)
        .map(|i| job(&contractors[i % CONTRACTORS].region))
        .collect();
    let audits = seed_jobs(store, &jobs).await;
    jobs.iter()
        .zip(&audits)
        .enumerate()
        .map(|(i, (job, audit))| {
            let start = day_start() + chrono::Duration::hours((i / CONTRACTORS) as i64);
            let contractor = &contractors[i % CONTRACTORS];
            work(&contractor.region, job, contractor, *audit, start)
        })
        .collect()
}

/// How many regions the throughput runs spread their assignments over
/// (`DISPATCH_BENCH_REGIONS`, default 1). With many, their events fall in different outbox
/// shards, whose writers do not wait for each other on PostgreSQL.
fn bench_regions() -> usize {
    std::env::var("DISPATCH_BENCH_REGIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| (1..=CONTRACTORS).contains(&n))
        .unwrap_or(1)
}

/// A fresh region with one open job and [`RACE_TASKS`] contractors; returns each task's
/// attempts (its own contractor, a distinct hour per attempt, all on the one job).
async fn seed_race(store: &Store) -> Vec<Vec<Work>> {
    let region = new_region(store).await;
    let contractors: Vec<Contractor> = (0..RACE_TASKS).map(|_| contractor(&region)).collect();
    store
        .create_contractors(&contractors)
        .await
        .expect("contractors");
    let job = job(&region);
    let audit = seed_jobs(store, std::slice::from_ref(&job)).await[0];
    contractors
        .iter()
        .map(|c| {
            (0..RACE_ATTEMPTS)
                .map(|k| {
                    let start = day_start() + chrono::Duration::hours(k as i64);
                    work(&region, &job, c, audit, start)
                })
                .collect()
        })
        .collect()
}

async fn throughput_run(store: &Store, work: Vec<Work>, tasks: usize) -> Run {
    let work = Arc::new(work);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (store, work, next) = (store.clone(), Arc::clone(&work), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(work.len() / tasks + 1);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((a, d, events)) = work.get(i) else {
                        return latencies;
                    };
                    let t = Instant::now();
                    store
                        .create_assignment(a, d, events)
                        .await
                        .unwrap_or_else(|e| panic!("assignment {i} is non-conflicting: {e}"));
                    latencies.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(work.len());
    for h in handles {
        latencies.extend(h.await.expect("task"));
    }
    Run {
        calls: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

async fn race_run(store: &Store, work: Vec<Vec<Work>>) -> Run {
    let barrier = Arc::new(tokio::sync::Barrier::new(work.len() + 1));
    let handles: Vec<_> = work
        .into_iter()
        .map(|attempts| {
            let (store, barrier) = (store.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                let mut outcomes = Vec::with_capacity(attempts.len());
                for (a, d, events) in &attempts {
                    let t = Instant::now();
                    let r = store.create_assignment(a, d, events).await;
                    outcomes.push((r, t.elapsed()));
                }
                outcomes
            })
        })
        .collect();
    barrier.wait().await;
    let started = Instant::now();
    let (mut winners, mut latencies) = (0, vec![]);
    for h in handles {
        for (r, latency) in h.await.expect("task") {
            match r {
                Ok(()) => winners += 1,
                Err(StoreError::Assignment(AssignmentConflict::JobAlreadyAssigned)) => {}
                Err(e) => panic!("a racer failed otherwise than JobAlreadyAssigned: {e}"),
            }
            latencies.push(latency);
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(winners, 1, "exactly one winner of the race for one job");
    Run {
        calls: latencies.len(),
        elapsed,
        latencies,
    }
}

fn report(results: &[BackendResult]) {
    let mut out = String::new();
    let line = "=".repeat(96);
    out.push_str(&format!(
        "\n{line}\ncreate_assignment throughput ({ASSIGNMENTS} non-conflicting assignments per \
         run over {} region(s), {}; median of {RUNS} runs)\n\n",
        bench_regions(),
        if with_events() {
            "each with one outbox event"
        } else {
            "WITHOUT events (DISPATCH_BENCH_EVENTS=0)"
        }
    ));
    out.push_str(&format!(
        "{:<10} {:>5} {:>14} {:>10} {:>10}   {}\n",
        "backend", "tasks", "assignments/s", "p50 ms", "p99 ms", "runs (assignments/s)"
    ));
    let mut medians: Vec<(&str, usize, f64)> = vec![];
    for r in results {
        for (tasks, runs) in &r.throughput {
            let per_second = median(runs.iter().map(Run::per_second));
            let mut runs_copy: Vec<Run> = runs.iter().map(clone_run).collect();
            let p50 = median(runs_copy.iter_mut().map(|r| ms(r.latency(0.50))));
            let p99 = median(runs_copy.iter_mut().map(|r| ms(r.latency(0.99))));
            let each: Vec<String> = runs
                .iter()
                .map(|r| format!("{:.0}", r.per_second()))
                .collect();
            out.push_str(&format!(
                "{:<10} {:>5} {:>14.0} {:>10.2} {:>10.2}   {}\n",
                r.backend,
                tasks,
                per_second,
                p50,
                p99,
                each.join(" / ")
            ));
            medians.push((r.backend, *tasks, per_second));
        }
    }
    if results.len() > 1 {
        out.push_str("\nPostgreSQL / SQLite throughput:");
        for tasks in CONCURRENCY {
            let of = |backend: &str| {
                medians
                    .iter()
                    .find(|(b, t, _)| *b == backend && *t == tasks)
                    .map(|(_, _, v)| *v)
            };
            if let (Some(pg), Some(lite)) = (of("postgres"), of("sqlite")) {
                out.push_str(&format!("  {tasks} tasks: {:.2}×", pg / lite));
            }
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\nRace: {RACE_TASKS} tasks × {RACE_ATTEMPTS} attempts at one job, released together \
         (exactly one winner asserted; median of {RUNS} runs)\n\n"
    ));
    out.push_str(&format!(
        "{:<10} {:>9} {:>12} {:>12} {:>10} {:>10}\n",
        "backend", "attempts", "race ms", "attempts/s", "p50 ms", "p99 ms"
    ));
    for r in results {
        let mut races: Vec<Run> = r.races.iter().map(clone_run).collect();
        let elapsed = median(races.iter().map(|r| ms(r.elapsed)));
        let per_second = median(races.iter().map(Run::per_second));
        let p50 = median(races.iter_mut().map(|r| ms(r.latency(0.50))));
        let p99 = median(races.iter_mut().map(|r| ms(r.latency(0.99))));
        out.push_str(&format!(
            "{:<10} {:>9} {:>12.1} {:>12.0} {:>10.2} {:>10.2}\n",
            r.backend,
            RACE_TASKS * RACE_ATTEMPTS,
            elapsed,
            per_second,
            p50,
            p99
        ));
    }
    out.push_str(&line);
    println!("{out}");
}

fn clone_run(r: &Run) -> Run {
    Run {
        calls: r.calls,
        elapsed: r.elapsed,
        latencies: r.latencies.clone(),
    }
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

// ----- seeding -----

/// The day the bookings are on.
fn day_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

async fn new_region(store: &Store) -> RegionId {
    let id = RegionId::new(format!(
        "bench-{}",
        &Uuid::new_v4().simple().to_string()[..12]
    ));
    store
        .create_region(&Region {
            id: id.clone(),
            name: format!("Bench {id}"),
            time_zone: "Europe/Berlin".parse().expect("known zone"),
        })
        .await
        .expect("region");
    id
}

fn contractor(region: &RegionId) -> Contractor {
    let id = ContractorId::from(Uuid::new_v4());
    Contractor {
        id,
        name: format!("Contractor {id}"),
        region: region.clone(),
        skills: vec![Skill {
            name: SkillName::new("plumbing"),
            level: 4,
        }],
        location: GeoPoint::new(52.52, 13.40),
        working_hours: vec![WorkingHours::parse(Weekday::Tue, "00:00", "23:59").expect("hours")],
        time_off: vec![],
        rating: 4.5,
        max_jobs_per_day: 24,
        active: true,
    }
}

fn job(region: &RegionId) -> Job {
    let id = JobId::from(Uuid::new_v4());
    Job {
        id,
        region: region.clone(),
        title: format!("Job {id}"),
        location: GeoPoint::new(52.50, 13.42),
        required_skills: vec![RequiredSkill {
            name: SkillName::new("plumbing"),
            min_level: 2,
        }],
        priority: Priority::High,
        window_start_utc: day_start(),
        window_end_utc: day_start() + chrono::Duration::days(1),
        duration_minutes: 60,
        status: JobStatus::Open,
    }
}

/// Stores `jobs` (one bulk insert) and an audit record for each (16 at a time); returns the
/// audit ids.
async fn seed_jobs(store: &Store, jobs: &[Job]) -> Vec<AuditId> {
    store.create_jobs(jobs).await.expect("jobs");
    let audits: Vec<AuditRecord> = jobs
        .iter()
        .map(|job| AuditRecord {
            audit_id: AuditId::from(Uuid::new_v4()),
            request_id: None,
            plan_id: None,
            region: job.region.clone(),
            job: job.clone(),
            config_version: 1,
            requested_by: "bench".into(),
            created_at: day_start(),
            candidates: vec![],
            excluded: vec![],
            evaluated: 0,
            decision: None,
        })
        .collect();
    let ids = audits.iter().map(|a| a.audit_id).collect();
    let audits = Arc::new(audits);
    let next = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..16)
        .map(|_| {
            let (store, audits, next) = (store.clone(), Arc::clone(&audits), Arc::clone(&next));
            tokio::spawn(async move {
                while let Some(a) = audits.get(next.fetch_add(1, Ordering::Relaxed)) {
                    store.create_audit(a).await.expect("audit");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("audit writer");
    }
    ids
}

/// The assignment of `job` to `contractor` for the hour from `start`, as a manual decision,
/// with its `JobAssigned` event.
fn work(
    region: &RegionId,
    job: &Job,
    contractor: &Contractor,
    audit: AuditId,
    start: DateTime<Utc>,
) -> Work {
    let a = Assignment {
        id: AssignmentId::from(Uuid::new_v4()),
        job_id: job.id,
        contractor_id: contractor.id,
        start_utc: start,
        end_utc: start + chrono::Duration::hours(1),
        source: AssignmentSource::Manual,
        audit_id: audit,
    };
    let d = Decision {
        contractor_id: a.contractor_id,
        assignment_id: a.id,
        decided_by: "bench".into(),
        source: AssignmentSource::Manual,
        rank: None,
        decided_at: start,
    };
    let event = NewOutboxEvent::new(
        region.as_str(),
        [
            format!("/dispatch/{region}"),
            format!("/contractor/{}", a.contractor_id),
        ],
        "JobAssigned",
        serde_json::value::to_raw_value(&serde_json::json!({
            "type": "JobAssigned",
            "jobId": a.job_id,
            "contractorId": a.contractor_id,
            "assignmentId": a.id,
            "startUtc": a.start_utc,
            "endUtc": a.end_utc,
            "region": region,
            "source": "manual",
            "auditId": a.audit_id,
        }))
        .expect("the event encodes"),
    );
    if with_events() {
        (a, d, vec![event])
    } else {
        (a, d, vec![])
    }
}

/// Whether assignments carry their `JobAssigned` event (`DISPATCH_BENCH_EVENTS`, default 1).
fn with_events() -> bool {
    std::env::var("DISPATCH_BENCH_EVENTS").map_or(true, |v| v != "0")
}

// ----- the PostgreSQL database -----

#[cfg(not(feature = "postgres"))]
mod postgres {
    /// Nothing to measure without the `postgres` feature.
    pub async fn measure_postgres() -> Option<super::BackendResult> {
        eprintln!(
            "\n{0}\nSKIPPED PostgreSQL: this build lacks the `postgres` feature\n{0}",
            "=".repeat(96)
        );
        None
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use dispatch_store::Store;
    use sqlx::{Connection as _, PgConnection};
    use test_support::{TestDatabase, shout};

    use super::{BackendResult, measure};

    /// Measures PostgreSQL on a fresh database, dropped afterwards; `None` when no server is
    /// named.
    pub async fn measure_postgres() -> Option<BackendResult> {
        let db = bench_db().await?;
        let store = Store::connect(db.url()).await.expect("PostgreSQL store");
        let server: String = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut PgConnection::connect(db.url()).await.expect("connect"))
            .await
            .expect("version");
        println!("PostgreSQL {server}, database {}", db.name());
        let result = measure("postgres", &store).await;
        store.close().await;
        Some(result)
    }

    /// A database created for the bench and dropped (`WITH (FORCE)`) when it ends, even by a
    /// panic; `None` (after a loud message) when no server is named.
    async fn bench_db() -> Option<TestDatabase> {
        let named = ["DISPATCH_BENCH_POSTGRES_URL", "DISPATCH_TEST_POSTGRES_URL"]
            .into_iter()
            .find_map(|var| std::env::var(var).ok().map(|url| (var, url)));
        let Some((var, admin_url)) = named else {
            shout(
                "SKIPPED PostgreSQL: neither DISPATCH_BENCH_POSTGRES_URL nor \
                 DISPATCH_TEST_POSTGRES_URL is set; only SQLite was measured. To compare:\n  \
                 DISPATCH_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench \
                 -p dispatch-store --bench assignments",
            );
            return None;
        };
        let db = TestDatabase::create_at(&admin_url, "dispatch_bench")
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL named by {var} is unreachable: {e}"));
        Some(db)
    }
}
