//! The outbox relay: publishes committed events to the backplane, then marks them sent.
//!
//! Events are written to the outbox in the transaction of the change they report, so an event
//! exists if and only if its change committed. Of all the nodes sharing a database, one relays:
//! the holder of the store's relay lease (a PostgreSQL session lock, released by the server when
//! its node dies, even by `kill -9`; always this process on SQLite). The others stand by,
//! trying to take the lease every two seconds. The leader runs after every commit that wrote
//! events and once a second regardless, so it also sends what an earlier leader committed, or
//! published without marking. Publishing is at least once; [`crate::delivery`] drops repeats.
//!
//! Writers reach the relay through one handle, [`Outbox`]: [`Outbox::committed`] wakes this
//! node's relay, and when another node leads, [`ring_other_nodes`] rings it through the
//! backplane. Rings coalesce (a [`Notify`] holds at most one), so a burst of commits costs one
//! ring in flight and one queued, never a task per commit.
//!
//! On shutdown the leader sends what is committed before it lets the lease go, so the node's
//! own clients hear it before they are asked to reconnect elsewhere.
//!
//! While the backplane is down, publishing fails, nothing is marked, and the events wait in the
//! outbox; the leader keeps trying and they go out, in order, when it returns.
//!
//! The leader also prunes the outbox hourly: sent events older than the retention go (unsent
//! ones never do). Nodes read gaps from the outbox, so the retention only has to outlast the
//! longest a node stays connected but behind — minutes; the default is a week, for audits.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use dispatch_backplane::{Backplane, BackplaneError, Sequenced};
use dispatch_store::{Store, StoreError};
use serde::Serialize;
use tokio::sync::Notify;

use crate::telemetry;

/// How many events one pass sends at most.
const BATCH: u32 = 256;
/// The leader's idle pass interval.
const TICK: Duration = Duration::from_secs(1);
/// How often a standby tries to take the lease (each try opens a database session).
const STANDBY_RETRY: Duration = Duration::from_secs(2);
/// How often the leader checks it still holds the lease.
const LEASE_CHECK: Duration = Duration::from_secs(2);
/// How often the leader prunes the outbox.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// How long a leader shutting down keeps sending what is committed.
const FINAL_PASS_LIMIT: Duration = Duration::from_secs(5);

/// What this node's relay is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelayRole {
    /// Not running (starting, stopped, or the store cannot be reached).
    Idle,
    /// Another node relays; this one waits to take over.
    Standby,
    /// This node relays.
    Leader,
    /// This node holds the lease but sends nothing (`--hold-events`).
    Holding,
}

/// The relay's role, written by the relay, read by writers and `/readyz`.
#[derive(Debug, Default)]
struct RelayStatus(AtomicU8);

impl RelayStatus {
    fn role(&self) -> RelayRole {
        match self.0.load(Ordering::Relaxed) {
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
        self.0.store(value, Ordering::Relaxed);
    }
}

/// The writers' side of the relay, shared by every handler and worker of a node.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Wakes this node's relay.
    local: Notify,
    /// Wakes [`ring_other_nodes`], which rings the relay wherever it runs.
    remote: Notify,
    /// What this node's relay is doing.
    status: RelayStatus,
}

impl Outbox {
    /// Call after every commit that wrote events. Never blocks: it wakes this node's relay, and
    /// unless this node leads, asks [`ring_other_nodes`] to ring the leader (its once-a-second
    /// poll is the fallback if that ring is lost).
    pub fn committed(&self) {
        self.local.notify_one();
        if self.status.role() != RelayRole::Leader {
            self.remote.notify_one();
        }
    }

    /// What this node's relay is doing (for `/readyz`).
    pub fn role(&self) -> RelayRole {
        self.status.role()
    }
}

