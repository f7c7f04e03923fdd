//! The planner's search on Solomon instances, one core, for quick looks while tuning:
//!
//! ```sh
//! cargo bench -p dispatch-core --bench solomon -- [SECONDS] [SEED] [FILE…]
//! ```
//!
//! Defaults: 10 s, seed 1, the seven instances in `bench/solomon/`. Prints one line per
//! instance with the distance, the best-known one and the gap to it. The comparison with
//! PyVRP is `bench/pyvrp/run.py` (through `dispatch plan-bench`).

use std::time::{Duration, Instant};

use dispatch_core::plan::solomon::Instance;
use dispatch_core::plan::{Budget, Control};

struct Clock(Instant);

impl Control for Clock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let seconds: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(10.0);
    let seed: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/solomon");
    let mut files: Vec<String> = args.iter().skip(2).cloned().collect();
    if files.is_empty() {
        files = ["C101", "C201", "R101", "R201", "RC101", "RC201", "RC208"]
            .iter()
            .map(|n| format!("{root}/{n}.txt"))
            .collect();
    }
    println!("seed {seed}, {seconds} s per instance");
    let mut gaps = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("instance readable");
        let inst = Instance::parse(&text).expect("a Solomon instance");
        let bks = std::fs::read_to_string(file.replace(".txt", ".sol"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("Cost ")
                        .and_then(|c| c.trim().parse::<f64>().ok())
                })
            });
        let started = Instant::now();
        let sol = inst.solve(
            seed,
            &Budget::time(Duration::from_secs_f64(seconds)),
            &mut Clock(started),
        );
        let secs = started.elapsed().as_secs_f64();
        let checked = inst.check(&sol.routes).expect("feasible");
        assert_eq!(checked, sol.distance);
        let d = sol.distance as f64 / 10.0;
        let gap = bks.map(|b| (d / b - 1.0) * 100.0);
        if let Some(g) = gap {
            gaps.push(g);
        }
        println!(
            "{:6} served {:3}/{:3} vehicles {:2} distance {:8.1} best-known {:8} gap {:6} iterations {:8} in {:.1} s",
            inst.name,
            sol.served,
            inst.customer_count(),
            sol.routes.len(),
            d,
            bks.map_or("-".into(), |b| format!("{b:.1}")),
            gap.map_or("-".into(), |g| format!("{g:+.2}%")),
            sol.iterations,
            secs
        );
    }
    if !gaps.is_empty() {
        println!(
            "mean gap to best-known {:+.2}%",
            gaps.iter().sum::<f64>() / gaps.len() as f64
        );
    }
}
