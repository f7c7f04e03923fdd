//! Relay benchmark (issue 16; not a test: it prints figures), with real `dispatch serve`
//! processes on PostgreSQL and Redis, killed with SIGKILL.
//!
//! 1. **Takeover.** Two nodes share the eight outbox shards (four each). `--kills` times
//!    (alternating A and B): a dispatcher subscribes on the survivor to a region of one of the
//!    victim's shards, the victim is killed (SIGKILL), an assignment of that region is `POST`ed
//!    through the survivor at once, and the time from the kill to the `JobAssigned` at the
//!    subscriber is the takeover time (the survivor learns the shards are free, takes them and
//!    sends). Then the victim is restarted and the shards shared out again. p50 / p99 / max.
//! 2. **Event throughput with 1, 2 and 3 nodes.** For each cluster size, on a fresh database:
//!    the nodes share the shards out, then `--events` events (spread evenly over the eight
//!    shards) are committed into the outbox in one transaction behind the nodes' back, and the
//!    time from the first event sent to the last (the nodes' `dispatch_events_sent_total`,
//!    scraped every 10 ms) gives events relayed per second. Each node also delivers every event
//!    to its own hub (nobody subscribed here), so the figure is relaying and delivery together.
//!
//! ```text
//! DISPATCH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! DISPATCH_TEST_REDIS_URL=redis://127.0.0.1:6379 \
//!     cargo bench -p dispatch-server --bench relay_failover [-- --kills 20 --events 20000]
//! ```
//!
//! Without both servers named it prints a `SKIPPED` banner. The nodes are debug or release
//! builds as cargo built the bench (`cargo bench`: release); they, PostgreSQL, Redis and this
//! process share the machine's cores.

#[path = "../tests/multi_node/cluster.rs"]
#[allow(dead_code)]
mod cluster;
#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as Span, DurationRound as _, Utc};
use cluster::{Node, NodeConfig, shards_of};
use common::{Api, arg, contractor_body, job_body, metric, percentile};
use serde_json::{Value, json};
use test_support::TestDatabase;

/// How long a node may take to share the shards out after a start.
const SETTLE: Duration = Duration::from_secs(30);
/// How long an event may take before the kill counts as failed.
const EVENT_WAIT: Duration = Duration::from_secs(10);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(bench());
}

async fn bench() {
    let kills = arg("--kills", 20);
    let events = arg("--events", 20_000);
    let Some(redis) = cluster::redis().await else {
        return;
    };
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("relay bench: {cpus} CPUs, {kills} kills, {events} events per throughput run");
    let Some(db) = cluster::database().await else {
        return;
    };
    let takeovers = takeover(&db, &redis.url, kills).await;
    drop(db);
    let mut throughput = Vec::new();
    for nodes in 1..=3 {
        let Some(db) = cluster::database().await else {
            return;
        };
        throughput.push((
            nodes,
            relay_throughput(&db, &redis.url, nodes, events).await,
        ));
    }

    let mut sorted = takeovers.clone();
    sorted.sort_by(f64::total_cmp);
    let line = "=".repeat(80);
    println!("\n{line}");
    println!(
        "takeover after SIGKILL ({} kills): kill → JobAssigned at a subscriber of the survivor",
        sorted.len()
    );
    println!(
        "  p50 {:.0} ms / p99 {:.0} ms / max {:.0} ms (min {:.0} ms)",
        percentile(&sorted, 0.50),
        percentile(&sorted, 0.99),
        sorted.last().copied().unwrap_or(0.0),
        sorted.first().copied().unwrap_or(0.0)
    );
    println!(
        "event throughput (a backlog of {events} events over 8 shards, relayed and delivered):"
    );
    let one = throughput
        .first()
        .map_or(1.0, |(_, per_second)| *per_second);
    for (nodes, per_second) in &throughput {
        println!(
            "  {nodes} node(s): {per_second:>8.0} events/s  ({:.2}× one node)",
            per_second / one
        );
    }
    println!("{line}");
}

/// Tomorrow, on the hour.
fn base() -> DateTime<Utc> {
    (Utc::now() + Span::days(1))
        .duration_trunc(Span::hours(1))
        .expect("whole hour")
}

/// The config of every node of a cluster on `db` and `redis_url`.
fn config(db: &TestDatabase, redis_url: &str) -> NodeConfig {
    NodeConfig {
        database_url: db.url().to_owned(),
        backplane_url: redis_url.to_owned(),
        hold_events: false,
    }
}

