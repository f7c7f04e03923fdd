//! Relay leases: which node of a multi-node deployment relays which shard of the outbox.
//!
//! The outbox is split into [`OUTBOX_SHARDS`](crate::OUTBOX_SHARDS) shards by region
//! ([`outbox_shard`](crate::outbox_shard)). Every node writes events, but each shard is read and
//! published to the backplane by one node at a time, the holder of the shard's lease; every node
//! delivers what the backplane brings it and fills gaps with
//! [`Store::events_after`](crate::Store::events_after). A node asks for leases through its
//! [`RelayLease`], obtained from [`Store::relay_lease`](crate::Store::relay_lease): one per
//! node, which also makes the node count as live while it is held.
//!
//! * **PostgreSQL**: a dedicated session (a connection of its own, outside the pool) holds
//!   *session-level* advisory locks, in the two-key form: `(RELAY_MEMBER_CLASS, node key)`
//!   while the node lives, and `(RELAY_SHARD_CLASS, shard)` for each shard it relays (keys in
//!   `src/postgres/lease.rs`, distinct from the outbox's transaction locks and from sqlx's
//!   migration lock). The server releases them all when that session ends, whatever ended it:
//!   the lease dropped (the connection is closed), the process killed (`kill -9`: the kernel
//!   closes the socket at once), the session terminated by an administrator. A host that
//!   vanishes without closing its socket is noticed by TCP keepalives the session turns on
//!   (about 25 s), after which its locks are free too. [`RelayLease::survey`] reads `pg_locks`:
//!   how many nodes are live (member locks) and which shards are taken — one cheap query, so a
//!   node may ask every 100 ms and take a freed shard at once.
//! * **SQLite**: the embedded, single-node store. One process owns the database file (a
//!   deployment with several nodes and a backplane needs PostgreSQL), so there is nobody to
//!   compete with: every shard is granted, one node is live, and nothing is ever lost.
//!
//! A lease is checked, not pushed: survey it (or call [`RelayLease::still_held`]) between relay
//! passes. It can be lost right after a check (the session is terminated), so two nodes may
//! briefly relay one shard by up to one pass; subscribers deduplicate by sequence, so that
//! overlap duplicates events and never loses one.

use std::collections::BTreeSet;

use crate::error::StoreError;
#[cfg(feature = "postgres")]
use crate::postgres::PgLease;

/// A node's relay session: its membership among the live nodes and the shard leases it holds,
/// until dropped (which releases them all). See the module docs.
#[derive(Debug)]
pub struct RelayLease {
    inner: Inner,
    /// The shards this lease holds.
    held: BTreeSet<u16>,
}

#[derive(Debug)]
enum Inner {
    /// SQLite: every shard granted to the one process that owns the file, never lost.
    Embedded,
    /// PostgreSQL: session advisory locks on a dedicated connection.
    #[cfg(feature = "postgres")]
    Postgres(PgLease),
}

/// What [`RelayLease::survey`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseSurvey {
    /// Live nodes of this database (this one included; at least 1).
    pub nodes: usize,
    /// Shards whose lease some node holds (this one included).
    pub taken: BTreeSet<u16>,
}

impl RelayLease {
    /// The lease of the embedded (SQLite) store.
    pub(crate) fn embedded() -> Self {
        Self {
            inner: Inner::Embedded,
            held: BTreeSet::new(),
        }
    }

    /// A lease held by a PostgreSQL session.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(lease: PgLease) -> Self {
        Self {
            inner: Inner::Postgres(lease),
            held: BTreeSet::new(),
        }
    }

    /// The shards this node holds.
    pub fn held(&self) -> &BTreeSet<u16> {
        &self.held
    }

    /// How many nodes are live and which shards are taken: on PostgreSQL one read of
    /// `pg_locks`, given 2 s. An error means the session broke or did not answer; it is then
    /// closed (its locks freed), every shard counts as lost, and later calls fail too: take a
    /// new lease.
    pub async fn survey(&mut self) -> Result<LeaseSurvey, StoreError> {
        let survey = match &mut self.inner {
            Inner::Embedded => Ok(LeaseSurvey {
                nodes: 1,
                taken: self.held.clone(),
            }),
            #[cfg(feature = "postgres")]
            Inner::Postgres(lease) => lease.survey().await,
        };
        if survey.is_err() {
            self.held.clear();
        }
        survey
    }

    /// Tries to take `shard`'s lease without waiting: `Ok(true)` if this node holds it now
    /// (or held it already), `Ok(false)` if another node does. Always granted on SQLite.
    pub async fn try_take(&mut self, shard: u16) -> Result<bool, StoreError> {
        if self.held.contains(&shard) {
            return Ok(true);
        }
        let taken = match &mut self.inner {
            Inner::Embedded => Ok(true),
            #[cfg(feature = "postgres")]
            Inner::Postgres(lease) => lease.try_take(shard).await,
        };
        match taken {
            Ok(true) => {
                self.held.insert(shard);
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(error) => {
                self.held.clear();
                Err(error)
            }
        }
    }

    /// Gives `shard`'s lease up now, so another node may take it at once. An error means the
    /// session broke: every lease is lost (freed with it).
    pub async fn give_up(&mut self, shard: u16) -> Result<(), StoreError> {
        if !self.held.remove(&shard) {
            return Ok(());
        }
        let outcome = match &mut self.inner {
            Inner::Embedded => Ok(()),
            #[cfg(feature = "postgres")]
            Inner::Postgres(lease) => lease.give_up(shard).await,
        };
        if outcome.is_err() {
            self.held.clear();
        }
        outcome
    }

    /// Whether the session still holds its leases: on PostgreSQL, a `SELECT 1` on it, given 2 s;
    /// `false` if it broke or did not answer in time (the connection is then closed, and every
    /// later call is `false` too: take a new lease). Always `true` on SQLite.
    pub async fn still_held(&mut self) -> bool {
        let held = match &mut self.inner {
            Inner::Embedded => true,
            #[cfg(feature = "postgres")]
            Inner::Postgres(lease) => lease.still_held().await,
        };
        if !held {
            self.held.clear();
        }
        held
    }

    /// Releases every lease and the node's membership now, and waits until they are free for
    /// the other nodes (PostgreSQL: an explicit unlock, then a polite close). Dropping the lease
    /// releases them too, but the server notices the closed connection a moment later; use this
    /// for a graceful hand-over.
    pub async fn release(self) {
        match self.inner {
            Inner::Embedded => {}
            #[cfg(feature = "postgres")]
            Inner::Postgres(lease) => lease.release().await,
        }
    }
}