/// Rings the relay of every node through the backplane whenever [`Outbox::committed`] asked,
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
                if let Err(error) = backplane.ring().await {
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
pub struct Relay {
    /// The outbox.
    pub store: Store,
    /// Where events go; its rings (from any node's [`ring_other_nodes`]) wake the leader.
    pub backplane: Backplane,
    /// Rung after every commit that wrote events on this node; holds the role `/readyz` shows.
    pub outbox: Arc<Outbox>,
    /// Keep events in the outbox (maintenance, crash drills).
    pub hold: bool,
    /// Wait before sending a backlog found on taking the lease, so that the clients of a node
    /// that died (or of this one, restarting) have reconnected and hear it.
    pub start_delay: Duration,
    /// How long sent events stay in the outbox (nodes read gaps from it); zero keeps them.
    pub retention: Duration,
}

impl Relay {
    /// Relays (or stands by) until `shutdown` resolves.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let lease = match self.store.try_relay_lease().await {
                Ok(Some(lease)) => Some(lease),
                Ok(None) => {
                    self.outbox.status.set(RelayRole::Standby);
                    None
                }
                Err(error) => {
                    self.outbox.status.set(RelayRole::Idle);
                    tracing::warn!(%error, "cannot take the relay lease; retrying");
                    None
                }
            };
            let stopping = match lease {
                Some(lease) => self.lead(lease, &mut shutdown).await,
                None => sleep_or(STANDBY_RETRY, &mut shutdown).await,
            };
            if stopping {
                break;
            }
        }
        self.outbox.status.set(RelayRole::Idle);
    }

    /// Relays while the lease holds; `true` when shutting down.
    async fn lead(
        &self,
        mut lease: dispatch_store::RelayLease,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
    ) -> bool {
        if self.hold {
            self.outbox.status.set(RelayRole::Holding);
            tracing::warn!(
                "holding events: committed events stay in the outbox until a relay without --hold-events sends them"
            );
            while lease.still_held().await {
                if sleep_or(TICK, shutdown).await {
                    return true;
                }
            }
            return false;
        }
        self.outbox.status.set(RelayRole::Leader);
        tracing::info!("this node relays the outbox");
        if self.has_backlog().await && sleep_or(self.start_delay, shutdown).await {
            return true;
        }
        let mut previous = match self.store.last_sent_sequence().await {
            Ok(sequence) => sequence,
            Err(error) => {
                tracing::warn!(%error, "cannot read the outbox; giving the lease up");
                return sleep_or(TICK, shutdown).await;
            }
        };
        let mut checked = Instant::now();
        let mut pruned: Option<Instant> = None;
        let mut failing = false;
        loop {
            if !self.retention.is_zero() && pruned.is_none_or(|at| at.elapsed() >= PRUNE_INTERVAL) {
                self.prune().await;
                pruned = Some(Instant::now());
            }
            if checked.elapsed() >= LEASE_CHECK {
                if !lease.still_held().await {
                    tracing::warn!("the relay lease was lost; standing by");
                    return false;
                }
                checked = Instant::now();
            }
            match relay_once(&self.store, &self.backplane, &mut previous).await {
                Ok(sent) => {
                    if failing {
                        tracing::info!("the backplane takes events again");
                        failing = false;
                    }
                    // A full batch means there may be more: go again at once.
                    if sent == BATCH as usize {
                        continue;
                    }
                }
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "events wait in the outbox; retrying every second");
                        failing = true;
                    }
                }
            }
            tokio::select! {
                () = self.outbox.local.notified() => {}
                () = self.backplane.rung() => {}
                () = tokio::time::sleep(TICK) => {}
                () = &mut *shutdown => {
                    self.final_pass(&mut previous).await;
                    return true;
                }
            }
        }
    }

    /// Sends what is committed before the lease goes, for at most [`FINAL_PASS_LIMIT`]; what it
    /// cannot send waits in the outbox for the next leader.
    async fn final_pass(&self, previous: &mut i64) {
        let drain = async {
            loop {
                match relay_once(&self.store, &self.backplane, previous).await {
                    Ok(sent) if sent == BATCH as usize => continue,
                    Ok(_) => return,
                    Err(error) => {
                        tracing::warn!(%error, "events left in the outbox for the next relay");
                        return;
                    }
                }
            }
        };
        if tokio::time::timeout(FINAL_PASS_LIMIT, drain).await.is_err() {
            tracing::warn!("shutting down with events left in the outbox for the next relay");
        }
    }

    /// Deletes sent events older than the retention (a failure waits for the next hour).
    async fn prune(&self) {
        let Ok(retention) = chrono::Duration::from_std(self.retention) else {
            return;
        };
        let Some(before) = chrono::Utc::now().checked_sub_signed(retention) else {
            return;
        };
        match self.store.prune_sent_events(before).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, %before, "pruned sent events from the outbox"),
            Err(error) => tracing::warn!(%error, "cannot prune the outbox"),
        }
    }

    async fn has_backlog(&self) -> bool {
        if self.start_delay.is_zero() {
            return false;
        }
        match self.store.pending_events(1).await {
            Ok(backlog) if !backlog.is_empty() => {
                tracing::info!(start_delay = ?self.start_delay, "events are pending; sending them shortly");
                true
            }
            _ => false,
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

/// Publishes one batch of pending events in sequence order and marks those the backplane took;
/// returns how many. `previous` is the sequence published last, carried in each message.
pub async fn relay_once(
    store: &Store,
    backplane: &Backplane,
    previous: &mut i64,
) -> Result<usize, RelayError> {
    let events = store.pending_events(BATCH).await?;
    let mut published = Vec::with_capacity(events.len());
    let mut failure = None;
    for event in &events {
        let message = Sequenced {
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
