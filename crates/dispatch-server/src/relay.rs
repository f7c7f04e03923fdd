//! The outbox relay: publishes committed events to the backplane, then marks them sent.
//!
//! Events are written to the outbox in the transaction of the change they report, so an event
//! exists if and only if its change committed. The outbox is split into
//! [`OUTBOX_SHARDS`] shards by region (a channel's events are all in one), and each shard is
//! relayed by one node at a time: the holder of the shard's lease (a PostgreSQL session lock,
//! released by the server when its node dies, even by `kill -9`; always this process on
//! SQLite). The nodes share the shards out: every [`REBALANCE`] each node reads how many nodes
//! are live and which shards are taken (one query), and aims to hold `ceil(shards / nodes)`: it
//! takes free shards while it holds fewer, and gives the surplus up when a node joins. A node
//! that dies frees its shards at once (its session ends with its socket), so the others take
//! them at their next look, well within a second; a node shutting down sends what is committed
//! and gives its shards up explicitly.
//!
//! Each held shard has a task of its own, which relays after every commit that wrote events of
//! the shard and once a second regardless, so it also sends what an earlier holder committed,
//! or published without marking — at once: nothing is held back after a start or a takeover.
//! Publishing is at least once; [`crate::delivery`] drops repeats.
//!
//! Writers reach the relay through one handle, [`Outbox`]: [`Outbox::committed`] wakes this
//! node's shard task, and when another node holds the shard, [`ring_other_nodes`] rings it
//! through the backplane. Rings coalesce (a [`Notify`] holds at most one, and the shards wait
//! in a bit set), so a burst of commits costs one ring in flight and one queued, never a task
//! per commit.
//!
//! While the backplane is down, publishing fails, nothing is marked, and the events wait in the
//! outbox; the shard tasks keep trying and they go out, in order, when it returns.
//!
//! Each shard task also prunes its shard hourly: sent events older than the retention go
//! (unsent ones never do). Nodes read gaps from the outbox, so the retention only has to outlast
//! the longest a node stays connected but behind — minutes; the default is a week, for audits.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dispatch_backplane::{Backplane, BackplaneError, Sequenced};
use dispatch_store::{NewOutboxEvent, OUTBOX_SHARDS, RelayLease, Store, StoreError};
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::telemetry;

/// How many events one pass sends at most.
const BATCH: u32 = 256;
/// A shard task's idle pass interval.
const TICK: Duration = Duration::from_secs(1);
/// How often a node looks at the live nodes and the taken shards, and takes or gives up
/// shards: the longest a freed shard waits for a taker (plus one query).
pub const REBALANCE: Duration = Duration::from_millis(100);
/// How long a node waits before opening a new relay session after one failed.
const SESSION_RETRY: Duration = Duration::from_secs(1);
/// How often a shard task prunes its shard.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How long a node shutting down keeps sending what is committed.
const FINAL_PASS_LIMIT: Duration = Duration::from_secs(5);
/// How long a node handing a shard to a new node keeps sending what is committed first.
const HANDOVER_PASS_LIMIT: Duration = Duration::from_secs(1);
/// The bit set of every shard.
const ALL_SHARDS: u64 = (1 << OUTBOX_SHARDS) - 1;

/// What this node's relay is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelayRole {
    /// Not running (starting, stopped, or the store cannot be reached).
    Idle,
    /// Live, but relaying no shard (others hold them all).
    Standby,
    /// This node relays at least one shard (`relayShards` says which).
    Leader,
    /// This node holds shards but sends nothing (`--hold-events`).
    Holding,
}

/// The relay's role and shards, written by the relay, read by writers and `/readyz`.
#[derive(Debug, Default)]
struct RelayStatus {
    role: AtomicU8,
    /// Bit `n` set: this node holds shard `n`.
    shards: AtomicU64,
}

impl RelayStatus {
    fn role(&self) -> RelayRole {
        match self.role.load(Ordering::Relaxed) {
            1 => RelayRole::Standby,
            2 => RelayRole::Leader,
            3 => RelayRole::Holding,
            _ => RelayRole::Idle,
        }
    }

