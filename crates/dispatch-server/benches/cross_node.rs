//! Multi-node benchmark (not a test: it prints figures), over real HTTP and real WebSockets.
//!
//! 1. **Cross-node event latency.** Two nodes in this process (A, then B; they share the
//!    outbox shards out, four each, and the run prints which relays `west`'s) on a fresh
//!    PostgreSQL database, once per backplane (Redis pub/sub, PostgreSQL
//!    LISTEN/NOTIFY). A dispatcher subscribed to `/dispatch/west` on each node; `--events`
//!    sequential manual assignments (distinct jobs and contractors) `POST`ed through A; latency
//!    = from just before the `POST` is sent until the `JobAssigned` arrives, on B (cross-node)
//!    and on A (same node, for comparison). Then `--standby-events` more `POST`ed through B
//!    (the other node), heard on A and B, each after a pause spread over 0–1 s.
//!    The baseline: one node with no backplane (events inside the process), same database.
//! 2. **Assignments per second through HTTP.** One node (in-process backplane), SQLite (a temp
//!    file) vs PostgreSQL (a fresh database): `--clients` concurrent dispatchers, each in a
//!    region of its own, `POST`ing non-conflicting manual assignments for `--seconds` or until
//!    `--assignments` are made.
//!
//! ```text
//! DISPATCH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! DISPATCH_TEST_REDIS_URL=redis://127.0.0.1:6379 \
//!     cargo bench -p dispatch-server --bench cross_node \
//!     [-- --events 200 --standby-events 20 --clients 16 --assignments 2000 --seconds 5]
//! ```
//!
//! The PostgreSQL server comes from `DISPATCH_BENCH_POSTGRES_URL`, else
//! `DISPATCH_TEST_POSTGRES_URL` (its user must be allowed to create databases; every database
//! created here is dropped at the end); Redis from `DISPATCH_BENCH_REDIS_URL`, else
//! `DISPATCH_TEST_REDIS_URL`. What has no server named is skipped with a banner. The events
//! travel on a backplane channel named after the run's database, so other deployments on the
//! same Redis are not disturbed. Clients and servers share this process and its cores.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, DurationRound as _, Utc};
use common::{Api, HubClient, SECRET, arg, contractor_body, iso, job_body};
use dispatch_backplane::Backplane;
use dispatch_core::{ContractorId, JobId, NewContractor, NewJob, Region};
use dispatch_server::auth::JwtKeys;
use dispatch_server::relay::RelayRole;
use dispatch_server::state::AppState;
use dispatch_server::{RunOptions, Service};
use dispatch_store::Store;
use serde_json::{Value, json};
use signalr_hub::HubOptions;
use test_support::{TestDatabase, shout};
use tokio::sync::mpsc;
use uuid::Uuid;

/// How long one event may take to arrive before it counts as lost.
const EVENT_WAIT: Duration = Duration::from_secs(10);
/// How long to listen for duplicates after the last event.
const STRAGGLERS: Duration = Duration::from_secs(1);
/// How long a node may take to take its relay role and see its backplane up.
const SETTLE: Duration = Duration::from_secs(15);
/// Untimed assignments before measuring (connections, caches, the first NOTIFY).
const WARM_UP: usize = 5;

fn env_either(first: &str, second: &str) -> Option<String> {
    std::env::var(first)
        .ok()
        .or_else(|| std::env::var(second).ok())
        .filter(|value| !value.is_empty())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Sorted milliseconds with their p50 / p99 / max.
#[derive(Default)]
struct Figures(Vec<f64>);

impl Figures {
    fn push(&mut self, elapsed: Duration) {
        self.0.push(elapsed.as_secs_f64() * 1000.0);
    }

    /// `later - earlier` in milliseconds, negative when `later` came first.
    fn push_between(&mut self, earlier: Instant, later: Instant) {
        let ms = if later >= earlier {
            (later - earlier).as_secs_f64()
        } else {
            -(earlier - later).as_secs_f64()
        };
        self.0.push(ms * 1000.0);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        sorted
    }

    fn p50(&self) -> f64 {
        percentile(&self.sorted(), 0.50)
    }

    fn p99(&self) -> f64 {
        percentile(&self.sorted(), 0.99)
    }

    fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(f64::NAN)
    }

    fn line(&self) -> String {
        format!(
            "p50 {:7.2} ms  p99 {:7.2} ms  max {:7.2} ms  (n={})",
            self.p50(),
            self.p99(),
            self.max(),
            self.0.len()
        )
    }
}

