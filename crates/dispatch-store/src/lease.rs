//! Relay leadership: which node of a multi-node deployment relays the outbox.
//!
//! Every node writes events to the outbox, but exactly one of them (the *leader*) reads it and
//! publishes to the backplane; the others deliver what the backplane brings them and fill gaps
//! with [`Store::events_after`](crate::Store::events_after). A node becomes the leader by
//! holding a [`RelayLease`], obtained from [`Store::try_relay_lease`](crate::Store::try_relay_lease).
//!
//! * **PostgreSQL**: the lease is a *session-level* advisory lock (`pg_try_advisory_lock`, key
//!   `RELAY_LEASE_LOCK` in `src/postgres/lease.rs`, distinct from the outbox's transaction lock
//!   and from sqlx's migration lock) held by a connection of its own, outside the pool. The
//!   server releases it when that session ends, whatever ended it: the lease dropped (the
//!   connection is closed), the process killed (`kill -9`: the kernel closes the socket), the
//!   session terminated by an administrator. A host that vanishes without closing its socket is
//!   noticed by TCP keepalives the lease session turns on (about 25 s), after which the lock is
//!   free too. A second node asking meanwhile gets `Ok(None)`.
//! * **SQLite**: the embedded, single-node store. One process owns the database file (a
//!   deployment with several nodes and a backplane needs PostgreSQL), so there is nobody to
//!   compete with: the lease is always granted and always held.
//!
//! A lease is checked, not pushed: call [`RelayLease::still_held`] before each relay pass. It
//! can be lost right after a check (for example the session is terminated), so two leaders may
//! briefly overlap by up to one pass; subscribers deduplicate by sequence, so that overlap
//! duplicates events and never loses one.

#[cfg(feature = "postgres")]
use crate::postgres::PgLease;

/// The right to relay the outbox, held until dropped (which releases it). See the module docs.
#[derive(Debug)]
pub struct RelayLease {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// SQLite: granted to the one process that owns the file, never lost.
    Embedded,
    /// PostgreSQL: a session advisory lock on a dedicated connection.
    #[cfg(feature = "postgres")]
    Postgres(PgLease),
}

impl RelayLease {
    /// The lease of the embedded (SQLite) store.
    pub(crate) fn embedded() -> Self {
        Self {
            inner: Inner::Embedded,
        }
    }

    /// A lease held by a PostgreSQL session.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(lease: PgLease) -> Self {
        Self {
            inner: Inner::Postgres(lease),
        }
    }

    /// Whether the lease is still held: on PostgreSQL, a `SELECT 1` on the lease's session,
    /// given 2 s; `false` if the session broke or did not answer in time (the connection is then
    /// closed, and every later call is `false` too: take a new lease). Always `true` on SQLite.
    pub async fn still_held(&mut self) -> bool {
        match &mut self.inner {
            Inner::Embedded => true,
            #[cfg(feature = "postgres")]
            Inner::Postgres(lease) => lease.still_held().await,
        }
    }

    /// Releases the lease now and waits until it is free for another node (PostgreSQL: an
    /// explicit unlock, then a polite close). Dropping the lease releases it too, but the server
    /// notices the closed connection a moment later; use this for a graceful hand-over.
    pub async fn release(self) {
        match self.inner {
            Inner::Embedded => {}
            #[cfg(feature = "postgres")]
            Inner::Postgres(lease) => lease.release().await,
        }
    }
}
