//! [`RegionIndex`]: everything the engine needs about one region's contractors, arranged so that
//! a recommendation never scans or sorts more than it must.
//!
//! Built once from the region's contractors and live bookings, then kept current with
//! [`RegionIndex::add_booking`] / [`RegionIndex::remove_booking`] (O(log b + b) for a contractor
//! with b bookings) and [`RegionIndex::upsert_contractor`].
//!
//! # Layout, and why
//!
//! A recommendation must explain *every* contractor of the region (the excluded ones with their
//! first failing rule), so each request is one pass over the region, and what matters is that
//! each contractor costs a few nanoseconds, not that most are skipped:
//!
//! * **Columns** per contractor (`active`, in-region, home, rating, cap, shift pattern),
//!   addressed by a dense index in contractor-id order, so the pass reads memory front to back
//!   and the excluded list comes out sorted without sorting it.
//! * **Skill index**: per skill, a level column (one byte per contractor: the level, or 0), so
//!   "has plumbing ≥ 2" is one load, with no string comparison.
//! * **Geometry**: each home also as a unit vector, so "within reach" is a dot product against
//!   a threshold computed once per request — no trigonometry for the 70–80 % of contractors who
//!   are out of reach.
//! * **Shift patterns**, interned: contractors with the same weekly hours share one pattern, and
//!   a request converts each pattern's local hours to UTC once, not once per contractor.
//! * **Calendars**: per contractor, bookings sorted by start and found by an interpolated search
//!   (one cache miss, where a binary search over a separate allocation takes six), time off
//!   merged and sorted.
//!
//! A spatial grid and per-skill posting lists were built and measured first (see the README):
//! they find the in-reach, skilled contractors quickly, but the exclusion pass must still visit
//! everyone else, so they only added work.
//!
//! Sits between the model and the engine: built by the service from stored rows, read by
//! [`crate::recommend`] and [`crate::check_assignment`].

use std::borrow::Borrow;
use std::collections::HashMap;

use crate::ids::{ContractorId, JobId, RegionId, SkillName};
use crate::model::{Booking, Contractor, GeoPoint, Region};
use crate::time::{ShiftRule, secs_ceil, shift_rules};
use crate::travel::unit_vector;

/// Why an index could not be built or updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Two contractors with one id were given; the store should never hold that.
    #[error("contractor {0} appears twice; pass each contractor once")]
    DuplicateContractor(ContractorId),
    /// A booking names a contractor the index does not hold; add the contractor first.
    #[error(
        "booking for job {job} names contractor {contractor}, which is not in this index; upsert the contractor first"
    )]
    UnknownContractor {
        /// The contractor named.
        contractor: ContractorId,
        /// The booking's job.
        job: JobId,
    },
    /// A booking ends before it starts.
    #[error("booking for job {0} ends before it starts")]
    InvalidBooking(JobId),
}

/// One booking as the engine keeps it: whole UTC seconds, the job's place, and the job (so that
/// re-planning a job ignores its own booking).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Booked {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) location: GeoPoint,
    /// The job id's bits: compared on every step of a calendar walk, where a `u128` compare
    /// is one instruction pair and a `Uuid` compare a `memcmp` call.
    pub(crate) job: u128,
}

/// One contractor's bookings and absences.
#[derive(Debug, Clone, Default)]
pub(crate) struct Calendar {
    /// Sorted by `(start, end)`.
    pub(crate) bookings: Vec<Booked>,
    /// Length of the longest booking ever inserted: no booking starting before `t - longest`
    /// can reach `t`. Never shrinks (a stale value only widens a search a little).
    pub(crate) longest: i64,
    /// Merged, sorted, non-overlapping `(start, end)`.
    pub(crate) time_off: Vec<(i64, i64)>,
    /// Start of the first booking, kept here (next to the vector's header) for the
    /// interpolated search.
    first_start: i64,
    /// Start of the last booking.
    last_start: i64,
}

impl Calendar {
    /// Index of the first booking that may overlap `[t, …)`.
    pub(crate) fn first_reaching(&self, t: i64) -> usize {
        self.lower_bound(t.saturating_sub(self.longest), None)
    }

