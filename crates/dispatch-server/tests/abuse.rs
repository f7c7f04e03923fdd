//! Issue 17's abuse test: a real `dispatch serve` (its own process, default limits) attacked
//! while a well-behaved dispatcher of another region keeps working.
//!
//! * 127.0.0.2 holds more half-open connections (`GET /healthz`, one header line, never the
//!   end) than the default per-address cap, reopening each one the server closes or refuses;
//! * 127.0.0.4, a dispatcher of `west`, keeps `POST /api/v1/recommendations` in flight from
//!   200 tasks;
//! * 127.0.0.5, another dispatcher of `west`, negotiates hub connections it never opens;
//! * 127.0.0.3, the dispatcher of `central`, asks for recommendations one after another
//!   (ask → `RecommendationReady` on its hub connection → read the result), before and during
//!   the attack, and probes `/healthz` every 100 ms.
//!
//! Asserted (robust on a shared, noisy machine): the quiet dispatcher has 0 errors, every
//! `/healthz` probe answers 200, the node holds fewer sockets than the attack opens, every
//! attacker is refused with 429, and the server's memory and files come back near their
//! baseline. The quiet dispatcher's p99 under attack against its unloaded p99 is printed; the
//! issue's "within 2x" is asserted only with `DISPATCH_ABUSE_STRICT=1` (the attackers' client
//! work runs in this process, on the same cores as the server). The attackers' pacing is
//! seeded and jittered; the seed is printed (`DISPATCH_ABUSE_SEED=N` repeats it).
//! `DISPATCH_ABUSE_BIN` runs another `dispatch` binary (a release build, for figures);
//! `DISPATCH_ABUSE_SECONDS` makes the attack last longer (memory must not grow with it).

mod common;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use dispatch_core::RegionId;
use dispatch_server::auth::Role;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Twice the default `DISPATCH_MAX_CONNECTIONS_PER_ADDRESS` (256).
const HALF_OPEN: usize = 512;
/// The flood: 200 recommendation requests in flight.
const FLOOD_TASKS: usize = 200;
/// Negotiating tasks.
const NEGOTIATORS: usize = 16;
/// Quiet operations measured in each phase (at least).
const QUIET_OPS: usize = 20;
/// How often the quiet dispatcher asks: 4 a second, within the default allowance (a burst
/// of 30, then 2 a second) over the test's length.
const QUIET_EVERY: Duration = Duration::from_millis(250);
/// The attack lasts at least this long: more than the 5 s header timeout, so the server's
/// clocks close half-open sockets while it runs.
const ATTACK_AT_LEAST: Duration = Duration::from_secs(7);
/// Bounds every wait.
const BOUND: Duration = Duration::from_secs(30);

