//! Criterion benchmark of `recommend` at 1k, 10k and 100k contractors with 30 days of bookings
//! each (seeded synthetic data from `dispatch_core::synth`). Criterion reports the mean and its
//! confidence interval; for p50/p99 see the `latency` bench.
//!
//! ```text
//! cargo bench -p dispatch-core --bench recommend
//! ```

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dispatch_core::synth::{self, SynthConfig};
use dispatch_core::{RegionIndex, ScoringConfig, recommend};

fn bench_recommend(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 3, 3, 17, 0, 0).unwrap();
    let config = ScoringConfig::default();
    let mut group = c.benchmark_group("recommend");
    // Modest: the machine is shared.
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    for n in [1_000usize, 10_000, 100_000] {
        let mut cfg = SynthConfig::new(2026, n, now);
        cfg.open_jobs = 200;
        let data = synth::generate(&cfg);
        let index = RegionIndex::build(data.region.clone(), &data.contractors, &data.bookings)
            .expect("synthetic data is consistent");
        drop(data.bookings);
        let mut i = 0usize;
        group.bench_with_input(BenchmarkId::from_parameter(n), &index, |b, index| {
            b.iter(|| {
                let job = &data.open_jobs[i % data.open_jobs.len()];
                i += 1;
                black_box(recommend(index, job, &config, now, 5).ok())
            });
        });
    }
    group.finish();
}

fn bench_index_update(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 3, 3, 17, 0, 0).unwrap();
    let data = synth::generate(&SynthConfig::new(2026, 10_000, now));
    let mut index = RegionIndex::build(data.region.clone(), &data.contractors, &data.bookings)
        .expect("synthetic data is consistent");
    let sample: Vec<_> = data
        .bookings
        .iter()
        .step_by(97)
        .take(1_000)
        .copied()
        .collect();
    let mut i = 0usize;
    c.bench_function("index/remove+add booking (10k)", |b| {
        b.iter(|| {
            let bk = &sample[i % sample.len()];
            i += 1;
            index.remove_booking(bk.contractor_id, bk.job_id);
            index.add_booking(bk).ok();
        });
    });
}

criterion_group!(benches, bench_recommend, bench_index_update);
criterion_main!(benches);
