//! Live region state: each node keeps the engine's index of every region it serves in memory,
//! built once (on first use) and kept current from the store's change log.
//!
//! # How it stays current
//!
//! Every write that affects a region's index (contractor created, updated, deactivated, time
//! off, assignment made or removed, job cancelled, contractors loaded in bulk) appends a change
//! record in its own transaction (`dispatch-store`'s `change_log`, commit-ordered per region).
//! A node applies a region's records in sequence order, whichever node wrote them, re-reading
//! the one contractor or booking each names (so applying is idempotent and a record applied
//! twice, or after a rebuild that already saw it, does no harm).
//!
//! **Read your writes, across nodes.** Before a recommendation or an assignment check uses a
//! region's index, [`RegionStates::current`] reads the region's latest change sequence from the
//! store (one indexed read) and applies whatever it has not applied yet. A change whose request
//! was answered 2xx has committed, so its record is at or below that sequence: the answer sees
//! it, on any node. A background task also catches loaded regions up every second, so requests
//! seldom find anything to apply.
//!
//! **The store stays the authority.** Assignments are validated in the store's write
//! transaction as before; the index only ranks and pre-checks. [`RegionStates::check`] compares
//! a region's index with a fresh build from the store (periodically, and on demand through the
//! admin API), counts and logs drift, and replaces the index with the fresh one.
//!
//! **Bounded memory.** Bookings that ended more than [`KEEP_PAST`] ago are dropped as time
//! passes (scoring looks a day back at most); regions nobody asked about for the idle time are
//! evicted and rebuilt on next use; the change log is pruned after its retention.
//!
//! Change records are internal: they never reach SignalR clients (they are not outbox events).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dispatch_core::{Booking, ContractorId, JobId, Region, RegionId, RegionIndex};
use dispatch_store::{ChangeKind, Store, StoreError};
use serde::Serialize;
use tokio::sync::{OwnedRwLockReadGuard, RwLock};

use crate::planning::RegionLoadError;
use crate::telemetry;

/// How far back bookings are kept: scoring looks at most a day before a job's window.
pub const KEEP_PAST: chrono::Duration = chrono::Duration::days(2);
/// How far ahead bookings are loaded (everything, in practice).
const LOAD_AHEAD: chrono::Duration = chrono::Duration::days(3650);
/// Change records read at once while catching up.
const CHANGES_AT_ONCE: u32 = 1000;
/// How often loaded regions are caught up and maintained in the background.
const TICK: Duration = Duration::from_secs(1);
/// How many times a consistency check tries for a quiet moment (no commit while it reads).
const CHECK_ATTEMPTS: usize = 5;

/// How region state is kept (`DISPATCH_REGION_*`, `DISPATCH_CHANGE_LOG_RETENTION_HOURS`).
#[derive(Debug, Clone)]
pub struct RegionStateOptions {
    /// How often every loaded region is checked against the store; zero never.
    pub check_interval: Duration,
    /// Regions not asked about for this long are evicted; zero never.
    pub idle: Duration,
    /// Change records older than this are pruned; zero keeps them.
    pub change_log_retention: Duration,
}

impl Default for RegionStateOptions {
    fn default() -> Self {
        Self {
            check_interval: Duration::from_secs(300),
            idle: Duration::from_secs(30 * 60),
            change_log_retention: Duration::from_secs(24 * 3600),
        }
    }
}

/// A region's index as this node holds it.
#[derive(Debug)]
pub struct Loaded {
    /// The engine's index.
    pub index: RegionIndex,
    /// The last change sequence applied.
    pub applied: i64,
    /// Bookings ending after this instant are held (whole seconds).
    pub from: DateTime<Utc>,
    /// When it was built.
    pub built_at: DateTime<Utc>,
    /// How long the build took.
    pub build_seconds: f64,
}

/// A read of a region's current index: hold it while ranking or checking.
pub type Current = OwnedRwLockReadGuard<Option<Loaded>, Loaded>;

/// One region's slot.
#[derive(Debug)]
struct Slot {
    /// One catch-up, build or check at a time.
    sync: tokio::sync::Mutex<()>,
    state: Arc<RwLock<Option<Loaded>>>,
    /// Unix seconds of the last use.
    last_used: AtomicI64,
}

/// What a consistency check found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[derive(utoipa::ToSchema)]
pub struct CheckReport {
    /// The region checked.
    #[schema(value_type = String, example = "west")]
    pub region: RegionId,
    /// The change sequence both sides were at.
    pub sequence: i64,
    /// Contractors held.
    pub contractors: usize,
    /// Contractors whose in-memory state differed from the store (then rebuilt).
    #[schema(value_type = Vec<String>)]
    pub drifted: Vec<ContractorId>,
    /// Whether the index was replaced by the fresh build.
    pub repaired: bool,
}