/// splitmix64: seeded jitter for the attackers' pacing and the quiet dispatcher's jobs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A pacing interval around `base_ms` (±25 %).
    fn around(&mut self, base_ms: u64) -> Duration {
        let spread = base_ms / 2 + 1;
        Duration::from_millis(base_ms - base_ms / 4 + self.next() % spread)
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

/// A real `dispatch serve`, killed when dropped.
struct Served {
    node: Node,
    pid: u32,
}

async fn serve(dir: &std::path::Path, addr: SocketAddr) -> Served {
    let bin = std::env::var("DISPATCH_ABUSE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_dispatch").to_owned());
    let child = serve_command(&bin, dir, addr)
        .env(
            "RUST_LOG",
            std::env::var("DISPATCH_ABUSE_RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        )
        // The log (tracing writes to stdout) to a file for a post-mortem, if asked.
        .stdout(match std::env::var("DISPATCH_ABUSE_LOG") {
            Ok(path) => {
                std::fs::File::create(path).map_or_else(|_| std::process::Stdio::null(), Into::into)
            }
            Err(_) => std::process::Stdio::null(),
        })
        .spawn()
        .expect("spawn dispatch");
    let pid = child.id();
    let node = Node(child);
    let api = Api::new(addr);
    let up = async {
        loop {
            if let Ok(answer) = api.try_call("GET", "/healthz", None, None).await
                && answer.status == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(BOUND, up)
        .await
        .expect("dispatch starts");
    Served { node, pid }
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// CPU seconds a process has used (user + system), from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |at: usize| {
        fields
            .get(at)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name; 100 ticks a
    // second on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The value of `dispatch_http_connections_open` in the server's `/metrics`.
async fn connections_open(api: &Api) -> f64 {
    let Ok(metrics) = api.try_call("GET", "/metrics", None, None).await else {
        return 0.0;
    };
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .find_map(|line| line.strip_prefix("dispatch_http_connections_open "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The mean of the server's recommendation queue wait and compute histograms.
async fn server_histograms(api: &Api) -> String {
    let metrics = api.call("GET", "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .filter(|line| line.starts_with(prefix))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let mean = |name: &str| {
        let count = value(&format!("{name}_count"));
        1000.0 * value(&format!("{name}_sum")) / count.max(1.0)
    };
    format!(
        "mean queue wait {:.1} ms, mean compute {:.1} ms (all requests, both phases)",
        mean("dispatch_recommendation_queue_seconds"),
        mean("dispatch_recommendation_seconds"),
    )
}

/// The server's open files.
fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

fn p99(samples: &mut [Duration]) -> Duration {
    samples.sort();
    let at = (samples.len() * 99).div_ceil(100).saturating_sub(1);
    samples.get(at).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One quiet operation: ask, hear `RecommendationReady`, read the result.
async fn quiet_op(
    api: &Api,
    hub: &mut HubClient,
    token: &str,
    job: &str,
) -> Result<(Duration, [Duration; 3]), String> {
    // Long runs on a slow machine outlast the hub's client timeout otherwise.
    hub.ping().await;
    let started = Instant::now();
    let asked = api
        .try_call(
            "POST",
            "/api/v1/recommendations",
            Some(token),
            Some(&json!({"jobId": job, "limit": 5})),
        )
        .await?;
    if asked.status != 202 {
        return Err(format!("ask: {} {}", asked.status, asked.body));
    }
    let request_id = asked.body["requestId"].clone();
    let asked_after = started.elapsed();
    let heard = async {
        loop {
            let event = hub.event("RecommendationReady", BOUND).await;
            if event["requestId"] == request_id {
                return;
            }
        }
    };
    tokio::time::timeout(BOUND, heard)
        .await
        .map_err(|_| format!("RecommendationReady for {request_id} never came"))?;
    let heard_after = started.elapsed();
    let id = request_id.as_str().unwrap_or_default();
    let read = api
        .try_call(
            "GET",
            &format!("/api/v1/recommendations/{id}"),
            Some(token),
            None,
        )
        .await?;
    if read.status != 200 || read.body["status"] != "ready" {
        return Err(format!("read: {} {}", read.status, read.body));
    }
    let took = started.elapsed();
    Ok((
        took,
        [asked_after, heard_after - asked_after, took - heard_after],
    ))
}

#[derive(Default)]
struct Counts {
    /// Half-open sockets: closed by the server's clock, refused (429), held right now, most
    /// held at once, connect errors.
    clocked: AtomicU64,
    dropped: AtomicU64,
    refused: AtomicU64,
    held: AtomicUsize,
    held_most: AtomicUsize,
    connect_errors: AtomicU64,
    /// The recommendation flood's answers.
    flood_202: AtomicU64,
    flood_429: AtomicU64,
    flood_503: AtomicU64,
    flood_other: AtomicU64,
    /// The negotiation flood's answers.
    negotiate_200: AtomicU64,
    negotiate_429: AtomicU64,
    negotiate_other: AtomicU64,
    /// `/healthz` probes.
    probes_ok: AtomicU64,
    probes_failed: AtomicU64,
    /// The slowest `/healthz` probe, in microseconds.
    probe_slowest_us: AtomicU64,
    /// The server's most open files and memory during the attack.
    files_most: AtomicUsize,
    /// The most connections the server held (its own gauge: admitted ones only).
    connections_most: AtomicUsize,
    rss_most: AtomicU64,
}

/// One half-open attacker socket, reopened whenever the server closes or refuses it.
async fn half_open(
    addr: SocketAddr,
    counts: Arc<Counts>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut rng: Rng,
) {
    while !*stop.borrow() {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(ip("127.0.0.2"), 0))
            .expect("bind");
        let Ok(mut stream) = socket.connect(addr).await else {
            counts.connect_errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(rng.around(200)).await;
            continue;
        };
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: dispatch\r\n")
            .await;
        let opened = Instant::now();
        let held = counts.held.fetch_add(1, Ordering::AcqRel) + 1;
        counts.held_most.fetch_max(held, Ordering::AcqRel);
        let mut answer = Vec::new();
        let mut buffer = [0u8; 1024];
        let ended = loop {
            tokio::select! {
                read = stream.read(&mut buffer) => match read {
                    Ok(0) | Err(_) => break true,
                    Ok(n) => answer.extend_from_slice(&buffer[..n]),
                },
                _ = stop.changed() => break false,
            }
        };
        counts.held.fetch_sub(1, Ordering::AcqRel);
        if !ended {
            return;
        }
        let counter = if answer.starts_with(b"HTTP/1.1 429") {
            &counts.refused
        } else if opened.elapsed() >= Duration::from_secs(4) {
            &counts.clocked
        } else {
            // Closed unanswered at once: refused while the node was answering as many
            // refusals as it does at a time.
            &counts.dropped
        };
        counter.fetch_add(1, Ordering::Relaxed);
        // Come back soon: a cap on this attacker's reconnect rate, so that its own CPU use in
        // this process (on the server's cores) stays bounded.
        tokio::time::sleep(rng.around(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_dispatcher_keeps_working_while_others_attack() {
    let seed = std::env::var("DISPATCH_ABUSE_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(17, |since| since.as_nanos() as u64)
        });
    println!("abuse: seed {seed} (DISPATCH_ABUSE_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let strict = std::env::var("DISPATCH_ABUSE_STRICT").is_ok_and(|value| value == "1");
    let attack_at_least = std::env::var("DISPATCH_ABUSE_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .map_or(ATTACK_AT_LEAST, Duration::from_secs_f64)
        .max(ATTACK_AT_LEAST);

    let dir = tempfile::tempdir().expect("dir");
    let addr = free_addr();
    let served = serve(dir.path(), addr).await;
    let pid = served.pid;
    let admin = Api::new(addr);
    admin.region("west", "America/Los_Angeles").await;
    admin.region("central", "America/Chicago").await;
    for n in 0..40 {
        let dx = (n % 7) as f64 * 0.01;
        let dy = (n % 5) as f64 * 0.01;
        admin
            .contractor_at("west", &format!("West {n}"), 37.70 + dx, -122.45 + dy, 3)
            .await;
        admin
            .contractor_at(
                "central",
                &format!("Central {n}"),
                41.85 + dx,
                -87.65 + dy,
                3,
            )
            .await;
    }
    let mut west_jobs = Vec::new();
    let mut central_jobs = Vec::new();
    for _ in 0..10 {
        let job = admin.job("west", 37.76, -122.41, 2, 6).await;
        west_jobs.push(job["id"].as_str().expect("id").to_owned());
        let job = admin.job("central", 41.88, -87.63, 2, 6).await;
        central_jobs.push(job["id"].as_str().expect("id").to_owned());
    }
    let dispatcher = |sub: &str, region: &str| {
        admin
            .keys
            .mint_for(sub, Role::Dispatcher, vec![RegionId::new(region)], None, 1)
            .expect("token")
    };
    let quiet_token = dispatcher("quiet-central", "central");
    let noisy_token = dispatcher("noisy-west", "west");
    let negotiator_token = dispatcher("negotiator-west", "west");

    // The quiet dispatcher, unloaded.
    let quiet = Api::bound(addr, Some(ip("127.0.0.3")));
    let mut hub = HubClient::connect_from(ip("127.0.0.3"), addr, &quiet_token).await;
    hub.subscribe("/dispatch/central").await;
    let mut quiet_errors = Vec::new();
    let mut unloaded = Vec::new();
    let mut quiet_pace = tokio::time::interval(QUIET_EVERY);
    for _ in 0..QUIET_OPS {
        quiet_pace.tick().await;
        let job = &central_jobs[rng.below(central_jobs.len())];
        match quiet_op(&quiet, &mut hub, &quiet_token, job).await {
            Ok((took, _)) => unloaded.push(took),
            Err(error) => quiet_errors.push(format!("unloaded: {error}")),
        }
    }
    let files_before = open_files(pid);
    let rss_before = rss_kib(pid);

    // The attack.
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (stop_sockets, sockets_stop) = tokio::sync::watch::channel(false);
    let attack_started = Instant::now();
    let server_cpu_before = cpu_seconds(&pid.to_string());
    let own_cpu_before = cpu_seconds("self");
    let mut tasks = Vec::new();
    for _ in 0..HALF_OPEN {
        let rng = Rng(rng.next());
        tasks.push(tokio::spawn(half_open(
            addr,
            Arc::clone(&counts),
            sockets_stop.clone(),
            rng,
        )));
    }
    let flood = Arc::new(Api::bound(addr, Some(ip("127.0.0.4"))));
    let west_jobs = Arc::new(west_jobs);
    for _ in 0..FLOOD_TASKS {
        let (flood, counts, stop, jobs, token) = (
            Arc::clone(&flood),
            Arc::clone(&counts),
            Arc::clone(&stop),
            Arc::clone(&west_jobs),
            noisy_token.clone(),
        );
        let mut rng = Rng(rng.next());
        tasks.push(tokio::spawn(async move {
            // Paced at about 5 a second each: 1,000 a second in all.
            let mut pace = tokio::time::interval(rng.around(200));
            while !stop.load(Ordering::Acquire) {
                pace.tick().await;
                let job = &jobs[rng.below(jobs.len())];
                let body = json!({"jobId": job, "limit": 5});
                let answer = flood
                    .try_call("POST", "/api/v1/recommendations", Some(&token), Some(&body))
                    .await;
                let counter = match answer.map(|answer| answer.status) {
                    Ok(202) => &counts.flood_202,
                    Ok(429) => &counts.flood_429,
                    Ok(503) => &counts.flood_503,
                    _ => &counts.flood_other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let negotiator = Arc::new(Api::bound(addr, Some(ip("127.0.0.5"))));
    for _ in 0..NEGOTIATORS {
        let (negotiator, counts, stop, token) = (
            Arc::clone(&negotiator),
            Arc::clone(&counts),
            Arc::clone(&stop),
            negotiator_token.clone(),
        );
        let mut rng = Rng(rng.next());
        tasks.push(tokio::spawn(async move {
            // About 50 a second each: 800 a second in all.
            let mut pace = tokio::time::interval(rng.around(20));
            while !stop.load(Ordering::Acquire) {
                pace.tick().await;
                let answer = negotiator
                    .try_call(
                        "POST",
                        "/hub/v1/negotiate?negotiateVersion=1",
                        Some(&token),
                        None,
                    )
                    .await;
                let counter = match answer.map(|answer| answer.status) {
                    Ok(200) => &counts.negotiate_200,
                    Ok(429) => &counts.negotiate_429,
                    _ => &counts.negotiate_other,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // The health probe and the server's files and memory, every 100 ms.
    let probe = {
        let (counts, stop) = (Arc::clone(&counts), Arc::clone(&stop));
        let api = Api::bound(addr, Some(ip("127.0.0.3")));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(100));
            let mut get_metrics = 0u64;
            while !stop.load(Ordering::Acquire) {
                every.tick().await;
                let probed = Instant::now();
                let healthy = tokio::time::timeout(
                    Duration::from_secs(5),
                    api.try_call("GET", "/healthz", None, None),
                )
                .await;
                let ok = matches!(healthy, Ok(Ok(ref answer)) if answer.status == 200);
                counts.probe_slowest_us.fetch_max(
                    u64::try_from(probed.elapsed().as_micros()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                let counter = if ok {
                    &counts.probes_ok
                } else {
                    &counts.probes_failed
                };
                counter.fetch_add(1, Ordering::Relaxed);
                counts
                    .files_most
                    .fetch_max(open_files(pid), Ordering::Relaxed);
                counts.rss_most.fetch_max(rss_kib(pid), Ordering::Relaxed);
                // `/metrics` costs the server more than `/healthz`: read it every 5th time.
                if get_metrics.is_multiple_of(5) {
                    let open = connections_open(&api).await as usize;
                    counts.connections_most.fetch_max(open, Ordering::Relaxed);
                }
                get_metrics += 1;
            }
        })
    };
    // Under attack once the half-open sockets are over the cap (refused) and the flood is
    // being refused too.
    let established = async {
        while counts.refused.load(Ordering::Relaxed) == 0
            || counts.flood_429.load(Ordering::Relaxed) == 0
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(BOUND, established)
        .await
        .expect("the attack reaches its caps");
    // A longer attack than the default spends the quiet dispatcher's burst: it then asks at
    // its sustained allowance (2 a second).
    if attack_at_least > ATTACK_AT_LEAST {
        quiet_pace = tokio::time::interval(Duration::from_millis(500));
    }
    let mut loaded = Vec::new();
    // The slowest ask, wait for the event, and read, under attack.
    let mut loaded_phases = [Duration::ZERO; 3];
    while loaded.len() + quiet_errors.len() < QUIET_OPS
        || attack_started.elapsed() < attack_at_least
    {
        quiet_pace.tick().await;
        let job = &central_jobs[rng.below(central_jobs.len())];
        match quiet_op(&quiet, &mut hub, &quiet_token, job).await {
            Ok((took, phases)) => {
                loaded.push(took);
                for (most, phase) in loaded_phases.iter_mut().zip(phases) {
                    *most = (*most).max(phase);
                }
            }
            Err(error) => quiet_errors.push(format!("under attack: {error}")),
        }
    }
    let attack_lasted = attack_started.elapsed();
    let server_cores =
        (cpu_seconds(&pid.to_string()) - server_cpu_before) / attack_lasted.as_secs_f64();
    let own_cores = (cpu_seconds("self") - own_cpu_before) / attack_lasted.as_secs_f64();
    stop.store(true, Ordering::Release);
    let _ = stop_sockets.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(BOUND, task).await;
    }
    let _ = tokio::time::timeout(BOUND, probe).await;
    drop(flood);
    drop(negotiator);

    // Afterwards: files and memory back near the baseline.
    let settled = async {
        while open_files(pid) > files_before + 16 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let files_settled = tokio::time::timeout(BOUND, settled).await.is_ok();
    let files_after = open_files(pid);
    let rss_settled = async {
        while rss_kib(pid) > rss_before + 16 * 1024 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), rss_settled).await;
    let rss_after = rss_kib(pid);
    let health_after = admin.call("GET", "/healthz", None, None).await.status;

    let (quiet_p99, attacked_p99) = (p99(&mut unloaded), p99(&mut loaded));
    let ratio = attacked_p99.as_secs_f64() / quiet_p99.as_secs_f64().max(1e-6);
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    println!(
        "abuse: {cores} cores; attack {lasted:.1} s; quiet dispatcher: {n0} ops unloaded p99 {q:.1} ms, \
         {n1} ops under attack p99 {a:.1} ms, ratio {ratio:.2} (strict 2x check {strict}); errors {errors}",
        cores = std::thread::available_parallelism().map_or(1, |n| n.get()),
        lasted = attack_lasted.as_secs_f64(),
        n0 = unloaded.len(),
        q = ms(quiet_p99),
        n1 = loaded.len(),
        a = ms(attacked_p99),
        strict = if strict { "on" } else { "off" },
        errors = quiet_errors.len(),
    );
    println!(
        "abuse: quiet under attack, slowest phases: ask {:.1} ms, RecommendationReady {:.1} ms, read {:.1} ms; \
         server: {}",
        ms(loaded_phases[0]),
        ms(loaded_phases[1]),
        ms(loaded_phases[2]),
        server_histograms(&admin).await,
    );
    println!(
        "abuse: half-open from 127.0.0.2: {HALF_OPEN} sockets, at most {held} open at once, {refused} refused (429), \
         {dropped} closed unanswered at once, {clocked} closed by the header clock, {errs} connect errors",
        held = counts.held_most.load(Ordering::Relaxed),
        refused = get(&counts.refused),
        clocked = get(&counts.clocked),
        dropped = get(&counts.dropped),
        errs = get(&counts.connect_errors),
    );
    println!(
        "abuse: recommendation flood: {a} accepted, {r} refused 429, {u} 503, {o} other; negotiation flood: {n} negotiated, {nr} refused 429, {no} other",
        a = get(&counts.flood_202),
        r = get(&counts.flood_429),
        u = get(&counts.flood_503),
        o = get(&counts.flood_other),
        n = get(&counts.negotiate_200),
        nr = get(&counts.negotiate_429),
        no = get(&counts.negotiate_other),
    );
    println!(
        "abuse: /healthz {ok} ok, {failed} failed, slowest {slowest:.1} ms; server files {files_before} before, at most {files_most} during, {files_after} after; \
         memory {rss0:.1} MiB before, at most {rss_most:.1} MiB during, {rss1:.1} MiB after; \
         at most {connections} connections admitted at once; CPU during the attack: server {server_cores:.2} cores, \
         this test process (attackers and quiet client) {own_cores:.2} cores",
        connections = counts.connections_most.load(Ordering::Relaxed),
        ok = get(&counts.probes_ok),
        failed = get(&counts.probes_failed),
        slowest = get(&counts.probe_slowest_us) as f64 / 1000.0,
        files_most = counts.files_most.load(Ordering::Relaxed),
        rss0 = rss_before as f64 / 1024.0,
        rss_most = get(&counts.rss_most) as f64 / 1024.0,
        rss1 = rss_after as f64 / 1024.0,
    );

    for error in quiet_errors.iter().take(5) {
        println!("abuse: quiet error: {error}");
    }
    assert!(
        quiet_errors.is_empty(),
        "the quiet dispatcher failed: {quiet_errors:?}"
    );
    assert_eq!(
        get(&counts.probes_failed),
        0,
        "/healthz failed under attack"
    );
    assert!(get(&counts.probes_ok) > 0);
    assert_eq!(health_after, 200);
    assert!(
        get(&counts.refused) > 0,
        "over the per-address cap: refused"
    );
    assert!(
        get(&counts.clocked) > 0,
        "half-open sockets closed by the header clock"
    );
    assert!(
        get(&counts.flood_429) > 0,
        "the recommendation flood is rate limited"
    );
    assert!(
        get(&counts.negotiate_429) > 0,
        "the negotiation flood is capped"
    );
    // The node admits at most the per-address cap (256) of the 512 half-open sockets, besides
    // the flood's connections (at most 256 too: 200 tasks, a pool that may open more), the
    // negotiators' 16 and the quiet dispatcher's few (holding all 512 would be 728); files
    // add the refusals being answered (at most 128) and the database's.
    let connections_most = counts.connections_most.load(Ordering::Relaxed);
    assert!(
        connections_most < 2 * 256 + NEGOTIATORS + 32,
        "{connections_most} connections admitted at once"
    );
    let files_most = counts.files_most.load(Ordering::Relaxed);
    assert!(
        files_most < files_before + HALF_OPEN + FLOOD_TASKS + NEGOTIATORS,
        "{files_most} files during the attack ({files_before} before)"
    );
    assert!(
        files_settled,
        "{files_after} files after ({files_before} before)"
    );
    assert!(
        rss_after <= rss_before + 32 * 1024,
        "memory {rss_after} KiB after, {rss_before} KiB before"
    );
    if strict {
        assert!(
            ratio <= 2.0,
            "p99 under attack {ratio:.2}x the unloaded p99"
        );
    }
    drop(served.node);
}