/// Waits until `nodes` hold every shard between them, none twice, each its fair share or one
/// fewer; returns each node's shards.
async fn shared_out(nodes: &[&Node]) -> Vec<Vec<u16>> {
    let share = 8_usize.div_ceil(nodes.len());
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut held = Vec::new();
        for node in nodes {
            held.push(shards_of(&node.readyz().await.1));
        }
        let mut all: Vec<u16> = held.iter().flatten().copied().collect();
        all.sort_unstable();
        if all == (0..8).collect::<Vec<u16>>()
            && held
                .iter()
                .all(|h| h.len() <= share && h.len() + 1 >= share)
        {
            return held;
        }
        assert!(
            Instant::now() < deadline,
            "the shards were not shared out within {SETTLE:?}: {held:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The first region name `r0`, `r1`, … of each shard, by shard.
fn region_per_shard() -> Vec<String> {
    (0..8)
        .map(|shard| {
            (0..)
                .map(|i| format!("r{i}"))
                .find(|name| dispatch_store::outbox_shard(name) == shard)
                .expect("some region is in any shard")
        })
        .collect()
}

/// `POST`s `body` to `path` as admin, expects 201, returns the new id.
async fn create(api: &Api, path: &str, body: &Value) -> String {
    let answer = api.call("POST", path, Some(&api.admin()), Some(body)).await;
    assert_eq!(answer.status, 201, "POST {path}: {answer:?}");
    answer.body["id"].as_str().expect("id").to_owned()
}

/// Part 1: `kills` SIGKILLs of a shard holder; the takeover times in milliseconds.
async fn takeover(db: &TestDatabase, redis_url: &str, kills: usize) -> Vec<f64> {
    let config = config(db, redis_url);
    let names = ["A", "B"];
    let mut nodes = [Some(Node::start(names[0], &config).await), None::<Node>];
    nodes[1] = Some(Node::start(names[1], &config).await);
    let regions = region_per_shard();
    let at = base();
    // Per region: a contractor and one job per kill, at hours of their own.
    let mut work: Vec<(String, Vec<String>)> = Vec::new();
    {
        let api = &nodes[0].as_ref().expect("A").api;
        for region in &regions {
            api.region(region, "America/Los_Angeles").await;
            let mut contractor = contractor_body(&format!("C {region}"));
            contractor["region"] = json!(region);
            let contractor = create(api, "/api/v1/contractors", &contractor).await;
            let mut jobs = Vec::new();
            for k in 0..kills {
                let start = at + Span::hours(2 * k as i64);
                let body = job_body(region, 37.77, -122.42, start, start + Span::hours(2));
                jobs.push(create(api, "/api/v1/jobs", &body).await);
            }
            work.push((contractor, jobs));
        }
    }
    let mut times = Vec::with_capacity(kills);
    for k in 0..kills {
        let held = {
            let both: Vec<&Node> = nodes.iter().flatten().collect();
            shared_out(&both).await
        };
        let (victim, survivor) = (k % 2, 1 - k % 2);
        let shard = held[victim][k / 2 % held[victim].len()];
        let mut victim_node = nodes[victim].take().expect("victim");
        let region = &regions[usize::from(shard)];
        let (contractor, jobs) = &work[usize::from(shard)];
        let start = at + Span::hours(2 * k as i64);
        let survivor_node = nodes[survivor].as_ref().expect("survivor");
        let mut client = survivor_node.hub(&survivor_node.dispatcher(region)).await;
        client.subscribe(&format!("/dispatch/{region}")).await;
        let body = json!({
            "jobId": jobs[k],
            "contractorId": contractor,
            "startUtc": common::iso(start),
            "endUtc": common::iso(start + Span::hours(1)),
        });
        let token = survivor_node.dispatcher(region);

        victim_node.kill();
        let killed = Instant::now();
        let answer = survivor_node
            .call("POST", "/api/v1/assignments", Some(&token), Some(&body))
            .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        loop {
            let left = EVENT_WAIT.saturating_sub(killed.elapsed());
            match client.next(left).await {
                Some(record) if record["type"] == 1 && record["target"] == "JobAssigned" => break,
                Some(_) => {}
                None => panic!(
                    "kill {k}: no JobAssigned within {EVENT_WAIT:?}\n{}",
                    survivor_node.log_text()
                ),
            }
        }
        let took = killed.elapsed().as_secs_f64() * 1000.0;
        println!(
            "  kill {k:>2}: {} (shard {shard}) killed, event heard on {} after {took:.0} ms",
            names[victim], names[survivor]
        );
        times.push(took);
        drop(client);
        drop(victim_node);
        nodes[victim] = Some(Node::start(names[victim], &config).await);
    }
    times
}

/// The nodes' `dispatch_events_sent_total`, summed.
async fn sent(nodes: &[Node]) -> f64 {
    let mut total = 0.0;
    for node in nodes {
        total += metric(node, "dispatch_events_sent_total").await;
    }
    total
}

/// Part 2: events relayed per second by `count` nodes, from a backlog of `events`.
async fn relay_throughput(db: &TestDatabase, redis_url: &str, count: usize, events: usize) -> f64 {
    let config = config(db, redis_url);
    let names = ["A", "B", "C"];
    let mut nodes = Vec::new();
    for name in names.iter().take(count) {
        nodes.push(Node::start(name, &config).await);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    let held = shared_out(&refs).await;
    let regions = region_per_shard();
    // One statement, one transaction: every event is committed before any is sent, spread
    // round-robin over the shards (each event of region r{…} in its own shard).
    let values: Vec<String> = regions
        .iter()
        .enumerate()
        .map(|(shard, region)| format!("({shard}, '{region}')"))
        .collect();
    let statement = format!(
        "INSERT INTO outbox (shard, channels, target, payload) \
         SELECT r.shard, ARRAY['/dispatch/' || r.region], 'JobAssigned', \
                jsonb_build_object('type', 'JobAssigned', 'region', r.region, 'n', n) \
         FROM generate_series(1, {events}) n \
         JOIN (VALUES {}) AS r(shard, region) ON r.shard = n % 8 \
         ORDER BY n",
        values.join(", ")
    );
    let before = sent(&nodes).await;
    db.execute(&statement).await.expect("the backlog");
    let target = before + events as f64;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut first: Option<(Instant, f64)> = None;
    let last = loop {
        let now_sent = sent(&nodes).await;
        let now = Instant::now();
        if first.is_none() && now_sent > before {
            first = Some((now, now_sent));
        }
        if now_sent >= target {
            break now;
        }
        assert!(
            now < deadline,
            "{count} node(s): {now_sent} of {target} events sent after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let (started, already) = first.unwrap_or((last, before));
    let seconds = last.duration_since(started).as_secs_f64().max(1e-3);
    let per_second = (target - already) / seconds;
    println!(
        "  {count} node(s), shards {held:?}: {events} events in {seconds:.2} s after the first \
         → {per_second:.0} events/s"
    );
    for node in &mut nodes {
        node.kill();
    }
    per_second
}
