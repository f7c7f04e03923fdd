#!/usr/bin/env python3
"""Dispatch's planner against PyVRP on Solomon VRPTW instances, side by side.

For each instance and seed: PyVRP (pinned in requirements.txt) solves it with a time limit, then
`dispatch plan-bench` solves it with the same limit and seed; an evaluator written here, apart
from both solvers, checks each solution (every customer exactly once, at most NUMBER vehicles,
capacity, every service start inside its window, every return by the depot's due date) and
recomputes its distance. It prints one line per run and the mean gap.

Convention (the published best-known costs' and PyVRP's own benchmarks'): Euclidean distances
truncated to one decimal (DIMACS: scale by 10, truncate), travel time = distance, the window
bounds the start of service, the depot's window bounds every route.

Run it through scripts/plan-bench-pyvrp, which makes the virtualenv and pins one core:

    scripts/plan-bench-pyvrp [--seconds 10] [--seeds 1,2,3] [INSTANCE.txt ...]

PyVRP is a benchmark dependency only; the service never imports it.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INSTANCES = ["C101", "C201", "R101", "R201", "RC101", "RC201", "RC208"]


class Instance:
    """A Solomon instance read by this script's own parser, in tenths (DIMACS)."""

    def __init__(self, path):
        lines = [l.split() for l in Path(path).read_text().splitlines()]
        lines = [l for l in lines if l]
        self.name = lines[0][0]
        numeric = [l for l in lines if all(_is_number(x) for x in l)]
        self.vehicles, self.capacity = int(numeric[0][0]), int(numeric[0][1])
        rows = [list(map(float, l)) for l in numeric[1:] if len(l) == 7]
        self.x = [r[1] for r in rows]
        self.y = [r[2] for r in rows]
        self.demand = [int(r[3]) for r in rows]
        self.ready = [round(r[4] * 10) for r in rows]
        self.due = [round(r[5] * 10) for r in rows]
        self.service = [round(r[6] * 10) for r in rows]
        self.n = len(rows) - 1

    def dist(self, a, b):
        return int(math.floor(10 * math.hypot(self.x[a] - self.x[b], self.y[a] - self.y[b]) + 1e-9))

    def evaluate(self, routes):
        """Checks a solution (lists of customer numbers); returns (distance in tenths, errors)."""
        errors = []
        routes = [r for r in routes if r]
        if len(routes) > self.vehicles:
            errors.append(f"{len(routes)} vehicles > {self.vehicles}")
        seen = {}
        total = 0
        for k, route in enumerate(routes):
            load, t, at = 0, self.ready[0], 0
            for c in route:
                if not 1 <= c <= self.n:
                    errors.append(f"route {k}: no customer {c}")
                    continue
                seen[c] = seen.get(c, 0) + 1
                load += self.demand[c]
                total += self.dist(at, c)
                start = max(t + self.dist(at, c), self.ready[c])
                if start > self.due[c]:
                    errors.append(f"route {k}: customer {c} starts at {start} > due {self.due[c]}")
                t = start + self.service[c]
                at = c
            total += self.dist(at, 0)
            if t + self.dist(at, 0) > self.due[0]:
                errors.append(f"route {k}: returns at {t + self.dist(at, 0)} > {self.due[0]}")
            if load > self.capacity:
                errors.append(f"route {k}: load {load} > {self.capacity}")
        twice = [c for c, m in seen.items() if m > 1]
        if twice:
            errors.append(f"customers visited more than once: {twice}")
        return total, len(seen), errors


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def solve_pyvrp(inst, seconds, seed):
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    m = Model()
    locs = [m.add_location(inst.x[i], inst.y[i]) for i in range(inst.n + 1)]
    m.add_depot(locs[0], tw_early=inst.ready[0], tw_late=inst.due[0])
    clients = [
        m.add_client(
            locs[i],
            delivery=[inst.demand[i]],
            service_duration=inst.service[i],
            tw_early=inst.ready[i],
            tw_late=inst.due[i],
        )
        for i in range(1, inst.n + 1)
    ]
    m.add_vehicle_type(
        num_available=inst.vehicles,
        capacity=[inst.capacity],
        tw_early=inst.ready[0],
        tw_late=inst.due[0],
    )
    for i in range(inst.n + 1):
        for j in range(inst.n + 1):
            if i != j:
                d = inst.dist(i, j)
                m.add_edge(locs[i], locs[j], distance=d, duration=d)
    started = time.perf_counter()
    res = m.solve(stop=MaxRuntime(seconds), seed=seed, display=False)
    elapsed = time.perf_counter() - started
    # A client activity's idx is the client's 0-based index; customer numbers are 1-based.
    routes = [[a.idx + 1 for a in r.schedule() if a.is_client()] for r in res.best.routes()]
    assert len(clients) == inst.n
    return routes, elapsed, res.is_feasible()


