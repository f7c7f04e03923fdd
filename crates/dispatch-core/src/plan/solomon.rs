//! Solomon's VRPTW benchmark instances, solved by the planner's own search, so the production
//! solver can be measured against published best-known solutions and against PyVRP
//! (`dispatch plan-bench`, `bench/pyvrp/`).
//!
//! # Format (CVRPLIB text)
//!
//! ```text
//! C101
//!
//! VEHICLE
//! NUMBER     CAPACITY
//!   25         200
//!
//! CUSTOMER
//! CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME
//!     0      40         50          0          0       1236          0
//!     1      45         68         10        912        967         90
//! ```
//!
//! Customer 0 is the depot.
//!
//! # Convention (the published best-known costs', and PyVRP's benchmarks')
//!
//! Euclidean distances truncated to one decimal — DIMACS: scale by 10 and truncate; every
//! figure here is in those tenths — travel time equals distance, the service time is the
//! visit's duration, the time window bounds the *start* of service, the depot's window bounds
//! every route (leave at its ready time at the earliest, be back by its due date), at most
//! `NUMBER` vehicles, each carrying at most `CAPACITY`. The cost is the total distance.

use std::fmt;

use super::model::{FAR, Model, RouteSpec, Time};
use super::search;
use super::{Budget, Control};

/// Why an instance could not be read, or a solution is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolomonError {
    /// The text is not a Solomon instance; the message says what is missing.
    #[error("not a Solomon instance: {0}")]
    Format(String),
    /// A line of the customer table does not hold seven numbers.
    #[error("line {line}: {message}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A solution breaks a rule of the instance.
    #[error("infeasible: {0}")]
    Infeasible(String),
}

/// One row of the customer table (row 0 is the depot), in the file's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customer {
    /// X coordinate.
    pub x: f64,
    /// Y coordinate.
    pub y: f64,
    /// Demand on the vehicle's capacity.
    pub demand: i64,
    /// Earliest start of service.
    pub ready: f64,
    /// Latest start of service (the depot's: latest return).
    pub due: f64,
    /// Service time.
    pub service: f64,
}

/// A Solomon instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Its name (the file's first line), e.g. `C101`.
    pub name: String,
    /// Vehicles available (`NUMBER`).
    pub vehicles: usize,
    /// Capacity of each (`CAPACITY`).
    pub capacity: i64,
    /// The depot (index 0), then the customers.
    pub customers: Vec<Customer>,
}

/// A solution: routes of customer numbers (1-based, as in the file), and what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    /// Each vehicle's customers in visiting order; unused vehicles are left out.
    pub routes: Vec<Vec<u32>>,
    /// Total distance in tenths (DIMACS convention), as [`Instance::check`] computes it.
    pub distance: i64,
    /// Customers served.
    pub served: usize,
    /// Search iterations run.
    pub iterations: u64,
}