    fn set(&self, role: RelayRole) {
        let value = match role {
            RelayRole::Idle => 0,
            RelayRole::Standby => 1,
            RelayRole::Leader => 2,
            RelayRole::Holding => 3,
        };
        self.role.store(value, Ordering::Relaxed);
    }

    fn holds(&self, shard: u16) -> bool {
        self.shards.load(Ordering::Relaxed) & (1 << shard) != 0
    }
}

/// The writers' side of the relay, shared by every handler and worker of a node.
#[derive(Debug)]
pub struct Outbox {
    /// Wakes this node's task of each shard.
    local: Vec<Notify>,
    /// Wakes [`ring_other_nodes`], which rings the relays of [`Outbox::to_ring`].
    remote: Notify,
    /// Shards committed to and not relayed here, to ring (a bit set).
    to_ring: AtomicU64,
    /// What this node's relay is doing.
    status: RelayStatus,
}

impl Default for Outbox {
    fn default() -> Self {
        Self {
            local: (0..OUTBOX_SHARDS).map(|_| Notify::new()).collect(),
            remote: Notify::new(),
            to_ring: AtomicU64::new(0),
            status: RelayStatus::default(),
        }
    }
}

impl Outbox {
    /// Call after every commit that wrote `events`. Never blocks: it wakes this node's task of
    /// their shards, and asks [`ring_other_nodes`] to ring the holders of those this node does
    /// not relay (each shard's once-a-second poll is the fallback if that ring is lost).
    pub fn committed(&self, events: &[NewOutboxEvent]) {
        let mut remote = 0;
        for shard in events.iter().map(|e| e.shard).collect::<BTreeSet<_>>() {
            if let Some(local) = self.local.get(usize::from(shard)) {
                local.notify_one();
            }
            if self.status.role() != RelayRole::Leader || !self.status.holds(shard) {
                remote |= 1 << shard;
            }
        }
        if remote != 0 {
            self.to_ring.fetch_or(remote, Ordering::AcqRel);
            self.remote.notify_one();
        }
    }

    /// What this node's relay is doing (for `/readyz`).
    pub fn role(&self) -> RelayRole {
        self.status.role()
    }

    /// The shards this node holds, ascending (for `/readyz`).
    pub fn shards(&self) -> Vec<u16> {
        let held = self.status.shards.load(Ordering::Relaxed);
        (0..OUTBOX_SHARDS)
            .filter(|s| held & (1 << s) != 0)
            .collect()
    }

    /// Wakes the tasks of `shards` (a bit set), as a ring does.
    fn wake(&self, shards: u64) {
        for (shard, local) in self.local.iter().enumerate() {
            if shards & (1 << shard) != 0 {
                local.notify_one();
            }
        }
    }

    /// Publishes the shards this node holds and its role.
    fn show(&self, held: &BTreeSet<u16>, hold: bool) {
        let bits = held.iter().fold(0, |bits, s| bits | 1 << s);
        self.status.shards.store(bits, Ordering::Relaxed);
        self.status.set(match (held.is_empty(), hold) {
            (true, _) => RelayRole::Standby,
            (false, true) => RelayRole::Holding,
            (false, false) => RelayRole::Leader,
        });
        metrics::gauge!(telemetry::RELAY_SHARDS_HELD).set(held.len() as f64);
    }

    /// Shows that this node holds nothing and is not live.
    fn show_idle(&self) {
        self.status.shards.store(0, Ordering::Relaxed);
        self.status.set(RelayRole::Idle);
        metrics::gauge!(telemetry::RELAY_SHARDS_HELD).set(0.0);
    }
}

/// Rings the relays of every node through the backplane whenever [`Outbox::committed`] asked,
/// one ring at a time, until `shutdown` resolves.
pub async fn ring_other_nodes(
    outbox: Arc<Outbox>,
    backplane: Backplane,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = outbox.remote.notified() => {
                let shards = outbox.to_ring.swap(0, Ordering::AcqRel);
                if shards == 0 {
                    continue;
                }
                if let Err(error) = backplane.ring(shards).await {
                    tracing::debug!(%error, "cannot ring the relay through the backplane");
                }
            }
            () = &mut shutdown => return,
        }
    }
}

