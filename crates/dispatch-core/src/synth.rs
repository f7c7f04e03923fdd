//! A seeded generator of realistic synthetic data: a region with its real IANA zone, contractors
//! clustered around its metro areas with trades, levels, weekly hours (day, evening, split,
//! overnight), time off, and N days of travel-consistent bookings, plus open jobs to recommend
//! for. Used by the benchmarks and the tests, and by `dispatch demo` for demo data.
//!
//! Same seed, same data, on every platform and forever: the generator uses its own SplitMix64
//! ([`Rng`]) rather than a library whose output may change between versions.
//!
//! The generated calendars obey the engine's own rules (bookings inside working hours, outside
//! time off, with travel between them, under the daily cap), so they are what the service would
//! have booked.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::config::Limits;
use crate::ids::{AssignmentId, AuditId, ContractorId, JobId, RegionId, SkillName};
use crate::model::{
    Assignment, AssignmentSource, Booking, Contractor, GeoPoint, Job, JobStatus, LocalTime,
    Priority, Region, RequiredSkill, Skill, TimeOff, Weekday, WorkingHours,
};
use crate::time::{DAY, LocalClock, expand_rules, from_secs, shift_rules};
use crate::travel::{StraightLine, TravelEstimator};

/// SplitMix64: tiny, fast, and stable across versions (unlike library RNGs).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for synthetic data, and branch-free.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// An index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return i;
            }
            x -= u64::from(w);
        }
        weights.len().saturating_sub(1)
    }

    /// A random (version 4 shaped) UUID.
    pub fn uuid(&mut self) -> Uuid {
        let bits = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid()
    }
}

/// The trades the generator uses, with how common each is as a primary trade.
pub const TRADES: [(&str, u32); 8] = [
    ("plumbing", 20),
    ("electrical", 20),
    ("hvac", 15),
    ("carpentry", 10),
    ("roofing", 8),
    ("appliance", 12),
    ("locksmith", 7),
    ("painting", 8),
];

const TITLES: [&[&str]; 8] = [
    &[
        "Leaking pipe under sink",
        "Clogged main drain",
        "Water heater not heating",
        "Running toilet",
    ],
    &[
        "Breaker keeps tripping",
        "Install EV charger",
        "Dead outlets in kitchen",
        "Flickering lights",
    ],
    &[
        "Furnace not starting",
        "AC blowing warm air",
        "Thermostat replacement",
        "Annual HVAC service",
    ],
    &[
        "Sticking front door",
        "Replace kitchen cabinet hinges",
        "Repair deck boards",
        "Install shelving",
    ],
    &[
        "Roof leak after storm",
        "Replace missing shingles",
        "Gutter repair",
        "Skylight leak",
    ],
    &[
        "Dishwasher not draining",
        "Fridge not cooling",
        "Washer error code",
        "Oven not heating",
    ],
    &[
        "Locked out of home",
        "Rekey after move-in",
        "Broken deadbolt",
        "Install smart lock",
    ],
    &[
        "Touch up water damage",
        "Paint bedroom",
        "Exterior trim repaint",
        "Drywall patch and paint",
    ],
];

const FIRST: [&str; 24] = [
    "Ana", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Vik",
    "Wen", "Yara",
];
const LAST: [&str; 24] = [
    "Ruiz", "Okafor", "Schmidt", "Nguyen", "Kowalski", "Haddad", "Park", "Rossi", "Silva", "Meyer",
    "Tanaka", "Brown", "Novak", "Ahmed", "Larsen", "Costa", "Fischer", "Kim", "Moreau", "Patel",
    "Jensen", "Garcia", "Ivanova", "Osei",
];

/// A weekly pattern: days, start, end; several entries make a split or mixed week.
type PatternSpec = &'static [(&'static [Weekday], (u8, u8), (u8, u8))];