    /// [`Calendar::first_reaching`] for a later `t`, walking on from an earlier answer `from`:
    /// cheaper than a new search when few bookings lie in between.
    pub(crate) fn first_reaching_after(&self, from: usize, t: i64) -> usize {
        self.lower_bound(t.saturating_sub(self.longest), Some(from))
    }

    /// Number of bookings, other than `job`'s, starting in `[from, to)`; `hint` is an index
    /// near `from`.
    pub(crate) fn starts_between(&self, from: i64, to: i64, job: u128, hint: usize) -> u32 {
        let a = self.lower_bound(from, Some(hint));
        let b = self.lower_bound(to, Some(a));
        let own = self.bookings[a..b].iter().filter(|x| x.job == job).count();
        (b - a - own) as u32
    }

    /// The first index whose booking starts at or after `key` (`partition_point(start < key)`).
    ///
    /// Searched from `hint` when given, else from an interpolated guess: bookings are spread
    /// over time fairly evenly, so the guess is usually within a step or two of the answer.
    /// That matters more than it seems: calendars live in separate allocations, every probe of a
    /// plain binary search is a cache miss, and each depends on the one before. A guess costs
    /// one miss. A few steps of walking, then a binary search, bound the worst case.
    pub(crate) fn lower_bound(&self, key: i64, hint: Option<usize>) -> usize {
        let b = &self.bookings;
        let n = b.len();
        if n == 0 || key <= self.first_start {
            return 0;
        }
        if key > self.last_start {
            return n;
        }
        let guess = hint.unwrap_or_else(|| {
            let span = (self.last_start - self.first_start).max(1) as i128;
            let off = (key - self.first_start) as i128;
            ((off * (n as i128 - 1)) / span) as usize
        });
        let mut i = guess.min(n - 1);
        const WALK: usize = 8;
        if b[i].start < key {
            // The answer is after i.
            for _ in 0..WALK {
                i += 1;
                if i == n || b[i].start >= key {
                    return i;
                }
            }
            i + b[i..].partition_point(|x| x.start < key)
        } else {
            // The answer is at or before i.
            for _ in 0..WALK {
                if i == 0 || b[i - 1].start < key {
                    return i;
                }
                i -= 1;
            }
            b[..i].partition_point(|x| x.start < key)
        }
    }

    /// Refreshes the cached first and last start after a change.
    fn refresh_span(&mut self) {
        self.first_start = self.bookings.first().map_or(0, |b| b.start);
        self.last_start = self.bookings.last().map_or(0, |b| b.start);
    }

    fn insert(&mut self, booked: Booked) {
        // A job has at most one live booking per contractor: a new one replaces the old.
        self.remove_job(booked.job);
        let at = self
            .bookings
            .partition_point(|b| (b.start, b.end) <= (booked.start, booked.end));
        self.bookings.insert(at, booked);
        self.longest = self.longest.max(booked.end - booked.start);
        self.refresh_span();
    }

    fn remove_job(&mut self, job: u128) -> bool {
        match self.bookings.iter().position(|b| b.job == job) {
            Some(i) => {
                self.bookings.remove(i);
                self.refresh_span();
                true
            }
            None => false,
        }
    }
}

/// The skill index: per skill, a level column.
#[derive(Debug, Clone, Default)]
pub(crate) struct SkillIndex {
    ids: HashMap<SkillName, u32>,
    /// `levels[skill][contractor]`: the level, 0 when the contractor lacks the skill. One byte
    /// per contractor and skill: 100,000 contractors and 50 trades are 5 MB.
    pub(crate) levels: Vec<Vec<u8>>,
}