impl Instance {
    /// Reads an instance in CVRPLIB's Solomon text format.
    pub fn parse(text: &str) -> Result<Self, SolomonError> {
        let mut lines = text.lines().enumerate();
        let name = lines
            .by_ref()
            .map(|(_, l)| l.trim())
            .find(|l| !l.is_empty())
            .ok_or_else(|| SolomonError::Format("the file is empty".into()))?
            .to_owned();
        let mut fleet: Option<(usize, i64)> = None;
        let mut customers = Vec::new();
        let mut seen_number = false;
        for (i, line) in lines {
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            if t.starts_with("NUMBER") {
                seen_number = true;
                continue;
            }
            let first = t.as_bytes()[0];
            if !first.is_ascii_digit() {
                continue;
            }
            let fields: Vec<&str> = t.split_whitespace().collect();
            let bad = |message: String| SolomonError::Line {
                line: i + 1,
                message,
            };
            if fleet.is_none() {
                if !seen_number || fields.len() != 2 {
                    return Err(bad("expected the vehicle line: NUMBER CAPACITY".into()));
                }
                let number = fields[0]
                    .parse::<usize>()
                    .map_err(|e| bad(format!("NUMBER: {e}")))?;
                let capacity = fields[1]
                    .parse::<i64>()
                    .map_err(|e| bad(format!("CAPACITY: {e}")))?;
                fleet = Some((number, capacity));
                continue;
            }
            if fields.len() != 7 {
                return Err(bad(format!(
                    "expected 7 numbers (no, x, y, demand, ready, due, service), found {}",
                    fields.len()
                )));
            }
            let mut v = [0.0f64; 7];
            for (k, f) in fields.iter().enumerate() {
                v[k] = f
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| bad(format!("field {} is not a number: {f:?}", k + 1)))?;
            }
            if v[0] as usize != customers.len() {
                return Err(bad(format!(
                    "customers must be numbered 0, 1, 2, …; expected {}, found {}",
                    customers.len(),
                    v[0]
                )));
            }
            if v[3] < 0.0 || v[3].fract() != 0.0 {
                return Err(bad(format!("demand must be a whole number ≥ 0: {}", v[3])));
            }
            customers.push(Customer {
                x: v[1],
                y: v[2],
                demand: v[3] as i64,
                ready: v[4],
                due: v[5],
                service: v[6],
            });
        }
        let (vehicles, capacity) =
            fleet.ok_or_else(|| SolomonError::Format("no NUMBER/CAPACITY line".into()))?;
        if customers.len() < 2 {
            return Err(SolomonError::Format(
                "the customer table needs the depot and at least one customer".into(),
            ));
        }
        Ok(Self {
            name,
            vehicles,
            capacity,
            customers,
        })
    }

    /// Customers, the depot not counted.
    pub fn customer_count(&self) -> usize {
        self.customers.len() - 1
    }

    /// Distance from row `a` to row `b` in tenths, truncated (DIMACS).
    pub fn distance(&self, a: usize, b: usize) -> i64 {
        let (p, q) = (&self.customers[a], &self.customers[b]);
        let d = ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt();
        // A hair of tolerance so 10 × 5.0 stays 50, not 49.
        (d * 10.0 + 1e-9).floor() as i64
    }

    /// A time of the file in tenths.
    fn tenths(x: f64) -> Time {
        (x * 10.0).round() as Time
    }

    /// The instance as the search's model: one route per vehicle, all of one class.
    fn model(&self) -> Model {
        let n = self.customer_count();
        // Locations: the depot, the customers, and the unused "nowhere" of open routes.
        let n_loc = n + 2;
        let mut time = vec![0i32; n_loc * n_loc];
        for a in 0..=n {
            for b in 0..=n {
                time[a * n_loc + b] = self.distance(a, b).min(i64::from(i32::MAX / 4)) as i32;
            }
        }
        let depot = &self.customers[0];
        let route = RouteSpec {
            start: 0,
            depart: Self::tenths(depot.ready),
            end: 0,
            end_by: Self::tenths(depot.due),
            finish_by: FAR,
            capacity: self.capacity,
            class: 0,
            days: Vec::new(),
        };
        let all: Vec<u32> = (0..self.vehicles as u32).collect();
        let customers = &self.customers[1..];
        let mut model = Model {
            loc: (1..=n as u32).collect(),
            service: customers.iter().map(|c| Self::tenths(c.service)).collect(),
            early: customers.iter().map(|c| Self::tenths(c.ready)).collect(),
            late: customers.iter().map(|c| Self::tenths(c.due)).collect(),
            demand: customers.iter().map(|c| c.demand).collect(),
            level: vec![0; n],
            candidates: vec![all; n],
            routes: vec![route; self.vehicles],
            n_loc,
            time,
            bucket_cap: Vec::new(),
            delay_rate: 0,
            balance_rate: 0,
            neighbours: Vec::new(),
            remoteness: (1..=n).map(|i| self.distance(0, i)).collect(),
        };
        model.finish();
        model
    }

    /// Solves the instance with the planner's search.
    pub fn solve(&self, seed: u64, budget: &Budget, control: &mut dyn Control) -> Solution {
        let model = self.model();
        let outcome = search::solve(&model, seed, budget, control);
        let routes: Vec<Vec<u32>> = outcome
            .routes
            .into_iter()
            .filter(|r| !r.is_empty())
            .map(|r| r.into_iter().map(|j| j + 1).collect())
            .collect();
        let served = routes.iter().map(Vec::len).sum();
        Solution {
            distance: routes.iter().map(|r| self.route_distance(r)).sum::<i64>(),
            routes,
            served,
            iterations: outcome.iterations,
        }
    }

    fn route_distance(&self, route: &[u32]) -> i64 {
        let mut at = 0;
        let mut d = 0;
        for &c in route {
            d += self.distance(at, c as usize);
            at = c as usize;
        }
        d + self.distance(at, 0)
    }

    /// Checks `routes` (customer numbers) against every rule of the instance — each customer
    /// at most once, at most `NUMBER` vehicles, capacity, every service start inside its
    /// window, every return by the depot's due date — and returns the total distance in
    /// tenths. Written apart from the search's bookkeeping, so it can judge it.
    pub fn check(&self, routes: &[Vec<u32>]) -> Result<i64, SolomonError> {
        let bad = |m: String| Err(SolomonError::Infeasible(m));
        let used = routes.iter().filter(|r| !r.is_empty()).count();
        if used > self.vehicles {
            return bad(format!("{used} vehicles, at most {}", self.vehicles));
        }
        let n = self.customer_count();
        let mut seen = vec![false; n + 1];
        let depot = &self.customers[0];
        let mut total = 0;
        for (ri, route) in routes.iter().enumerate() {
            let mut load = 0;
            let mut t = Self::tenths(depot.ready);
            let mut at = 0usize;
            for &c in route {
                let c = c as usize;
                if c == 0 || c > n {
                    return bad(format!("route {ri}: no customer {c}"));
                }
                if std::mem::replace(&mut seen[c], true) {
                    return bad(format!("customer {c} is visited twice"));
                }
                let cust = &self.customers[c];
                load += cust.demand;
                let arrive = t + self.distance(at, c);
                let start = arrive.max(Self::tenths(cust.ready));
                if start > Self::tenths(cust.due) {
                    return bad(format!(
                        "route {ri}: customer {c} starts at {} tenths, after its due date {}",
                        start,
                        Self::tenths(cust.due)
                    ));
                }
                t = start + Self::tenths(cust.service);
                at = c;
            }
            if load > self.capacity {
                return bad(format!(
                    "route {ri}: load {load} over capacity {}",
                    self.capacity
                ));
            }
            if !route.is_empty() && t + self.distance(at, 0) > Self::tenths(depot.due) {
                return bad(format!("route {ri}: back at the depot after its due date"));
            }
            total += self.route_distance(route);
        }
        Ok(total)
    }
}