const WEEKDAYS: &[Weekday] = &[
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// Common weekly hours and how common each is.
const PATTERNS: [(PatternSpec, u32); 9] = [
    (&[(WEEKDAYS, (8, 0), (17, 0))], 35),
    (&[(WEEKDAYS, (7, 0), (16, 0))], 15),
    (
        &[(
            &[
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
            ],
            (9, 0),
            (18, 0),
        )],
        12,
    ),
    (
        &[(
            &[Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
            (7, 0),
            (17, 30),
        )],
        8,
    ),
    (
        &[(WEEKDAYS, (8, 0), (12, 0)), (WEEKDAYS, (13, 0), (17, 0))],
        10,
    ),
    (&[(WEEKDAYS, (14, 0), (22, 0))], 8),
    (
        // Overnight emergency crew: starts Sunday to Thursday evening, ends next morning.
        &[(
            &[
                Weekday::Sun,
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
            ],
            (22, 0),
            (6, 0),
        )],
        5,
    ),
    (
        &[
            (&[Weekday::Sat, Weekday::Sun], (8, 0), (18, 0)),
            (&[Weekday::Mon], (8, 0), (17, 0)),
        ],
        4,
    ),
    (
        &[(
            &[
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
            ],
            (6, 0),
            (14, 0),
        )],
        3,
    ),
];

/// The regions the generator knows: a real zone and its metro areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RegionPreset {
    /// `west`, America/Los_Angeles: Los Angeles, San Diego, the Bay Area, Sacramento, Fresno.
    #[default]
    West,
    /// `central`, America/Chicago: Chicago, Milwaukee, St. Louis, Minneapolis, Kansas City.
    Central,
    /// `germany`, Europe/Berlin: Berlin, Hamburg, Munich, Cologne, Frankfurt, Stuttgart.
    Germany,
}

impl RegionPreset {
    /// Every preset.
    pub const ALL: [RegionPreset; 3] = [Self::West, Self::Central, Self::Germany];

    /// The region record.
    pub fn region(self) -> Region {
        let (id, name, tz) = match self {
            Self::West => ("west", "West", chrono_tz::America::Los_Angeles),
            Self::Central => ("central", "Central", chrono_tz::America::Chicago),
            Self::Germany => ("germany", "Germany", chrono_tz::Europe::Berlin),
        };
        Region {
            id: RegionId::from(id),
            name: name.to_owned(),
            time_zone: tz,
        }
    }

    /// Metro areas: name, centre, weight.
    pub fn metros(self) -> &'static [(&'static str, f64, f64, u32)] {
        match self {
            Self::West => &[
                ("Los Angeles", 34.0522, -118.2437, 40),
                ("San Diego", 32.7157, -117.1611, 15),
                ("San Francisco", 37.7749, -122.4194, 20),
                ("San Jose", 37.3382, -121.8863, 10),
                ("Sacramento", 38.5816, -121.4944, 10),
                ("Fresno", 36.7378, -119.7871, 5),
            ],
            Self::Central => &[
                ("Chicago", 41.8781, -87.6298, 40),
                ("Milwaukee", 43.0389, -87.9065, 12),
                ("St. Louis", 38.6270, -90.1994, 15),
                ("Minneapolis", 44.9778, -93.2650, 18),
                ("Kansas City", 39.0997, -94.5786, 15),
            ],
            Self::Germany => &[
                ("Berlin", 52.5200, 13.4050, 25),
                ("Hamburg", 53.5511, 9.9937, 17),
                ("Munich", 48.1351, 11.5820, 20),
                ("Cologne", 50.9375, 6.9603, 15),
                ("Frankfurt", 50.1109, 8.6821, 13),
                ("Stuttgart", 48.7758, 9.1829, 10),
            ],
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Same seed, same data.
    pub seed: u64,
    /// Which region.
    pub region: RegionPreset,
    /// How many contractors.
    pub contractors: usize,
    /// Days of bookings, from the local day of `now` on.
    pub days: u32,
    /// How many open jobs.
    pub open_jobs: usize,
    /// The present: bookings start on its local day, job windows start from it.
    pub now: DateTime<Utc>,
}

impl SynthConfig {
    /// `contractors` contractors in `west`, 30 days of bookings, 100 open jobs.
    pub fn new(seed: u64, contractors: usize, now: DateTime<Utc>) -> Self {
        Self {
            seed,
            region: RegionPreset::West,
            contractors,
            days: 30,
            open_jobs: 100,
            now,
        }
    }
}

/// Generated data for one region.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The region.
    pub region: Region,
    /// Its contractors.
    pub contractors: Vec<Contractor>,
    /// Their live bookings (each an assignment of a job at a place).
    pub bookings: Vec<Booking>,
    /// Open jobs to recommend for.
    pub open_jobs: Vec<Job>,
    /// The `now` generated for.
    pub now: DateTime<Utc>,
}