impl SkillIndex {
    pub(crate) fn column(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    fn push_contractor(&mut self) {
        for col in &mut self.levels {
            col.push(0);
        }
    }

    fn set(&mut self, idx: u32, skills: &[(SkillName, u8)], n: usize) {
        for col in &mut self.levels {
            col[idx as usize] = 0;
        }
        for (name, level) in skills {
            let id = match self.ids.get(name.as_str()) {
                Some(&id) => id,
                None => {
                    let id = self.levels.len() as u32;
                    self.ids.insert(name.clone(), id);
                    self.levels.push(vec![0; n]);
                    id
                }
            };
            let cell = &mut self.levels[id as usize][idx as usize];
            *cell = (*cell).max(*level);
        }
    }
}

/// Interned weekly shift patterns.
#[derive(Debug, Clone, Default)]
pub(crate) struct Patterns {
    pub(crate) rules: Vec<Vec<ShiftRule>>,
    lookup: HashMap<Vec<ShiftRule>, u32>,
}

impl Patterns {
    fn intern(&mut self, rules: Vec<ShiftRule>) -> u32 {
        if let Some(&id) = self.lookup.get(&rules) {
            return id;
        }
        let id = self.rules.len() as u32;
        self.rules.push(rules.clone());
        self.lookup.insert(rules, id);
        id
    }
}

/// The recommendation index of one region. See the module docs for its layout.
#[derive(Debug, Clone)]
pub struct RegionIndex {
    pub(crate) region: Region,
    pub(crate) ids: Vec<ContractorId>,
    by_id: HashMap<ContractorId, u32>,
    /// Dense indices in contractor-id order.
    pub(crate) order: Vec<u32>,
    pub(crate) active: Vec<bool>,
    /// False for contractors of another region.
    pub(crate) in_region: Vec<bool>,
    /// The region of each contractor not in this index's region, so `wrongRegion` can say which.
    pub(crate) foreign: HashMap<u32, RegionId>,
    pub(crate) home: Vec<GeoPoint>,
    /// Home as a unit vector: the distance test of a request is then a dot product, no
    /// trigonometry (see `geo`).
    pub(crate) home_xyz: Vec<[f64; 3]>,
    pub(crate) rating: Vec<f64>,
    pub(crate) max_jobs: Vec<u32>,
    pub(crate) pattern: Vec<u32>,
    pub(crate) calendars: Vec<Calendar>,
    pub(crate) skills: SkillIndex,
    pub(crate) patterns: Patterns,
}

impl RegionIndex {
    /// Builds the index of `region` from its contractors and their live bookings.
    ///
    /// Contractors of other regions may be included: they are kept and reported as
    /// `wrongRegion`, so that a caller passing stale data still gets an explanation rather than
    /// a silent omission.
    pub fn build<C, B>(
        region: Region,
        contractors: impl IntoIterator<Item = C>,
        bookings: impl IntoIterator<Item = B>,
    ) -> Result<Self, IndexError>
    where
        C: Borrow<Contractor>,
        B: Borrow<Booking>,
    {
        let mut list: Vec<C> = contractors.into_iter().collect();
        // Dense order = id order, so the per-request walk in id order is sequential in memory.
        list.sort_unstable_by_key(|c| c.borrow().id);
        if let Some(w) = list
            .windows(2)
            .find(|w| w[0].borrow().id == w[1].borrow().id)
        {
            return Err(IndexError::DuplicateContractor(w[0].borrow().id));
        }
        let n = list.len();
        let mut index = Self {
            region,
            ids: Vec::with_capacity(n),
            by_id: HashMap::with_capacity(n),
            order: (0..n as u32).collect(),
            active: Vec::with_capacity(n),
            in_region: Vec::with_capacity(n),
            foreign: HashMap::new(),
            home: Vec::with_capacity(n),
            home_xyz: Vec::with_capacity(n),
            rating: Vec::with_capacity(n),
            max_jobs: Vec::with_capacity(n),
            pattern: Vec::with_capacity(n),
            calendars: Vec::with_capacity(n),
            skills: SkillIndex::default(),
            patterns: Patterns::default(),
        };
        for c in &list {
            index.push_contractor(c.borrow());
        }
        for b in bookings {
            let b = b.borrow();
            let idx = index.idx_for_booking(b)?;
            // Bulk load: append, sort once per calendar below.
            let cal = &mut index.calendars[idx];
            let booked = to_booked(b);
            cal.longest = cal.longest.max(booked.end - booked.start);
            cal.bookings.push(booked);
        }
        for cal in &mut index.calendars {
            cal.bookings
                .sort_unstable_by_key(|b| (b.start, b.end, b.job));
            // Keep one booking per job (the latest inserted wins in `insert`; here, the first).
            if cal.bookings.len() > 1 {
                let mut seen = std::collections::HashSet::with_capacity(cal.bookings.len());
                cal.bookings.retain(|b| seen.insert(b.job));
            }
            cal.refresh_span();
        }
        Ok(index)
    }