/// What this node holds of a region.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[derive(utoipa::ToSchema)]
pub struct StateReport {
    /// The region.
    #[schema(value_type = String, example = "west")]
    pub region: RegionId,
    /// Whether this node holds it in memory.
    pub loaded: bool,
    /// The last change sequence applied here.
    pub applied: Option<i64>,
    /// The store's latest change sequence for the region.
    pub latest: i64,
    /// Contractors held.
    pub contractors: usize,
    /// Bookings held.
    pub bookings: usize,
    /// Roughly the heap bytes the index takes.
    pub heap_bytes: usize,
    /// Bookings ending after this instant are held.
    pub held_from: Option<DateTime<Utc>>,
    /// When the index was built.
    pub built_at: Option<DateTime<Utc>>,
    /// How long the build took, in seconds.
    pub build_seconds: Option<f64>,
}

/// Every region's state on this node.
#[derive(Debug)]
pub struct RegionStates {
    store: Store,
    options: Mutex<RegionStateOptions>,
    slots: Mutex<HashMap<RegionId, Arc<Slot>>>,
}

/// What applying one change record needs, read from the store before the write lock is taken.
#[derive(Debug)]
enum Update {
    /// The contractor as stored now (`None`: gone).
    Contractor(ContractorId, Option<dispatch_core::Contractor>),
    /// The job's live booking as stored now, if any.
    Booking(Option<Booking>),
    /// The contractor's booking of the job ended.
    Unbook(ContractorId, JobId),
    /// Start again from the store.
    Rebuild,
}

impl RegionStates {
    /// No region loaded yet.
    pub fn new(store: Store, options: RegionStateOptions) -> Self {
        Self {
            store,
            options: Mutex::new(options),
            slots: Mutex::default(),
        }
    }

    /// Replaces the options (before [`RegionStates::maintain`] starts).
    pub fn configure(&self, options: RegionStateOptions) {
        *self.options.lock().unwrap_or_else(|e| e.into_inner()) = options;
    }

    fn options(&self) -> RegionStateOptions {
        self.options
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn slot(&self, region: &RegionId) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(slots.entry(region.clone()).or_insert_with(|| {
            Arc::new(Slot {
                sync: tokio::sync::Mutex::new(()),
                state: Arc::new(RwLock::new(None)),
                last_used: AtomicI64::new(Utc::now().timestamp()),
            })
        }))
    }