/// Generates a region's data. Deterministic in `cfg`.
pub fn generate(cfg: &SynthConfig) -> Dataset {
    let region = cfg.region.region();
    let metros = cfg.region.metros();
    let metro_weights: Vec<u32> = metros.iter().map(|m| m.3).collect();
    let mut rng = Rng::new(cfg.seed);
    let now = cfg.now.timestamp();
    let clock = LocalClock::new(
        region.time_zone,
        now - 3 * DAY,
        now + (i64::from(cfg.days) + 3) * DAY,
    );
    let today = clock.local_day(now);
    let travel = StraightLine::from_limits(&Limits::default());

    let patterns: Vec<Vec<WorkingHours>> = PATTERNS.iter().map(|(p, _)| pattern_hours(p)).collect();
    let pattern_weights: Vec<u32> = PATTERNS.iter().map(|p| p.1).collect();
    // Each pattern's UTC shifts over the booked days, computed once.
    let shifts: Vec<Vec<(i64, i64)>> = patterns
        .iter()
        .map(|h| {
            let mut out = Vec::new();
            let last = today + i64::from(cfg.days) - 1;
            expand_rules(&clock, &shift_rules(h), today, last, &mut out);
            out
        })
        .collect();
    let trade_weights: Vec<u32> = TRADES.iter().map(|t| t.1).collect();

    let mut contractors = Vec::with_capacity(cfg.contractors);
    let mut bookings = Vec::new();
    for _ in 0..cfg.contractors {
        let id = ContractorId::from_uuid(rng.uuid());
        let metro = metros[rng.weighted(&metro_weights)];
        let home = scatter(&mut rng, metro.1, metro.2, 15.0);
        let primary = rng.weighted(&trade_weights);
        let mut skills = vec![Skill {
            name: SkillName::new(TRADES[primary].0),
            level: level(&mut rng),
        }];
        let extra = [0u32, 1, 2][rng.weighted(&[50, 35, 15])];
        for _ in 0..extra {
            let t = TRADES[rng.weighted(&trade_weights)].0;
            if skills.iter().all(|s| s.name.as_str() != t) {
                skills.push(Skill {
                    name: SkillName::new(t),
                    level: level(&mut rng),
                });
            }
        }
        let p = rng.weighted(&pattern_weights);
        let max_jobs_per_day = 3 + rng.below(6) as u32;
        let mut time_off = Vec::new();
        if rng.chance(0.10) {
            let start_day = today + rng.below(u64::from(cfg.days)) as i64;
            let len = 3 + rng.below(8) as i64;
            time_off.push(TimeOff {
                start_utc: from_secs(clock.day_start(start_day)),
                end_utc: from_secs(clock.day_start(start_day + len)),
                reason: "vacation".to_owned(),
            });
        }
        if rng.chance(0.15) {
            let day = today + rng.below(u64::from(cfg.days)) as i64;
            time_off.push(TimeOff {
                start_utc: from_secs(clock.to_utc(day * DAY + 13 * 3600)),
                end_utc: from_secs(clock.to_utc(day * DAY + 17 * 3600)),
                reason: "appointment".to_owned(),
            });
        }
        let rating = (rng.normal() * 0.4 + 4.3).clamp(2.5, 5.0);
        let contractor = Contractor {
            id,
            name: format!(
                "{} {}",
                FIRST[rng.below(FIRST.len() as u64) as usize],
                LAST[rng.below(LAST.len() as u64) as usize]
            ),
            region: region.id.clone(),
            skills,
            location: home,
            working_hours: patterns[p].clone(),
            time_off,
            rating: (rating * 10.0).round() / 10.0,
            max_jobs_per_day,
            active: rng.chance(0.95),
        };
        book_calendar(
            &mut rng,
            &contractor,
            &shifts[p],
            &clock,
            today,
            cfg.days,
            &travel,
            &mut bookings,
        );
        contractors.push(contractor);
    }

    let open_jobs = (0..cfg.open_jobs)
        .map(|_| open_job(&mut rng, &region, metros, &metro_weights, now))
        .collect();
    Dataset {
        region,
        contractors,
        bookings,
        open_jobs,
        now: cfg.now,
    }
}

