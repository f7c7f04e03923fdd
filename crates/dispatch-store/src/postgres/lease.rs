//! Relay leases on PostgreSQL: session-level advisory locks held by a connection of its own.
//!
//! The connection is opened with the pool's connect options but never belongs to the pool: a
//! pooled connection outlives its borrower, so a session lock taken on one would stay held
//! after the lease was dropped, and be "held" by whichever caller borrowed it next. Here the
//! session *is* the lease: its locks live exactly as long as the connection, and the server
//! releases them when the session ends, however it ends (dropped lease, killed process,
//! `pg_terminate_backend`, a lost host noticed by the keepalives set below).
//!
//! One session per node holds its membership lock and every shard lock it takes, so a node's
//! death frees all of them at once, and a node costs one connection whatever it holds.
//!
//! Needs a real session: behind a pooler in transaction mode (PgBouncer's default) session
//! locks do not work. Point the service at PostgreSQL itself, or at a session-mode pool.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use super::{CONNECT_TIMEOUT, open_session};
use crate::OUTBOX_SHARDS;
use crate::error::StoreError;
use crate::lease::LeaseSurvey;

/// The first key of a shard's lease, `(RELAY_SHARD_CLASS, shard)`: a session lock whose holder
/// relays that shard. The two-key form never meets a one-key lock (sqlx's migration lock, the
/// change log's); distinct from [`crate::ops::outbox::OUTBOX_LOCK_CLASS`]. "dsrl" in ASCII.
pub(crate) const RELAY_SHARD_CLASS: i32 = 0x6473_726c;
/// The first key of a node's membership, `(RELAY_MEMBER_CLASS, node key)`: held by every live
/// node's relay session, counted to share the shards out. "dsnd" in ASCII.
pub(crate) const RELAY_MEMBER_CLASS: i32 = 0x6473_6e64;

/// How long a statement on the lease's session may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Settings of the lease's session, so that the *server* notices a node whose host vanished
/// without closing its socket (power loss, network partition) in about 25 s instead of the
/// kernel's default of two hours, and frees its locks for another node: keepalive probes after
/// 10 s idle, every 5 s, 3 unanswered ones end the session; unacknowledged data for 25 s ends
/// it too. All are user-settable (PostgreSQL 12+); on a Unix-domain socket they do nothing.
const SESSION_SETTINGS: &str = "SELECT set_config('tcp_keepalives_idle', '10', false), \
     set_config('tcp_keepalives_interval', '5', false), \
     set_config('tcp_keepalives_count', '3', false), \
     set_config('tcp_user_timeout', '25000', false)";

/// The granted relay locks of this database, in the two-key form (`classid` = first key,
/// `objid` = second, `objsubid` = 2). `pg_locks` is readable by every user.
const SURVEY: &str = "SELECT l.classid::bigint AS class, l.objid::bigint AS key \
     FROM pg_locks l \
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 \
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
       AND l.classid::bigint IN ($1, $2)";

/// A node's relay session. Dropping it closes the connection, which releases every lock.
#[derive(Debug)]
pub(crate) struct PgLease {
    /// `None` once the session was found broken: every lease is lost for good.
    conn: Option<PgConnection>,
}