// ----- PostgreSQL databases of our own -----

/// A database created for one scenario (`dispatch_bench_{tag}_…`), dropped (`WITH (FORCE)`)
/// when the value is dropped, even by a panic.
async fn bench_db(admin_url: &str, tag: &str) -> TestDatabase {
    TestDatabase::create_at(admin_url, &format!("dispatch_bench_{tag}"))
        .await
        .unwrap_or_else(|e| panic!("cannot reach the PostgreSQL server: {e}"))
}

/// The backplane channel of the deployment on `db`.
fn backplane_channel(db: &TestDatabase) -> String {
    format!("dispatch:{}", db.name())
}

// ----- nodes -----

/// A service running in this process.
struct Node {
    api: Api,
    state: AppState,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Node {
    /// Starts a node on `database_url`; events cross nodes on `backplane` (`url`, `channel`)
    /// when given, else stay in the process.
    async fn start(database_url: &str, backplane: Option<(&str, &str)>) -> Node {
        let store = Store::connect(database_url)
            .await
            .unwrap_or_else(|e| panic!("store {database_url}: {e}"));
        let keys = JwtKeys::new(SECRET);
        let service = match backplane {
            Some((url, channel)) => {
                let (backplane, subscription) =
                    Backplane::connect(url, channel).expect("backplane URL");
                Service::with_backplane(
                    store,
                    keys,
                    false,
                    HubOptions::default(),
                    backplane,
                    subscription,
                )
            }
            None => Service::new(store, keys, false, HubOptions::default()),
        };
        let state = service.state.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = RunOptions::default();
        let task = tokio::spawn(async move {
            if let Err(error) = service
                .run(listener, options, async {
                    let _ = stopped.await;
                })
                .await
            {
                shout(&format!("node on {addr} failed: {error:#}"));
            }
        });
        Node {
            api: Api::new(addr),
            state,
            stop,
            task,
        }
    }

    /// Waits until the relay holds `shards` outbox shards and the backplane is up.
    async fn settle(&self, name: &str, shards: usize) {
        let deadline = Instant::now() + SETTLE;
        loop {
            let relay = self.state.outbox.role();
            let held = self.state.outbox.shards();
            let health = self.state.backplane.health();
            if relay == RelayRole::Leader && held.len() == shards && health.up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {name}: relay {relay:?} with shards {held:?} (want {shards}), backplane {health:?} after {SETTLE:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(10), &mut task)
            .await
            .is_err()
        {
            shout("a node did not stop within 10 s (open connections?); aborted");
            task.abort();
        }
        self.state.store.close().await;
    }
}

// ----- data -----

/// Tomorrow, on the hour: a slot start every contractor of [`contractor_body`] can take.
fn base() -> DateTime<Utc> {
    (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("whole hour")
}

/// One job and the contractor who is to take it.
#[derive(Clone, Copy)]
struct Pair {
    job: JobId,
    contractor: ContractorId,
}

/// Creates `region` (Los Angeles time) with `count` round-the-clock contractors and as many
/// open jobs at their home, each starting at `at`, through the store.
async fn seed_region(store: &Store, region: &str, count: usize, at: DateTime<Utc>) -> Vec<Pair> {
    let record: Region = serde_json::from_value(
        json!({"id": region, "name": region.to_uppercase(), "timeZone": "America/Los_Angeles"}),
    )
    .expect("region");
    store.create_region(&record).await.expect("create region");
    let mut contractors = Vec::with_capacity(count);
    let mut jobs = Vec::with_capacity(count);
    for i in 0..count {
        let mut body = contractor_body(&format!("{region} contractor {i}"));
        body["region"] = json!(region);
        let new: NewContractor = serde_json::from_value(body).expect("contractor");
        contractors.push(new.into_contractor(ContractorId::from(Uuid::new_v4())));
        let new: NewJob =
            serde_json::from_value(job_body(region, 37.77, -122.42, at, at + Span::hours(4)))
                .expect("job");
        jobs.push(new.into_job(JobId::from(Uuid::new_v4())));
    }
    store
        .create_contractors(&contractors)
        .await
        .expect("create contractors");
    store.create_jobs(&jobs).await.expect("create jobs");
    jobs.iter()
        .zip(&contractors)
        .map(|(job, contractor)| Pair {
            job: job.id,
            contractor: contractor.id,
        })
        .collect()
}

/// The body of a one-hour manual assignment starting at `at`.
fn assignment(pair: Pair, at: DateTime<Utc>) -> Value {
    json!({
        "jobId": pair.job.to_string(),
        "contractorId": pair.contractor.to_string(),
        "startUtc": iso(at),
        "endUtc": iso(at + Span::hours(1)),
    })
}

// ----- part 1: cross-node event latency -----

/// A dispatcher subscribed to `/dispatch/{region}` on a node, read by a task of its own that
/// stamps every `JobAssigned` (job id, arrival) the moment it is read.
struct Listener {
    arrivals: mpsc::UnboundedReceiver<(String, Instant)>,
    task: tokio::task::JoinHandle<()>,
    /// Job ids heard but not (yet) asked for, and how often each was heard.
    early: HashMap<String, Vec<Instant>>,
    /// Every job id heard, with its count (duplicates).
    heard: BTreeMap<String, usize>,
}

impl Listener {
    async fn subscribe(api: &Api, region: &str) -> Listener {
        let mut hub = HubClient::connect(api.addr, &api.dispatcher(region)).await;
        hub.subscribe(&format!("/dispatch/{region}")).await;
        let (sender, arrivals) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Some(record) = hub.next(Duration::from_secs(3600)).await {
                if record["type"] == 1 && record["target"] == "JobAssigned" {
                    let at = Instant::now();
                    let job = record["arguments"][0]["jobId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    if sender.send((job, at)).is_err() {
                        return;
                    }
                }
            }
        });
        Listener {
            arrivals,
            task,
            early: HashMap::new(),
            heard: BTreeMap::new(),
        }
    }

    fn note(&mut self, job: &str, at: Instant) {
        *self.heard.entry(job.to_owned()).or_default() += 1;
        self.early.entry(job.to_owned()).or_default().push(at);
    }

    /// When the `JobAssigned` of `job` arrived; `None` if not within `wait`.
    async fn arrival(&mut self, job: &str, wait: Duration) -> Option<Instant> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(times) = self.early.get_mut(job)
                && !times.is_empty()
            {
                return Some(times.remove(0));
            }
            match tokio::time::timeout_at(deadline, self.arrivals.recv()).await {
                Ok(Some((heard, at))) => self.note(&heard, at),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Takes in whatever arrives within `wait`; returns the job ids heard more than once.
    async fn duplicates(&mut self, wait: Duration) -> Vec<(String, usize)> {
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some((heard, at))) =
            tokio::time::timeout_at(deadline, self.arrivals.recv()).await
        {
            self.note(&heard, at);
        }
        self.heard
            .iter()
            .filter(|(_, count)| **count > 1)
            .map(|(job, count)| (job.clone(), *count))
            .collect()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What one series of assignments measured.
#[derive(Default)]
struct Series {
    post: Figures,
    on_a: Figures,
    on_b: Figures,
    /// From the `POST`'s answer to the event's arrival (negative: the event came first).
    after_answer_a: Figures,
    after_answer_b: Figures,
    lost_a: usize,
    lost_b: usize,
    refused: usize,
}

/// `pairs` assigned one after another through `via`; each timed until its `JobAssigned` is
/// on both listeners. With `spread`, each `POST` waits a pause spread evenly over 0–1 s
/// first, so that `POST`s through a standby do not fall into step with the leader's 1 s poll
/// (back to back, each would wait almost a whole second).
async fn series(
    via: &Api,
    token: &str,
    pairs: &[Pair],
    at: DateTime<Utc>,
    a: &mut Listener,
    b: &mut Listener,
    spread: bool,
) -> Series {
    let mut out = Series::default();
    for (i, pair) in pairs.iter().enumerate() {
        if spread {
            // 0, 618, 236, 854, … ms: the golden-ratio sequence covers 0–1 s evenly.
            let pause = (i as u64 * 618) % 1000;
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        let body = assignment(*pair, at);
        let job = pair.job.to_string();
        let started = Instant::now();
        let answer = via
            .call("POST", "/api/v1/assignments", Some(token), Some(&body))
            .await;
        let answered = Instant::now();
        out.post.push(answered - started);
        if answer.status != 201 {
            out.refused += 1;
            eprintln!("assignment refused: {} {}", answer.status, answer.body);
            continue;
        }
        match a.arrival(&job, EVENT_WAIT).await {
            Some(arrived) => {
                out.on_a.push(arrived - started);
                out.after_answer_a.push_between(answered, arrived);
            }
            None => out.lost_a += 1,
        }
        match b.arrival(&job, EVENT_WAIT).await {
            Some(arrived) => {
                out.on_b.push(arrived - started);
                out.after_answer_b.push_between(answered, arrived);
            }
            None => out.lost_b += 1,
        }
    }
    out
}

fn ratio(numerator: f64, denominator: f64) -> String {
    if denominator > 0.0 {
        format!("{:.2}×", numerator / denominator)
    } else {
        "n/a".to_owned()
    }
}

/// One backplane: two nodes on a fresh database, the series through A and through B.
async fn cross_node(
    admin_url: &str,
    kind: &str,
    backplane_url: Option<&str>,
    events: usize,
    standby_events: usize,
    baseline: &Figures,
) {
    let db = bench_db(admin_url, kind).await;
    let channel = backplane_channel(&db);
    let backplane_url = backplane_url.unwrap_or(db.url()).to_owned();
    let a = Node::start(db.url(), Some((&backplane_url, &channel))).await;
    a.settle("A", 8).await;
    let b = Node::start(db.url(), Some((&backplane_url, &channel))).await;
    // The shards are shared out: four each.
    b.settle("B", 4).await;
    a.settle("A", 4).await;
    let west = dispatch_store::outbox_shard("west");
    let relays_west = if a.state.outbox.shards().contains(&west) {
        "A"
    } else {
        "B"
    };
    println!("  {kind}: west is in shard {west}, relayed by {relays_west}");
    let at = base();
    let pairs = seed_region(
        &a.state.store,
        "west",
        WARM_UP + events + standby_events,
        at,
    )
    .await;
    let (warm_up, rest) = pairs.split_at(WARM_UP);
    let (through_a, through_b) = rest.split_at(events);
    let mut on_a = Listener::subscribe(&a.api, "west").await;
    let mut on_b = Listener::subscribe(&b.api, "west").await;
    let token = a.api.dispatcher("west");

    let warm = series(&a.api, &token, warm_up, at, &mut on_a, &mut on_b, false).await;
    let via_a = series(&a.api, &token, through_a, at, &mut on_a, &mut on_b, false).await;
    let via_b = series(&b.api, &token, through_b, at, &mut on_a, &mut on_b, true).await;
    let duplicates_a = on_a.duplicates(STRAGGLERS).await;
    let duplicates_b = on_b.duplicates(Duration::ZERO).await;

    println!("\n[{kind} backplane] {events} assignments POSTed through A (relay leader):");
    println!("  POST answered            {}", via_a.post.line());
    println!("  JobAssigned on A (same)  {}", via_a.on_a.line());
    println!("  JobAssigned on B (cross) {}", via_a.on_b.line());
    println!(
        "  … after the POST's answer: on A p50 {:.2} ms, p99 {:.2} ms; on B p50 {:.2} ms, p99 {:.2} ms",
        via_a.after_answer_a.p50(),
        via_a.after_answer_a.p99(),
        via_a.after_answer_b.p50(),
        via_a.after_answer_b.p99()
    );
    println!(
        "  cross-node / same-node: p50 {}, p99 {}",
        ratio(via_a.on_b.p50(), via_a.on_a.p50()),
        ratio(via_a.on_b.p99(), via_a.on_a.p99())
    );
    println!(
        "  cross-node / no backplane: p50 {}, p99 {}",
        ratio(via_a.on_b.p50(), baseline.p50()),
        ratio(via_a.on_b.p99(), baseline.p99())
    );
    if standby_events > 0 {
        println!(
            "[{kind} backplane] {standby_events} assignments POSTed through B (standby; the relay runs on A), \
             each after a pause of 0–1 s:"
        );
        println!("  POST answered            {}", via_b.post.line());
        println!("  JobAssigned on A (cross) {}", via_b.on_a.line());
        println!("  JobAssigned on B (same)  {}", via_b.on_b.line());
    }
    for (name, series) in [("warm-up", &warm), ("via A", &via_a), ("via B", &via_b)] {
        if series.refused + series.lost_a + series.lost_b > 0 {
            println!(
                "  PROBLEM ({name}): {} refused, {} never heard on A, {} never heard on B within {EVENT_WAIT:?}",
                series.refused, series.lost_a, series.lost_b
            );
        }
    }
    for (node, duplicates) in [("A", &duplicates_a), ("B", &duplicates_b)] {
        if !duplicates.is_empty() {
            println!(
                "  PROBLEM: {} jobs' JobAssigned heard more than once on {node}: {:?}",
                duplicates.len(),
                &duplicates[..duplicates.len().min(5)]
            );
        }
    }
    drop(on_a);
    drop(on_b);
    a.stop().await;
    b.stop().await;
    drop(db);
}

/// The baseline: one node on a fresh database, events inside the process (no backplane).
async fn single_node(admin_url: &str, events: usize) -> Figures {
    let db = bench_db(admin_url, "single").await;
    let node = Node::start(db.url(), None).await;
    node.settle("single", 8).await;
    let at = base();
    let pairs = seed_region(&node.state.store, "west", WARM_UP + events, at).await;
    let (warm_up, measured) = pairs.split_at(WARM_UP);
    let mut first = Listener::subscribe(&node.api, "west").await;
    let mut second = Listener::subscribe(&node.api, "west").await;
    let token = node.api.dispatcher("west");
    let via = &node.api;
    let warm = series(via, &token, warm_up, at, &mut first, &mut second, false).await;
    let run = series(via, &token, measured, at, &mut first, &mut second, false).await;
    println!("\n[no backplane: one node, events in-process] {events} assignments:");
    println!("  POST answered            {}", run.post.line());
    println!("  JobAssigned              {}", run.on_a.line());
    println!(
        "  … after the POST's answer p50 {:7.2} ms  p99 {:7.2} ms",
        run.after_answer_a.p50(),
        run.after_answer_a.p99()
    );
    for (name, series) in [("warm-up", &warm), ("measured", &run)] {
        if series.refused + series.lost_a + series.lost_b > 0 {
            println!(
                "  PROBLEM ({name}): {} refused, {} never heard within {EVENT_WAIT:?}",
                series.refused,
                series.lost_a.max(series.lost_b)
            );
        }
    }
    drop(first);
    drop(second);
    node.stop().await;
    drop(db);
    run.on_a
}

// ----- part 2: assignments per second -----

/// What one client did.
#[derive(Default)]
struct ClientRun {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, usize>,
}

/// One node on `database_url`: `clients` dispatchers, each in a region of its own with
/// `per_client` jobs and contractors, assigning for up to `seconds`.
async fn throughput(
    database_url: &str,
    backend: &str,
    clients: usize,
    per_client: usize,
    seconds: u64,
) -> (f64, Figures) {
    let node = Node::start(database_url, None).await;
    let at = base();
    let mut work = Vec::with_capacity(clients);
    for client in 0..clients {
        let region = format!("r{client}");
        let pairs = seed_region(&node.state.store, &region, per_client, at).await;
        work.push((region, pairs));
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let addr = node.api.addr;
    let tasks: Vec<_> = work
        .into_iter()
        .map(|(region, pairs)| {
            tokio::spawn(async move {
                let api = Api::new(addr);
                let token = api.dispatcher(&region);
                let mut run = ClientRun::default();
                for pair in pairs {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let body = assignment(pair, at);
                    let sent = Instant::now();
                    let answer = api
                        .call("POST", "/api/v1/assignments", Some(&token), Some(&body))
                        .await;
                    run.latencies.push(sent.elapsed());
                    *run.statuses.entry(answer.status).or_default() += 1;
                }
                run
            })
        })
        .collect();
    let mut latencies = Figures::default();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for task in tasks {
        let run = task.await.expect("client");
        for latency in run.latencies {
            latencies.push(latency);
        }
        for (status, count) in run.statuses {
            *statuses.entry(status).or_default() += count;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let made = statuses.get(&201).copied().unwrap_or(0);
    let per_second = made as f64 / elapsed;
    println!(
        "  {backend:<10} {made:5} assignments in {elapsed:5.2} s = {per_second:7.1}/s; latency {}",
        latencies.line()
    );
    let other: Vec<_> = statuses
        .iter()
        .filter(|(status, _)| **status != 201)
        .collect();
    if !other.is_empty() {
        println!("  PROBLEM ({backend}): answers other than 201: {other:?}");
    }
    node.stop().await;
    (per_second, latencies)
}

// ----- main -----

#[tokio::main]
async fn main() {
    let events = arg("--events", 200);
    let standby_events = arg("--standby-events", 20);
    let clients = arg("--clients", 16).max(1);
    let assignments = arg("--assignments", 2_000);
    let seconds = arg("--seconds", 5) as u64;
    let postgres = env_either("DISPATCH_BENCH_POSTGRES_URL", "DISPATCH_TEST_POSTGRES_URL");
    let redis = env_either("DISPATCH_BENCH_REDIS_URL", "DISPATCH_TEST_REDIS_URL");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "cross_node: {cores} cores (clients and servers in this one process); {events} events \
         (+{WARM_UP} warm-up) through the leader, {standby_events} through the standby; \
         {clients} clients × up to {} assignments or {seconds} s",
        assignments.div_ceil(clients)
    );
    let run_started = Instant::now();

    println!("\n== 1. Cross-node event latency: POST /api/v1/assignments → JobAssigned ==");
    match &postgres {
        None => shout(
            "SKIPPED part 1 (cross-node latency) and the PostgreSQL half of part 2: \
             neither DISPATCH_BENCH_POSTGRES_URL nor DISPATCH_TEST_POSTGRES_URL is set",
        ),
        Some(admin_url) => {
            let baseline = single_node(admin_url, events).await;
            match &redis {
                Some(redis_url) => {
                    cross_node(
                        admin_url,
                        "redis",
                        Some(redis_url),
                        events,
                        standby_events,
                        &baseline,
                    )
                    .await;
                }
                None => shout(
                    "SKIPPED the Redis backplane: neither DISPATCH_BENCH_REDIS_URL nor \
                     DISPATCH_TEST_REDIS_URL is set",
                ),
            }
            cross_node(
                admin_url,
                "postgres",
                None,
                events,
                standby_events,
                &baseline,
            )
            .await;
        }
    }

    println!(
        "\n== 2. Assignments per second through HTTP (one node, {clients} concurrent clients) =="
    );
    let per_client = assignments.div_ceil(clients);
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let sqlite = throughput(&sqlite_url, "sqlite", clients, per_client, seconds).await;
    drop(dir);
    let pg = match &postgres {
        Some(admin_url) => {
            let db = bench_db(admin_url, "throughput").await;
            let result = throughput(db.url(), "postgres", clients, per_client, seconds).await;
            drop(db);
            Some(result)
        }
        None => None,
    };
    let (sqlite_rate, sqlite_latency) = &sqlite;
    if let Some((pg_rate, pg_latency)) = &pg {
        println!(
            "  postgres / sqlite: throughput {}, p50 latency {}, p99 latency {}",
            ratio(*pg_rate, *sqlite_rate),
            ratio(pg_latency.p50(), sqlite_latency.p50()),
            ratio(pg_latency.p99(), sqlite_latency.p99())
        );
    }
    println!("\nwhole run: {:.1} s", run_started.elapsed().as_secs_f64());
}