def solve_ours(binary, path, seconds, seed):
    cmd = [str(binary), "plan-bench", "--solomon", str(path), "--seconds", str(seconds),
           "--seed", str(seed), "--routes"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = json.loads(out.strip().splitlines()[-1])
    return line["routes"], line["seconds"], line


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--dispatch", default=str(ROOT / "target/release/dispatch"))
    ap.add_argument("--json", help="also write every run here, one JSON object per line")
    ap.add_argument("instances", nargs="*")
    args = ap.parse_args()
    files = args.instances or [ROOT / "bench/solomon" / f"{n}.txt" for n in INSTANCES]
    seeds = [int(s) for s in args.seeds.split(",")]
    cpus = sorted(os.sched_getaffinity(0))
    print(f"{args.seconds} s per run, seeds {seeds}, on cores {cpus}")
    print(f"{'instance':9}{'seed':>5}  {'PyVRP':>9}{'served':>7}{'veh':>5}{'s':>6}"
          f"  {'ours':>9}{'served':>7}{'veh':>5}{'s':>6}  {'gap':>7}")
    gaps, failures, rows = [], 0, []
    for f in files:
        inst = Instance(f)
        for seed in seeds:
            p_routes, p_secs, p_feasible = solve_pyvrp(inst, args.seconds, seed)
            o_routes, o_secs, _ = solve_ours(args.dispatch, f, args.seconds, seed)
            p_dist, p_served, p_err = inst.evaluate(p_routes)
            o_dist, o_served, o_err = inst.evaluate(o_routes)
            if not p_feasible:
                p_err.append("PyVRP reports its solution infeasible")
            gap = (o_dist / p_dist - 1) * 100
            gaps.append(gap)
            p_veh = sum(1 for r in p_routes if r)
            o_veh = sum(1 for r in o_routes if r)
            print(f"{inst.name:9}{seed:>5}  {p_dist / 10:9.1f}{p_served:>7}{p_veh:>5}{p_secs:6.1f}"
                  f"  {o_dist / 10:9.1f}{o_served:>7}{o_veh:>5}{o_secs:6.1f}  {gap:+6.2f}%")
            for who, errs in (("PyVRP", p_err), ("ours", o_err)):
                for e in errs:
                    print(f"    {who} INFEASIBLE: {e}")
            if o_err or o_served < p_served:
                failures += 1
            rows.append({"instance": inst.name, "seed": seed, "seconds": args.seconds,
                         "pyvrp": {"distance": p_dist / 10, "served": p_served,
                                   "vehicles": p_veh, "errors": p_err},
                         "ours": {"distance": o_dist / 10, "served": o_served,
                                  "vehicles": o_veh, "errors": o_err},
                         "gap_percent": round(gap, 3)})
    print(f"mean gap {statistics.mean(gaps):+.2f}% over {len(gaps)} runs "
          f"(worst {max(gaps):+.2f}%); runs where ours is infeasible or serves fewer: {failures}")
    if args.json:
        with open(args.json, "w") as out:
            for r in rows:
                out.write(json.dumps(r) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