    fn idx_for_booking(&self, b: &Booking) -> Result<usize, IndexError> {
        let idx = *self
            .by_id
            .get(&b.contractor_id)
            .ok_or(IndexError::UnknownContractor {
                contractor: b.contractor_id,
                job: b.job_id,
            })?;
        if b.end_utc <= b.start_utc {
            return Err(IndexError::InvalidBooking(b.job_id));
        }
        Ok(idx as usize)
    }

    fn push_contractor(&mut self, c: &Contractor) {
        let idx = self.ids.len() as u32;
        self.ids.push(c.id);
        self.by_id.insert(c.id, idx);
        self.active.push(false);
        self.in_region.push(true);
        self.home.push(c.location);
        self.home_xyz.push([0.0; 3]);
        self.rating.push(0.0);
        self.max_jobs.push(0);
        self.pattern.push(0);
        self.calendars.push(Calendar::default());
        self.skills.push_contractor();
        self.set_contractor(idx, c);
    }

    /// (Re)writes every column of contractor `idx` from `c`; bookings are kept.
    fn set_contractor(&mut self, idx: u32, c: &Contractor) {
        let i = idx as usize;
        self.active[i] = c.active;
        self.in_region[i] = c.region == self.region.id;
        if self.in_region[i] {
            self.foreign.remove(&idx);
        } else {
            self.foreign.insert(idx, c.region.clone());
        }
        self.home[i] = c.location;
        self.home_xyz[i] = unit_vector(c.location);
        self.rating[i] = c.rating;
        self.max_jobs[i] = c.max_jobs_per_day;
        self.pattern[i] = self.patterns.intern(shift_rules(&c.working_hours));
        let skills: Vec<(SkillName, u8)> =
            c.skills.iter().map(|s| (s.name.clone(), s.level)).collect();
        let n = self.ids.len();
        self.skills.set(idx, &skills, n);
        let mut off: Vec<(i64, i64)> = c
            .time_off
            .iter()
            .map(|t| (t.start_utc.timestamp(), secs_ceil(t.end_utc)))
            .filter(|(s, e)| e > s)
            .collect();
        off.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(off.len());
        for (s, e) in off {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        self.calendars[i].time_off = merged;
    }

    /// Adds or replaces a contractor (profile, skills, hours, time off); its bookings are kept.
    /// O(skills) for an existing contractor; a new one also shifts the id order
    /// (O(n), a memmove).
    pub fn upsert_contractor(&mut self, c: &Contractor) {
        match self.by_id.get(&c.id) {
            Some(&idx) => self.set_contractor(idx, c),
            None => {
                self.push_contractor(c);
                let idx = (self.ids.len() - 1) as u32;
                let ids = &self.ids;
                let at = self.order.partition_point(|&o| ids[o as usize] < c.id);
                self.order.insert(at, idx);
            }
        }
    }

    /// Adds a live booking. A booking for the same job and contractor is replaced.
    pub fn add_booking(&mut self, booking: &Booking) -> Result<(), IndexError> {
        let idx = self.idx_for_booking(booking)?;
        self.calendars[idx].insert(to_booked(booking));
        Ok(())
    }

    /// Removes the contractor's booking for `job` (unassigned or cancelled); false when there
    /// was none.
    pub fn remove_booking(&mut self, contractor: ContractorId, job: JobId) -> bool {
        match self.by_id.get(&contractor) {
            Some(&idx) => self.calendars[idx as usize].remove_job(job.as_uuid().as_u128()),
            None => false,
        }
    }

    /// The region indexed.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// Number of contractors held (members and foreign).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when no contractor is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// True when the contractor is held.
    pub fn contains(&self, contractor: ContractorId) -> bool {
        self.by_id.contains_key(&contractor)
    }

    /// Number of live bookings held.
    pub fn booking_count(&self) -> usize {
        self.calendars.iter().map(|c| c.bookings.len()).sum()
    }

    /// Number of distinct weekly shift patterns (contractors with equal hours share one).
    pub fn pattern_count(&self) -> usize {
        self.patterns.rules.len()
    }

    /// Contractors in id order.
    pub fn contractor_ids(&self) -> impl Iterator<Item = ContractorId> + '_ {
        self.order.iter().map(|&i| self.ids[i as usize])
    }