impl Dataset {
    /// The mean home of the contractors (the region's centre, roughly).
    pub fn region_centre(&self) -> GeoPoint {
        let n = self.contractors.len().max(1) as f64;
        let (lat, lon) = self.contractors.iter().fold((0.0, 0.0), |(a, b), c| {
            (a + c.location.lat, b + c.location.lon)
        });
        GeoPoint::new(lat / n, lon / n)
    }

    /// The jobs and assignments behind [`Dataset::bookings`], for loading a store with demo
    /// data. Jobs that ended before `now` are `completed`, the others `assigned`.
    pub fn booked_jobs(&self) -> Vec<(Job, Assignment)> {
        let by_id: HashMap<ContractorId, &Contractor> =
            self.contractors.iter().map(|c| (c.id, c)).collect();
        self.bookings
            .iter()
            .map(|b| {
                // Derived from the job id, so the same booking always gets the same details.
                let mut rng = Rng::new(b.job_id.as_uuid().as_u64_pair().0);
                let skill = by_id
                    .get(&b.contractor_id)
                    .and_then(|c| c.skills.get(rng.below(c.skills.len() as u64) as usize))
                    .cloned()
                    .unwrap_or(Skill {
                        name: SkillName::new(TRADES[0].0),
                        level: 1,
                    });
                let trade = TRADES
                    .iter()
                    .position(|t| t.0 == skill.name.as_str())
                    .unwrap_or(0);
                let titles = TITLES[trade];
                let minutes = (b.end_utc - b.start_utc).num_minutes().max(1);
                let job = Job {
                    id: b.job_id,
                    region: self.region.id.clone(),
                    title: titles[rng.below(titles.len() as u64) as usize].to_owned(),
                    location: b.location,
                    required_skills: vec![RequiredSkill {
                        name: skill.name.clone(),
                        min_level: 1 + rng.below(u64::from(skill.level)) as u8,
                    }],
                    priority: Priority::Normal,
                    window_start_utc: b.start_utc - chrono::Duration::hours(2),
                    window_end_utc: b.end_utc + chrono::Duration::hours(2),
                    duration_minutes: u32::try_from(minutes).unwrap_or(u32::MAX),
                    status: if b.end_utc <= self.now {
                        JobStatus::Completed
                    } else {
                        JobStatus::Assigned
                    },
                };
                let assignment = Assignment {
                    id: b.assignment_id,
                    job_id: b.job_id,
                    contractor_id: b.contractor_id,
                    start_utc: b.start_utc,
                    end_utc: b.end_utc,
                    source: if rng.chance(0.5) {
                        AssignmentSource::Auto
                    } else {
                        AssignmentSource::Manual
                    },
                    audit_id: AuditId::from_uuid(rng.uuid()),
                };
                (job, assignment)
            })
            .collect()
    }
}

fn pattern_hours(spec: PatternSpec) -> Vec<WorkingHours> {
    let t = |(h, m): (u8, u8)| LocalTime::from_hm(h, m).unwrap_or(LocalTime::MIDNIGHT);
    spec.iter()
        .flat_map(|(days, start, end)| {
            days.iter().map(move |&day| WorkingHours {
                day,
                start: t(*start),
                end: t(*end),
            })
        })
        .collect()
}

