//! Latency harness: p50 / p99 of `recommend` at 1k, 10k and 100k contractors with 30 days of
//! bookings each, on one thread. Criterion reports means; the targets are percentiles, so this
//! harness times 1,000 requests per size and prints the distribution, twice: wall-clock time,
//! and the thread's CPU time (what the request costs one core, without the time other processes
//! held it — on a shared machine the two differ).
//!
//! ```text
//! cargo bench -p dispatch-core --bench latency              # 1k, 10k, 100k
//! cargo bench -p dispatch-core --bench latency -- 10000     # one size
//! DISPATCH_BENCH_REQUESTS=5000 cargo bench -p dispatch-core --bench latency
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use dispatch_core::synth::{self, SynthConfig};
use dispatch_core::{RegionIndex, ScoringConfig, recommend};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    // `cargo bench` passes `--bench`; every numeric argument is a size.
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000, 100_000];
    }
    let requests: usize = std::env::var("DISPATCH_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let now = Utc.with_ymd_and_hms(2026, 3, 3, 17, 0, 0).unwrap();
    let config = ScoringConfig::default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "recommend latency, one thread; {cores} cores; load average {}; {requests} requests per size",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for &n in &sizes {
        let t = Instant::now();
        let mut cfg = SynthConfig::new(2026, n, now);
        cfg.open_jobs = 500;
        let data = synth::generate(&cfg);
        let generated = t.elapsed();
        let t = Instant::now();
        let index = RegionIndex::build(data.region.clone(), &data.contractors, &data.bookings)
            .expect("synthetic data is consistent");
        let built = t.elapsed();
        let bookings = index.booking_count();
        drop(data.bookings);

        // Warm up caches and the allocator.
        for job in data.open_jobs.iter().take(50) {
            black_box(recommend(&index, job, &config, now, 5).ok());
        }
        let mut times = Vec::with_capacity(requests);
        let mut cpu_times = Vec::with_capacity(requests);
        let mut feasible = 0usize;
        let mut failed = 0usize;
        for i in 0..requests {
            let job = &data.open_jobs[i % data.open_jobs.len()];
            let cpu = cpu_time::ThreadTime::now();
            let t = Instant::now();
            let rec = recommend(&index, job, &config, now, 5);
            times.push(t.elapsed());
            cpu_times.push(cpu.elapsed());
            match rec {
                Ok(r) => feasible += r.feasible_count,
                Err(_) => failed += 1,
            }
            black_box(());
        }
        times.sort_unstable();
        cpu_times.sort_unstable();
        let mean = times.iter().sum::<Duration>() / times.len() as u32;
        println!(
            "n={n:>7}  bookings={bookings} ({:.0}/contractor)  generate={:.1}s  build={:.2}s  avg feasible={:.0}  errors={failed}",
            bookings as f64 / n as f64,
            generated.as_secs_f64(),
            built.as_secs_f64(),
            feasible as f64 / requests as f64,
        );
        println!(
            "    wall: p50={} p90={} p99={} max={} mean={}",
            ms(percentile(&times, 0.50)),
            ms(percentile(&times, 0.90)),
            ms(percentile(&times, 0.99)),
            ms(times[times.len() - 1]),
            ms(mean),
        );
        println!(
            "    cpu:  p50={} p90={} p99={} max={}",
            ms(percentile(&cpu_times, 0.50)),
            ms(percentile(&cpu_times, 0.90)),
            ms(percentile(&cpu_times, 0.99)),
            ms(cpu_times[cpu_times.len() - 1]),
        );
    }
}