    /// Drops the bookings that end at or before `t` (UTC seconds): the past scoring no longer
    /// looks at. Returns how many went.
    pub fn drop_bookings_ending_by(&mut self, t: i64) -> usize {
        let mut dropped = 0;
        for cal in &mut self.calendars {
            let before = cal.bookings.len();
            cal.bookings.retain(|b| b.end > t);
            if cal.bookings.len() != before {
                dropped += before - cal.bookings.len();
                cal.refresh_span();
            }
        }
        dropped
    }

    /// The contractors whose indexed state differs between `self` and `other` (held by one
    /// only, or with other columns, skills, hours, time off or bookings), in id order: what a
    /// consistency check of a kept-current index against a fresh build reports.
    pub fn differences(&self, other: &RegionIndex) -> Vec<ContractorId> {
        let mut ids: Vec<ContractorId> = self.ids.iter().chain(&other.ids).copied().collect();
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter()
            .filter(|&id| match (self.idx_of(id), other.idx_of(id)) {
                (Some(a), Some(b)) => self.view(a) != other.view(b),
                _ => true,
            })
            .collect()
    }

    /// One contractor's state, in a form independent of dense indices and interning.
    fn view(&self, idx: u32) -> ContractorView<'_> {
        let i = idx as usize;
        let mut skills: Vec<(&str, u8)> = self
            .skills
            .ids
            .iter()
            .map(|(name, &col)| (name.as_str(), self.skills.levels[col as usize][i]))
            .filter(|&(_, level)| level > 0)
            .collect();
        skills.sort_unstable();
        let cal = &self.calendars[i];
        let mut bookings: Vec<(i64, i64, u128, u64, u64)> = cal
            .bookings
            .iter()
            .map(|b| {
                (
                    b.start,
                    b.end,
                    b.job,
                    b.location.lat.to_bits(),
                    b.location.lon.to_bits(),
                )
            })
            .collect();
        bookings.sort_unstable();
        ContractorView {
            active: self.active[i],
            in_region: self.in_region[i],
            home: (self.home[i].lat.to_bits(), self.home[i].lon.to_bits()),
            rating: self.rating[i].to_bits(),
            max_jobs: self.max_jobs[i],
            pattern: &self.patterns.rules[self.pattern[i] as usize],
            skills,
            time_off: &cal.time_off,
            bookings,
        }
    }

    /// Roughly the heap bytes the index holds (columns, skill levels, calendars, maps).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let n = self.ids.len();
        let per_contractor = size_of::<ContractorId>() * 2
            + size_of::<u32>() * 4
            + 2
            + size_of::<GeoPoint>()
            + size_of::<[f64; 3]>()
            + size_of::<f64>()
            + size_of::<Calendar>();
        let calendars: usize = self
            .calendars
            .iter()
            .map(|c| {
                c.bookings.capacity() * size_of::<Booked>()
                    + c.time_off.capacity() * size_of::<(i64, i64)>()
            })
            .sum();
        let skills: usize = self.skills.levels.iter().map(Vec::capacity).sum();
        n * per_contractor + calendars + skills
    }

    pub(crate) fn idx_of(&self, id: ContractorId) -> Option<u32> {
        self.by_id.get(&id).copied()
    }
}

/// What [`RegionIndex::differences`] compares for one contractor.
#[derive(Debug, PartialEq)]
struct ContractorView<'a> {
    active: bool,
    in_region: bool,
    home: (u64, u64),
    rating: u64,
    max_jobs: u32,
    pattern: &'a [ShiftRule],
    skills: Vec<(&'a str, u8)>,
    time_off: &'a [(i64, i64)],
    bookings: Vec<(i64, i64, u128, u64, u64)>,
}