fn level(rng: &mut Rng) -> u8 {
    1 + rng.weighted(&[10, 25, 30, 25, 10]) as u8
}

/// A point around a centre, normally spread with `sigma_km`.
fn scatter(rng: &mut Rng, lat: f64, lon: f64, sigma_km: f64) -> GeoPoint {
    let dlat = rng.normal() * sigma_km / 111.2;
    let dlon = rng.normal() * sigma_km / (111.2 * lat.to_radians().cos());
    GeoPoint::new(
        ((lat + dlat) * 1e5).round() / 1e5,
        ((lon + dlon) * 1e5).round() / 1e5,
    )
}

/// Fills one contractor's calendar: on each working stretch clear of time off, a few jobs near
/// home, placed one after another with idle time and travel between them, under the daily cap.
/// Days further out are emptier, as real calendars are.
#[allow(clippy::too_many_arguments)]
fn book_calendar(
    rng: &mut Rng,
    c: &Contractor,
    shifts: &[(i64, i64)],
    clock: &LocalClock,
    today: i64,
    days: u32,
    travel: &StraightLine,
    out: &mut Vec<Booking>,
) {
    let off: Vec<(i64, i64)> = c
        .time_off
        .iter()
        .map(|t| (t.start_utc.timestamp(), t.end_utc.timestamp()))
        .collect();
    let mut per_day: HashMap<i64, u32> = HashMap::new();
    let step = 5 * 60;
    for &(s, e) in shifts {
        if off.iter().any(|&(a, b)| a < e && s < b) {
            continue;
        }
        let ahead = (clock.local_day(s) - today) as f64 / f64::from(days.max(1));
        let fill = (0.85 - 0.5 * ahead).clamp(0.1, 0.9);
        let tries = c.max_jobs_per_day.min(5);
        let jobs = (0..tries).filter(|_| rng.chance(fill)).count();
        let (mut t, mut at) = (s, c.location);
        for _ in 0..jobs {
            let dest = scatter(rng, c.location.lat, c.location.lon, 8.0);
            let idle = rng.below(7) as i64 * 15 * 60;
            let minutes = i64::from(travel.estimate(at, dest).minutes);
            let start = (t + idle + minutes * 60 + step - 1) / step * step;
            let end = start + (2 + rng.below(11) as i64) * 15 * 60;
            let day = clock.local_day(start);
            let count = per_day.entry(day).or_insert(0);
            if end > e || *count >= c.max_jobs_per_day {
                break;
            }
            *count += 1;
            out.push(Booking {
                assignment_id: AssignmentId::from_uuid(rng.uuid()),
                job_id: JobId::from_uuid(rng.uuid()),
                contractor_id: c.id,
                start_utc: from_secs(start),
                end_utc: from_secs(end),
                location: dest,
            });
            t = end;
            at = dest;
        }
    }
}

/// How many of [`generate_demo`]'s open jobs are hard on purpose.
pub const DEMO_HARD_JOBS: usize = 3;