/// Why a relay pass stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The outbox could not be read or marked.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The backplane did not take an event.
    #[error(transparent)]
    Backplane(#[from] BackplaneError),
}

/// What the relay needs.
#[derive(Clone)]
pub struct Relay {
    /// The outbox.
    pub store: Store,
    /// Where events go; its rings (from any node's [`ring_other_nodes`]) wake the shard tasks.
    pub backplane: Backplane,
    /// Rung after every commit that wrote events on this node; holds what `/readyz` shows.
    pub outbox: Arc<Outbox>,
    /// Keep events in the outbox (maintenance, crash drills).
    pub hold: bool,
    /// How long sent events stay in the outbox (nodes read gaps from it); zero keeps them.
    pub retention: Duration,
}

/// How a shard task is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Keep going.
    No,
    /// Send what is committed for at most this long, then stop (shutdown, handover).
    AfterPass(Duration),
}

/// A running shard task.
struct ShardTask {
    stop: watch::Sender<Stop>,
    handle: JoinHandle<()>,
}

impl ShardTask {
    /// Lets the task send what is committed (within `limit`), then waits for it to end.
    async fn finish(self, limit: Duration) {
        let _ = self.stop.send(Stop::AfterPass(limit));
        let _ = self.handle.await;
    }
}

/// How many shards each of `nodes` live nodes should hold: `ceil(shards / nodes)`, so the
/// targets always add up to every shard (and a freed shard always has a node below target).
pub fn fair_share(nodes: usize) -> usize {
    usize::from(OUTBOX_SHARDS).div_ceil(nodes.max(1))
}