fn to_booked(b: &Booking) -> Booked {
    Booked {
        start: b.start_utc.timestamp(),
        end: secs_ceil(b.end_utc),
        location: b.location,
        job: b.job_id.as_uuid().as_u128(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(starts: &[i64]) -> Calendar {
        let mut c = Calendar::default();
        for (k, &s) in starts.iter().enumerate() {
            c.insert(Booked {
                start: s,
                end: s + 10,
                location: GeoPoint::new(0.0, 0.0),
                job: k as u128,
            });
        }
        c
    }

    #[test]
    fn lower_bound_matches_partition_point() {
        // Uneven spacing, duplicates, clusters: the guess is often wrong, the answer never.
        let starts: Vec<i64> = (0..200)
            .map(|i: i64| {
                if i < 150 {
                    i * 3
                } else {
                    10_000 + (i - 150) * (i - 150)
                }
            })
            .chain([450, 450, 451])
            .collect();
        let c = cal(&starts);
        for key in -5..13_000 {
            let want = c.bookings.partition_point(|b| b.start < key);
            assert_eq!(c.lower_bound(key, None), want, "key {key}");
            for hint in [0, want / 2, want, (want + 7).min(c.bookings.len())] {
                assert_eq!(
                    c.lower_bound(key, Some(hint)),
                    want,
                    "key {key} hint {hint}"
                );
            }
        }
        assert_eq!(cal(&[]).lower_bound(5, None), 0);
    }

    #[test]
    fn insert_replaces_same_job_and_remove_works() {
        let mut c = cal(&[100, 200, 300]);
        c.insert(Booked {
            start: 50,
            end: 60,
            location: GeoPoint::new(0.0, 0.0),
            job: 1,
        });
        let starts: Vec<i64> = c.bookings.iter().map(|b| b.start).collect();
        assert_eq!(starts, vec![50, 100, 300]);
        assert!(c.remove_job(0));
        assert!(!c.remove_job(0));
        assert_eq!(c.lower_bound(60, None), 1);
    }

    /// A kept-current index equals a fresh build; a difference names the contractor; dropping
    /// the past drops only bookings that ended by then.
    #[test]
    fn differences_name_drifted_contractors_and_the_past_is_dropped() {
        use chrono::TimeZone as _;
        let now = chrono::Utc.with_ymd_and_hms(2026, 3, 2, 16, 0, 0).unwrap();
        let d = crate::synth::generate(&crate::synth::SynthConfig::new(5, 40, now));
        let fresh = RegionIndex::build(d.region.clone(), &d.contractors, &d.bookings).unwrap();
        let mut kept =
            RegionIndex::build(d.region.clone(), &d.contractors[..20], &[] as &[Booking]).unwrap();
        for c in &d.contractors[20..] {
            kept.upsert_contractor(c);
        }
        for b in d.bookings.iter().rev() {
            kept.add_booking(b).unwrap();
        }
        assert_eq!(kept.differences(&fresh), Vec::<ContractorId>::new());
        let mut changed = d.contractors[3].clone();
        changed.rating = 1.0;
        kept.upsert_contractor(&changed);
        let b = d
            .bookings
            .iter()
            .find(|b| b.contractor_id == d.contractors[7].id)
            .unwrap();
        kept.remove_booking(b.contractor_id, b.job_id);
        let mut want = vec![d.contractors[3].id, d.contractors[7].id];
        want.sort();
        assert_eq!(kept.differences(&fresh), want);

        let cut = now.timestamp() + 3 * 86_400;
        let before = fresh.booking_count();
        let mut pruned = fresh.clone();
        let dropped = pruned.drop_bookings_ending_by(cut);
        let ended = d
            .bookings
            .iter()
            .filter(|b| secs_ceil(b.end_utc) <= cut)
            .count();
        assert_eq!(dropped, ended);
        assert_eq!(pruned.booking_count(), before - ended);
        assert!(pruned.heap_bytes() > 0);
    }

    #[test]
    fn starts_between_skips_own_job() {
        let c = cal(&[100, 200, 300, 400]);
        assert_eq!(c.starts_between(150, 400, 99, 0), 2);
        assert_eq!(c.starts_between(150, 400, 2, 3), 1);
    }
}