/// [`generate`], with open jobs made for a demo: each normal job is near an active contractor
/// and asks for that contractor's primary trade at a level most of its practitioners hold, in a
/// window of a day or more starting within a day, so that most jobs have several feasible
/// candidates; the last [`DEMO_HARD_JOBS`] are hard on purpose, so their exclusion reasons
/// teach the rules: two trades at the top level (`missingSkill`), a place far from everyone
/// (out of reach), an emergency that must be done within the next two hours (working hours,
/// bookings). Deterministic in `cfg`.
pub fn generate_demo(cfg: &SynthConfig) -> Dataset {
    let mut data = generate(cfg);
    let mut rng = Rng::new(cfg.seed ^ 0x6465_6d6f);
    // Demo contractors are all-rounders: three or four trades each, mostly at level 2 or more,
    // so every neighbourhood has a few people for every trade.
    let trade_weights: Vec<u32> = TRADES.iter().map(|t| t.1).collect();
    for c in &mut data.contractors {
        let want = 3 + rng.below(2) as usize;
        while c.skills.len() < want {
            let t = TRADES[rng.weighted(&trade_weights)].0;
            if c.skills.iter().all(|s| s.name.as_str() != t) {
                c.skills.push(Skill {
                    name: SkillName::new(t),
                    level: 2 + rng.weighted(&[30, 40, 20, 10]) as u8,
                });
            }
        }
    }
    let now = cfg.now.timestamp();
    let active: Vec<&Contractor> = data.contractors.iter().filter(|c| c.active).collect();
    let normal = cfg.open_jobs.saturating_sub(DEMO_HARD_JOBS);
    let mut jobs = Vec::with_capacity(cfg.open_jobs);
    let half_hour = 1800;
    for _ in 0..normal {
        // A contractor whose neighbourhood (15 km) has several active people of one of its
        // trades; that trade, at a level most of them hold.
        let mut pick = None;
        for _ in 0..20 {
            let Some(&c) = active.get(rng.below(active.len().max(1) as u64) as usize) else {
                break;
            };
            let near: Vec<&Contractor> = active
                .iter()
                .copied()
                .filter(|o| km(o.location, c.location) <= 15.0)
                .collect();
            let best = c
                .skills
                .iter()
                .map(|s| {
                    let at = |level: u8| {
                        near.iter()
                            .filter(|o| {
                                o.skills
                                    .iter()
                                    .any(|x| x.name == s.name && x.level >= level)
                            })
                            .count()
                    };
                    (at(1), at(2), s)
                })
                .max_by_key(|&(n, _, _)| n);
            if let Some((n1, n2, skill)) = best {
                let level = if n2 >= 6 && skill.level >= 2 { 2 } else { 1 };
                pick = Some((c, skill.clone(), level));
                if n1 >= 6 {
                    break;
                }
            }
        }
        let Some((c, skill, min_level)) = pick else {
            break;
        };
        let trade = TRADES
            .iter()
            .position(|t| t.0 == skill.name.as_str())
            .unwrap_or(0);
        let priority =
            [Priority::Low, Priority::Normal, Priority::High][rng.weighted(&[20, 60, 20])];
        let hours = match priority {
            Priority::High => 24,
            Priority::Low => 96,
            _ => 48 + 24 * rng.below(2) as i64,
        };
        let start = (now + (1 + rng.below(36) as i64) * half_hour) / 300 * 300;
        let titles = TITLES[trade];
        jobs.push(Job {
            id: JobId::from_uuid(rng.uuid()),
            region: data.region.id.clone(),
            title: titles[rng.below(titles.len() as u64) as usize].to_owned(),
            location: scatter(&mut rng, c.location.lat, c.location.lon, 5.0),
            required_skills: vec![RequiredSkill {
                name: skill.name.clone(),
                min_level,
            }],
            priority,
            window_start_utc: from_secs(start),
            window_end_utc: from_secs(start + hours * 3600),
            duration_minutes: (2 + rng.below(7) as u32) * 15,
            status: JobStatus::Open,
        });
    }
    let metro = data.region_centre();
    let hard = [
        // Two trades at the top level: nearly everyone lacks one (`missingSkill`).
        Job {
            title: "Rewire and re-plumb a historic kitchen".to_owned(),
            location: metro,
            required_skills: vec![
                RequiredSkill {
                    name: SkillName::new(TRADES[0].0),
                    min_level: 5,
                },
                RequiredSkill {
                    name: SkillName::new(TRADES[1].0),
                    min_level: 5,
                },
            ],
            priority: Priority::Normal,
            ..demo_job(&mut rng, &data.region, metro, now, 48)
        },
        // Far from every contractor's home: out of reach.
        Job {
            title: "Cabin roof leak, remote site".to_owned(),
            location: GeoPoint::new(
                (metro.lat + 2.5).clamp(-89.0, 89.0),
                (metro.lon + 2.5).clamp(-179.0, 179.0),
            ),
            required_skills: vec![RequiredSkill {
                name: SkillName::new(TRADES[4].0),
                min_level: 1,
            }],
            ..demo_job(&mut rng, &data.region, metro, now, 48)
        },
        // Now or never: the working hours and today's bookings decide.
        Job {
            title: "Burst pipe, water everywhere".to_owned(),
            priority: Priority::Emergency,
            duration_minutes: 90,
            ..demo_job(&mut rng, &data.region, metro, now, 2)
        },
    ];
    jobs.extend(
        hard.into_iter()
            .take(cfg.open_jobs - jobs.len().min(cfg.open_jobs)),
    );
    jobs.truncate(cfg.open_jobs);
    data.open_jobs = jobs;
    data
}