impl Relay {
    /// Relays its share of the shards (or stands by) until `shutdown` resolves, then sends
    /// what is committed and gives every shard up.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let stopping = match self.store.relay_lease().await {
                Ok(lease) => self.share(lease, &mut shutdown).await,
                Err(error) => {
                    self.outbox.show_idle();
                    tracing::warn!(%error, "cannot open the relay session; retrying");
                    sleep_or(SESSION_RETRY, &mut shutdown).await
                }
            };
            if stopping {
                break;
            }
        }
        self.outbox.show_idle();
    }

    /// Takes and gives up shards while the session holds; `true` when shutting down.
    async fn share(
        &self,
        mut lease: RelayLease,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> bool {
        if self.hold {
            tracing::warn!(
                "holding events: committed events of the shards this node holds stay in the outbox until a relay without --hold-events sends them"
            );
        }
        let mut tasks: BTreeMap<u16, ShardTask> = BTreeMap::new();
        let mut look = tokio::time::interval(REBALANCE);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.outbox.show(lease.held(), self.hold);
        loop {
            tokio::select! {
                _ = look.tick() => {
                    if let Err(error) = self.rebalance(&mut lease, &mut tasks).await {
                        // The session is gone, and its locks with it: another node may relay
                        // these shards already, so stop at once (a pass under way may publish
                        // again what the next holder publishes; subscribers drop repeats).
                        tracing::warn!(%error, shards = ?lease.held(), "relay leases lost; opening a new session");
                        for (_, task) in std::mem::take(&mut tasks) {
                            task.handle.abort();
                        }
                        self.outbox.show_idle();
                        drop(lease);
                        return sleep_or(SESSION_RETRY, shutdown).await;
                    }
                }
                shards = self.backplane.rung() => self.outbox.wake(shards & ALL_SHARDS),
                () = &mut *shutdown => {
                    // Every shard sends what is committed, at once, then all go together.
                    let finishing = std::mem::take(&mut tasks)
                        .into_values()
                        .map(|task| task.finish(FINAL_PASS_LIMIT));
                    futures_util::future::join_all(finishing).await;
                    let held = lease.held().clone();
                    lease.release().await;
                    if !held.is_empty() {
                        tracing::info!(shards = ?held, "relay shards handed over");
                    }
                    return true;
                }
            }
        }
    }

    /// One look: gives surplus shards up or takes free ones, toward [`fair_share`].
    async fn rebalance(
        &self,
        lease: &mut RelayLease,
        tasks: &mut BTreeMap<u16, ShardTask>,
    ) -> Result<(), StoreError> {
        let survey = lease.survey().await?;
        let target = fair_share(survey.nodes);
        let held = lease.held().len();
        let before = lease.held().clone();
        if held > target {
            // A node joined: hand the highest shards over, each after a last pass.
            let surplus: Vec<u16> = lease
                .held()
                .iter()
                .rev()
                .take(held - target)
                .copied()
                .collect();
            for shard in surplus {
                if let Some(task) = tasks.remove(&shard) {
                    task.finish(HANDOVER_PASS_LIMIT).await;
                }
                lease.give_up(shard).await?;
            }
        } else if held < target {
            let free: Vec<u16> = (0..OUTBOX_SHARDS)
                .filter(|s| !survey.taken.contains(s))
                .collect();
            // From a random point, so nodes short of shards at once mostly try different ones.
            let start = uuid::Uuid::new_v4().as_u128() as usize % free.len().max(1);
            let mut wanted = target - held;
            for &shard in free.iter().cycle().skip(start).take(free.len()) {
                if wanted == 0 {
                    break;
                }
                if lease.try_take(shard).await? {
                    tasks.insert(shard, self.spawn_shard(shard));
                    wanted -= 1;
                }
            }
        }
        if *lease.held() != before {
            tracing::info!(
                shards = ?lease.held(),
                nodes = survey.nodes,
                "relaying these outbox shards"
            );
        }
        self.outbox.show(lease.held(), self.hold);
        Ok(())
    }

    /// Starts the task of a shard just taken.
    fn spawn_shard(&self, shard: u16) -> ShardTask {
        let (stop, stopped) = watch::channel(Stop::No);
        let handle = tokio::spawn(self.clone().relay_shard(shard, stopped));
        ShardTask { stop, handle }
    }

    /// Relays `shard` until asked to stop (see [`Stop`]).
    async fn relay_shard(self, shard: u16, mut stop: watch::Receiver<Stop>) {
        if self.hold {
            let _ = stop.wait_for(|s| *s != Stop::No).await;
            return;
        }
        // What was sent before is history; everything after it goes out now, backlog included.
        let mut previous = loop {
            match self.store.last_sent_sequence(shard).await {
                Ok(sequence) => break sequence,
                Err(error) => {
                    tracing::warn!(%error, shard, "cannot read the outbox; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(TICK) => {}
                        _ = stop.wait_for(|s| *s != Stop::No) => return,
                    }
                }
            }
        };
        let mut pruned: Option<Instant> = None;
        let mut failing = false;
        loop {
            if !self.retention.is_zero() && pruned.is_none_or(|at| at.elapsed() >= PRUNE_INTERVAL) {
                self.prune(shard).await;
                pruned = Some(Instant::now());
            }
            match relay_once(&self.store, &self.backplane, shard, &mut previous).await {
                Ok(sent) => {
                    if failing {
                        tracing::info!(shard, "the backplane takes events again");
                        failing = false;
                    }
                    // A full batch means there may be more: go again at once.
                    let asked = *stop.borrow();
                    if sent == BATCH as usize && asked == Stop::No {
                        continue;
                    }
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, shard, "events wait in the outbox; retrying every second");
                        failing = true;
                    }
                }
            }
            let asked = *stop.borrow();
            if let Stop::AfterPass(limit) = asked {
                self.final_pass(shard, &mut previous, limit).await;
                return;
            }
            tokio::select! {
                () = self.outbox.local[usize::from(shard)].notified() => {}
                () = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Sends what is committed in `shard` before its lease goes, for at most `limit`; what it
    /// cannot send waits in the outbox for the next holder.
    async fn final_pass(&self, shard: u16, previous: &mut i64, limit: Duration) {
        let drain = async {
            loop {
                match relay_once(&self.store, &self.backplane, shard, previous).await {
                    Ok(sent) if sent == BATCH as usize => continue,
                    Ok(_) => return,
                    Err(error) => {
                        tracing::warn!(%error, shard, "events left in the outbox for the next relay");
                        return;
                    }
                }
            }
        };
        if tokio::time::timeout(limit, drain).await.is_err() {
            tracing::warn!(
                shard,
                "handing over with events left in the outbox for the next relay"
            );
        }
    }

    /// Deletes `shard`'s sent events older than the retention (a failure waits for the next
    /// hour).
    async fn prune(&self, shard: u16) {
        let Ok(retention) = chrono::Duration::from_std(self.retention) else {
            return;
        };
        let Some(before) = chrono::Utc::now().checked_sub_signed(retention) else {
            return;
        };
        match self.store.prune_sent_events(shard, before).await {
            Ok(0) => {}
            Ok(count) => {
                tracing::info!(count, shard, %before, "pruned sent events from the outbox")
            }
            Err(error) => tracing::warn!(%error, shard, "cannot prune the outbox"),
        }
    }
}

/// Sleeps for `duration`; `true` if `shutdown` resolved first.
async fn sleep_or(duration: Duration, shutdown: &mut (impl Future<Output = ()> + Unpin)) -> bool {
    tokio::select! {
        () = tokio::time::sleep(duration) => false,
        () = shutdown => true,
    }
}

/// Publishes one batch of `shard`'s pending events in sequence order and marks those the
/// backplane took; returns how many. `previous` is the shard's sequence published last,
/// carried in each message.
pub async fn relay_once(
    store: &Store,
    backplane: &Backplane,
    shard: u16,
    previous: &mut i64,
) -> Result<usize, RelayError> {
    let events = store.pending_events_in(shard, BATCH).await?;
    let mut published = Vec::with_capacity(events.len());
    let mut failure = None;
    for event in &events {
        let message = Sequenced {
            shard,
            sequence: event.sequence,
            previous: *previous,
            event: serde_json::value::to_raw_value(event).ok(),
        };
        match backplane.publish(&message).await {
            Ok(()) => {
                metrics::histogram!(telemetry::EVENT_SENT_LAG_SECONDS)
                    .record(telemetry::seconds_since(event.created_at));
                published.push(event.sequence);
                *previous = event.sequence;
            }
            Err(error) => {
                metrics::counter!(telemetry::BACKPLANE_PUBLISH_FAILURES).increment(1);
                failure = Some(error);
                break;
            }
        }
    }
    if !published.is_empty() {
        store.mark_events_sent(&published).await?;
        metrics::counter!(telemetry::EVENTS_SENT).increment(published.len() as u64);
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(published.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fair_shares_add_up_to_every_shard() {
        for nodes in 1..=20 {
            let share = fair_share(nodes);
            assert!(share * nodes >= usize::from(OUTBOX_SHARDS), "{nodes} nodes");
            assert!(share >= 1);
        }
        assert_eq!(fair_share(0), 8);
        assert_eq!(fair_share(1), 8);
        assert_eq!(fair_share(2), 4);
        assert_eq!(fair_share(3), 3);
        assert_eq!(fair_share(9), 1);
    }

    #[test]
    fn committed_wakes_its_shards_and_rings_those_held_elsewhere() {
        let outbox = Outbox::default();
        let west = NewOutboxEvent::new(
            "west",
            ["/dispatch/west"],
            "JobAssigned",
            serde_json::value::to_raw_value(&1).expect("json"),
        );
        outbox.committed(std::slice::from_ref(&west));
        assert_eq!(outbox.to_ring.load(Ordering::Relaxed), 1 << west.shard);
        outbox.to_ring.store(0, Ordering::Relaxed);
        // This node relays the shard: no ring needed.
        outbox.show(&BTreeSet::from([west.shard]), false);
        assert_eq!(outbox.shards(), [west.shard]);
        assert_eq!(outbox.role(), RelayRole::Leader);
        outbox.committed(std::slice::from_ref(&west));
        assert_eq!(outbox.to_ring.load(Ordering::Relaxed), 0);
        // Giving it up makes this node a standby again.
        outbox.show(&BTreeSet::new(), false);
        assert_eq!(outbox.role(), RelayRole::Standby);
        assert!(outbox.shards().is_empty());
    }
}