    fn loaded_slots(&self) -> Vec<(RegionId, Arc<Slot>)> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .map(|(id, slot)| (id.clone(), Arc::clone(slot)))
            .collect()
    }

    /// The region's index, caught up to every change committed before this call (built first
    /// if this node does not hold it).
    pub async fn current(&self, region: &Region) -> Result<Current, RegionLoadError> {
        let slot = self.slot(&region.id);
        slot.last_used
            .store(Utc::now().timestamp(), Ordering::Relaxed);
        let latest = self.store.latest_change(&region.id).await?;
        let read = Arc::clone(&slot.state).read_owned().await;
        if let Ok(current) =
            OwnedRwLockReadGuard::try_map(read, |s| s.as_ref().filter(|l| l.applied >= latest))
        {
            return Ok(current);
        }
        {
            let _sync = slot.sync.lock().await;
            self.catch_up(&slot, region).await?;
        }
        let read = Arc::clone(&slot.state).read_owned().await;
        OwnedRwLockReadGuard::try_map(read, Option::as_ref)
            .map_err(|_| RegionLoadError::Evicted(region.id.clone()))
    }

    /// Builds the region's index from the store, at a known change sequence.
    async fn build(&self, region: &Region) -> Result<Loaded, RegionLoadError> {
        let started = Instant::now();
        let applied = self.store.latest_change(&region.id).await?;
        let now = Utc::now();
        let from = whole_seconds(now - KEEP_PAST);
        let index = self.fresh(region, from).await?;
        let build_seconds = started.elapsed().as_secs_f64();
        metrics::histogram!(telemetry::REGION_BUILD_SECONDS).record(build_seconds);
        tracing::info!(region = %region.id, contractors = index.len(), bookings = index.booking_count(), seconds = build_seconds, "region state built");
        Ok(Loaded {
            index,
            applied,
            from,
            built_at: now,
            build_seconds,
        })
    }

    /// A fresh index of the region from the store, holding bookings that end after `from`.
    async fn fresh(
        &self,
        region: &Region,
        from: DateTime<Utc>,
    ) -> Result<RegionIndex, RegionLoadError> {
        // Two independent reads, on two of the store's read connections at once.
        let (contractors, bookings) = tokio::join!(
            self.store.contractors_in_region(&region.id),
            self.store
                .region_bookings(&region.id, from, from + LOAD_AHEAD),
        );
        let (contractors, bookings) = (contractors?, bookings?);
        let region = region.clone();
        Ok(
            tokio::task::spawn_blocking(move || {
                RegionIndex::build(region, &contractors, &bookings)
            })
            .await??,
        )
    }

    /// Applies every change record not yet applied (building first if needed). The caller holds
    /// the slot's `sync`.
    async fn catch_up(&self, slot: &Slot, region: &Region) -> Result<(), RegionLoadError> {
        let applied = slot.state.read().await.as_ref().map(|l| l.applied);
        let mut after = match applied {
            Some(applied) => applied,
            None => {
                let loaded = self.build(region).await?;
                let applied = loaded.applied;
                *slot.state.write().await = Some(loaded);
                applied
            }
        };
        loop {
            let changes = self
                .store
                .changes_after(&region.id, after, CHANGES_AT_ONCE)
                .await?;
            let Some(last) = changes.last().map(|c| c.sequence) else {
                break;
            };
            let mut updates = Vec::with_capacity(changes.len());
            for change in &changes {
                updates.push(self.update_for(change).await?);
            }
            if updates.iter().any(|u| matches!(u, Update::Rebuild)) {
                let loaded = self.build(region).await?;
                after = loaded.applied.max(last);
                *slot.state.write().await = Some(Loaded {
                    applied: after,
                    ..loaded
                });
            } else {
                let mut state = slot.state.write().await;
                let Some(loaded) = state.as_mut() else {
                    return Err(RegionLoadError::Evicted(region.id.clone()));
                };
                for update in updates {
                    apply(loaded, update)?;
                }
                loaded.applied = last;
                after = last;
            }
            if changes.len() < CHANGES_AT_ONCE as usize {
                break;
            }
        }
        let latest = self.store.latest_change(&region.id).await?;
        metrics::gauge!(telemetry::REGION_APPLY_LAG, "region" => region.id.to_string())
            .set((latest - after).max(0) as f64);
        Ok(())
    }

    /// Reads what applying `change` needs.
    async fn update_for(&self, change: &dispatch_store::Change) -> Result<Update, StoreError> {
        Ok(match (change.kind, change.contractor, change.job) {
            (
                ChangeKind::ContractorCreated
                | ChangeKind::ContractorUpdated
                | ChangeKind::ContractorDeactivated
                | ChangeKind::TimeOff,
                Some(id),
                _,
            ) => {
                let contractor = self.store.contractor(id).await?;
                match contractor {
                    // Moved to another region: this region is rebuilt without it.
                    Some(c) if c.region != change.region => Update::Rebuild,
                    other => Update::Contractor(id, other),
                }
            }
            (ChangeKind::AssignmentMade, _, Some(job)) => {
                Update::Booking(self.store.job_booking(job).await?)
            }
            (ChangeKind::AssignmentRemoved | ChangeKind::JobCancelled, Some(c), Some(job)) => {
                Update::Unbook(c, job)
            }
            _ => Update::Rebuild,
        })
    }

    /// Compares the region's index with a fresh build from the store at the same change
    /// sequence; on any difference counts and logs the drift and replaces the index. Loads the
    /// region if this node does not hold it.
    pub async fn check(&self, region: &Region) -> Result<CheckReport, RegionLoadError> {
        let slot = self.slot(&region.id);
        let _sync = slot.sync.lock().await;
        self.catch_up(&slot, region).await?;
        metrics::counter!(telemetry::REGION_CHECKS).increment(1);
        for _ in 0..CHECK_ATTEMPTS {
            let (sequence, from) = {
                let state = slot.state.read().await;
                let loaded = state
                    .as_ref()
                    .ok_or_else(|| RegionLoadError::Evicted(region.id.clone()))?;
                (loaded.applied, loaded.from)
            };
            let fresh = self.fresh(region, from).await?;
            // Nothing committed while the fresh build read: both sides are at `sequence`.
            if self.store.latest_change(&region.id).await? != sequence {
                self.catch_up(&slot, region).await?;
                continue;
            }
            let mut state = slot.state.write().await;
            let loaded = state
                .as_mut()
                .ok_or_else(|| RegionLoadError::Evicted(region.id.clone()))?;
            let drifted = loaded.index.differences(&fresh);
            let repaired = !drifted.is_empty();
            if repaired {
                metrics::counter!(telemetry::REGION_REPAIRS).increment(1);
                metrics::counter!(telemetry::REGION_DRIFTED_CONTRACTORS)
                    .increment(drifted.len() as u64);
                tracing::warn!(region = %region.id, sequence, drifted = drifted.len(), first = ?drifted.first(), "region state drifted from the store; rebuilt");
                loaded.index = fresh;
            }
            return Ok(CheckReport {
                region: region.id.clone(),
                sequence,
                contractors: loaded.index.len(),
                drifted,
                repaired,
            });
        }
        Err(RegionLoadError::Busy(region.id.clone()))
    }

    /// What this node holds of the region.
    pub async fn report(&self, region: &Region) -> Result<StateReport, RegionLoadError> {
        let latest = self.store.latest_change(&region.id).await?;
        let slot = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.get(&region.id).cloned()
        };
        let mut report = StateReport {
            region: region.id.clone(),
            loaded: false,
            applied: None,
            latest,
            contractors: 0,
            bookings: 0,
            heap_bytes: 0,
            held_from: None,
            built_at: None,
            build_seconds: None,
        };
        if let Some(slot) = slot
            && let Some(l) = slot.state.read().await.as_ref()
        {
            report.loaded = true;
            report.applied = Some(l.applied);
            report.contractors = l.index.len();
            report.bookings = l.index.booking_count();
            report.heap_bytes = l.index.heap_bytes();
            report.held_from = Some(l.from);
            report.built_at = Some(l.built_at);
            report.build_seconds = Some(l.build_seconds);
        }
        Ok(report)
    }

    /// Catches up every loaded region, drops old bookings, evicts idle regions, runs the
    /// periodic checks and prunes the change log, until `shutdown` resolves.
    pub async fn maintain(self: Arc<Self>, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_check = Instant::now();
        let mut last_prune: Option<Instant> = None;
        let options = self.options();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = &mut shutdown => return,
            }
            let check_due =
                !options.check_interval.is_zero() && last_check.elapsed() >= options.check_interval;
            if check_due {
                last_check = Instant::now();
            }
            for (id, slot) in self.loaded_slots() {
                if let Err(error) = self
                    .maintain_region(&id, &slot, options.idle, check_due)
                    .await
                {
                    tracing::warn!(region = %id, %error, "region state maintenance failed");
                }
            }
            let retention = options.change_log_retention;
            if !retention.is_zero()
                && last_prune.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600))
            {
                last_prune = Some(Instant::now());
                let before = Utc::now()
                    - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
                match self.store.prune_changes(before).await {
                    Ok(pruned) if pruned > 0 => tracing::info!(pruned, "change log pruned"),
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "cannot prune the change log"),
                }
            }
        }
    }

    async fn maintain_region(
        &self,
        id: &RegionId,
        slot: &Arc<Slot>,
        idle: Duration,
        check_due: bool,
    ) -> Result<(), RegionLoadError> {
        let unused = Utc::now().timestamp() - slot.last_used.load(Ordering::Relaxed);
        if !idle.is_zero() && unused >= idle.as_secs() as i64 {
            let _sync = slot.sync.lock().await;
            if slot.state.write().await.take().is_some() {
                tracing::info!(region = %id, "idle region state evicted");
            }
            self.slots
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(id);
            return Ok(());
        }
        let region = {
            let state = slot.state.read().await;
            match state.as_ref() {
                Some(l) => l.index.region().clone(),
                None => return Ok(()),
            }
        };
        {
            let _sync = slot.sync.lock().await;
            self.catch_up(slot, &region).await?;
            // The past scoring no longer needs, an hour at a time.
            let from = whole_seconds(Utc::now() - KEEP_PAST);
            let mut state = slot.state.write().await;
            if let Some(l) = state.as_mut()
                && from - l.from >= chrono::Duration::hours(1)
            {
                let dropped = l.index.drop_bookings_ending_by(from.timestamp());
                l.from = from;
                tracing::debug!(region = %id, dropped, "past bookings dropped");
            }
        }
        if check_due {
            self.check(&region).await?;
        }
        Ok(())
    }
}

/// Applies one update to a region's index.
fn apply(loaded: &mut Loaded, update: Update) -> Result<(), RegionLoadError> {
    let index = &mut loaded.index;
    match update {
        Update::Contractor(_, Some(c)) => index.upsert_contractor(&c),
        // Contractors are never deleted; a missing one is left to the consistency check.
        Update::Contractor(id, None) => {
            tracing::warn!(contractor = %id, "a changed contractor is missing from the store");
        }
        Update::Booking(Some(b)) => {
            if index.contains(b.contractor_id) && b.end_utc > loaded.from {
                index.add_booking(&b)?;
            }
        }
        Update::Booking(None) => {}
        Update::Unbook(contractor, job) => {
            index.remove_booking(contractor, job);
        }
        Update::Rebuild => {}
    }
    Ok(())
}

/// `t` without its fraction of a second.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}