/// Kilometres between two points (equirectangular: fine at a neighbourhood's scale).
fn km(a: GeoPoint, b: GeoPoint) -> f64 {
    let x = (b.lon - a.lon).to_radians() * ((a.lat + b.lat) / 2.0).to_radians().cos();
    let y = (b.lat - a.lat).to_radians();
    (x * x + y * y).sqrt() * 6371.0
}

/// A plain open plumbing job at `at`, its window `hours` long from `now`.
fn demo_job(rng: &mut Rng, region: &Region, at: GeoPoint, now: i64, hours: i64) -> Job {
    let start = now / 300 * 300;
    Job {
        id: JobId::from_uuid(rng.uuid()),
        region: region.id.clone(),
        title: TITLES[0][0].to_owned(),
        location: at,
        required_skills: vec![RequiredSkill {
            name: SkillName::new(TRADES[0].0),
            min_level: 1,
        }],
        priority: Priority::Normal,
        window_start_utc: from_secs(start),
        window_end_utc: from_secs(start + hours * 3600),
        duration_minutes: 60,
        status: JobStatus::Open,
    }
}

fn open_job(
    rng: &mut Rng,
    region: &Region,
    metros: &[(&str, f64, f64, u32)],
    metro_weights: &[u32],
    now: i64,
) -> Job {
    let metro = metros[rng.weighted(metro_weights)];
    let trade_weights: Vec<u32> = TRADES.iter().map(|t| t.1).collect();
    let first = rng.weighted(&trade_weights);
    let mut required_skills = vec![RequiredSkill {
        name: SkillName::new(TRADES[first].0),
        min_level: 1 + rng.weighted(&[30, 40, 25, 5]) as u8,
    }];
    if rng.chance(0.2) {
        let second = rng.weighted(&trade_weights);
        if second != first {
            required_skills.push(RequiredSkill {
                name: SkillName::new(TRADES[second].0),
                min_level: 1 + rng.weighted(&[60, 30, 10]) as u8,
            });
        }
    }
    let priority = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Emergency,
    ][rng.weighted(&[15, 55, 22, 8])];
    let half_hour = 1800;
    let (start, hours) = match priority {
        Priority::Emergency => (now, 4),
        Priority::High => (now + rng.below(8) as i64 * half_hour, 8),
        Priority::Normal => (
            now + rng.below(96) as i64 * half_hour,
            24 + 24 * rng.below(3) as i64,
        ),
        Priority::Low => (
            now + rng.below(96) as i64 * half_hour,
            72 + 24 * rng.below(3) as i64,
        ),
    };
    let start = start / 300 * 300;
    let duration_minutes = (2 + rng.below(15) as u32) * 15;
    let titles = TITLES[first];
    Job {
        id: JobId::from_uuid(rng.uuid()),
        region: region.id.clone(),
        title: titles[rng.below(titles.len() as u64) as usize].to_owned(),
        location: scatter(rng, metro.1, metro.2, 12.0),
        required_skills,
        priority,
        window_start_utc: from_secs(start),
        window_end_utc: from_secs(start + hours * 3600),
        duration_minutes,
        status: JobStatus::Open,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 16, 0, 0).unwrap()
    }

    /// The demo's promise: at least 80 % of open jobs have 3 or more feasible candidates (the
    /// hard ones included in the count), in every preset region, at several seeds and times.
    #[test]
    fn most_demo_jobs_have_several_feasible_candidates() {
        let config = crate::ScoringConfig::default();
        for seed in [1, 7, 42] {
            for hour in [3, 9, 16, 22] {
                let at = Utc.with_ymd_and_hms(2026, 3, 2, hour, 0, 0).unwrap();
                for preset in RegionPreset::ALL {
                    let mut cfg = SynthConfig::new(seed, 150, at);
                    cfg.region = preset;
                    cfg.days = 7;
                    cfg.open_jobs = 40;
                    let d = generate_demo(&cfg);
                    assert_eq!(d.open_jobs.len(), 40);
                    let live: Vec<&Booking> =
                        d.bookings.iter().filter(|b| b.end_utc > at).collect();
                    let index = crate::RegionIndex::build(d.region.clone(), &d.contractors, live)
                        .expect("index");
                    let mut enough = 0;
                    for job in &d.open_jobs {
                        assert_eq!(job.validate(), Ok(()), "{job:?}");
                        let r = crate::recommend(&index, job, &config, at, 10).expect("ranks");
                        if r.candidates.len() >= 3 {
                            enough += 1;
                        }
                    }
                    let hard = &d.open_jobs[40 - DEMO_HARD_JOBS..];
                    let hard_candidates: Vec<usize> = hard
                        .iter()
                        .map(|job| {
                            crate::recommend(&index, job, &config, at, 10)
                                .expect("ranks")
                                .candidates
                                .len()
                        })
                        .collect();
                    println!(
                        "seed {seed}, {hour}:00 UTC, {preset:?}: {enough}/40 jobs with ≥ 3 candidates; hard ones {hard_candidates:?}"
                    );
                    assert!(
                        enough >= 32,
                        "seed {seed}, {hour}:00, {preset:?}: only {enough}/40 jobs have 3 or more candidates"
                    );
                    assert!(
                        hard_candidates[0] < 3 && hard_candidates[1] == 0,
                        "{hard_candidates:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn same_seed_same_data() {
        let a = generate(&SynthConfig::new(42, 50, now()));
        let b = generate(&SynthConfig::new(42, 50, now()));
        assert_eq!(a.contractors, b.contractors);
        assert_eq!(a.bookings, b.bookings);
        assert_eq!(a.open_jobs, b.open_jobs);
        let c = generate(&SynthConfig::new(43, 50, now()));
        assert_ne!(a.contractors, c.contractors);
    }

    #[test]
    fn generated_inputs_validate() {
        for preset in RegionPreset::ALL {
            let mut cfg = SynthConfig::new(7, 200, now());
            cfg.region = preset;
            let d = generate(&cfg);
            assert_eq!(d.region.validate(), Ok(()));
            for c in &d.contractors {
                assert_eq!(c.validate(), Ok(()), "{c:?}");
            }
            for j in &d.open_jobs {
                assert_eq!(j.validate(), Ok(()), "{j:?}");
            }
            for (job, a) in d.booked_jobs().iter().take(200) {
                assert_eq!(job.validate(), Ok(()));
                assert_eq!(a.validate(), Ok(()));
            }
            // Roughly 30 days × a few jobs on working days.
            let per = d.bookings.len() as f64 / 200.0;
            assert!(
                (20.0..120.0).contains(&per),
                "{per} bookings per contractor"
            );
        }
    }

    #[test]
    fn bookings_never_overlap_and_respect_the_cap() {
        let d = generate(&SynthConfig::new(9, 100, now()));
        let mut by: HashMap<ContractorId, Vec<&Booking>> = HashMap::new();
        for b in &d.bookings {
            by.entry(b.contractor_id).or_default().push(b);
        }
        for list in by.values_mut() {
            list.sort_by_key(|b| b.start_utc);
            for w in list.windows(2) {
                assert!(w[0].end_utc <= w[1].start_utc);
            }
        }
    }

    #[test]
    fn rng_below_is_in_range_and_spread() {
        let mut r = Rng::new(1);
        let mut seen = [0u32; 6];
        for _ in 0..6000 {
            seen[r.below(6) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        assert_eq!(r.below(0), 0);
    }
}