impl PgLease {
    /// Opens a dedicated connection and takes a membership lock on it under a random node key
    /// (another on a collision).
    pub(crate) async fn open(options: &PgConnectOptions) -> Result<Self, StoreError> {
        // Named, so an operator can tell the relay sessions in `pg_stat_activity`.
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
            sqlx::query(SESSION_SETTINGS).execute(&mut conn).await?;
            loop {
                // Positive, so it reads back from `objid` as itself.
                let key = (uuid::Uuid::new_v4().as_u128() & 0x7fff_ffff) as i32;
                let member: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(RELAY_MEMBER_CLASS)
                    .bind(key)
                    .fetch_one(&mut conn)
                    .await?;
                if member {
                    return Ok::<_, sqlx::Error>(());
                }
            }
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(())) => Ok(Self { conn: Some(conn) }),
            // Dropping `conn` ends the session, and with it a lock it may have taken.
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(StoreError::Unavailable(format!(
                "PostgreSQL did not answer the relay lease's membership request within {}s",
                CONNECT_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Runs `work` on the session within [`CHECK_TIMEOUT`]; on failure the connection is
    /// dropped (if the session was merely slow, closing it frees its locks for another node)
    /// and the lease is lost for good.
    async fn on_session<T>(
        &mut self,
        what: &str,
        work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, StoreError> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(StoreError::Unavailable(
                "the relay lease's session was lost".into(),
            ));
        };
        match tokio::time::timeout(CHECK_TIMEOUT, work(conn)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => {
                tracing::warn!(%error, what, "relay leases lost: their PostgreSQL session broke");
                self.conn = None;
                Err(error.into())
            }
            Err(_) => {
                tracing::warn!(
                    timeout = ?CHECK_TIMEOUT,
                    what,
                    "relay leases given up: their PostgreSQL session did not answer in time"
                );
                self.conn = None;
                Err(StoreError::Unavailable(format!(
                    "the relay lease's session did not answer within {CHECK_TIMEOUT:?}"
                )))
            }
        }
    }

    /// Live nodes and taken shards, from `pg_locks`.
    pub(crate) async fn survey(&mut self) -> Result<LeaseSurvey, StoreError> {
        let rows: Vec<(i64, i64)> = self
            .on_session("survey", async |conn| {
                sqlx::query_as(SURVEY)
                    .bind(i64::from(RELAY_MEMBER_CLASS))
                    .bind(i64::from(RELAY_SHARD_CLASS))
                    .fetch_all(conn)
                    .await
            })
            .await?;
        let mut nodes = 0;
        let mut taken = BTreeSet::new();
        for (class, key) in rows {
            if class == i64::from(RELAY_MEMBER_CLASS) {
                nodes += 1;
            } else if let Ok(shard) = u16::try_from(key)
                && shard < OUTBOX_SHARDS
            {
                taken.insert(shard);
            }
        }
        // This session's own membership is among them; at least one, whatever was read.
        Ok(LeaseSurvey {
            nodes: nodes.max(1),
            taken,
        })
    }

    /// `pg_try_advisory_lock` of `shard`'s lease on the session.
    pub(crate) async fn try_take(&mut self, shard: u16) -> Result<bool, StoreError> {
        self.on_session("take", async |conn| {
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                .bind(RELAY_SHARD_CLASS)
                .bind(i32::from(shard))
                .fetch_one(conn)
                .await
        })
        .await
    }

    /// `pg_advisory_unlock` of `shard`'s lease on the session.
    pub(crate) async fn give_up(&mut self, shard: u16) -> Result<(), StoreError> {
        self.on_session("give up", async |conn| {
            sqlx::query("SELECT pg_advisory_unlock($1, $2)")
                .bind(RELAY_SHARD_CLASS)
                .bind(i32::from(shard))
                .execute(conn)
                .await
                .map(drop)
        })
        .await
    }

    /// `SELECT 1` on the session. A session lock is released only by its own session (we
    /// unlock only in `give_up` and `release`) or when the session ends, so "the session
    /// answers" is "the locks are held".
    pub(crate) async fn still_held(&mut self) -> bool {
        self.on_session("check", async |conn| {
            sqlx::query("SELECT 1").execute(conn).await.map(drop)
        })
        .await
        .is_ok()
    }

    /// Unlocks everything, then closes the connection politely. When this returns the locks
    /// are free (or the session is gone, which frees them as soon as the server notices).
    pub(crate) async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let _ = tokio::time::timeout(
            CHECK_TIMEOUT,
            sqlx::query("SELECT pg_advisory_unlock_all()").execute(&mut conn),
        )
        .await;
        let _ = tokio::time::timeout(CHECK_TIMEOUT, conn.close()).await;
    }
}
