//! The relay lease on PostgreSQL: a session-level advisory lock held by a connection of its own.
//!
//! The connection is opened with the pool's connect options but never belongs to the pool: a
//! pooled connection outlives its borrower, so a session lock taken on one would stay held
//! after the lease was dropped, and be "held" by whichever caller borrowed it next. Here the
//! session *is* the lease: the lock lives exactly as long as the connection, and the server
//! releases it when the session ends, however it ends (dropped lease, killed process,
//! `pg_terminate_backend`, a lost host noticed by the keepalives set below).
//!
//! Needs a real session: behind a pooler in transaction mode (PgBouncer's default) session
//! locks do not work. Point the service at PostgreSQL itself, or at a session-mode pool.

use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{CONNECT_TIMEOUT, open_session};
use crate::error::StoreError;

/// The session advisory lock whose holder relays the outbox. Distinct from
/// [`crate::ops::outbox::OUTBOX_LOCK`] (a transaction lock in the same key space) and from sqlx's migration
/// lock (derived from the database name). "dsprelay" in ASCII.
pub(crate) const RELAY_LEASE_LOCK: i64 = 0x6473_7072_656c_6179;

/// How long [`PgLease::still_held`] waits for the session to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Settings of the lease's session, so that the *server* notices a leader whose host vanished
/// without closing its socket (power loss, network partition) in about 25 s instead of the
/// kernel's default of two hours, and frees the lock for another node: keepalive probes after
/// 10 s idle, every 5 s, 3 unanswered ones end the session; unacknowledged data for 25 s ends
/// it too. All are user-settable (PostgreSQL 12+); on a Unix-domain socket they do nothing.
const SESSION_SETTINGS: &str = "SELECT set_config('tcp_keepalives_idle', '10', false), \
     set_config('tcp_keepalives_interval', '5', false), \
     set_config('tcp_keepalives_count', '3', false), \
     set_config('tcp_user_timeout', '25000', false)";

/// A held relay lease: the connection whose session holds [`RELAY_LEASE_LOCK`]. Dropping it
/// closes the connection, which releases the lock.
#[derive(Debug)]
pub(crate) struct PgLease {
    /// `None` once the session was found broken: the lease is lost for good.
    conn: Option<PgConnection>,
}

impl PgLease {
    /// Opens a dedicated connection and tries the lock on it; `None` (and the connection
    /// closed) when another session holds it.
    pub(crate) async fn try_acquire(
        options: &PgConnectOptions,
    ) -> Result<Option<Self>, StoreError> {
        // Named, so an operator can tell the leader's session in `pg_stat_activity`.
        let name = format!(
            "{} relay lease",
            options.get_application_name().unwrap_or("dispatch")
        );
        let options = options.clone().application_name(&name);
        let mut conn = open_session(
            &options,
            "cannot open the relay lease's connection to PostgreSQL",
        )
        .await?;
        let attempt = async {
            let acquired: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(RELAY_LEASE_LOCK)
                .fetch_one(&mut conn)
                .await?;
            if acquired {
                sqlx::query(SESSION_SETTINGS).execute(&mut conn).await?;
            }
            Ok::<_, sqlx::Error>(acquired)
        };
        let outcome = tokio::time::timeout(CONNECT_TIMEOUT, attempt).await;
        match outcome {
            Ok(Ok(true)) => Ok(Some(Self { conn: Some(conn) })),
            Ok(Ok(false)) => {
                let _ = tokio::time::timeout(CHECK_TIMEOUT, conn.close()).await;
                Ok(None)
            }
            // Dropping `conn` ends the session, and with it a lock it may have taken.
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(StoreError::Unavailable(format!(
                "PostgreSQL did not answer the relay lease's lock request within {}s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// `SELECT 1` on the lease's session, within [`CHECK_TIMEOUT`]. A session lock is released
    /// only by its own session (we never unlock but in `release`) or when the session ends, so
    /// "the session answers" is "the lock is held". On failure the connection is dropped: if the
    /// session was merely slow, closing it frees the lock for another node.
    pub(crate) async fn still_held(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let answer =
            tokio::time::timeout(CHECK_TIMEOUT, sqlx::query("SELECT 1").execute(&mut *conn)).await;
        match answer {
            Ok(Ok(_)) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, "relay lease lost: its PostgreSQL session broke");
                self.conn = None;
                false
            }
            Err(_) => {
                tracing::warn!(
                    timeout = ?CHECK_TIMEOUT,
                    "relay lease given up: its PostgreSQL session did not answer in time"
                );
                self.conn = None;
                false
            }
        }
    }

    /// Unlocks, then closes the connection politely. When this returns the lock is free (or
    /// the session is gone, which frees it as soon as the server notices).
    pub(crate) async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let _ = tokio::time::timeout(
            CHECK_TIMEOUT,
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(RELAY_LEASE_LOCK)
                .execute(&mut conn),
        )
        .await;
        let _ = tokio::time::timeout(CHECK_TIMEOUT, conn.close()).await;
    }
}