impl fmt::Display for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} customers, {} vehicles of capacity {})",
            self.name,
            self.customer_count(),
            self.vehicles,
            self.capacity
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::NoClock;

    const TINY: &str = "TINY\n\nVEHICLE\nNUMBER     CAPACITY\n  2         30\n\nCUSTOMER\n\
        CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME\n\n\
        0 0 0 0 0 1000 0\n1 3 4 10 0 100 10\n2 6 8 10 0 200 10\n3 -3 -4 20 0 1000 10\n";

    #[test]
    fn parses_and_truncates_distances() {
        let inst = Instance::parse(TINY).expect("parses");
        assert_eq!(inst.name, "TINY");
        assert_eq!((inst.vehicles, inst.capacity), (2, 30));
        assert_eq!(inst.customer_count(), 3);
        assert_eq!(inst.distance(0, 1), 50);
        // √(1² + 1²) = 1.414… → 14 tenths.
        let mut two = inst.clone();
        two.customers[1].x = 1.0;
        two.customers[1].y = 1.0;
        assert_eq!(two.distance(0, 1), 14);
    }

    #[test]
    fn solves_a_tiny_instance_feasibly() {
        let inst = Instance::parse(TINY).expect("parses");
        let sol = inst.solve(1, &Budget::iterations(200), &mut NoClock);
        assert_eq!(sol.served, 3);
        assert_eq!(inst.check(&sol.routes), Ok(sol.distance));
        // Customers 1 and 2 lie on one ray: out and back is 200 tenths; 3 alone is 100.
        assert_eq!(sol.distance, 300);
    }

    #[test]
    fn check_refuses_what_breaks_the_rules() {
        let inst = Instance::parse(TINY).expect("parses");
        assert!(inst.check(&[vec![1, 2, 3]]).is_err(), "capacity");
        assert!(inst.check(&[vec![1, 1]]).is_err(), "twice");
        assert!(
            inst.check(&[vec![3], vec![1], vec![2]]).is_err(),
            "vehicles"
        );
        assert!(inst.check(&[vec![2, 1], vec![3]]).is_ok());
    }

    #[test]
    fn refuses_what_is_not_an_instance() {
        assert!(Instance::parse("").is_err());
        assert!(Instance::parse("X\nNUMBER CAPACITY\n2 10\n0 0 0 0 0 10\n").is_err());
        assert!(Instance::parse("X\nNUMBER CAPACITY\n2 10\n0 0 0 0 0 10 0\n").is_err());
    }
}
